"""Runs tests/ee/smoke.yml in the execution environment the way AWX runs a job (ansible-runner,
process isolation with podman, a private data directory holding the project, the extra
variables and the credential files), then checks what it returned: ansible-core of
requirements/core-2.16.txt on Python 3.11, the pins of requirements/ee-image.txt, every plugin
and role of the checkout listed by ansible-doc, the judge's statistics, ssh and psql, a signed
audit log written, verified and rendered, and every playbook's syntax.

Usage: smoke.py [IMAGE], with the Python of the venv that holds ansible-runner (make ee);
IMAGE is the one ee/build.sh builds (runner.image_name()) unless given.
"""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / "tests" / "collection"), str(ROOT / "tests" / "lab")]
from install_check import expected_plugins  # noqa: E402  pylint: disable=wrong-import-position
from runner import MOUNTED_AT, JobFailed, image_name, private_data_dir, run_successful_job  # noqa: E402  pylint: disable=wrong-import-position
from tour import keypair  # noqa: E402  pylint: disable=wrong-import-position


def pins(requirements):
    """{lower-cased name: version} of a pip requirements file of `name==version` lines."""
    found = {}
    for line in requirements.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            found[name.lower()] = version
    return found


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
    path = private_data_dir(ROOT / ".build" / "ee" / "smoke", {"smoke.yml": ROOT / "tests" / "ee" / "smoke.yml",
                                                               "ansible.cfg": ROOT / "ansible.cfg"}, {
        "smoke_dir": MOUNTED_AT,
        "smoke_playbooks": sorted(playbook.stem for playbook in (ROOT / "playbooks").glob("*.yml")),
    })
    audit_keys(path / "credentials")
    (path / "audit").mkdir()
    try:
        found = run_successful_job(path, "smoke.yml", image, "smoke", runner=Path(sys.executable).parent / "ansible-runner").get("ee_smoke")
    except JobFailed as exc:
        sys.exit(str(exc))
    if not found:
        sys.exit("smoke.yml returned nothing")
    problems = list(problems_of(found, path))
    if problems:
        sys.exit(f"{image}:\n" + "\n".join(problems))
    print(f"{image}: ansible-core {found['ansible_core']} on Python {found['python']}, "
          f"{len(found['packages'])} Python packages, {sum(map(len, found['doc'].values()))} plugins and roles, "
          f"audit log of {found['audit']['records']} records verified, {len(found['syntax'])} playbooks' syntax checked")


if __name__ == "__main__":
    if len(sys.argv) > 2:
        sys.exit(__doc__)
    main(sys.argv[1] if len(sys.argv) == 2 else image_name())
