"""Marks every unit test whose file exercises ansible-core with `ansible_core`.

The collection keeps its logic in plain Python (plugins/module_utils); most unit tests never
import ansible-core, so which ansible-core is installed cannot change their outcome. `make
matrix` runs the whole suite under the oldest supported core (Python 3.11; the newest, on 3.12,
is `make units`) and only the `ansible_core` tests under the cores between. A test file is
marked when it, or the collection code it imports (followed through every import, relative
ones too), imports `ansible`, or when it runs one of ansible-core's command-line tools. The
mark is computed, never written by hand, so a new test cannot be left out by forgetting it.
"""
import ast
import functools
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
COLLECTION = "ansible_collections.tracegate.bluegreen"
CORE_TOOLS = re.compile(r"\bansible-(playbook|doc|galaxy|inventory|config|test)\b")


def _module_path(name):
    """The file of one of the collection's modules, or None for anything else."""
    if not name.startswith(COLLECTION + "."):
        return None
    relative = Path(*name[len(COLLECTION) + 1:].split("."))
    for candidate in (ROOT / relative.with_suffix(".py"), ROOT / relative / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def imported_names(tree, path):
    """Every module name the parsed file `path` imports (absolute, with `from x import y` also
    as x.y, which may be a module); relative imports are resolved against the collection
    package of `path`."""
    package = None
    if path.is_relative_to(ROOT / "plugins"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        package = [COLLECTION] + list(parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if package is None:
                    continue
                module = ".".join(package[:len(package) - node.level + 1] + ([node.module] if node.module else []))
            else:
                module = node.module
            yield module
            yield from (f"{module}.{alias.name}" for alias in node.names)


@functools.lru_cache(maxsize=None)
def _read(path):
    """(does the file itself reach ansible-core, the collection files it imports), read once."""
    text = path.read_text(encoding="utf-8")
    names = list(imported_names(ast.parse(text), path))
    itself = bool(CORE_TOOLS.search(text)) or any(name == "ansible" or name.startswith("ansible.") for name in names)
    return itself, frozenset(filter(None, map(_module_path, names)))


@functools.lru_cache(maxsize=None)
def exercises_ansible_core(path):
    """Whether `path` or any collection file it reaches through imports reaches ansible-core."""
    seen, pending = set(), [path]
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        itself, imported = _read(current)
        if itself:
            return True
        pending.extend(imported)
    return False


def pytest_collection_modifyitems(items):
    for item in items:
        if exercises_ansible_core(item.path):
            item.add_marker(pytest.mark.ansible_core)


def pytest_ignore_collect(collection_path, config):
    # Under `-m ansible_core` (make matrix) a file that does not exercise ansible-core is not
    # even imported: importing the suite took most of such a run.
    if (config.getoption("markexpr") == "ansible_core" and collection_path.suffix == ".py"
            and collection_path.name.startswith("test_") and not exercises_ansible_core(collection_path)):
        return True
    return None
