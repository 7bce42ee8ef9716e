"""goshop, a service that is not the demo app, cut over like any other under bounded load
through HAProxy: a healthy release goes live, a faulty one is rolled back, and every run is
locked, recorded and audited under goshop's own name."""
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import testinfra

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "tests" / "lab"))

from tour import LabLoad, build_service_release, keypair, render_report, run_logged_playbook  # noqa: E402
from tour import SCENARIO_TIMING as TIMING  # noqa: E402
from tour import served_colors, verified_records  # noqa: E402

INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
LB_URLS = ["http://127.0.0.1:29080"]
STATE_DIR = "/var/lib/tracegate-bluegreen"
LOG_DIR = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/tmp")) / "any-service-runs"


@pytest.fixture(scope="module")
def audit(tmp_path_factory):
    directory = tmp_path_factory.mktemp("audit")
    return {"bluegreen_audit_dir": str(directory), "bluegreen_audit_signing_key": str(keypair(directory, "signing"))}


@pytest.fixture(scope="module")
def collector():
    """The Collector the deploy installs on the new color, as a user names it: a path on the
    controller and its checksum (converge.yml finds the same build in the machine's cache)."""
    path = subprocess.run([str(ROOT / "tests" / "lab" / "otelcol" / "build.sh")], check=True, capture_output=True,
                          text=True).stdout.strip()
    return {"tracing_agent_collector_artifact": path,
            "tracing_agent_collector_sha256": hashlib.sha256(Path(path).read_bytes()).hexdigest()}


def cutover(audit, collector, release, **extra):
    """One cutover under load; (exit code, progress lines, load totals)."""
    extra_vars = dict(TIMING, **audit, **collector, bluegreen_release=release, **extra)
    with LabLoad(LB_URLS, rate=30) as load:
        code, lines, _seconds = run_logged_playbook("cutover", INVENTORY, extra_vars, LOG_DIR, echo=False)
    return code, lines, load.totals()


def only_color():
    """The one color HAProxy sends new requests to."""
    seen = served_colors(LB_URLS)[LB_URLS[0]]
    assert len(seen["by_color"]) == 1 and seen["errors"] == 0, seen
    return next(iter(seen["by_color"]))


def version_of(color):
    return json.loads(testinfra.get_host(f"podman://svc-{color}-1").check_output("curl -fsS http://127.0.0.1:8080/version"))


def last_run(audit):
    """The records of the newest run's audit log, verified, and the log's path."""
    log = max(Path(audit["bluegreen_audit_dir"]).glob("cutover-*.jsonl"), key=os.path.getmtime)
    return verified_records(log, Path(audit["bluegreen_audit_dir"]) / "signing.pub"), log


def lb_state():
    """The cutover state and the lock on the load balancer: both under goshop's name."""
    lb = testinfra.get_host("podman://svc-lb-haproxy")
    state = lb.file(f"{STATE_DIR}/goshop.state.json")
    assert state.exists, lb.check_output(f"ls -l {STATE_DIR}")
    assert not lb.file(f"{STATE_DIR}/goshop.lock").exists, "the run left its lock"
    return json.loads(state.content_string)


def test_a_healthy_release_of_goshop_goes_live_and_is_audited_under_its_name(audit, collector):
    live = only_color()
    new = "green" if live == "blue" else "blue"
    code, lines, totals = cutover(audit, collector, build_service_release("goshop", "1.1.0"))
    assert code == 0, lines
    assert totals["errors"] == 0 and totals["non_2xx"] == 0 and totals["by_color"].get(new, 0) > 0, totals
    assert only_color() == new
    assert version_of(new)["version"] == "1.1.0" and version_of(new)["service"] == "goshop"
    state = lb_state()
    assert (state["operation"], state["phase"], state["live"]) == ("cutover", "done", new), state
    records, log = last_run(audit)
    start = records[0]
    assert (start["type"], start["service"], start["release"]["version"]) == ("run_start", "goshop", "1.1.0"), start
    assert records[-1]["outcome"] == "succeeded", records[-1]
    summary = render_report(log, Path(audit["bluegreen_audit_dir"]) / "signing.pub")
    assert "REPORT FAILED" not in summary, summary
    assert "bgdemo" not in log.read_text(encoding="utf-8")


def test_a_faulty_release_of_goshop_is_rolled_back(audit, collector):
    live = only_color()
    # The rollback under user traffic: the load test would stop this release before any.
    code, lines, totals = cutover(audit, collector, build_service_release("goshop", "1.2.0-faulty", ["error_rate=0.3"]),
                                  bluegreen_load_test_seconds=0)
    assert code != 0 and any(f"rolled_back: all traffic on {live}" in line for line in lines), lines
    assert only_color() == live
    state = lb_state()
    assert (state["operation"], state["phase"], state["live"]) == ("cutover", "rolled_back", live), state
    records, _log = last_run(audit)
    assert records[-1]["outcome"] == "rolled_back", records[-1]
    # The faulty release reached users only in its first step's share before the verdict.
    assert totals["by_color"].get(live, 0) > totals["requests"] // 2, totals
