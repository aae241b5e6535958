"""The package installs what it imports.

Every module under rvt_lib/ and every chapter under book/ is parsed (ast, never imported) for
its imports. Each top-level package must be the standard library, the project itself, or
declared in pyproject.toml:

* rvt_lib, at module level (runs on ``import rvt_lib.x``): ``dependencies``.
* rvt_lib, inside a function or a ``try: ... except ImportError`` (runs only when that
  feature is used, and says so when the package is missing): ``dependencies`` or an extra
  (``book``, ``live``), or ``BUILD_ONLY`` below (pinned in requirements.txt).
* a chapter: ``dependencies`` + the ``book`` extra (what the Colab cell installs) +
  ``COLAB_PROVIDES`` below.
* tests/, benchmarks/ and scripts/: pinned in requirements.txt (the test command installs
  it); a script may import a tool of ``SCRIPT_TOOLS`` on demand.
"""
from __future__ import annotations

import ast
import re
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# import name -> distribution name, where they differ (compared after PEP 503 normalisation)
IMPORT_TO_DIST = {
    "sklearn": "scikit-learn",
    "yaml": "pyyaml",
    "IPython": "ipython",
    "PIL": "pillow",
    "minGRU_pytorch": "mingru-pytorch",
    "mingru": "mingru-scans",
    "myst_nb": "myst-nb",
    "google": "google-colab",
    "bs4": "beautifulsoup4",
    "dateutil": "python-dateutil",
}

# Colab preinstalls these; a chapter may import them without the Colab cell installing them.
# Keep this list short and explicit: anything here is missing from a local `rvt_lib[book]`.
COLAB_PROVIDES = {
    "google-colab": "google.colab exists only inside Colab; import it only under "
                    "`if \"google.colab\" in sys.modules:`",
}

# Imported by rvt_lib only inside a guarded function that works without it; part of the
# book's build stack, pinned in requirements.txt rather than declared as a runtime need.
BUILD_ONLY = {
    "myst-nb": "rvt_lib.book.glue stores values for the built site; without myst-nb (Colab) it "
               "displays them instead",
}

# Imported on demand by a script that says how to install it; not part of the pinned stack.
SCRIPT_TOOLS = {
    "selenium": "scripts/check_widgets.py drives a headless Chromium; needs a browser as well",
}

# Top-level names that belong to this repository, not to any distribution.
LOCAL = {"rvt_lib", "tests", "benchmarks", "scripts"} | {p.stem for p in (ROOT / "scripts").glob("*.py")}


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def dist_of(import_name: str) -> str:
    return normalise(IMPORT_TO_DIST.get(import_name, import_name))


def _requirement_name(req: str) -> str:
    return normalise(re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", req).group(1))


def declared() -> tuple[set[str], dict[str, set[str]]]:
    """(dependencies, {extra: distributions}) from pyproject.toml, normalised."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    deps = {_requirement_name(r) for r in project["dependencies"]}
    extras = {k: {_requirement_name(r) for r in v} for k, v in project.get("optional-dependencies", {}).items()}
    return deps, extras


def pinned() -> set[str]:
    """Distributions pinned in requirements.txt."""
    lines = (ROOT / "requirements.txt").read_text().splitlines()
    return {_requirement_name(l) for l in lines if l.strip() and not l.lstrip().startswith(("#", "-"))}


@dataclass(frozen=True)
class Import:
    module: str     # the top-level package name as written (e.g. "sklearn")
    line: int
    guarded: bool   # inside a function, or in a try block that catches ImportError


def _catches_import_error(node: ast.Try) -> bool:
    for handler in node.handlers:
        names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        if any(isinstance(n, ast.Name) and n.id in {"ImportError", "ModuleNotFoundError", "Exception"}
               for n in names):
            return True
    return False


def imports_of(source: str) -> list[Import]:
    """Every absolute import in ``source`` with whether it only runs on demand."""
    found: list[Import] = []

    def visit(node, guarded: bool):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            guarded = True
        if isinstance(node, ast.Import):
            found.extend(Import(a.name.split(".")[0], node.lineno, guarded) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append(Import(node.module.split(".")[0], node.lineno, guarded))
        if isinstance(node, ast.Try) and _catches_import_error(node):
            for child in node.body:
                visit(child, True)
            for child in node.handlers + node.orelse + node.finalbody:
                visit(child, guarded)
            return
        for child in ast.iter_child_nodes(node):
            visit(child, guarded)

    visit(ast.parse(source), False)
    return found


def undeclared(source: str, required: set[str], optional: set[str]) -> list[str]:
    """Imports of ``source`` that no declaration covers, as 'line N: import x (dist y)'."""
    problems = []
    for imp in imports_of(source):
        if imp.module in sys.stdlib_module_names or imp.module in LOCAL or imp.module == "__future__":
            continue
        dist = dist_of(imp.module)
        allowed = optional if imp.guarded else required
        if dist not in allowed:
            where = "on demand" if imp.guarded else "at import time"
            problems.append(f"line {imp.line}: import {imp.module} ({where}; distribution {dist})")
    return problems


LIBRARY = sorted((ROOT / "rvt_lib").rglob("*.py"))
CHAPTERS = sorted(p for p in (ROOT / "book").rglob("*.py") if ".ipynb_checkpoints" not in p.parts)
DEV = sorted([*(ROOT / "tests").rglob("*.py"), *(ROOT / "benchmarks").rglob("*.py"),
              *(ROOT / "scripts").glob("*.py")])


def _rel(p: Path) -> str:
    return str(p.relative_to(ROOT))


def test_sources_found():
    assert len(LIBRARY) > 10 and len(CHAPTERS) >= 10


@pytest.mark.parametrize("path", LIBRARY, ids=_rel)
def test_library_imports_are_declared(path):
    deps, extras = declared()
    optional = deps.union(*extras.values(), BUILD_ONLY)
    problems = undeclared(path.read_text(), required=deps, optional=optional)
    assert not problems, (f"{_rel(path)} imports packages that pyproject.toml does not declare "
                          f"(dependencies for import-time imports, or an extra):\n" + "\n".join(problems))


@pytest.mark.parametrize("path", CHAPTERS, ids=_rel)
def test_chapter_imports_are_declared(path):
    deps, extras = declared()
    allowed = deps | extras["book"] | set(COLAB_PROVIDES)
    problems = undeclared(path.read_text(), required=allowed, optional=allowed)
    assert not problems, (f"{_rel(path)} imports packages outside dependencies + the book extra "
                          f"(what the Colab cell installs):\n" + "\n".join(problems))


@pytest.mark.parametrize("path", DEV, ids=_rel)
def test_tests_benchmarks_and_scripts_imports_are_pinned(path):
    deps, extras = declared()
    allowed = pinned() | deps.union(*extras.values())
    problems = undeclared(path.read_text(), required=allowed, optional=allowed | set(SCRIPT_TOOLS))
    assert not problems, f"{_rel(path)} imports packages missing from requirements.txt:\n" + "\n".join(problems)


def test_every_declared_distribution_is_pinned_for_the_build():
    """requirements.txt (the local and CI stack) pins every declared package, so that the
    import check above and the test command see the same world. Of the ``live`` extra only
    yfinance is pinned (its tests replace the network); kagglehub stays out of the offline
    build on purpose (the ECG chapter then skips its PTB section)."""
    deps, extras = declared()
    missing = (deps | extras["book"] | {"yfinance"} | set(BUILD_ONLY)) - pinned()
    assert not missing, f"declared in pyproject.toml but not pinned in requirements.txt: {sorted(missing)}"


# ------------------------------------------------------------------ the check can fail

FAKE_MODULE = '''
import os
import numpy as np
import totally_undeclared_pkg          # line 4: must be caught
from sklearn import metrics            # declared (scikit-learn)

def later():
    import yfinance                    # an extra, on demand: fine
    import another_missing_one         # line 9: caught even on demand

try:
    import kagglehub                   # an extra, guarded: fine
except ImportError:
    kagglehub = None
import yfinance                        # line 15: an extra at import time breaks `import rvt_lib.x`
'''


def test_the_check_catches_undeclared_imports():
    deps, extras = declared()
    problems = undeclared(FAKE_MODULE, required=deps, optional=deps.union(*extras.values()))
    lines = sorted(int(re.match(r"line (\d+)", p).group(1)) for p in problems)
    assert lines == [4, 9, 15], problems
    assert any("totally_undeclared_pkg" in p and "at import time" in p for p in problems)


def test_the_check_sees_a_fake_module_on_disk(tmp_path):
    """The same check on a file, as the parametrised tests read them."""
    fake = tmp_path / "fake_chapter.py"
    fake.write_text("# %%\nimport ipywidgets\nimport seaborn  # Colab ships it, the book extra does not\n")
    deps, extras = declared()
    allowed = deps | extras["book"] | set(COLAB_PROVIDES)
    problems = undeclared(fake.read_text(), required=allowed, optional=allowed)
    assert problems == ["line 3: import seaborn (at import time; distribution seaborn)"]


def test_import_names_map_to_distributions():
    assert dist_of("sklearn") == "scikit-learn" and dist_of("yaml") == "pyyaml"
    assert dist_of("IPython") == "ipython" and dist_of("torch") == "torch"
