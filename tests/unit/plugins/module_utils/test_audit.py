"""The audit log's chain, signatures and seal, and every tampering the verifier must name."""
import json
import os
import subprocess
import time
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ansible_collections.tracegate.bluegreen.plugins.module_utils import audit

TOOL = Path(__file__).resolve().parents[4] / "tools" / "audit_verify.py"
KEY = Ed25519PrivateKey.generate()
OTHER_KEY = Ed25519PrivateKey.generate()
KEYS = {audit.key_id_of(KEY.public_key()): KEY.public_key()}


def ticking_clock():
    state = {"t": 0}

    def clock():
        state["t"] += 1
        return f"2026-11-25T12:00:{state['t'] // 1000000:02d}.{state['t'] % 1000000:06d}Z"

    return clock


def write_run(path, run_id="run-1", key=KEY):
    writer = audit.AuditWriter(str(path), run_id, key, clock=ticking_clock())
    writer.append("run_start", actor="alice", actor_source="os", change_ticket="CHG-1", hosts=["lb1"])
    writer.append("gate_result", gate="trace_health", verdict="pass", evidence={"green": {"requests": 500}})
    writer.checkpoint("gates")
    writer.append("traffic_change", before={"blue": 100, "green": 0}, after={"blue": 75, "green": 25})
    writer.append("traffic_change", before={"blue": 75, "green": 25}, after={"blue": 0, "green": 100})
    writer.seal("succeeded")
    return path.read_bytes().splitlines(keepends=True)


def verify(lines):
    return audit.verify_lines(lines, KEYS)


def test_an_untouched_log_verifies(tmp_path):
    report = verify(write_run(tmp_path / "audit.jsonl"))
    assert report["ok"], report["problems"]
    assert report["records"] == 6 and report["signed_records"] == 2 and report["run_id"] == "run-1"


def test_lines_are_canonical_json_with_microsecond_utc_times(tmp_path):
    first = write_run(tmp_path / "audit.jsonl")[0].rstrip(b"\n")
    record = json.loads(first)
    assert audit.canonical(record) == first
    assert record["ts"].endswith("Z") and len(record["ts"].split(".")[1]) == 7
    assert record["prev"] == audit.GENESIS and record["seq"] == 0


def test_edited_field_is_named(tmp_path):
    lines = write_run(tmp_path / "audit.jsonl")
    lines[1] = lines[1].replace(b'"verdict":"pass"', b'"verdict":"fail"')
    report = verify(lines)
    assert not report["ok"]
    assert report["first_bad"]["suspect_line"] == 2 and "hash chain broken" in report["first_bad"]["problem"]


def test_edited_seal_fails_its_signature(tmp_path):
    lines = write_run(tmp_path / "audit.jsonl")
    lines[-1] = lines[-1].replace(b'"outcome":"succeeded"', b'"outcome":"rolled_back"')
    report = verify(lines)
    assert report["first_bad"]["line"] == 6 and "signature does not verify" in report["first_bad"]["problem"]


def test_deleted_record_is_named(tmp_path):
    lines = write_run(tmp_path / "audit.jsonl")
    del lines[3]
    report = verify(lines)
    assert report["first_bad"]["line"] == 4 and "sequence 4 where 3 was due" in report["first_bad"]["problem"]


def test_reordered_records_are_named(tmp_path):
    lines = write_run(tmp_path / "audit.jsonl")
    lines[3], lines[4] = lines[4], lines[3]
    report = verify(lines)
    assert report["first_bad"]["line"] == 4 and "sequence" in report["first_bad"]["problem"]


def test_truncated_tail_is_a_failure(tmp_path):
    lines = write_run(tmp_path / "audit.jsonl")[:-2]
    report = verify(lines)
    assert not report["ok"] and "no terminal seal" in report["first_bad"]["problem"]


def test_resigned_with_another_key_is_named(tmp_path):
    lines = write_run(tmp_path / "forged.jsonl", key=OTHER_KEY)
    report = verify(lines)
    assert report["first_bad"]["line"] == 3 and "unknown key" in report["first_bad"]["problem"]


def test_forged_signature_under_the_real_key_id_is_named(tmp_path):
    lines = write_run(tmp_path / "audit.jsonl")
    record = json.loads(lines[2])
    unsigned = {k: v for k, v in record.items() if k != "sig"}
    record["sig"] = OTHER_KEY.sign(audit.canonical(unsigned)).hex()
    lines[2] = audit.canonical(record) + b"\n"
    report = verify(lines)
    assert any(p["line"] == 3 and "signature does not verify" in p["problem"] for p in report["problems"])


def test_record_replayed_from_another_run_is_named(tmp_path):
    lines = write_run(tmp_path / "audit.jsonl")
    other = write_run(tmp_path / "other.jsonl", run_id="run-2")
    lines[3] = other[3]
    report = verify(lines)
    assert report["first_bad"]["line"] == 4 and "run-2" in report["first_bad"]["problem"]


def test_approver_must_not_be_the_executor(tmp_path):
    writer = audit.AuditWriter(str(tmp_path / "a.jsonl"), "run-3", KEY, clock=ticking_clock())
    writer.append("approval_verified", actor="bob", approver="bob", change_ticket="CHG-2")
    writer.seal("aborted")
    report = audit.verify_file(str(tmp_path / "a.jsonl"), KEYS)
    assert report["first_bad"]["line"] == 1 and "also the executor" in report["first_bad"]["problem"]


def test_time_going_backwards_is_named(tmp_path):
    times = iter(["2026-11-25T12:00:02.000000Z", "2026-11-25T12:00:01.000000Z", "2026-11-25T12:00:03.000000Z"])
    writer = audit.AuditWriter(str(tmp_path / "t.jsonl"), "run-4", KEY, clock=lambda: next(times))
    writer.append("run_start", actor="alice")
    writer.append("gate_result", verdict="pass")
    writer.seal("succeeded")
    report = audit.verify_file(str(tmp_path / "t.jsonl"), KEYS)
    assert report["first_bad"]["line"] == 2 and "time goes backwards" in report["first_bad"]["problem"]


def test_writer_resumes_a_run_and_refuses_a_sealed_or_foreign_log(tmp_path):
    path = tmp_path / "r.jsonl"
    audit.AuditWriter(str(path), "run-5", KEY).append("run_start", actor="alice")
    resumed = audit.AuditWriter(str(path), "run-5", KEY)
    assert resumed.seq == 1
    resumed.seal("succeeded")
    assert audit.verify_file(str(path), KEYS)["ok"]
    with pytest.raises(audit.AuditError, match="is sealed"):
        audit.AuditWriter(str(path), "run-5", KEY)
    with pytest.raises(audit.AuditError, match="holds run run-5"):
        audit.AuditWriter(str(path), "run-6", KEY)


def test_two_writers_of_one_run_continue_each_others_chain(tmp_path):
    path = tmp_path / "two.jsonl"
    playbook = audit.AuditWriter(str(path), "run-8", KEY)
    callback = audit.AuditWriter(str(path), "run-8", KEY)
    playbook.append("run_start", actor="alice")
    callback.append("task_result", task="Read the split")
    playbook.append("gate_result", verdict="pass", evidence={"note": "x" * 9000})
    callback.append("task_result", task="Set the split")
    playbook.seal("succeeded")
    result = audit.verify_file(str(path), KEYS)
    assert result["ok"], result
    assert [json.loads(line)["seq"] for line in path.read_bytes().splitlines()] == [0, 1, 2, 3, 4]


@pytest.mark.parametrize("block", [1, 7, 4096])
def test_the_last_line_is_read_from_the_end_whatever_the_block_size(tmp_path, block):
    path = tmp_path / "tail.jsonl"
    path.write_bytes(b'{"seq":0}\n' + b'{"seq":1,"pad":"' + b"y" * 5000 + b'"}\n\n')
    with open(path, "rb") as handle:
        assert json.loads(audit.last_line(handle, block=block))["seq"] == 1
    path.write_bytes(b'{"seq":0}\n')
    with open(path, "rb") as handle:
        assert audit.last_line(handle, block=block) == b'{"seq":0}'
    path.write_bytes(b"")
    with open(path, "rb") as handle:
        assert audit.last_line(handle, block=block) is None


def test_a_signing_key_others_can_read_is_refused(tmp_path):
    key = tmp_path / "signing.key"
    key.write_text("not checked here")
    key.chmod(0o640)
    with pytest.raises(audit.AuditError, match="has mode 0640; it must be readable by its owner only"):
        audit.check_key_file(str(key))
    key.chmod(0o600)
    audit.check_key_file(str(key))
    with pytest.raises(audit.AuditError, match="signing_key: .*No such file"):
        audit.check_key_file(str(tmp_path / "missing.key"))
    with pytest.raises(audit.AuditError, match="not a regular file"):
        audit.check_key_file(str(tmp_path))


def test_unsigned_checkpoint_and_reserved_fields_are_refused(tmp_path):
    writer = audit.AuditWriter(str(tmp_path / "u.jsonl"), "run-7")
    with pytest.raises(audit.AuditError, match="must be signed"):
        writer.checkpoint("gates")
    with pytest.raises(audit.AuditError, match="reserved"):
        writer.append("gate_result", seq=5)
    with pytest.raises(audit.AuditError, match="unknown audit event type"):
        writer.append("coffee_break")


def test_command_line_exit_codes(tmp_path):
    write_run(tmp_path / "audit.jsonl")
    public = tmp_path / "key.pub"
    public.write_bytes(KEY.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    tool = [sys.executable, str(TOOL)]
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(TOOL.parents[1] / ".collections")}
    good = subprocess.run(tool + [str(tmp_path / "audit.jsonl"), "--public-key", str(public)], capture_output=True, check=False, env=env)
    assert good.returncode == 0 and json.loads(good.stdout)["ok"] is True
    (tmp_path / "cut.jsonl").write_bytes(b"".join((tmp_path / "audit.jsonl").read_bytes().splitlines(keepends=True)[:3]))
    cut = subprocess.run(tool + [str(tmp_path / "cut.jsonl"), "--public-key", str(public)], capture_output=True, check=False, env=env)
    assert cut.returncode == 1 and "no terminal seal" in json.loads(cut.stdout)["first_bad"]["problem"]


def test_task_records_keep_only_the_allow_list():
    record = audit.task_record("lb-1", "Set the NGINX split", "tracegate.bluegreen.nginx_upstream", "changed",
                               {"changed": True, "msg": "token s3cret", "invocation": {"module_args": {"password": "s3cret"}}},
                               delegated_to="localhost")
    assert record == {"host": "lb-1", "task": "Set the NGINX split", "action": "tracegate.bluegreen.nginx_upstream",
                      "status": "changed", "delegated_to": "localhost"}


def test_a_no_log_task_is_recorded_as_censored():
    record = audit.task_record("lb-1", "Use the token", "ansible.builtin.uri", "ok", {"_ansible_no_log": True, "json": {"x": 1}})
    assert record["censored"] is True and "json" not in record


def rewrite_seal(lines, old, new):
    """The log with its seal line's bytes rewritten (its parsed record unchanged or not)."""
    assert old in lines[-1]
    return lines[:-1] + [lines[-1].replace(old, new)]


@pytest.mark.parametrize("old, new, why", [
    (b'"outcome":"succeeded"', b'"outcome": "succeeded"', "a space"),
    (b'{"head"', b'{"v":1,"head"', "a key out of order (and twice)"),
    (b'"seq":5', b'"seq":5.0', "a number written as 5.0"),
    (b'"outcome":"succeeded"', b'"outcome":"\\u0073ucceeded"', "an escaped letter"),
    (b'"outcome":"succeeded"', b'"outcome":"succeeded","outcome":"rolled_back"', "a duplicate key"),
])
def test_a_seal_rewritten_in_another_encoding_is_named(tmp_path, old, new, why):
    lines = rewrite_seal(write_run(tmp_path / "audit.jsonl"), old, new)
    report = verify(lines)
    assert not report["ok"], why
    assert report["first_bad"]["line"] == 6 and "canonical" in report["first_bad"]["problem"], report["first_bad"]


def test_a_duplicate_key_is_named_as_such(tmp_path):
    lines = rewrite_seal(write_run(tmp_path / "audit.jsonl"), b'"outcome":"succeeded"',
                         b'"outcome":"succeeded","outcome":"rolled_back"')
    assert 'key "outcome" given twice' in verify(lines)["first_bad"]["problem"]


def test_a_blank_line_is_named(tmp_path):
    lines = write_run(tmp_path / "audit.jsonl")
    report = verify(lines[:2] + [b"\n"] + lines[2:])
    assert not report["ok"] and report["first_bad"]["line"] == 3 and "blank line" in report["first_bad"]["problem"]


def test_a_last_line_without_its_line_feed_is_named(tmp_path):
    lines = write_run(tmp_path / "audit.jsonl")
    report = verify(lines[:-1] + [lines[-1].rstrip(b"\n")])
    assert not report["ok"] and report["first_bad"]["line"] == 6 and "line feed" in report["first_bad"]["problem"]


@pytest.mark.parametrize("old, new, problem", [
    (b'"ts":"2026-11-25T12:00:00.000006Z"', b'"ts":12', "ts"),
    (b'"ts":"2026-11-25T12:00:00.000006Z"', b'"ts":NaN', "not JSON"),
    (b'"key_id":"', b'"key_id":["', "key_id"),
    (b'"seq":5', b'"seq":true', "seq"),
    (b'"v":1', b'"v":true', "schema version"),
    (b'"run_id":"run-1"', b'"run_id":{"a":1}', "run_id"),
    (b'"type":"run_sealed"', b'"type":null', "type"),
    (b'"prev":"', b'"prev":"X', "prev"),
])
def test_a_malformed_value_is_reported_not_raised(tmp_path, old, new, problem):
    lines = write_run(tmp_path / "audit.jsonl")
    if new.startswith(b'"key_id":['):
        lines[-1] = lines[-1].replace(old, new).replace(b'","outcome"', b'"],"outcome"')
    else:
        lines[-1] = lines[-1].replace(old, new)
    report = verify(lines)
    assert not report["ok"]
    assert any(problem in p["problem"] for p in report["problems"]), report["problems"]


def test_a_signature_that_is_a_number_is_reported(tmp_path):
    lines = write_run(tmp_path / "audit.jsonl")
    record = json.loads(lines[-1])
    record["sig"] = 12
    lines[-1] = audit.canonical(record) + b"\n"
    report = verify(lines)
    assert not report["ok"] and any("sig" in p["problem"] for p in report["problems"])


def test_a_signature_in_upper_case_hex_is_another_line(tmp_path):
    lines = write_run(tmp_path / "audit.jsonl")
    record = json.loads(lines[-1])
    record["sig"] = record["sig"].upper()
    lines[-1] = audit.canonical(record) + b"\n"
    report = verify(lines)
    assert not report["ok"] and any("sig" in p["problem"] for p in report["problems"])


@pytest.mark.parametrize("hostile", [b"[" * 100000 + b"\n", b'{"a":' * 100000 + b"\n", b'"\\ud800"\n', b"\xff\xfe\n",
                                     b'{"v":1,"seq":' + b"9" * 5000 + b"}\n", b"1e400\n"])
def test_hostile_lines_are_reported_not_raised(tmp_path, hostile):
    lines = write_run(tmp_path / "audit.jsonl")
    report = verify(lines[:3] + [hostile] + lines[3:])
    assert not report["ok"] and report["first_bad"]["line"] == 4


def test_a_huge_value_is_shortened_in_the_report(tmp_path):
    lines = write_run(tmp_path / "audit.jsonl")
    lines[-1] = lines[-1].replace(b'"type":"run_sealed"', b'"type":"' + b"x" * 100000 + b'"')
    report = verify(lines)
    assert not report["ok"] and max(len(p["problem"]) for p in report["problems"]) < 400


def test_command_line_exit_code_2_when_it_cannot_run(tmp_path):
    write_run(tmp_path / "audit.jsonl")
    public = tmp_path / "key.pub"
    public.write_bytes(KEY.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    not_a_key = tmp_path / "not-a-key.pub"
    not_a_key.write_text("hello")
    tool = [sys.executable, str(TOOL)]
    env = {**os.environ, "ANSIBLE_COLLECTIONS_PATH": str(TOOL.parents[1] / ".collections")}
    for args in ([str(tmp_path / "missing.jsonl"), "--public-key", str(public)],
                 [str(tmp_path / "audit.jsonl"), "--public-key", str(not_a_key)]):
        ran = subprocess.run(tool + args, capture_output=True, check=False, env=env)
        assert ran.returncode == 2, ran
        assert b"Traceback" not in ran.stderr and json.loads(ran.stdout)["ok"] is False
    deep = tmp_path / "deep.jsonl"
    deep.write_bytes(b"[" * 100000 + b"\n")
    ran = subprocess.run(tool + [str(deep), "--public-key", str(public)], capture_output=True, check=False, env=env)
    assert ran.returncode == 1 and b"Traceback" not in ran.stderr


def test_the_next_append_after_a_large_record_reads_its_line_once(tmp_path):
    path = tmp_path / "large.jsonl"
    playbook = audit.AuditWriter(str(path), "run-9", KEY)
    playbook.append("run_start", actor="alice")
    playbook.append("gate_result", verdict="pass", evidence={"note": "x" * (4 << 20)})
    started = time.perf_counter()
    callback = audit.AuditWriter(str(path), "run-9", KEY)
    callback.append("task_result", task="Record the gate")
    elapsed = time.perf_counter() - started
    # Stepping over the record block by block re-split a growing buffer: 4 MB took seconds.
    assert elapsed < 0.5, f"{elapsed:.2f} s to append after a 4 MB record"
    playbook.seal("succeeded")
    assert audit.verify_file(str(path), KEYS)["ok"]


def test_a_writer_reads_the_last_line_only_after_another_writers_append(tmp_path, monkeypatch):
    reads = []
    real_last_line = audit.last_line
    monkeypatch.setattr(audit, "last_line", lambda handle: reads.append(1) or real_last_line(handle))
    path = tmp_path / "two.jsonl"
    playbook = audit.AuditWriter(str(path), "run-10", KEY)
    playbook.append("run_start", actor="alice")
    reads.clear()
    callback = audit.AuditWriter(str(path), "run-10", KEY)
    assert len(reads) == 1
    for number in range(5):
        callback.append("task_result", task=f"Task {number}")
    assert len(reads) == 1, "the writer that made the last append read the log again"
    playbook.append("gate_result", verdict="pass")
    assert len(reads) == 2
    callback.append("task_result", task="After the gate")
    assert len(reads) == 3
    playbook.seal("succeeded")
    report = audit.verify_file(str(path), KEYS)
    assert report["ok"] and report["records"] == 9, report


@pytest.mark.parametrize("line, position", [
    (b'{"prev":"a","run_id":"r","seq":3,"type":"gate_result","v":1}', ("r", 3, "gate_result")),
    (b'{"evidence":{"prev":"x","run_id":"fake","seq":99,"type":"run_sealed"},"prev":"a","run_id":"r","seq":3,'
     b'"type":"gate_result","v":1}', ("r", 3, "gate_result")),
    (b'{"prev":"a","run_id":"r","seq":3,"type":"gate_result","v":1,"verdict":{"prev":"x","run_id":"f","seq":9,'
     b'"type":"run_sealed"}}', ("r", 3, "gate_result")),
    (b'{"note":"{\\"prev\\":\\"x\\"}","prev":"a","run_id":"r","seq":3,"type":"run_sealed","v":1}', ("r", 3, "run_sealed")),
    (b'{"seq": 4, "run_id": "r", "type": "checkpoint"}', ("r", 4, "checkpoint")),
    (b'{"prev":"a","run_id":"r","seq":true,"type":"gate_result"}', (None, None, None)),
    (b'{"prev":"a","run_id":"r","seq":3,"type":"gate', (None, None, None)),
    (b'[1]', (None, None, None)),
])
def test_the_chain_position_is_read_from_the_records_own_members(line, position):
    assert audit.chain_position(line) == position


def test_a_torn_last_line_stops_the_writer(tmp_path):
    path = tmp_path / "torn.jsonl"
    audit.AuditWriter(str(path), "run-11", KEY).append("run_start", actor="alice")
    with open(path, "ab") as handle:
        handle.write(b'{"prev":"0","run_id":"run-11","se')
    with pytest.raises(audit.AuditError, match="not a complete audit record"):
        audit.AuditWriter(str(path), "run-11", KEY)
