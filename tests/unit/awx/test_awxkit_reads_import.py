"""awx/import.json against awxkit's own definitions of what it imports (awxkit_keys.py, run
by the Python of make awxkit's venv; skipped with the reason when it is not built)."""

import json
import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = Path(__file__).resolve().parent / "awxkit_keys.py"
PYTHON = Path(os.environ.get("AWXKIT_PYTHON", ROOT / ".cache" / "awxkit" / "bin" / "python"))
pytestmark = pytest.mark.skipif(not PYTHON.exists(), reason=f"no awxkit at {PYTHON}: make awxkit")


def keys_problems(path):
    result = subprocess.run([str(PYTHON), str(SCRIPT), str(path)], capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode in (0, 1), result.stderr
    return result.stdout.splitlines()


def test_awxkit_reads_the_import_file():
    assert keys_problems(ROOT / "awx" / "import.json") == []


def test_a_reference_awxkit_cannot_resolve(tmp_path):
    assets = json.loads((ROOT / "awx" / "import.json").read_text(encoding="utf-8"))
    del assets["job_templates"][0]["project"]["organization"]
    assets["labels"] = []
    path = tmp_path / "import.json"
    path.write_text(json.dumps(assets), encoding="utf-8")
    assert keys_problems(path) == [
        "labels: not a resource awx import imports",
        "import.job_templates[0].project: a project is keyed by ['name', 'organization'], not ['name']"]
