"""Progress lines and audit evidence from gate results."""
from ansible_collections.tracegate.bluegreen.plugins.module_utils.gate_report import gate_evidence, gate_line

RESULT = {
    "verdict": "fail",
    "reasons": ["green error rate 0.3000 vs blue 0.0000", "second"],
    "colors": {"blue": {"requests": 812, "errors": 0, "p95_ms": 21.34}, "green": {"requests": 40, "errors": 12, "p95_ms": None}},
    "checks": [{"check": "error_rate_vs_blue", "outcome": "fail"}],
    "looks": [{}, {}],
    "queries": [{"url": "http://jaeger/api/traces"}],
    "window": {"start": 1.0, "end": 2.0},
    "invocation": {"module_args": {"bearer_token": "secret"}},
}


def test_one_line_names_step_weights_numbers_verdict_and_reason():
    line = gate_line(RESULT, "blue", "green", 25)
    assert line == ("step  25% | blue 75 / green 25 | blue 812 req 0 err p95 21.3 ms | green 40 req 12 err p95 - ms | "
                    "fail | green error rate 0.3000 vs blue 0.0000")


def test_the_line_says_the_load_per_host_and_a_baseline_window_from_before():
    colors = {"blue": {"requests": 2642, "errors": 0, "p95_ms": 16.33, "load_per_host": 11.04, "window": {"start": 900.0, "end": 1000.0}},
              "green": {"requests": 4529, "errors": 0, "p95_ms": 26.41, "load_per_host": 18.9, "window": {"start": 1095.0, "end": 1125.0}}}
    line = gate_line({"verdict": "pass", "reasons": ["ok"], "colors": colors}, "blue", "green", 100, "watch")
    assert "| blue 2642 req 0 err p95 16.3 ms 11.0 req/s/host (window ended 125 s before green's) |" in line, line
    assert "| green 4529 req 0 err p95 26.4 ms 18.9 req/s/host | pass |" in line, line


def test_a_task_error_prints_its_message():
    assert gate_line({"failed": True, "msg": "window must be positive"}, "blue", "green", 5).endswith("error | window must be positive")


def test_evidence_keeps_the_numbers_and_never_the_raw_result():
    evidence = gate_evidence(RESULT, "trace_health", 25)
    assert evidence["step"] == 25 and evidence["looks"] == 2 and evidence["queries"]
    assert "invocation" not in evidence and "secret" not in repr(evidence)
