"""The publish workflow: valid GitHub Actions syntax, and it runs what the README promises."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
WORKFLOW = ROOT / ".github" / "workflows" / "publish.yml"


def _workflow():
    return yaml.safe_load(WORKFLOW.read_text())


def test_builds_on_push_weekly_and_by_hand():
    triggers = _workflow()[True]  # YAML 1.1 reads the key `on` as True
    assert triggers["push"]["branches"] == ["main"]
    assert triggers["schedule"][0]["cron"].split()[-1] in {"0", "1", "2", "3", "4", "5", "6"}
    assert "workflow_dispatch" in triggers


def test_runs_the_readme_build_then_reader_notebooks_widgets_and_deploys():
    steps = "\n".join(s.get("run", "") for s in _workflow()["jobs"]["build"]["steps"])
    assert "<!-- build-command -->" in steps                     # the README's own command
    assert "scripts/reader_notebooks.py --site" in steps
    assert "scripts/check_widgets.py" in steps
    assert "ghp-import -n" in steps and ".nojekyll" in steps
    assert "-b reader" in steps                                  # what Colab's buttons open
    for script in ("reader_notebooks.py", "check_widgets.py", "execute_book.py"):
        assert (ROOT / "scripts" / script).exists()


def test_is_a_valid_github_workflow():
    exe = shutil.which("check-jsonschema") or str(Path(sys.executable).parent / "check-jsonschema")
    if not Path(exe).exists():
        pytest.skip("check-jsonschema is not installed")
    result = subprocess.run([exe, "--builtin-schema", "vendor.github-workflows", str(WORKFLOW)],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
