"""The audit_trail callback: one writer per run, censored and loop task names."""
import json
from types import SimpleNamespace

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ansible_collections.tracegate.bluegreen.plugins.callback import audit_trail
from ansible_collections.tracegate.bluegreen.plugins.module_utils import audit

KEY = Ed25519PrivateKey.generate()
KEYS = {audit.key_id_of(KEY.public_key()): KEY.public_key()}


def task(name, written=None, loop=None):
    return SimpleNamespace(get_name=lambda: name, get_ds=lambda: {"name": written or name}, action="ansible.builtin.debug",
                           loop=loop, loop_with=None, _role=None)


def result(task_, facts=None, **fields):
    """A task result as ansible-core 2.19 and later hand it to callbacks (properties)."""
    host, content = SimpleNamespace(get_name=lambda: "lb-1"), dict(fields, ansible_facts=facts or {})
    return SimpleNamespace(host=host, task=task_, result=content)


def result_before_2_19(task_, facts=None, **fields):
    """A task result as ansible-core 2.16 to 2.18 hand it to callbacks (attributes _host, _task,
    _result only): what AAP 2.5's execution environments run."""
    host, content = SimpleNamespace(get_name=lambda: "lb-1"), dict(fields, ansible_facts=facts or {})
    return SimpleNamespace(_host=host, _task=task_, _result=content)


def started_run(tmp_path, made_result=result):
    log = tmp_path / "run.jsonl"
    callback = audit_trail.CallbackModule()
    settings = {"bluegreen_run": {"operation": "cutover", "audit_log": str(log), "run_id": "run-1"}}
    callback.v2_runner_on_ok(made_result(task("Settings"), facts=settings))
    audit.AuditWriter(str(log), "run-1", KEY).append("run_start", actor="alice")
    return callback, log


def records(log):
    return [json.loads(line) for line in log.read_bytes().splitlines()]


def test_one_writer_records_every_task_of_the_run(tmp_path, monkeypatch):
    callback, log = started_run(tmp_path)
    built = []
    real_writer = audit.AuditWriter
    monkeypatch.setattr(audit, "AuditWriter", lambda *args, **kwargs: built.append(args) or real_writer(*args, **kwargs))
    for number in range(5):
        callback.v2_runner_on_ok(result(task(f"Task {number}")))
    assert len(built) == 1
    real_writer(str(log), "run-1", KEY).seal("succeeded")
    callback.v2_runner_on_ok(result(task("After the seal")))
    assert callback.sealed and len(records(log)) == 7
    assert audit.verify_file(str(log), KEYS)["ok"]


def test_a_no_log_task_is_recorded_without_its_name_also_when_skipped(tmp_path):
    callback, log = started_run(tmp_path)
    callback.v2_runner_on_ok(result(task("Use s3cr3t-token", "Use {{ token }}"), _ansible_no_log=True))
    callback.v2_runner_on_skipped(result(task("Skip s3cr3t-token", "Skip {{ token }}"), _ansible_no_log=True, skipped=True))
    assert b"s3cr3t" not in log.read_bytes()
    ok, skipped = records(log)[1:]
    assert ok["censored"] is True and "task" not in ok and ok["status"] == "ok"
    assert skipped["censored"] is True and "task" not in skipped and skipped["status"] == "skipped"


def test_a_loop_task_is_recorded_under_its_name_as_written(tmp_path):
    callback, log = started_run(tmp_path)
    callback.v2_runner_on_ok(result(task("Install << error 1 - 'item' is undefined >>", "Install {{ item }}", loop=["a"])))
    assert records(log)[1]["task"] == "Install {{ item }}"


def test_task_results_of_ansible_core_before_2_19_are_recorded_too(tmp_path):
    callback, log = started_run(tmp_path, result_before_2_19)
    callback.v2_runner_on_ok(result_before_2_19(task("Set the split"), changed=True))
    callback.v2_runner_on_failed(result_before_2_19(task("Judge"), failed=True))
    callback.v2_runner_on_skipped(result_before_2_19(task("Skip"), skipped=True))
    written = [(record["task"], record["status"]) for record in records(log)[1:]]
    assert written == [("Set the split", "changed"), ("Judge", "failed"), ("Skip", "skipped")], written
