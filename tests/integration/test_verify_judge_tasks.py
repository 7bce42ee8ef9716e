"""The dry run's judgement of the idle color's recent traffic (playbooks/tasks/verify_judge.yml,
included by verify.yml) run by ansible-playbook as verify runs it, against a trace backend that
cannot be reached or the REAL Jaeger v2 on loopback: a verdict that could not be read must fail
the dry run (and be recorded), never be printed and sealed as a pass; an idle color without
traffic (inconclusive) is what verify normally sees and passes."""
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


def run_verify_judge(tmp_path, backend_url, to_color="green"):
    """The task file on a load balancer play of two local hosts, with the run's settings as
    preflight.yml gathers them; returns (exit code, output, the audit log's records)."""
    audit_log = tmp_path / "run.jsonl"
    run = {"service": "quiet-shop", "run_id": "verify-judge-test", "audit_log": str(audit_log), "audit_fail_closed": True,
           "window": 120.0, "exclude_operations": [], "thresholds": {}}
    # Two load balancers: the failure must reach both, as verify's rescue runs on each. The app
    # hosts are named for the hosts per color; no task reaches them.
    hosts = {"bluegreen_lb": {"lb-1": {}, "lb-2": {}}, "bluegreen_blue": {"blue-1": {}, "blue-2": {}},
             "bluegreen_green": {"green-1": {}, "green-2": {}}}
    tasks = [{"ansible.builtin.set_fact": {"bluegreen_plan": {"from_color": "blue", "to_color": to_color}}},
             {"ansible.builtin.include_tasks": str(TASKS / "verify_judge.yml")},
             {"name": "Reached only when the judgement passed", "ansible.builtin.debug": {"msg": "judged and passed"}}]
    trace = {"backend": "jaeger", "url": backend_url, "request_timeout": 5}
    return run_lb_play(tmp_path, run, tasks, hosts, {"module_defaults": {"group/tracegate.bluegreen.trace": trace}})


def test_an_unreachable_trace_backend_fails_the_dry_run_and_is_recorded(tmp_path):
    code, output, records = run_verify_judge(tmp_path, f"http://127.0.0.1:{free_port()}")
    assert code != 0, output
    assert "verify: gate fail: " in output, output
    assert "cannot reach Jaeger" in output, output
    assert "judged and passed" not in output, output
    gates = [record for record in records if record["type"] == "gate_result"]
    assert [(gate["gate"], gate["verdict"]) for gate in gates] == [("trace_health", "fail")], gates
    assert any(check.get("check") == "backend" and check.get("outcome") == "fail" for check in gates[0]["checks"]), gates


def test_a_module_error_without_a_verdict_fails_the_dry_run_and_is_recorded(tmp_path, jaeger):
    # The module refuses to compare a color with itself: no verdict at all.
    code, output, records = run_verify_judge(tmp_path, jaeger.url, to_color="blue")
    assert code != 0, output
    assert "verify: gate error: baseline_color and candidate_color must differ" in output, output
    assert "judged and passed" not in output, output
    gates = [record for record in records if record["type"] == "gate_result"]
    assert [(gate["gate"], gate["verdict"]) for gate in gates] == [("trace_health", "error")], gates


def test_an_idle_color_without_traffic_is_inconclusive_and_passes(tmp_path, jaeger):
    code, output, records = run_verify_judge(tmp_path, jaeger.url)
    assert code == 0, output
    assert "verify    | blue 100 / green 0 |" in output, output
    assert "| inconclusive |" in output, output
    assert output.count("judged and passed") == 2, output
    gates = [record for record in records if record["type"] == "gate_result"]
    assert [(gate["gate"], gate["verdict"]) for gate in gates] == [("trace_health", "inconclusive")], gates
