"""A service the generic role does not install, deployed by the user's own deploy hook: jshop,
the lab's Java service (tests/lab/jshop: jars run with the host's Java, which the hook
installs), on the same app hosts and the same HAProxy as goshop, from its own variables (as
from its own inventory): its app port 8081, its frontend port 8082. Provisioned and cut over
under load while goshop's files, state and live color stay as they were."""
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

from tour import SCENARIO_TIMING as TIMING  # noqa: E402
from tour import LabLoad, build_service_release, keypair, run_logged_playbook, served_colors, verified_records  # noqa: E402

INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
LOG_DIR = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/tmp")) / "deploy-hook-runs"
GOSHOP_URL = "http://127.0.0.1:29080"
# molecule.yml publishes the load balancer's port 8082 on this.
JSHOP_URL = "http://127.0.0.1:29082"
GOSHOP_FILES = ["/etc/haproxy/bluegreen.d/goshop.cfg", "/var/lib/tracegate-bluegreen/goshop.state.json",
                "/var/lib/tracegate-bluegreen/goshop.lock"]


def colors(url):
    seen = served_colors([url], 30)[url]
    assert seen["errors"] == 0, seen
    return set(seen["by_color"])


def goshop_files():
    lb = testinfra.get_host("podman://svc-lb-haproxy")
    return {path: hashlib.sha256(lb.file(path).content).hexdigest() if lb.file(path).exists else None
            for path in GOSHOP_FILES}


@pytest.fixture(scope="module")
def jshop(tmp_path_factory):
    """jshop's run variables (the Collector as the other cases name it); its units are stopped
    afterwards so that the cases after this one meet the hosts as before."""
    directory = tmp_path_factory.mktemp("jshop-audit")
    collector = subprocess.run([str(ROOT / "tests" / "lab" / "otelcol" / "build.sh")], check=True, capture_output=True,
                               text=True).stdout.strip()
    yield dict(TIMING, bluegreen_service="jshop", bluegreen_deploy_hook=str(ROOT / "tests" / "lab" / "jshop" / "deploy_hook.yml"),
               bluegreen_app_port=8081, haproxy_frontend_port=8082, bluegreen_lb_url=JSHOP_URL,
               tracing_agent_collector_artifact=collector,
               tracing_agent_collector_sha256=hashlib.sha256(Path(collector).read_bytes()).hexdigest(),
               bluegreen_audit_dir=str(directory), bluegreen_audit_signing_key=str(keypair(directory, "signing")))
    for host in ("svc-blue-1", "svc-green-1"):
        testinfra.get_host(f"podman://{host}").run("systemctl disable --now jshop.service")


def test_a_java_service_deployed_by_its_hook_shares_haproxy_with_goshop_and_is_cut_over(jshop):
    goshop_live, files_before = colors(GOSHOP_URL), goshop_files()
    with LabLoad([GOSHOP_URL], rate=40) as goshop_load:
        code, lines, _seconds = run_logged_playbook("provision", INVENTORY, dict(
            jshop, bluegreen_release=build_service_release("jshop", "1.0.0")), LOG_DIR, echo=False)
        assert code == 0, lines
        assert colors(JSHOP_URL) == {"blue"}
        with LabLoad([JSHOP_URL], rate=60) as jshop_load:
            code, lines, _seconds = run_logged_playbook("cutover", INVENTORY, dict(
                jshop, bluegreen_release=build_service_release("jshop", "1.1.0")), LOG_DIR, echo=False)
        assert code == 0, lines

    assert colors(JSHOP_URL) == {"green"}
    green = testinfra.get_host("podman://svc-green-1")
    assert json.loads(green.check_output("curl -fsS http://127.0.0.1:8081/version"))["version"] == "1.1.0"
    # comm, not the exe link: reading another user's exe link needs CAP_SYS_PTRACE, which the lab's root lacks.
    assert green.check_output("cat /proc/$(systemctl show -p MainPID --value jshop.service)/comm") == "java"
    totals = jshop_load.totals()
    assert totals["errors"] == 0 and totals["non_2xx"] == 0 and totals["by_color"].get("green", 0) > 0, totals
    goshop = goshop_load.totals()
    assert goshop["errors"] == 0 and goshop["non_2xx"] == 0 and set(goshop["by_color"]) == goshop_live, goshop
    assert colors(GOSHOP_URL) == goshop_live and goshop_files() == files_before
    (log,) = sorted(Path(jshop["bluegreen_audit_dir"]).glob("cutover-*.jsonl"))
    records = verified_records(log, Path(jshop["bluegreen_audit_dir"]) / "signing.pub")
    assert records[0]["service"] == "jshop" and records[-1]["outcome"] == "succeeded", (records[0], records[-1])
