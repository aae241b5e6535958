"""How the course installs: the Python floor stated everywhere is the real one, the README's
commands take the CPU build of torch on a Linux machine without a GPU, and the Colab cell
leaves Colab's own packages alone."""
from __future__ import annotations

import importlib.util
import re
import sys
import tomllib
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from tests.test_imports import normalise, pinned
from tests.test_readme import readme_command

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def _load_install_torch():
    spec = importlib.util.spec_from_file_location("install_torch", ROOT / "scripts" / "install_torch.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


install_torch = _load_install_torch()


def _floor(spec: str) -> Version:
    """The lower bound of a Requires-Python specifier such as '>=3.11' or '>=3.11.0'."""
    bounds = [Version(s.version) for s in SpecifierSet(spec) if s.operator in (">=", ">")]
    return max(bounds) if bounds else Version("0")


# ----------------------------------------------------------------------- the Python floor

def test_python_floor_is_the_pinned_stacks_real_floor():
    """requires-python equals the highest Requires-Python among the pinned packages (read
    from their installed metadata): not lower (pip would fail on an older Python with
    resolver errors), not higher than needed."""
    floors = {}
    for name in pinned():
        try:
            spec = distribution(name).metadata.get("Requires-Python")
        except PackageNotFoundError:
            continue
        if spec:
            floors[name] = _floor(spec)
    assert {"numpy", "pandas", "scipy", "scikit-learn"} <= set(floors), "the pinned stack is not installed"
    real = max(floors.values())
    stated = _floor(PROJECT["requires-python"])
    assert (stated.major, stated.minor) == (real.major, real.minor), (
        f"pyproject requires-python {PROJECT['requires-python']!r}, but the pinned stack needs "
        f">={real} ({sorted(n for n, f in floors.items() if f == real)})")


def test_readme_pyproject_script_and_interpreter_agree_on_the_floor():
    stated = _floor(PROJECT["requires-python"])
    floor = f"{stated.major}.{stated.minor}"
    readme = (ROOT / "README.md").read_text()
    claims = set(re.findall(r"Python (3\.\d+)\+", readme))
    assert claims == {floor}, f"README states Python {claims or 'nothing'}+, pyproject says >={floor}"
    assert install_torch.python_floor() == (stated.major, stated.minor)
    # the interpreter that runs this test is the one CI (.ci/run) created with the README command
    assert sys.version_info[:2] >= (stated.major, stated.minor)


def test_install_script_refuses_an_old_python(monkeypatch, capsys):
    monkeypatch.setattr(install_torch.sys, "version_info", (3, 10, 14, "final", 0))
    assert install_torch.main(["--dry-run"]) == 2
    assert "3.11 or newer" in capsys.readouterr().err


def test_build_backend_can_read_the_spdx_licence():
    """``license = "MIT"`` (a string, PEP 639) needs setuptools >= 77; older ones reject it."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert isinstance(PROJECT["license"], str) and (ROOT / "LICENSE").is_file()
    (backend,) = [Requirement(r) for r in pyproject["build-system"]["requires"] if r.startswith("setuptools")]
    assert Version("76.1") not in backend.specifier and Version("77.0.3") in backend.specifier
    assert "MIT License" in (ROOT / "LICENSE").read_text()


# ----------------------------------------------------------------------- which torch build

PIN = install_torch.pinned_torch()


def test_pin_read_from_requirements():
    assert re.search(rf"^torch=={re.escape(PIN)}$", (ROOT / "requirements.txt").read_text(), re.M)


def test_linux_without_gpu_gets_the_cpu_build_with_short_timeouts(monkeypatch):
    monkeypatch.delenv("RVT_TORCH_INDEX", raising=False)
    args, why = install_torch.plan("linux", gpu=False, installed=None, pin=PIN)
    assert args[:1] == ["install"] and f"torch=={PIN}" in args and "--no-deps" in args
    assert args[args.index("--index-url") + 1] == "https://download.pytorch.org/whl/cpu"
    assert args[args.index("--timeout") + 1] == "15" and args[args.index("--retries") + 1] == "1"
    assert "CPU" in why


@pytest.mark.parametrize("platform, gpu, installed, force", [
    ("linux", True, None, ""),            # a GPU: PyPI's CUDA build is right
    ("darwin", False, None, ""),          # macOS: PyPI's wheel is already CPU/MPS
    ("win32", False, None, ""),
    ("linux", False, f"{PIN}+cu128", ""),  # the user installed a CUDA build first: kept
    ("linux", False, f"{PIN}+cpu", "cpu"),  # already the pinned version: kept even when forced
    ("linux", False, None, "pypi"),
])
def test_nothing_to_do(platform, gpu, installed, force):
    args, _ = install_torch.plan(platform, gpu, installed, PIN, force)
    assert args is None


def test_forcing_and_a_mirror_index(monkeypatch):
    monkeypatch.setenv("RVT_TORCH_INDEX", "https://mirror.example.org/torch-cpu")
    args, _ = install_torch.plan("darwin", gpu=True, installed="2.0.0", pin=PIN, force="cpu")
    assert args[args.index("--index-url") + 1] == "https://mirror.example.org/torch-cpu"
    with pytest.raises(ValueError, match="RVT_TORCH"):
        install_torch.plan("linux", False, None, PIN, force="gpu")


def test_an_unreachable_cpu_index_does_not_break_the_chain(monkeypatch, capsys):
    """A machine that reaches only PyPI: one short failed attempt, a warning, exit 0."""
    monkeypatch.setattr(install_torch, "has_nvidia_gpu", lambda: False)
    monkeypatch.setattr(install_torch, "installed_torch", lambda: None)
    monkeypatch.setattr(install_torch.sys, "platform", "linux")
    monkeypatch.delenv("RVT_TORCH", raising=False)
    ran = []

    class Failed:
        returncode = 1

    monkeypatch.setattr(install_torch.subprocess, "run", lambda cmd, **k: ran.append(cmd) or Failed())
    assert install_torch.main([]) == 0
    assert len(ran) == 1 and "--index-url" in ran[0]
    assert "PyPI" in capsys.readouterr().err


def test_readme_commands_install_torch_first():
    for marker in ("build-command", "test-command"):
        cmd = readme_command(marker)
        steps = [s.strip() for s in cmd.split("&&")]
        assert "python scripts/install_torch.py" in steps, cmd
        assert steps.index("python scripts/install_torch.py") < next(
            i for i, s in enumerate(steps) if s.startswith("pip install -r requirements.txt"))


# ----------------------------------------------------------------------- Colab

# What Colab ships, for the packages rvt_lib[book] declares: a snapshot of a Colab runtime's
# `pip list` around August 2025 (Python 3.12.11, numpy 2.0.2, pandas 2.2.2 as publicly
# reported then; the other versions approximate). Refresh it from `pip list` in a Colab
# runtime when Colab moves; the floors must stay at or below these. pooch is not there.
COLAB = {
    "python": "3.12.11",
    "torch": "2.8.0", "numpy": "2.0.2", "pandas": "2.2.2", "scipy": "1.16.1",
    "scikit-learn": "1.6.1", "matplotlib": "3.10.0", "cycler": "0.12.1", "tqdm": "4.67.1",
    "psutil": "5.9.5", "ipywidgets": "7.7.1", "ipython": "7.34.0",
}
LEFT_ALONE = {"torch", "numpy", "pandas", "matplotlib"}


def _book_requirements() -> list[Requirement]:
    return [Requirement(r) for r in PROJECT["dependencies"] + PROJECT["optional-dependencies"]["book"]]


def test_colab_python_is_supported():
    assert Version(COLAB["python"]) in SpecifierSet(PROJECT["requires-python"])


def test_colab_install_adds_only_pooch_and_leaves_colabs_packages_alone():
    """pip's default (--upgrade-strategy only-if-needed) keeps an installed package whose
    version satisfies the requirement: so each floor must accept what Colab ships."""
    too_new = {str(r) for r in _book_requirements()
               if normalise(r.name) in COLAB and Version(COLAB[normalise(r.name)]) not in r.specifier}
    assert not too_new, f"these floors would make the Colab cell replace Colab's packages: {too_new}"
    added = {normalise(r.name) for r in _book_requirements()} - set(COLAB)
    assert added == {"pooch"}, f"the Colab cell would install {sorted(added)} (expected only pooch)"
    assert LEFT_ALONE <= set(COLAB)
