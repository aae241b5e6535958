"""Write every chapter's Colab install cell from the two facts it pins: the repository URL
(``_config.yml``, ``repository.url``) and the course version (``rvt_lib.__version__``, tag
``v<version>``).

    python scripts/pin_install_cells.py           # rewrite the first code cell of each chapter
    python scripts/pin_install_cells.py --check   # list chapters whose cell is not the pinned one

Only the first code cell of each ``book/<part>/<name>.py`` is touched, and only when it is a
Colab install cell (it tests ``"google.colab" in sys.modules``); each file is read right
before it is written, then ``jupytext --sync`` updates its paired ``.ipynb``.
"""
from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
MARKER = 'if "google.colab" in sys.modules:'
CELL_HEADER = re.compile(r"^# %%(.*)$", re.M)


def course_url(config: Path = ROOT / "_config.yml") -> str:
    """The repository URL, written once in _config.yml."""
    url = yaml.safe_load(config.read_text())["repository"]["url"].rstrip("/")
    if not re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url):
        raise ValueError(f"{config}: repository.url must be https://github.com/<owner>/<repo>, got {url!r}")
    return url


def course_tag(init: Path = ROOT / "rvt_lib" / "__init__.py") -> str:
    """The release tag of this course version: ``v`` + ``rvt_lib.__version__``."""
    for node in ast.parse(init.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "__version__" for t in node.targets):
            return f"v{ast.literal_eval(node.value)}"
    raise ValueError(f"{init}: no __version__ = '...' assignment")


def requirement(url: str, tag: str) -> str:
    """What the Colab cell installs: the library with the book extra, at the release tag."""
    return f"rvt_lib[book] @ git+{url}@{tag}"


def install_cell(url: str, tag: str) -> str:
    """The cell's source (py:percent body, without its ``# %%`` header)."""
    return (
        "# Colab only: install the course library at this course version (Colab's\n"
        "# own torch, numpy, pandas and matplotlib are kept). Full budget on a\n"
        '# Colab GPU: import os; os.environ["RVT_BUDGET"] = "full" before the next\n'
        "# cell.\n"
        "import sys\n"
        "\n"
        f"{MARKER}\n"
        "    course = (\n"
        f'        "{requirement(url, tag).split(" @ ")[0]} @ "\n'
        f'        "git+{url}@{tag}"\n'
        "    )\n"
        "    get_ipython().run_line_magic(\"pip\", f'install -q \"{course}\"')\n"
    )


def _first_code_cell(text: str) -> tuple[int, int, str]:
    """(start, end, header) of the first code cell's body in a py:percent file."""
    headers = list(CELL_HEADER.finditer(text))
    for i, h in enumerate(headers):
        if "[markdown]" in h.group(1) or "[raw]" in h.group(1):
            continue
        end = headers[i + 1].start() if i + 1 < len(headers) else len(text)
        return h.end() + 1, end, h.group(0)
    raise ValueError("no code cell")


def first_code_cell(text: str) -> str:
    start, end, _ = _first_code_cell(text)
    return text[start:end].strip() + "\n"


def pinned(text: str, url: str, tag: str) -> str:
    """``text`` with its first code cell replaced by the pinned install cell."""
    start, end, header = _first_code_cell(text)
    if MARKER not in text[start:end]:
        raise ValueError(f"the first code cell is not a Colab install cell (no {MARKER!r}): refusing to replace it")
    return text[:start] + install_cell(url, tag) + "\n" + text[end:]


def chapters() -> list[Path]:
    return sorted(p for p in (ROOT / "book").glob("*/*.py") if p.with_suffix(".ipynb").exists())


def main(argv: list[str]) -> int:
    url, tag = course_url(), course_tag()
    stale = []
    for path in chapters():
        text = path.read_text()  # read right before writing: others may be editing prose
        new = pinned(text, url, tag)
        if new == text:
            continue
        stale.append(path)
        if "--check" not in argv:
            path.write_text(new)
            subprocess.run([sys.executable, "-m", "jupytext", "--sync", str(path)], check=True,
                           capture_output=True)
            print(f"pinned {path.relative_to(ROOT)}")
    if "--check" in argv and stale:
        print("install cells not pinned to", requirement(url, tag), ":",
              *(str(p.relative_to(ROOT)) for p in stale), sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
