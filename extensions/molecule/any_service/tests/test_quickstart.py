"""docs/quickstart.md run as written against this scenario's hosts, treated as the user's own:
its inventory and release file (docs/quickstart/), production, keys made as it says, an
approval signed by an approver with tools/approve.py, provision then a cutover. A second
inventory says only how each quickstart host is reached (and the load balancer's URL);
extra vars name the lab's trace endpoints and the test's key paths, and shorten the bakes
(as extra vars: an inventory file's `all: vars:` ranks below the quickstart's
group_vars/all.yml). Every other setting is the quickstart's."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
import testinfra
import yaml

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "tests" / "lab"))

from tour import SCENARIO_TIMING as TIMING  # noqa: E402
from tour import LabLoad, build_service_release, keypair, run_logged_playbook, served_colors, verified_records  # noqa: E402

QUICKSTART = ROOT / "docs" / "quickstart"
LB_URL = "http://127.0.0.1:29080"
LOG_DIR = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/tmp")) / "quickstart-runs"
# Each quickstart host and the container that stands for it.
HOSTS = {"app-blue-1": "svc-blue-1", "app-green-1": "svc-green-1", "lb-1": "svc-lb-haproxy", "audit-1": "svc-trace-store"}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """Keys made as the quickstart says (the executor's signing key; an approver's pair, of
    which the run gets the public half only) and the inventory that places its hosts."""
    directory = tmp_path_factory.mktemp("quickstart")
    executor, approvers, alice = (directory / name for name in ("executor", "approvers", "alice"))
    for path in (executor, approvers, alice):
        path.mkdir()
    signing_key = keypair(executor, "signing")
    keypair(alice, "alice")
    (approvers / "alice.pub").write_bytes((alice / "alice.pub").read_bytes())
    hosts = {name: {"ansible_connection": "podman", "ansible_podman_executable": "podman", "ansible_host": container}
             for name, container in HOSTS.items()}
    hosts["app-blue-1"]["bluegreen_app_address"] = "svc-blue-1"
    hosts["app-green-1"]["bluegreen_app_address"] = "svc-green-1"
    hosts["lb-1"]["bluegreen_lb_url"] = LB_URL
    placement = directory / "lab.yml"
    placement.write_text(yaml.safe_dump({"all": {"hosts": hosts}}), encoding="utf-8")
    lab_vars = dict(TIMING, bluegreen_otlp_endpoint="http://svc-trace-store:4318",
                    bluegreen_trace_backend={"backend": "jaeger", "url": "http://127.0.0.1:29686"},
                    bluegreen_audit_signing_key=str(signing_key), bluegreen_audit_dir=str(directory / "audit"),
                    bluegreen_approver_keys=[str(approvers / "alice.pub")])
    return {"inventories": [QUICKSTART / "inventory", placement], "vars": lab_vars, "alice_key": alice / "alice.key",
            "signing_pub": executor / "signing.pub", "audit_dir": directory / "audit"}


def release_file(version):
    """The quickstart's release file for another artifact: its shape, this build's path and checksum."""
    shape = yaml.safe_load((QUICKSTART / "release-1.4.0.yml").read_text(encoding="utf-8"))
    built = build_service_release("goshop", version)
    assert set(shape["bluegreen_release"]) == set(built), (shape, built)
    return {"bluegreen_release": built}


def test_the_quickstart_provisions_and_cuts_over_in_production(lab):
    code, lines, _seconds = run_logged_playbook("provision", lab["inventories"], dict(lab["vars"], **release_file("1.4.0")),
                                                LOG_DIR, echo=False)
    assert code == 0, lines
    before = served_colors([LB_URL])[LB_URL]
    assert set(before["by_color"]) == {"blue"} and before["errors"] == 0, before

    release = release_file("1.5.0")
    approval = Path(lab["audit_dir"]).parent / "CHG-1234.approval.json"
    signed = subprocess.run([sys.executable, str(ROOT / "tools" / "approve.py"), "--key", str(lab["alice_key"]),
                             "--approver", "alice", "--ticket", "CHG-1234", "--service", "goshop",
                             "--release-sha256", release["bluegreen_release"]["sha256"]],
                            capture_output=True, text=True, check=True)
    approval.write_text(signed.stdout, encoding="utf-8")
    with LabLoad([LB_URL], rate=60) as load:
        code, lines, _seconds = run_logged_playbook("cutover", lab["inventories"], dict(
            lab["vars"], **release, bluegreen_change_ticket="CHG-1234", bluegreen_approval=str(approval)), LOG_DIR, echo=False)
    assert code == 0, lines
    totals = load.totals()
    assert totals["errors"] == 0 and totals["non_2xx"] == 0 and totals["by_color"].get("green", 0) > 0, totals
    after = served_colors([LB_URL])[LB_URL]
    assert set(after["by_color"]) == {"green"}, after

    (log,) = sorted(Path(lab["audit_dir"]).glob("*.jsonl"))
    records = verified_records(log, lab["signing_pub"])
    assert records[0]["service"] == "goshop" and records[0]["environment"] == "production", records[0]
    assert records[-1]["outcome"] == "succeeded", records[-1]
    approved = [r for r in records if r["type"] == "approval_verified"]
    assert approved and approved[0]["approver"] == "alice" and approved[0]["ticket"] == "CHG-1234", approved
    copy = testinfra.get_host("podman://svc-trace-store").file(f"/var/log/tracegate-bluegreen/{log.name}")
    assert copy.exists and copy.content_string == log.read_text(encoding="utf-8")
