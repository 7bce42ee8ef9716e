"""The ansible-core the cases' playbooks run on: tests/lab/cases_core.py."""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[4] / "tests" / "lab"))

# A fixture: used by being imported.
from cases_core import cases_core  # noqa: E402,F401  pylint: disable=unused-import,wrong-import-position
