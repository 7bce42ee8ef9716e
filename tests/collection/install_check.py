"""The collection as Galaxy would ship it: built once, installed with each given ansible-core
into an empty collections path, and every module, callback, filter and role of the checkout
listed by that ansible-core's ansible-doc. Also fails when the tarball carries files of a
working checkout (venvs, caches, the lab), which build_ignore in galaxy.yml keeps out.

Usage: install_check.py BIN_DIR [BIN_DIR ...], each the bin directory of an ansible-core
(a venv's bin); the first one builds the tarball.
"""

import ast
import json
import os
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
COLLECTION = "tracegate.bluegreen"
# Top directories and names of a working checkout that have no place in the tarball.
NOT_SHIPPED = {".venv", ".cache", ".collections", ".build", ".lab", ".ansible", ".hypothesis", ".pytest_cache",
               "__pycache__", "benchmarks", "requirements"}
NOT_SHIPPED_PATHS = ("tests/lab/", "tests/integration/", "extensions/molecule/", "tests/ee/", "ee/",
                     "execution-environment.yml")


def filter_names(path):
    """The names a filter plugin file's FilterModule.filters() returns."""
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.FunctionDef) and node.name == "filters":
            for inner in ast.walk(node):
                if isinstance(inner, ast.Return) and isinstance(inner.value, ast.Dict):
                    yield from (key.value for key in inner.value.keys)


def expected_plugins():
    """{ansible-doc type: set of fully qualified names} of what the checkout holds."""
    def stems(folder):
        return {path.stem for path in (ROOT / "plugins" / folder).glob("*.py") if path.stem != "__init__"}

    names = {
        "module": stems("modules"),
        "callback": stems("callback"),
        "filter": {name for path in (ROOT / "plugins" / "filter").glob("*.py") for name in filter_names(path)},
        "role": {path.parent.parent.name for path in ROOT.glob("roles/*/meta/argument_specs.yml")},
    }
    return {kind: {f"{COLLECTION}.{name}" for name in found} for kind, found in names.items()}


def run(command, env, cwd):
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    if done.returncode:
        sys.exit(f"{' '.join(map(str, command))} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return done.stdout


def ansible_env(bin_dir, collections):
    """The environment of an ansible-core in `bin_dir` that sees only `collections` (and the
    collections bundled in its own site-packages) and no configuration file of the checkout;
    PYTHONPATH goes too, as ansible-core finds collections on sys.path (pytest.ini puts the
    checkout's .collections link there)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_") and key != "PYTHONPATH"}
    empty_config = collections.parent / "ansible.cfg"
    empty_config.touch()
    env.update(PATH=f"{bin_dir}{os.pathsep}{env.get('PATH', '')}", ANSIBLE_COLLECTIONS_PATH=str(collections),
               ANSIBLE_CONFIG=str(empty_config))
    return env


def shipped_by_mistake(tarball):
    with tarfile.open(tarball) as archive:
        names = archive.getnames()
    return sorted(name for name in names
                  if set(Path(name).parts) & NOT_SHIPPED or name.startswith(NOT_SHIPPED_PATHS))


def main(bin_dirs):
    expected = expected_plugins()
    problems = []
    with tempfile.TemporaryDirectory(prefix="install-check-") as work:
        work = Path(work)
        build_env = ansible_env(bin_dirs[0], work / "unused")
        run([Path(bin_dirs[0]) / "ansible-galaxy", "collection", "build", "--output-path", work / "dist", ROOT],
            build_env, work)
        tarball = next((work / "dist").glob("*.tar.gz"))
        print(f"{tarball.name}: {tarball.stat().st_size // 1024} KiB")
        problems += [f"tarball carries {name}" for name in shipped_by_mistake(tarball)]
        for index, bin_dir in enumerate(bin_dirs):
            collections = work / f"collections-{index}"
            collections.mkdir()
            env = ansible_env(bin_dir, collections)
            version = run([Path(bin_dir) / "ansible", "--version"], env, work).splitlines()[0]
            # galaxy.yml declares no dependencies (the playbooks, roles and plugins use
            # ansible.builtin only). With --offline a dependency, should one be added, counts
            # as met when installed (the `ansible` bundle in site-packages counts), and fails
            # here otherwise instead of reaching for Galaxy, which is unreachable here.
            run([Path(bin_dir) / "ansible-galaxy", "collection", "install", "--offline", "-p", collections, tarball],
                env, work)
            for kind, names in sorted(expected.items()):
                listed = set(json.loads(run([Path(bin_dir) / "ansible-doc", "-t", kind, "-l", "--json", COLLECTION],
                                            env, work)))
                problems += [f"{version}: ansible-doc -t {kind} -l does not list {name}"
                             for name in sorted(names - listed)]
                print(f"{version}: {len(names & listed)} of {len(names)} {kind} listed")
    if problems:
        sys.exit("\n".join(problems))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
