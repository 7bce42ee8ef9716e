"""The load gate's task files (load_gate.yml, load_wait.yml, load_verdict.yml) run by
ansible-playbook as the cutover runs them, against the REAL Jaeger v2 on loopback or a trace
backend that cannot be reached: the live color's rate is read first, and a rate the backend
did not give must fail the gate, never skip the load as if the live color were idle."""
from pathlib import Path

import pytest
from conftest import free_port
from lb_harness import run_lb_play
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
    # Named for the loads per host; no task reaches the app hosts.
    hosts = {"bluegreen_lb": {"lb-1": {"bluegreen_lb_url": "http://127.0.0.1:9/"}},
             "bluegreen_blue": {"blue-1": {}, "blue-2": {}}, "bluegreen_green": {"green-1": {}, "green-2": {}},
             "bluegreen_idle": {"green-1": {}, "green-2": {}}}
    tasks = [{"ansible.builtin.set_fact": {"bluegreen_plan": {"from_color": "blue", "to_color": "green"}}}]
    tasks += [{"ansible.builtin.import_tasks": str(TASKS / name)} for name in ("load_gate.yml", "load_wait.yml", "load_verdict.yml")]
    trace = {"backend": "jaeger", "url": backend_url, "request_timeout": 5}
    return run_lb_play(tmp_path, run, tasks, hosts, {"module_defaults": {"group/tracegate.bluegreen.trace": trace}})


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
