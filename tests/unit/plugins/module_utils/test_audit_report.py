"""The evidence report rendered from a run's log."""
import itertools

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ansible_collections.tracegate.bluegreen.plugins.module_utils import audit, audit_report

KEY = Ed25519PrivateKey.generate()
CANARY = "canary-2b9d-never-in-a-report"


def a_run(path):
    ticks = itertools.count()
    writer = audit.AuditWriter(str(path), "cutover-1", KEY, clock=lambda: f"2026-11-25T15:00:{next(ticks):02d}.000000Z")
    writer.append("run_start", operation="cutover", actor="alice", actor_source="awx", change_ticket="CHG-7",
                  release={"version": "2.0.0", "sha256": "ab" * 32}, settings={"token": CANARY})
    writer.append("traffic_change", step=5, to_color="green", split_after={"blue": 95, "green": 5})
    writer.append("gate_result", gate="trace_health", step=5, verdict="fail", reasons=["green error rate 0.30 vs blue 0.00"],
                  colors={"blue": {"requests": 900, "errors": 0, "error_rate": 0.0, "p95_ms": 12.0, "load_per_host": 15.0,
                                   "window": {"start": 1795964370.0, "end": 1795964400.0}},
                          "green": {"requests": 40, "errors": 12, "error_rate": 0.3, "p95_ms": 13.5, "load_per_host": 2.5,
                                    "window": {"start": 1795964384.0, "end": 1795964400.0}}})
    writer.append("rollback", reason="step 5%: gate fail", to_color="blue")
    writer.seal("rolled_back")
    return path.read_bytes().splitlines(keepends=True)


def test_the_report_shows_the_run_gates_traffic_and_verification_and_no_secret(tmp_path):
    lines = a_run(tmp_path / "run.jsonl")
    verification = audit.verify_lines(lines, {audit.key_id_of(KEY.public_key()): KEY.public_key()})
    summary = audit_report.summarize(audit_report.load_records(lines))
    markdown = audit_report.render_markdown(summary, verification)
    page = audit_report.render_html(summary, verification)
    assert "log verification: **valid**" in markdown and "outcome **rolled_back**" in markdown
    assert ("| trace_health | 5 | fail | 900 / 0 / 12 / 15 | 40 / 12 / 13.5 / 2.5 | blue 14:59:30-15:00:00; green 14:59:44-15:00:00 |"
            in markdown), markdown
    assert "| rollback: step 5%" in markdown
    assert page.count("<svg") == 3 and "<script" not in page and "http" not in page.split("<body>")[1]
    assert CANARY not in markdown and CANARY not in page


def test_a_tampered_log_says_so_at_the_top(tmp_path):
    lines = a_run(tmp_path / "run.jsonl")
    lines[2] = lines[2].replace(b'"fail"', b'"pass"')
    verification = audit.verify_lines(lines, {audit.key_id_of(KEY.public_key()): KEY.public_key()})
    markdown = audit_report.render_markdown(audit_report.summarize(audit_report.load_records(lines)), verification)
    assert "log verification: **INVALID**" in markdown and "first bad record: line" in markdown


def test_a_watchdog_intervention_before_the_run_is_shown_with_the_dead_run(tmp_path):
    path = tmp_path / "run.jsonl"
    writer = audit.AuditWriter(str(path), "cutover-2", KEY, clock=lambda: "2026-11-25T15:10:00.000000Z")
    writer.append("run_start", operation="cutover", actor="alice")
    writer.append("watchdog_intervention", dead_run=["cutover-1"], live="blue", interventions=[
        {"lb": "lb-1", "run_id": "cutover-1", "acted_at": "2026-11-25T15:04:10Z", "reason": "run cutover-1 wrote nothing"}])
    writer.seal("succeeded")
    lines = path.read_bytes().splitlines(keepends=True)
    verification = audit.verify_lines(lines, {audit.key_id_of(KEY.public_key()): KEY.public_key()})
    summary = audit_report.summarize(audit_report.load_records(lines))
    markdown = audit_report.render_markdown(summary, verification)
    assert ("- watchdog: before this run, the watchdog on lb-1 returned all traffic of run cutover-1 to blue at "
            "2026-11-25T15:04:10Z (run cutover-1 wrote nothing)") in markdown, markdown
    assert "watchdog on lb-1" in audit_report.render_html(summary, verification)
