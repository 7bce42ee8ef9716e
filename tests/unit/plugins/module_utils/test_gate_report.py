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


def test_a_task_error_prints_its_message():
    assert gate_line({"failed": True, "msg": "window must be positive"}, "blue", "green", 5).endswith("error | window must be positive")


def test_evidence_keeps_the_numbers_and_never_the_raw_result():
    evidence = gate_evidence(RESULT, "trace_health", 25)
    assert evidence["step"] == 25 and evidence["looks"] == 2 and evidence["queries"]
    assert "invocation" not in evidence and "secret" not in repr(evidence)
