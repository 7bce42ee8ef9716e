"""test_provisioned.py runs first, right after the converge: it checks what provision.yml left
before any cutover changes it. CUTOVER_CASE_ORDER=reverse then runs the cutover cases last to
first: each sets up its own state, and this order is how that is checked (a case that leaned on
the one before it fails here). The ansible-core the cases' playbooks run on: tests/lab/cases_core.py."""
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[4] / "tests" / "lab"))

# A fixture: used by being imported.
from cases_core import cases_core  # noqa: E402,F401  pylint: disable=unused-import,wrong-import-position


def pytest_collection_modifyitems(items):
    provisioned = [item for item in items if item.path.name == "test_provisioned.py"]
    cases = [item for item in items if item.path.name != "test_provisioned.py"]
    if os.environ.get("CUTOVER_CASE_ORDER") == "reverse":
        cases.reverse()
    items[:] = provisioned + cases
