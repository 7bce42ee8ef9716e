"""Jobs in the execution environment, run the way AWX runs them: ansible-runner with process
isolation in podman, a private data directory holding the project, the inventory, the extra
variables and the credential files, mounted at /runner in the job's container.

Used by tests/ee/smoke.py (what the image carries) and by the cutover scenario's EE cases
(cutover, verify and rollback of the lab over SSH)."""

import json
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Where ansible-runner mounts the private data directory in the container.
MOUNTED_AT = "/runner"
# ansible-runner and ansible-builder live in a venv of their own (make ee).
ANSIBLE_RUNNER = ROOT / ".cache" / "ee-tools" / "bin" / "ansible-runner"


class JobFailed(Exception):
    """A job that did not end `successful`; the message holds the command, the status and the
    tail of the job's output."""


def image_name():
    """The image make ee builds: localhost/tracegate-bluegreen-ee:<galaxy.yml's version>."""
    for line in (ROOT / "galaxy.yml").read_text(encoding="utf-8").splitlines():
        if line.startswith("version:"):
            return f"localhost/tracegate-bluegreen-ee:{line.split(':', 1)[1].strip()}"
    raise ValueError("galaxy.yml has no version")


def private_data_dir(path, project, extravars, inventory=None, ssh_key=None):
    """A private data directory laid out as AWX lays one out for a job. `project` maps a path in
    the project to the file or directory copied there (AWX runs from the project's checkout);
    `inventory` is the text of inventory/hosts (else the implicit localhost); `ssh_key` the
    machine credential's private key, which ansible-runner hands to an ssh-agent in the job."""
    shutil.rmtree(path, ignore_errors=True)
    (path / "project").mkdir(parents=True)
    (path / "env").mkdir()
    for name, source in project.items():
        target = path / "project" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if Path(source).is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy(source, target)
    (path / "env" / "extravars").write_text(json.dumps(extravars), encoding="utf-8")
    if inventory is not None:
        (path / "inventory").mkdir()
        (path / "inventory" / "hosts").write_text(inventory, encoding="utf-8")
    if ssh_key is not None:
        (path / "env" / "ssh_key").write_text(Path(ssh_key).read_text(encoding="utf-8"), encoding="utf-8")
        (path / "env" / "ssh_key").chmod(0o600)
    return path


def run_job(path, playbook, image, ident, container_options=(), runner=ANSIBLE_RUNNER):
    """Runs `playbook` (a path in the project) of the private data directory `path` in `image`
    as AWX does (root in the container, no pull) and returns (status, set_stats data, stdout).
    `ident` names the job's artifacts and container; `container_options` go to podman run,
    e.g. `--network=host`."""
    # A job killed earlier leaves its container behind under the name ansible-runner gives it.
    subprocess.run(["podman", "rm", "--force", "--ignore", f"ansible_runner_{ident}"], capture_output=True, check=True)
    options = ["--user=root", "--pull=never", *container_options]
    command = [str(runner), "run", str(path), "-p", playbook, "--ident", ident,
               "--process-isolation", "--process-isolation-executable", "podman", "--container-image", image,
               *(f"--container-option={option}" for option in options)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    artifacts = path / "artifacts" / ident
    status = (artifacts / "status").read_text(encoding="utf-8") if (artifacts / "status").exists() else "none"
    stdout = (artifacts / "stdout").read_text(encoding="utf-8", errors="replace") if (artifacts / "stdout").exists() else done.stdout
    stats = {}
    for event_file in sorted((artifacts / "job_events").glob("*.json")):
        event = json.loads(event_file.read_text(encoding="utf-8"))
        if event.get("event") == "playbook_on_stats":
            stats = event["event_data"].get("artifact_data", {})
    return status, stats, stdout


def run_successful_job(path, playbook, image, ident, container_options=(), runner=ANSIBLE_RUNNER):
    """run_job for a job that must succeed: its set_stats data, else JobFailed."""
    status, stats, stdout = run_job(path, playbook, image, ident, container_options, runner)
    if status != "successful":
        raise JobFailed(f"{playbook} in {image} ({path}): status {status}\n{stdout[-6000:]}")
    return stats
