"""CUTOVER_CASE_ORDER=reverse runs the cases last to first: each sets up its own state, and
this order is how that is checked (a case that leaned on the one before it fails here)."""
import os


def pytest_collection_modifyitems(items):
    if os.environ.get("CUTOVER_CASE_ORDER") == "reverse":
        items.reverse()
