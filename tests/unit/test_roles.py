"""Static rules of the roles: they serve any service, so nothing in them names the lab's demo
app or its fault knobs (those live in the lab's inventories)."""
from pathlib import Path

import pytest

ROLES = Path(__file__).resolve().parents[2] / "roles"
# The demo app's name, its WSGI module, and the environment knobs only it reads.
DEMO_WORDS = ("bgdemo", "BG_ERROR_RATE", "BG_ADDED_LATENCY_MS", "BG_TRACING", "BG_DEPENDENCY_URL", "error_rate",
              "added_latency", "/stock")
ROLE_FILES = sorted(path for path in ROLES.rglob("*")
                    if path.is_file() and path.parent.name in ("defaults", "vars", "templates", "tasks", "meta", "handlers", "files"))


def test_there_are_role_files_to_check():
    assert len(ROLE_FILES) > 20


@pytest.mark.parametrize("path", ROLE_FILES, ids=lambda path: str(path.relative_to(ROLES)))
def test_no_role_default_or_template_names_the_demo_app_or_its_knobs(path):
    text = path.read_text(encoding="utf-8", errors="replace")
    named = [word for word in DEMO_WORDS if word in text]
    assert not named, f"{path.relative_to(ROLES)} names {named}: the demo app's settings belong in the lab's inventories"
