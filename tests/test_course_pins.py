"""One repository URL (``_config.yml``) and one course version (tag ``v<rvt_lib.__version__>``),
named the same way by the README, the launch buttons, the preface and every install cell,
so that publishing under the real URL or cutting a release is a one-line change plus
``python scripts/pin_install_cells.py``."""
from __future__ import annotations

import ast
import importlib.util
import re
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]


def _load_pin_script():
    spec = importlib.util.spec_from_file_location("pin_install_cells", ROOT / "scripts" / "pin_install_cells.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pins = _load_pin_script()
URL, TAG = pins.course_url(), pins.course_tag()
OWNER_REPO = URL.removeprefix("https://github.com/")
CHAPTERS = pins.chapters()
CONFIG = yaml.safe_load((ROOT / "_config.yml").read_text())


def test_tag_is_the_package_version():
    import rvt_lib
    assert TAG == f"v{rvt_lib.__version__}" and re.fullmatch(r"v\d+\.\d+\.\d+", TAG)
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "version" in pyproject["project"]["dynamic"]
    assert pyproject["tool"]["setuptools"]["dynamic"]["version"] == {"attr": "rvt_lib.__version__"}


def test_config_writes_the_url_once_and_the_site_address():
    text = (ROOT / "_config.yml").read_text()
    assert text.count("github.com") == 1, "_config.yml must name the repository once (repository.url)"
    assert CONFIG["repository"]["url"].rstrip("/") == URL
    assert CONFIG["launch_buttons"]["colab_url"] == "https://colab.research.google.com"  # derives from repository.url
    base = CONFIG["html"]["baseurl"]
    assert base.startswith("https://") and base.endswith("/")


def _mentions(text: str) -> list[str]:
    """Every place ``text`` names a GitHub repository: git+ installs, Colab links, github.com URLs."""
    found = re.findall(r"git\+https://github\.com/([\w.-]+/[\w.-]+?)(?:\.git)?@([\w.-]+)", text)
    found = [f"git:{r}@{t}" for r, t in found]
    found += [f"colab:{r}" for r in re.findall(r"colab\.research\.google\.com/github/([\w.-]+/[\w.-]+)/", text)]
    found += [f"web:{r}" for r in re.findall(r"(?<!git\+)https://github\.com/([\w.-]+/[\w.-]+?)(?=[/>)\s`@]|$)", text)]
    return found


def _problems(text: str, url: str = URL, tag: str = TAG) -> list[str]:
    """Mentions of the course repository that disagree with ``url``/``tag``. Every git+ install
    and Colab link counts; a github.com link counts when it shares the course's owner or name."""
    owner, name = url.removeprefix("https://github.com/").split("/")
    expected = {f"git:{owner}/{name}@{tag}", f"colab:{owner}/{name}", f"web:{owner}/{name}"}
    bad = []
    for mention in _mentions(text):
        kind, target = mention.split(":", 1)
        their_owner, their_name = target.split("@")[0].split("/")
        ours = their_owner == owner or their_name == name
        if mention not in expected and (kind in ("git", "colab") or ours):
            bad.append(mention)
    return bad


@pytest.mark.parametrize("name", ["README.md", "book/intro.md"])
def test_readme_and_preface_name_the_url_and_tag(name):
    text = (ROOT / name).read_text()
    assert f"git+{URL}@{TAG}" in text, f"{name} does not show the pinned install `git+{URL}@{TAG}`"
    assert not _problems(text), f"{name} names another repository or version: {_problems(text)}"


def test_readme_colab_link_uses_the_repository():
    assert f"colab.research.google.com/github/{OWNER_REPO}/" in (ROOT / "README.md").read_text()


def _installed(cell: str) -> str:
    """The requirement the install cell's ``course = ...`` names (adjacent literals joined)."""
    for node in ast.walk(ast.parse(cell)):
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", None) == "course":
            return ast.literal_eval(node.value)
    raise AssertionError("the install cell assigns no course = ...")


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: str(p.relative_to(ROOT)))
def test_install_cell_pins_url_and_tag(path):
    cell = pins.first_code_cell(path.read_text())
    assert _installed(cell) == pins.requirement(URL, TAG), (
        f"{path.name}: the install cell does not install {pins.requirement(URL, TAG)} "
        f"(run python scripts/pin_install_cells.py)")
    assert cell.strip() == pins.install_cell(URL, TAG).strip()


def test_the_check_catches_a_moved_repository_or_a_stale_tag():
    text = (ROOT / "README.md").read_text()
    assert _problems(text, url="https://github.com/someone-else/course")  # the README now disagrees
    stale = f"pip install \"rvt_lib @ git+{URL}@v0.0.1\""
    assert _problems(stale) == [f"git:{OWNER_REPO}@v0.0.1"]
    assert _problems(f"git+{URL}@{TAG} and https://github.com/karpathy/char-rnn") == []  # others are fine


def test_pinning_refuses_a_cell_that_is_not_the_install_cell():
    text = '# %% [markdown]\n# # Title\n\n# %%\nimport torch\n'
    with pytest.raises(ValueError, match="not a Colab install cell"):
        pins.pinned(text, URL, TAG)


def test_pinning_replaces_only_the_first_code_cell():
    text = ('# %% [markdown]\n# # T\n\n# %% tags=["hide-cell"]\nimport sys\nif "google.colab" in sys.modules:\n'
            '    pass\n\n# %%\nx = 1\n')
    new = pins.pinned(text, URL, TAG)
    assert new.startswith('# %% [markdown]\n# # T\n\n# %% tags=["hide-cell"]\n')
    assert new.endswith("\n# %%\nx = 1\n") and _installed(pins.first_code_cell(new)) == pins.requirement(URL, TAG)
    assert pins.pinned(new, URL, TAG) == new  # idempotent
