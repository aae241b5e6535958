"""Install the right PyTorch build for this machine, before ``pip install -r requirements.txt``.

    python scripts/install_torch.py             # what the README's two commands run first
    python scripts/install_torch.py --dry-run   # say what it would do, install nothing

Why: PyPI's Linux torch wheel is the CUDA build (a 526 MB wheel plus about 15 ``nvidia-*``
packages, several GB installed), even on a machine without a GPU. PyTorch publishes the CPU
build (about 200 MB) on its own index only. So, in order:

1. Python older than the stack's floor (pyproject's ``requires-python``): stop with a clear
   message, before pip fails halfway with resolver errors.
2. torch already installed at the version requirements.txt pins (for example the CUDA build
   you installed yourself, as the README says for GPU machines): nothing to do.
3. Not Linux (macOS, Windows: PyPI's wheels are already the CPU/MPS build), or an NVIDIA GPU
   answers ``nvidia-smi -L``: nothing to do; ``pip install -r requirements.txt`` takes torch
   from PyPI.
4. Linux without a GPU: install the pinned torch from PyTorch's CPU index, one short attempt
   (``--timeout 15 --retries 1``). If that index cannot be reached (a machine that reaches only
   PyPI), say so and carry on: the next command then installs PyPI's build. Never fails the
   chain for this reason.

``RVT_TORCH=cpu`` forces step 4, ``RVT_TORCH=pypi`` skips it; ``RVT_TORCH_INDEX`` replaces the
CPU index URL (a mirror). Written for any Python 3 so that step 1 can speak on an old one.
"""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
PIP_NET = ["--timeout", "15", "--retries", "1"]  # fail fast where an index is unreachable


def python_floor(pyproject: Path = ROOT / "pyproject.toml") -> tuple:
    """The ``requires-python = ">=3.X"`` floor of pyproject.toml, as a version tuple."""
    match = re.search(r'^requires-python\s*=\s*">=\s*([0-9.]+)"', pyproject.read_text(), re.M)
    if not match:
        raise ValueError(f"{pyproject}: no requires-python = \">=X.Y\" line")
    return tuple(int(p) for p in match.group(1).split("."))


def pinned_torch(requirements: Path = ROOT / "requirements.txt") -> str:
    """The torch version that requirements.txt pins (``torch==X``)."""
    match = re.search(r"^torch==([^\s;#]+)", requirements.read_text(), re.M)
    if not match:
        raise ValueError(f"{requirements}: no torch==<version> line")
    return match.group(1)


def installed_torch() -> str | None:
    """The installed torch version (e.g. '2.13.0+cpu'), or None; never imports torch."""
    try:
        from importlib.metadata import PackageNotFoundError, version
    except ImportError:  # pragma: no cover (Python < 3.8)
        return None
    try:
        return version("torch")
    except PackageNotFoundError:
        return None


def has_nvidia_gpu() -> bool:
    """True when ``nvidia-smi -L`` lists a GPU (10 s at most)."""
    if shutil.which("nvidia-smi") is None:
        return False
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return False
    return out.returncode == 0 and "GPU" in out.stdout


def plan(platform: str, gpu: bool, installed: str | None, pin: str, force: str = "") -> tuple[list[str] | None, str]:
    """(pip arguments to run, or None; the reason in one line). Pure: tests call it directly."""
    if force not in ("", "cpu", "pypi"):
        raise ValueError(f"RVT_TORCH must be 'cpu' or 'pypi' (or unset), got {force!r}")
    if installed is not None and installed.split("+")[0] == pin:
        return None, f"torch {installed} is installed: kept"
    if force == "pypi":
        return None, "RVT_TORCH=pypi: torch comes from PyPI with requirements.txt"
    if force != "cpu":
        if not platform.startswith("linux"):
            return None, f"{platform}: PyPI's torch wheel is already a CPU build"
        if gpu:
            return None, "an NVIDIA GPU is present: PyPI's CUDA build of torch is the right one"
    index = os.environ.get("RVT_TORCH_INDEX", "").strip() or CPU_INDEX
    args = ["install", *PIP_NET, "--no-deps", "--index-url", index, f"torch=={pin}"]
    return args, f"no NVIDIA GPU: installing the CPU build of torch {pin} from {index}"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    dry = "--dry-run" in argv
    floor = python_floor()
    if sys.version_info[:len(floor)] < floor:
        need = ".".join(map(str, floor))
        print(f"install_torch: this is Python {sys.version.split()[0]}; the course's pinned stack "
              f"needs Python {need} or newer (pyproject.toml requires-python). Create the venv with "
              f"a newer interpreter, e.g. `python{need} -m venv .venv`.", file=sys.stderr)
        return 2
    args, why = plan(sys.platform, has_nvidia_gpu(), installed_torch(), pinned_torch(),
                     os.environ.get("RVT_TORCH", "").strip().lower())
    print(f"install_torch: {why}")
    if args is None:
        return 0
    cmd = [sys.executable, "-m", "pip", *args]
    print("install_torch: + " + " ".join(cmd))
    if dry:
        return 0
    if subprocess.run(cmd).returncode != 0:
        print(f"install_torch: the CPU index could not be used; `pip install -r requirements.txt` "
              f"will install torch from PyPI instead (the CUDA build on Linux, several GB). "
              f"To avoid that, install torch=={pinned_torch()} from {CPU_INDEX} by hand first.",
              file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
