"""Runs tests/ee/smoke.yml in the execution environment the way AWX runs a job (ansible-runner,
process isolation with podman, a private data directory holding the project, the extra
variables and the credential files), then checks what it returned: ansible-core of
requirements/core-2.16.txt on Python 3.11, the pins of requirements/ee-image.txt, every plugin
and role of the checkout listed by ansible-doc, the judge's statistics, ssh and psql, a signed
audit log written, verified and rendered, and every playbook's syntax.

Usage: smoke.py IMAGE, with the Python of the venv that holds ansible-runner (make ee).
"""

import json
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "tests" / "collection"), str(ROOT / "tests" / "lab")]
from install_check import expected_plugins  # noqa: E402  pylint: disable=wrong-import-position
from tour import keypair  # noqa: E402  pylint: disable=wrong-import-position

ANSIBLE_RUNNER = Path(sys.executable).parent / "ansible-runner"
# Where ansible-runner mounts the private data directory in the container.
MOUNTED_AT = "/runner"


def pins(requirements):
    """{lower-cased name: version} of a pip requirements file of `name==version` lines."""
    found = {}
    for line in requirements.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            found[name.lower()] = version
    return found


def private_data_dir(path, playbook, extravars, inventory=None):
    """A private data directory laid out as AWX lays one out for a job: the project holding the
    playbook and the checkout's ansible.cfg (AWX runs from the project's checkout), the extra
    variables, an inventory when given (else the implicit localhost)."""
    shutil.rmtree(path, ignore_errors=True)
    (path / "project").mkdir(parents=True)
    (path / "env").mkdir()
    shutil.copy(ROOT / "ansible.cfg", path / "project" / "ansible.cfg")
    shutil.copy(playbook, path / "project" / playbook.name)
    (path / "env" / "extravars").write_text(json.dumps(extravars), encoding="utf-8")
    if inventory is not None:
        (path / "inventory").mkdir()
        (path / "inventory" / "hosts").write_text(inventory, encoding="utf-8")
    return path


def run_in_ee(path, playbook, image, ident, container_options=()):
    """Runs `playbook` of the private data directory `path` in `image` as AWX does (its
    container options: root in the container, no pull) and returns what set_stats gave; exits
    with the run's output when the run failed. `ident` names the run's artifacts and container;
    `container_options` go to podman run, e.g. `--network=<the lab's network>`."""
    # A run killed earlier leaves its container behind under the name ansible-runner gives it.
    subprocess.run(["podman", "rm", "--force", "--ignore", f"ansible_runner_{ident}"], capture_output=True, check=True)
    options = ["--user=root", "--pull=never", *container_options]
    command = [str(ANSIBLE_RUNNER), "run", str(path), "-p", playbook, "--ident", ident,
               "--process-isolation", "--process-isolation-executable", "podman", "--container-image", image,
               *(f"--container-option={option}" for option in options)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    artifacts = path / "artifacts" / ident
    status = (artifacts / "status").read_text(encoding="utf-8") if (artifacts / "status").exists() else "none"
    if done.returncode or status != "successful":
        sys.exit(f"{' '.join(command)}: exit {done.returncode}, status {status}\n{done.stdout[-6000:]}{done.stderr[-3000:]}")
    for event_file in sorted((artifacts / "job_events").glob("*.json")):
        event = json.loads(event_file.read_text(encoding="utf-8"))
        if event.get("event") == "playbook_on_stats":
            return event["event_data"].get("artifact_data", {})
    sys.exit(f"{path}: the run left no playbook_on_stats event")


def audit_keys(credentials):
    """An Ed25519 key pair made as docs/quickstart.md makes it, where AWX writes a credential's
    files: the job's private data directory, mode 0600."""
    credentials.mkdir(mode=0o700)
    keypair(credentials, "audit_signing")


def problems_of(found, path):
    expected_core = pins(ROOT / "requirements" / "core-2.16.txt")["ansible-core"]
    if found["ansible_core"] != expected_core:
        yield f"ansible-core {found['ansible_core']}, not {expected_core} (requirements/core-2.16.txt)"
    if not found["python"].startswith("3.11."):
        yield f"Python {found['python']} ({found['python_executable']}), not 3.11"
    installed = {name.lower(): version for name, version in found["packages"].items()}
    for name, version in sorted(pins(ROOT / "requirements" / "ee-image.txt").items()):
        if installed.get(name) != version:
            yield f"{name} {installed.get(name, 'missing')}, not {version} (requirements/ee-image.txt)"
    if found["pip_check"]["rc"] != 0:
        yield f"pip check: {found['pip_check']['output']}"
    for kind, names in sorted(expected_plugins().items()):
        listed = set(found["doc"].get(kind, []))
        yield from (f"ansible-doc -t {kind} -l does not list {name}" for name in sorted(names - listed))
    judge = found["judge"]
    if not (judge["error_rate_p"] < 0.001 and judge["latency_p"] < 0.001 and judge["requests"]):
        yield f"the judge's tests or the trace clients' library: {judge}"
    yield from (f"{program} failed ({rc})" for program, rc in found["programs"].items() if rc != 0)
    audit = found["audit"]
    if not (audit["ok"] and audit["records"] == 3):
        yield f"audit_verify: {audit}"
    report = Path(audit["report"])
    if not report.is_relative_to(MOUNTED_AT) or not (path / report.relative_to(MOUNTED_AT)).is_file():
        yield f"audit_report wrote no report in the private data directory: {audit['report']}"
    playbooks = {name for name, _rc, _stderr in found["syntax"]}
    expected_playbooks = {playbook.stem for playbook in (ROOT / "playbooks").glob("*.yml")}
    yield from (f"no syntax check of playbook {name}" for name in sorted(expected_playbooks - playbooks))
    yield from (f"ansible-playbook --syntax-check tracegate.bluegreen.{name}: {stderr}"
                for name, rc, stderr in found["syntax"] if rc != 0)


def main(image):
    path = private_data_dir(ROOT / ".build" / "ee" / "smoke", ROOT / "tests" / "ee" / "smoke.yml", {
        "smoke_dir": MOUNTED_AT,
        "smoke_playbooks": sorted(playbook.stem for playbook in (ROOT / "playbooks").glob("*.yml")),
    })
    audit_keys(path / "credentials")
    (path / "audit").mkdir()
    found = run_in_ee(path, "smoke.yml", image, "smoke").get("ee_smoke")
    if not found:
        sys.exit("smoke.yml returned nothing")
    problems = list(problems_of(found, path))
    if problems:
        sys.exit(f"{image}:\n" + "\n".join(problems))
    print(f"{image}: ansible-core {found['ansible_core']} on Python {found['python']}, "
          f"{len(found['packages'])} Python packages, {sum(map(len, found['doc'].values()))} plugins and roles, "
          f"audit log of {found['audit']['records']} records verified, {len(found['syntax'])} playbooks' syntax checked")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    main(sys.argv[1])
