"""The audit modules, the audit_trail callback and the playbooks' audit copy through Ansible."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat, load_pem_public_key
from lb_harness import ANSIBLE_PLAYBOOK, run_module, run_task

from ansible_collections.tracegate.bluegreen.plugins.module_utils import audit

ROOT = Path(__file__).resolve().parents[2]


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
        result = run_task("audit_event", args)
        assert result["changed"] is True, result

    verified = run_module("audit_verify", {"path": log, "public_keys": [public]})
    assert verified["ok"] is True and verified["records"] == 5 and not verified.get("failed")

    appended = run_task("audit_event", dict(base, type="gate_result", fields={"verdict": "pass"}))
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
    result = run_task("audit_event", {"path": str(log), "run_id": "run-1", "type": "checkpoint", "fields": {"phase": "x"}})
    assert result["failed"] is True and "must be signed" in result["msg"]
    assert not log.exists() or log.read_text() == ""


def public_keys(public):
    key = load_pem_public_key(Path(public).read_bytes())
    return {audit.key_id_of(key): key}


def run_playbook(tmp_path, plays, inventory):
    """Runs plays with the collection's ansible.cfg (the audit_trail callback enabled)."""
    playbook = tmp_path / "play.yml"
    playbook.write_text(yaml.safe_dump(plays, allow_unicode=True), encoding="utf-8")
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory), encoding="utf-8")
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_LOCALHOST_WARNING": "0"}
    return subprocess.run([ANSIBLE_PLAYBOOK, "-i", str(tmp_path / "inventory.yml"), str(playbook)],
                          capture_output=True, text=True, env=env, check=False)


def run_settings(tmp_path, private):
    """The settings fact the preflight sets, as much of it as audit.yml and audit_copied.yml use."""
    return {"operation": "cutover", "run_id": "run-7", "audit_log": str(tmp_path / "controller" / "run-7.jsonl"),
            "audit_key": private, "audit_fail_closed": True, "audit_copy_dir": str(tmp_path / "copies")}


def test_the_playbooks_copy_records_holding_line_separators_whole(tmp_path):
    private, public = keypair(tmp_path)
    settings = run_settings(tmp_path, private)
    record = str(ROOT / "playbooks" / "tasks" / "audit_copied.yml")
    # Span operation names, chosen by the release under test, are gate evidence keys.
    evidence = {"GET /a\u2028b": {"requests": 3}, "GET /c\u2029d": {"requests": 4}, "GET /e\u0085f": {"requests": 5}}
    records = [("Start", "run_start", {"actor": "alice"}), ("Gate", "gate_result", {"evidence": evidence}),
               ("Seal", "run_sealed", {"outcome": "succeeded"})]
    plays = [{"name": "Record and copy", "hosts": "localhost", "connection": "local", "gather_facts": False, "tasks": [
        {"name": "Settings", "ansible.builtin.set_fact": {"bluegreen_run": settings}},
        *({"name": name, "ansible.builtin.include_tasks": record, "vars": {"audit_type": audit_type, "audit_fields": fields}}
          for name, audit_type, fields in records),
    ]}]
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory = {"all": {"hosts": {"localhost": local}, "children": {"bluegreen_audit": {"hosts": {"audit-1": local}}}}}
    ran = run_playbook(tmp_path, plays, inventory)
    assert ran.returncode == 0, ran.stdout[-3000:]
    controller = Path(settings["audit_log"])
    copy = tmp_path / "copies" / "run-7.jsonl"
    assert "\u2028".encode() in controller.read_bytes()
    assert copy.read_bytes() == controller.read_bytes()
    report = audit.verify_file(str(copy), public_keys(public))
    assert report["ok"], report["problems"]


@pytest.mark.parametrize("fail_closed", [True, False])
def test_an_audit_host_that_cannot_take_the_copy_stops_the_run_only_when_failing_closed(tmp_path, fail_closed):
    """bluegreen_audit_fail_closed (preflight's audit_fail_closed): true stops the run before
    the change the record precedes; false goes on, with the record on the controller."""
    private, _public = keypair(tmp_path)
    settings = dict(run_settings(tmp_path, private), audit_fail_closed=fail_closed)
    # A file where the copy's directory should be: the audit host cannot take the copy.
    Path(settings["audit_copy_dir"]).write_text("not a directory")
    record = str(ROOT / "playbooks" / "tasks" / "audit_copied.yml")
    plays = [{"name": "Record, copy, then change", "hosts": "localhost", "connection": "local", "gather_facts": False,
              "tasks": [
                  {"name": "Settings", "ansible.builtin.set_fact": {"bluegreen_run": settings}},
                  {"name": "Start", "ansible.builtin.include_tasks": record,
                   "vars": {"audit_type": "run_start", "audit_fields": {"actor": "alice"}}},
                  {"name": "The change the record precedes", "ansible.builtin.copy": {
                      "content": "changed\n", "dest": str(tmp_path / "changed"), "mode": "0644"}},
              ]}]
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory = {"all": {"hosts": {"localhost": local}, "children": {"bluegreen_audit": {"hosts": {"audit-1": local}}}}}
    ran = run_playbook(tmp_path, plays, inventory)
    records = [json.loads(line) for line in Path(settings["audit_log"]).read_bytes().split(b"\n") if line]
    assert records[0]["type"] == "run_start"  # on the controller either way
    if fail_closed:
        assert ran.returncode != 0 and "audit log not written, stopping before any further change" in ran.stdout, ran.stdout[-3000:]
        assert not (tmp_path / "changed").exists()
    else:
        assert ran.returncode == 0, ran.stdout[-3000:]
        assert (tmp_path / "changed").read_text() == "changed\n"


def test_the_callback_records_no_secret_task_name_and_loop_tasks_by_their_written_name(tmp_path):
    private, public = keypair(tmp_path)
    settings = run_settings(tmp_path, private)
    record = str(ROOT / "playbooks" / "tasks" / "audit.yml")
    plays = [{"name": "A run with secrets in task names", "hosts": "localhost", "connection": "local", "gather_facts": False,
              "vars": {"token": "s3cr3t-8c1f"}, "tasks": [
                  {"name": "Settings", "ansible.builtin.set_fact": {"bluegreen_run": settings}},
                  {"name": "Start", "ansible.builtin.import_tasks": record, "vars": {"audit_type": "run_start"}},
                  {"name": "Use {{ token }}", "ansible.builtin.debug": {"msg": "x"}, "no_log": True},
                  {"name": "Skip {{ token }}", "ansible.builtin.debug": {"msg": "x"}, "no_log": True, "when": False},
                  {"name": "Step {{ item }}", "ansible.builtin.debug": {"msg": "{{ item }}"}, "loop": [5, 25]},
                  {"name": "Seal", "ansible.builtin.import_tasks": record,
                   "vars": {"audit_type": "run_sealed", "audit_fields": {"outcome": "succeeded"}}},
              ]}]
    ran = run_playbook(tmp_path, plays, {"all": {"hosts": {"localhost": {"ansible_python_interpreter": sys.executable}}}})
    assert ran.returncode == 0, ran.stdout[-3000:]
    log = Path(settings["audit_log"])
    assert b"s3cr3t" not in log.read_bytes()
    tasks = [json.loads(line) for line in log.read_bytes().splitlines() if b'"task_result"' in line]
    debug = [task for task in tasks if task["action"] == "ansible.builtin.debug"]
    assert [(task.get("task"), task["status"], task.get("censored")) for task in debug] == [
        (None, "ok", True), (None, "skipped", True), ("Step {{ item }}", "ok", None)]
    assert not any("undefined" in task.get("task", "") for task in tasks)
    assert audit.verify_file(str(log), public_keys(public))["ok"]


def test_the_report_pins_the_run_it_is_asked_for(tmp_path):
    private, public = keypair(tmp_path)
    log = tmp_path / "cutover-1.jsonl"
    writer = audit.AuditWriter(str(log), "cutover-2", audit.load_private_key(private))
    writer.append("run_start", operation="cutover", actor="mallory")
    writer.seal("succeeded")
    pinned = run_module("audit_report", {"log": str(log), "public_keys": [public], "run_id": "cutover-1",
                                         "dest_dir": str(tmp_path / "report")})
    assert pinned["failed"] is True and pinned["verification"]["ok"] is False
    assert "cutover-2" in pinned["msg"] and "cutover-1" in pinned["msg"]
    unpinned = run_module("audit_report", {"log": str(log), "public_keys": [public], "dest_dir": str(tmp_path / "report")})
    assert not unpinned.get("failed") and unpinned["verification"]["ok"] is True


def test_the_report_playbook_takes_paths_relative_to_where_it_is_started(tmp_path):
    """As an auditor types them, from the directory holding the log and the key: the module
    runs elsewhere, so the playbook resolves them first."""
    private, _public = keypair(tmp_path)
    writer = audit.AuditWriter(str(tmp_path / "cutover-3.jsonl"), "cutover-3", audit.load_private_key(private))
    writer.append("run_start", operation="cutover", actor="alice")
    writer.seal("succeeded")
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_LOCALHOST_WARNING": "0",
           "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0"}
    done = subprocess.run([ANSIBLE_PLAYBOOK, "tracegate.bluegreen.audit_report", "-e", "bluegreen_audit_log=cutover-3.jsonl",
                           "-e", "bluegreen_audit_public_key=audit.pub", "-e", "bluegreen_report_dir=reports"],
                          capture_output=True, text=True, env=env, cwd=tmp_path, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "log valid" in done.stdout and (tmp_path / "reports" / "cutover-3.html").exists(), done.stdout[-2000:]


def test_a_hostile_log_is_reported_by_the_module_not_raised(tmp_path):
    _private, public = keypair(tmp_path)
    log = tmp_path / "hostile.jsonl"
    log.write_bytes(b'{"prev":"' + b"0" * 64 + b'","run_id":"\\ud800","seq":0,"ts":12,"type":"run_start","v":1}\n'
                    + b"[" * 100000 + b"\n" + b'{"sig":12,"key_id":[1],"type":"run_sealed","v":1}\n')
    result = run_module("audit_verify", {"path": str(log), "public_keys": [public]})
    assert result["failed"] is True and "does not verify: line 1" in result["msg"], result
    assert {problem["line"] for problem in result["problems"]} == {1, 2, 3}
