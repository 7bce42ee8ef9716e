"""Whatever a log holds, the verifier reports: a changed log is never valid, and nothing but
a report gets out (no exception, no traceback from the command line). The logs are a real
signed run with bytes changed, lines swapped, dropped or repeated, records re-encoded in
non-canonical JSON, and lines of deep nesting, odd Unicode or huge values put in. The
evidence report renders whatever the verifier was given."""
import contextlib
import importlib.util
import io
import json
import random
import tempfile
from pathlib import Path

import rfc8785
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ansible_collections.tracegate.bluegreen.plugins.module_utils import audit, audit_report

KEY = Ed25519PrivateKey.generate()
KEYS = {audit.key_id_of(KEY.public_key()): KEY.public_key()}
TOOL = Path(__file__).resolve().parents[4] / "tools" / "audit_verify.py"
ODD_TEXT = ["a\u2028b", "c\u2029d", "e\u0085f", "\U0001F600", "\ufeff", "\u0000", "\\", '"', "\ud7ff\ue000", "é"]
odd_texts = st.lists(st.sampled_from(ODD_TEXT) | st.characters(), max_size=12).map("".join)


def signed_run():
    """The lines (with their line feeds) of a real run: floats, odd Unicode, every event type."""
    with tempfile.TemporaryDirectory() as workdir:
        path = Path(workdir) / "run.jsonl"
        ticks = iter(range(1, 100))
        writer = audit.AuditWriter(str(path), "cutover-1", KEY, clock=lambda: f"2026-11-25T15:00:{next(ticks):02d}.000000Z")
        writer.append("run_start", operation="cutover", actor="alice", release={"version": "2.0.0", "sha256": "ab" * 32})
        writer.append("approval_verified", actor="alice", approver="bob", change_ticket="CHG-7")
        writer.append("gate_result", gate="trace_health", step=5, verdict="pass",
                      evidence={name: {"requests": 40, "error_rate": 0.025, "p95_ms": 13.5} for name in ODD_TEXT})
        writer.checkpoint("gates")
        writer.append("traffic_change", step=5, split_after={"blue": 95, "green": 5})
        writer.append("task_result", host="lb-1", task="Shift \U0001F600", action="x", status="ok")
        writer.seal("succeeded")
        return path.read_bytes().splitlines(keepends=True)


LINES = signed_run()
assert audit.verify_lines(LINES, KEYS)["ok"]


@st.composite
def byte_changed(draw, lines):
    data = b"".join(lines)
    position = draw(st.integers(0, len(data) - 1))
    replacement = draw(st.integers(0, 255).filter(lambda value: value != data[position]))
    return data[:position] + bytes([replacement]) + data[position + 1:]


@st.composite
def lines_rearranged(draw, lines):
    lines = list(lines)
    first, second = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
    how = draw(st.sampled_from(["swap", "drop", "repeat"]))
    if how == "swap":
        lines[first], lines[second] = lines[second], lines[first]
    elif how == "drop":
        del lines[first]
    else:
        lines.insert(second, lines[first])
    return b"".join(lines)


@st.composite
def re_encoded(draw, lines):
    """A record written again with the same content in another JSON encoding."""
    number = draw(st.integers(0, len(lines) - 1))
    record = json.loads(lines[number])
    style = draw(st.sampled_from(["spaces", "ascii", "unsorted", "float", "escape", "duplicate", "crlf", "bom"]))
    if style == "spaces":
        text = json.dumps(record, sort_keys=True, ensure_ascii=False)
    elif style == "ascii":
        text = json.dumps(record, sort_keys=True, separators=(",", ":"))
    elif style == "unsorted":
        items = list(record.items())
        random.Random(draw(st.integers())).shuffle(items)
        text = json.dumps(dict(items), separators=(",", ":"), ensure_ascii=False)
    elif style == "float":
        text = rfc8785.dumps(record).decode().replace(f'"seq":{record["seq"]}', f'"seq":{record["seq"]}.0')
    elif style == "escape":
        text = rfc8785.dumps(record).decode().replace('"v":', '"\\u0076":', 1)
    elif style == "duplicate":
        text = rfc8785.dumps(record).decode()[:-1] + ',"type":"run_sealed"}'
    elif style == "crlf":
        text = rfc8785.dumps(record).decode() + "\r"
    else:
        text = "\ufeff" + rfc8785.dumps(record).decode()
    changed = list(lines)
    changed[number] = text.encode("utf-8", "surrogatepass") + b"\n"
    return b"".join(changed)


HOSTILE = st.one_of(
    st.integers(1, 100000).map(lambda depth: b"[" * depth + b"]" * depth),
    st.integers(1, 100000).map(lambda depth: b'{"v":' * depth + b"1" + b"}" * depth),
    st.integers(1, 100000).map(lambda depth: b"[" * depth),
    odd_texts.map(
        lambda text: json.dumps({"v": 1, "run_id": text, "seq": 3, "type": text, "ts": text, "prev": text, "sig": text,
                                 "key_id": text}).encode()),
    st.sampled_from([b"9" * 5000, b'{"v":1,"seq":' + b"9" * 5000 + b"}", b"1e400", b"NaN", b'{"v":1e400}',
                     b'{"v":1,"ts":NaN}', b'{"v":1,"ts":12,"sig":12,"key_id":[1]}', b'"\\ud800"', b"\xff\xfe\x00",
                     b'{"v":1,"run_id":"' + b"x" * 1000000 + b'"}', b"", b" ", b"\r", b"null", b"{}"]),
    st.binary(max_size=64),
)


@st.composite
def hostile_line_put_in(draw, lines):
    lines = list(lines)
    number = draw(st.integers(0, len(lines)))
    line = draw(HOSTILE) + b"\n"
    if draw(st.booleans()) and number < len(lines):
        lines[number] = line
    else:
        lines.insert(number, line)
    return b"".join(lines)


@st.composite
def value_replaced(draw, lines):
    """A record with one value replaced by odd or huge JSON, written canonically when it can be."""
    number = draw(st.integers(0, len(lines) - 1))
    record = json.loads(lines[number])
    key = draw(st.sampled_from(sorted(record)))
    record[key] = draw(st.one_of(
        odd_texts,
        st.sampled_from([None, True, 0, -1, 2 ** 53, 0.5, [], {}, "x" * 100000, [[[[]]]], {"a": {"b": {}}}]),
        st.floats(allow_nan=False, allow_infinity=False),
        st.integers(min_value=-(2 ** 60), max_value=2 ** 60),
    ))
    try:
        text = rfc8785.dumps(record)
    except rfc8785.CanonicalizationError:
        text = json.dumps(record).encode()
    changed = list(lines)
    changed[number] = text + b"\n"
    return b"".join(changed)


def changed_logs():
    return st.one_of(byte_changed(LINES), lines_rearranged(LINES), re_encoded(LINES), hostile_line_put_in(LINES),
                     value_replaced(LINES))


def load_tool():
    spec = importlib.util.spec_from_file_location("audit_verify_tool", TOOL)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TOOL_MODULE = load_tool()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(changed_logs())
def test_a_changed_log_is_reported_never_valid(data):
    assume(data != b"".join(LINES))
    report = audit.verify_lines(io.BytesIO(data), KEYS)
    assert report["ok"] is False
    assert report["problems"] and report["first_bad"] == report["problems"][0]
    assert all(isinstance(problem["line"], int) and problem["problem"] for problem in report["problems"])
    json.dumps(report).encode("utf-8")  # what the command line prints and Ansible returns
    summary = audit_report.summarize(audit_report.load_records(io.BytesIO(data)))
    audit_report.render_html(summary, report).encode("utf-8")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(changed_logs())
def test_the_command_line_exits_1_with_a_report_for_a_changed_log(data):
    assume(data != b"".join(LINES))
    with tempfile.TemporaryDirectory() as workdir:
        log, public = Path(workdir) / "run.jsonl", Path(workdir) / "key.pub"
        log.write_bytes(data)
        public.write_bytes(KEY.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
        printed = io.StringIO()
        with contextlib.redirect_stdout(printed):
            code = TOOL_MODULE.main([str(log), "--public-key", str(public)])
    assert code == TOOL_MODULE.INVALID
    assert json.loads(printed.getvalue())["ok"] is False
