"""The README's two commands are the contract with newcomers: CI runs the test command
verbatim, and the book's preface shows the same two commands."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def readme_command(marker: str) -> str:
    text = (ROOT / "README.md").read_text()
    match = re.search(rf"<!-- {marker} -->\s*```bash\n(.+?)\n```", text, re.S)
    assert match, f"README.md has no ```bash block after <!-- {marker} -->"
    return match.group(1).strip()


def test_commands_are_self_contained_and_use_the_budgets():
    build, test = readme_command("build-command"), readme_command("test-command")
    for cmd in (build, test):
        assert cmd.startswith("python3 -m venv .venv") and "pip install -r requirements.txt" in cmd
        assert "python scripts/install_torch.py" in cmd  # the CPU torch where there is no GPU
        assert "\n" not in cmd  # one command line each: CI runs it verbatim
    assert "jupyter-book build ." in build and "RVT_BUDGET" not in build  # book is the default
    # chapters execute in parallel into the cache first, then the build only renders
    assert build.index("python scripts/execute_book.py &&") < build.index("jupyter-book build .")
    assert "RVT_BUDGET=smoke pytest tests --nbmake book" in test


def test_preface_shows_the_same_commands():
    intro = (ROOT / "book" / "intro.md").read_text()
    assert readme_command("build-command") in intro
    assert readme_command("test-command") in intro


def test_ci_extracts_exactly_the_readme_test_command():
    script = (ROOT / ".ci" / "run").read_text()
    awk = re.search(r"test_cmd=\$\((awk .+?README\.md)\)", script).group(1)
    out = subprocess.run(["bash", "-c", awk], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == readme_command("test-command")
