"""The ansible-core a molecule scenario's cases run their playbooks on. With
BLUEGREEN_CASES_CORE set to an ansible-core venv (`make molecule` sets it per scenario, e.g.
the oldest the collection supports, .cache/core/2.16), every ansible-playbook the cases start
is that venv's, so that an older ansible-core cuts over real hosts. The converge is
molecule's, on the newest. Each scenario's conftest.py imports `cases_core` (the fixture)."""
import importlib.util
import os
import subprocess
from pathlib import Path

import pytest

CASES_CORE = os.environ.get("BLUEGREEN_CASES_CORE")
if CASES_CORE:
    os.environ["PATH"] = f"{Path(CASES_CORE) / 'bin'}{os.pathsep}{os.environ['PATH']}"
    # The older venv holds ansible-core alone: the dependency collections (containers.podman
    # for the lab's connection, community.general, ...) come from the newest venv's bundle,
    # wherever the namespace package ansible_collections happens to start in this process.
    podman = importlib.util.find_spec("ansible_collections.containers.podman")
    assert podman, "containers.podman is not importable: the lab cannot be reached on the oldest ansible-core"
    bundle = Path(next(iter(podman.submodule_search_locations))).parents[2]
    os.environ["ANSIBLE_COLLECTIONS_PATH"] = f"{os.environ['ANSIBLE_COLLECTIONS_PATH']}{os.pathsep}{bundle}"


@pytest.fixture(scope="session", autouse=True)
def cases_core():
    """The ansible-core the cases' playbooks run on, checked once: a PATH that silently fell
    back to the newest would prove nothing about the oldest, and one that cannot load the lab's
    connection would fail every case with the same message."""
    version = subprocess.run(["ansible-playbook", "--version"], capture_output=True, text=True, check=True).stdout
    if CASES_CORE:
        expected = Path(CASES_CORE).name
        assert f"core {expected}." in version.splitlines()[0], version
    connection = subprocess.run(["ansible-doc", "-t", "connection", "podman"], capture_output=True, text=True, check=False)
    assert connection.returncode == 0 and "containers.podman.podman" in connection.stdout.lower(), (
        os.environ["ANSIBLE_COLLECTIONS_PATH"], connection.stdout[-500:], connection.stderr[-2000:])
    return version.splitlines()[0]
