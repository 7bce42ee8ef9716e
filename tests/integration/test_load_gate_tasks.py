"""The load gate's task files (load_gate.yml, load_wait.yml, load_verdict.yml) run by
ansible-playbook as the cutover runs them, against the REAL Jaeger v2 on loopback or a trace
backend that cannot be reached: the live color's rate is read first, and a rate the backend
did not give must fail the gate, never skip the load as if the live color were idle."""
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import free_port
from lb_harness import ANSIBLE_PLAYBOOK
from trace_servers import RealJaeger

ROOT = Path(__file__).resolve().parents[2]
TASKS = ROOT / "playbooks" / "tasks"


@pytest.fixture(scope="module")
def jaeger(tmp_path_factory):
    server = RealJaeger(tmp_path_factory.mktemp("jaeger"))
    yield server
    server.stop()


def run_load_gate(tmp_path, backend_url):
    """The three task files on a load balancer play of one local host, with the run's settings
    as preflight.yml gathers them; returns (exit code, output, the audit log's records)."""
    audit_log = tmp_path / "run.jsonl"
    run = {"service": "quiet-shop", "run_id": "load-gate-test", "audit_log": str(audit_log), "audit_fail_closed": True,
           "load_test_seconds": 2, "load_test_warmup": 0.4, "load_test_timeout": 62, "load_test_rate_window": 15,
           "exclude_operations": [], "thresholds": {}, "probe_path": "/"}
    # The controller's Python (with requests) as an implicit localhost would have it.
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(json.dumps({"all": {
        "hosts": {"localhost": local},
        "children": {
            "bluegreen_lb": {"hosts": {"lb-1": dict(local, bluegreen_lb_url="http://127.0.0.1:9/")}},
            # Named for the loads per host; no task reaches them.
            "bluegreen_blue": {"hosts": {"blue-1": {}, "blue-2": {}}},
            "bluegreen_green": {"hosts": {"green-1": {}, "green-2": {}}},
            "bluegreen_idle": {"hosts": {"green-1": {}, "green-2": {}}},
        }}}), encoding="utf-8")
    playbook = tmp_path / "load_gate.yml"
    playbook.write_text(json.dumps([
        {"hosts": "localhost", "gather_facts": False, "tasks": [{"ansible.builtin.set_fact": {"bluegreen_run": run}}]},
        {"hosts": "bluegreen_lb", "gather_facts": False,
         "module_defaults": {"group/tracegate.bluegreen.trace": {"backend": "jaeger", "url": backend_url, "request_timeout": 5}},
         "tasks": [{"ansible.builtin.set_fact": {"bluegreen_plan": {"from_color": "blue", "to_color": "green"}}},
                   {"ansible.builtin.import_tasks": str(TASKS / "load_gate.yml")},
                   {"ansible.builtin.import_tasks": str(TASKS / "load_wait.yml")},
                   {"ansible.builtin.import_tasks": str(TASKS / "load_verdict.yml")}]},
    ]), encoding="utf-8")
    result = subprocess.run([ANSIBLE_PLAYBOOK, "-i", str(inventory), str(playbook)], capture_output=True, text=True,
                            check=False, timeout=180)
    records = [json.loads(line) for line in audit_log.read_text(encoding="utf-8").splitlines()] if audit_log.exists() else []
    return result.returncode, result.stdout + result.stderr, records


def test_an_unreachable_trace_backend_fails_the_load_gate_instead_of_skipping_it(tmp_path):
    code, output, records = run_load_gate(tmp_path, f"http://127.0.0.1:{free_port()}")
    assert code != 0, output
    assert "load_test: fail: the live color's request rate could not be read from the trace backend" in output, output
    assert "cannot reach Jaeger" in output, output
    gates = [record for record in records if record["type"] == "gate_result"]
    assert [(gate["gate"], gate["verdict"]) for gate in gates] == [("load_test", "fail")], gates


def test_a_live_color_without_traffic_skips_the_load_test_and_passes(tmp_path, jaeger):
    code, output, records = run_load_gate(tmp_path, jaeger.url)
    assert code == 0, output
    assert "load_test | skipped | the live color served 0.0 requests per second" in output, output
    gates = [record for record in records if record["type"] == "gate_result"]
    assert [(gate["gate"], gate["verdict"]) for gate in gates] == [("load_test", "skipped")], gates
