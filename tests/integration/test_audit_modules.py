"""audit_event and audit_verify through Ansible, on the controller."""
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from lb_harness import run_module


def keypair(tmp_path):
    key = Ed25519PrivateKey.generate()
    private, public = tmp_path / "audit.key", tmp_path / "audit.pub"
    private.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    private.chmod(0o600)
    public.write_bytes(key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    return str(private), str(public)


def test_recorded_run_verifies_and_a_tampered_one_is_named(tmp_path):
    private, public = keypair(tmp_path)
    log = str(tmp_path / "run.jsonl")
    base = {"path": log, "run_id": "run-42"}
    events = [
        ("run_start", {"actor": "alice", "actor_source": "os", "change_ticket": "CHG-9"}, None),
        ("gate_result", {"gate": "trace_health", "verdict": "pass", "evidence": {"green": {"requests": 500}}}, None),
        ("checkpoint", {"phase": "gates"}, private),
        ("traffic_change", {"before": {"blue": 100, "green": 0}, "after": {"blue": 0, "green": 100}}, None),
        ("run_sealed", {"outcome": "succeeded"}, private),
    ]
    for event_type, fields, key in events:
        args = dict(base, type=event_type, fields=fields)
        if key:
            args["signing_key"] = key
        result = run_module("audit_event", args)
        assert result["changed"] is True, result

    verified = run_module("audit_verify", {"path": log, "public_keys": [public]})
    assert verified["ok"] is True and verified["records"] == 5 and not verified.get("failed")

    appended = run_module("audit_event", dict(base, type="gate_result", fields={"verdict": "pass"}))
    assert appended["failed"] is True and "is sealed" in appended["msg"]

    lines = open(log, encoding="utf-8").read().splitlines(keepends=True)
    lines[1] = lines[1].replace('"verdict":"pass"', '"verdict":"fail"')
    with open(log, "w", encoding="utf-8") as handle:
        handle.writelines(lines)
    tampered = run_module("audit_verify", {"path": log, "public_keys": [public]})
    assert tampered["failed"] is True and tampered["ok"] is False
    assert tampered["first_bad"]["suspect_line"] == 2 and "line 3" in tampered["msg"]


def test_checkpoint_without_a_key_writes_nothing(tmp_path):
    log = tmp_path / "run.jsonl"
    result = run_module("audit_event", {"path": str(log), "run_id": "run-1", "type": "checkpoint", "fields": {"phase": "x"}})
    assert result["failed"] is True and "must be signed" in result["msg"]
    assert not log.exists() or log.read_text() == ""


def test_a_hostile_log_is_reported_by_the_module_not_raised(tmp_path):
    _private, public = keypair(tmp_path)
    log = tmp_path / "hostile.jsonl"
    log.write_bytes(b'{"prev":"' + b"0" * 64 + b'","run_id":"\\ud800","seq":0,"ts":12,"type":"run_start","v":1}\n'
                    + b"[" * 100000 + b"\n" + b'{"sig":12,"key_id":[1],"type":"run_sealed","v":1}\n')
    result = run_module("audit_verify", {"path": str(log), "public_keys": [public]})
    assert result["failed"] is True and "does not verify: line 1" in result["msg"], result
    assert {problem["line"] for problem in result["problems"]} == {1, 2, 3}
