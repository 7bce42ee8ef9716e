"""Check mode and diff mode as the modules claim them: check → apply → check → apply (the
community.crypto idiom) for every module whose DOCUMENTATION says `check_mode: full` or
`partial`. Modules with an action plugin run through ansible-playbook with --check and --diff;
the others as ansible runs them on a host, with the flags the controller adds (`run`:
lb_harness.run_module_as_ansible_would); the trace_probe case passes --check through
ansible-playbook to a module that claims none.

1. `--check` reports `changed: true` and the world (files, directories, their modes and owners
   below tmp_path; HAProxy's `show servers state` and server-state file) is as it was;
2. the real run reports `changed: true` and changes the world as the check predicted (with
   `--diff` where the module claims diff mode: the check's diff is the apply's diff, and the
   world holds its `after`);
3. a second `--check` reports `changed: false`;
4. a second real run reports `changed: false` and changes nothing.

Modules that only read (approval_verify, trace_health) claim check mode because they never
change anything: they give the same answer in both modes with `changed: false`. trace_probe
claims no check mode (its probes are real requests): a check run skips it and sends nothing.

The audit log only grows: audit_event appends a record at every apply, so its cycle is check
(predicts, writes nothing) → apply (appends) and no second apply. audit_verify only reads.

To be added once the changes under way to it are in: nginx_upstream.
"""
import datetime
import hashlib
import json
import os
import stat

import pytest
from conftest import free_port, release_artifact
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat, PublicFormat
from lb_harness import AppServer, HAProxyUnderTest, run_task
from lb_harness import run_module_as_ansible_would as run

from ansible_collections.tracegate.bluegreen.plugins.module_utils import approval

# HAProxy's administrative state flags in `show servers state`.
ADMIN_FLAGS = {"ready": 0, "maint": 1, "drain": 8}


def snapshot(root):
    """Every path below `root` (itself included): type and permission bits, owner, group, and
    the content of a file or the target of a link."""
    found = {}
    for directory, directories, files in os.walk(root):
        for path in [directory] + [os.path.join(directory, name) for name in directories + files]:
            info = os.lstat(path)
            if stat.S_ISLNK(info.st_mode):
                content = os.readlink(path)
            elif stat.S_ISREG(info.st_mode):
                with open(path, "rb") as handle:
                    content = handle.read()
            else:
                content = None
            found[path] = (info.st_mode, info.st_uid, info.st_gid, content)
    return found


def changed_paths(before, after):
    return {path for path in before.keys() | after.keys() if before.get(path) != after.get(path)}


def succeeded(result):
    assert not result.get("failed") and not result.get("skipped"), result
    return result


def check_apply_check_apply(module, args, world, diff=False):
    """Runs the four steps; returns the check's result, the apply's, and the world before
    and after the apply, for the module's own test to compare the prediction with."""
    before = world()
    predicted = succeeded(run(module, args, check=True, diff=diff))
    assert predicted["changed"] is True, predicted
    assert world() == before, f"{module}: the check run changed the world"

    applied = succeeded(run(module, args, diff=diff))
    assert applied["changed"] is True, applied
    after = world()
    assert after != before, f"{module}: the apply reported a change and changed nothing"
    if diff:
        assert "diff" in predicted, f"{module}: the check run returned no diff: {predicted}"
        assert predicted["diff"] == applied["diff"], f"{module}: the check predicted {predicted['diff']}, the apply did {applied['diff']}"

    again = succeeded(run(module, args, check=True, diff=diff))
    assert again["changed"] is False, again
    assert world() == after, f"{module}: the second check run changed the world"

    last = succeeded(run(module, args))
    assert last["changed"] is False, last
    assert world() == after, f"{module}: the second apply changed the world"
    return predicted, applied, before, after


# config_files ----------------------------------------------------------------------------


def test_config_files(tmp_path):
    etc = tmp_path / "etc"
    etc.mkdir(mode=0o700)
    (etc / "app.env").write_text("A=0\n")
    os.chmod(etc / "app.env", 0o600)
    (etc / "same.conf").write_text("kept\n")
    os.chmod(etc / "same.conf", 0o644)
    args = {
        "directories": [{"path": str(etc), "mode": "0755"}, {"path": str(etc / "conf.d"), "mode": "0750", "group": "nogroup"}],
        "files": [
            {"path": str(etc / "app.env"), "content": "A=1\nB=2\n", "mode": "0640", "group": "nogroup"},
            {"path": str(etc / "same.conf"), "content": "kept\n"},
            {"path": str(etc / "conf.d" / "extra.conf"), "content": "x = 1\n", "owner": "nobody", "mode": "0600"},
            {"path": str(etc / "run.sh"), "content": "#!/bin/sh\n", "mode": "0755"},
        ],
    }
    predicted, applied, before, after = check_apply_check_apply("config_files", args, lambda: snapshot(tmp_path), diff=True)

    for key in ("changed_files", "changed_directories"):
        assert predicted[key] == applied[key], (predicted[key], applied[key])
    assert set(predicted["changed_files"]) == {str(etc / name) for name in ("app.env", "conf.d/extra.conf", "run.sh")}
    assert set(predicted["changed_directories"]) == {str(etc), str(etc / "conf.d")}
    # Exactly what was predicted changed, and as asked.
    assert changed_paths(before, after) == set(predicted["changed_files"] + predicted["changed_directories"])
    nobody, nogroup = 65534, 65534
    assert after[str(etc)][0] == stat.S_IFDIR | 0o755 and after[str(etc)][1:3] == before[str(etc)][1:3]
    assert after[str(etc / "conf.d")][:3] == (stat.S_IFDIR | 0o750, 0, nogroup)
    assert after[str(etc / "app.env")] == (stat.S_IFREG | 0o640, 0, nogroup, b"A=1\nB=2\n")
    assert after[str(etc / "conf.d" / "extra.conf")] == (stat.S_IFREG | 0o600, nobody, 0, b"x = 1\n")
    assert after[str(etc / "run.sh")] == (stat.S_IFREG | 0o755, 0, 0, b"#!/bin/sh\n")
    # The diff shows every file whose content changes, before and after as the world holds them.
    shown = {item["after_header"]: item for item in predicted["diff"]}
    assert set(shown) == set(predicted["changed_files"])
    for path, item in shown.items():
        assert item["before"].encode() == (before[path][3] if path in before else b"")
        assert item["after"].encode() == after[path][3]


# cutover_state ---------------------------------------------------------------------------

RECORD = {"run_id": "cutover-20261125T150102Z-4f2a1c", "phase": "shifting", "from_color": "blue", "to_color": "green",
          "share": 25}


@pytest.mark.parametrize("previous", [None, dict(RECORD, share=0, phase="started")], ids=["new", "replaced"])
def test_cutover_state(tmp_path, previous):
    directory = tmp_path / "state"
    state_file = directory / "checkout.state.json"
    if previous is not None:
        succeeded(run("cutover_state", {"service": "checkout", "directory": str(directory), "record": previous}))
    args = {"service": "checkout", "directory": str(directory), "record": RECORD}
    predicted, applied, before, after = check_apply_check_apply("cutover_state", args, lambda: snapshot(tmp_path), diff=True)

    assert predicted["diff"]["before"] == (previous or {}) and predicted["diff"]["after"] == RECORD
    assert predicted["record"] == applied["record"] == RECORD
    assert predicted["previous"] == applied["previous"] == (previous or {})
    assert json.loads(after[str(state_file)][3]) == RECORD
    assert after[str(state_file)][0] == stat.S_IFREG | 0o640
    assert after[str(directory)][0] == stat.S_IFDIR | 0o750
    # The first write also creates the lock file the run and the watchdog serialise on.
    lock_file = str(state_file) + ".lock"
    assert after[lock_file][0] == stat.S_IFREG | 0o640
    assert changed_paths(before, after) == ({str(state_file)} if previous else {str(directory), str(state_file), lock_file})
    # The second check's diff shows no difference.
    again = run("cutover_state", args, check=True, diff=True)
    assert again["diff"]["before"] == again["diff"]["after"] == RECORD


# deployment_lock -------------------------------------------------------------------------

LOCK_DETAILS = {"actor": "alice", "controller": "ops-1", "change_ticket": "CHG-1"}


def test_deployment_lock_taken(tmp_path):
    directory = tmp_path / "locks"
    lock_file = directory / "checkout.lock"
    args = {"service": "checkout", "run_id": "run-1", "details": LOCK_DETAILS, "directory": str(directory)}
    before = snapshot(tmp_path)
    predicted = succeeded(run("deployment_lock", args, check=True))
    assert predicted["changed"] is True and snapshot(tmp_path) == before

    applied = succeeded(run("deployment_lock", args))
    assert applied["changed"] is True
    after = snapshot(tmp_path)
    assert changed_paths(before, after) == {str(directory), str(lock_file)}
    held = json.loads(after[str(lock_file)][3])
    assert held == applied["lock"]
    timing = ("acquired_at", "acquired_at_text", "heartbeat_at")
    assert {k: v for k, v in predicted["lock"].items() if k not in timing} == \
           {k: v for k, v in held.items() if k not in timing} == dict(LOCK_DETAILS, run_id="run-1", service="checkout")

    again = succeeded(run("deployment_lock", args, check=True))
    assert again["changed"] is False and snapshot(tmp_path) == after

    last = succeeded(run("deployment_lock", args))
    assert last["changed"] is False
    # Taking the lock again with the same run id refreshes its heartbeat (documented: "refreshes
    # the heartbeat and changes nothing else"); that is the only difference in the world.
    refreshed = snapshot(tmp_path)
    assert changed_paths(after, refreshed) <= {str(lock_file)}
    assert refreshed[str(lock_file)][:3] == after[str(lock_file)][:3]
    now_held = json.loads(refreshed[str(lock_file)][3])
    assert now_held["heartbeat_at"] >= held["heartbeat_at"]
    assert dict(now_held, heartbeat_at=None) == dict(held, heartbeat_at=None)


def test_deployment_lock_released(tmp_path):
    directory = tmp_path / "locks"
    succeeded(run("deployment_lock", {"service": "checkout", "run_id": "run-1", "directory": str(directory)}))
    args = {"service": "checkout", "run_id": "run-1", "state": "absent", "directory": str(directory)}
    predicted, applied, before, after = check_apply_check_apply("deployment_lock", args, lambda: snapshot(tmp_path))
    assert predicted["broken"] == applied["broken"] and predicted["broken"]["run_id"] == "run-1"
    assert changed_paths(before, after) == {str(directory / "checkout.lock")}
    assert not (directory / "checkout.lock").exists()


# app_release -----------------------------------------------------------------------------


def release_args(tmp_path, sent, version="1.0.0", artifact_version=None):
    """app_release's arguments for `version`; with `sent`, the artifact is on the controller
    (src) and not yet on the host, else already on the host."""
    artifact = tmp_path / "artifacts" / f"svc-{version}.tar.gz"
    args = {"artifact": str(artifact), "version": version, "release_dir": str(tmp_path / "releases" / version),
            "link": str(tmp_path / "current")}
    built_at = tmp_path / "dist" / artifact.name if sent else artifact
    built_at.parent.mkdir(exist_ok=True)
    args["sha256"] = hashlib.sha256(release_artifact(built_at, artifact_version or version).read_bytes()).hexdigest()
    if sent:
        args["src"] = str(built_at)
    return args


# With the artifact still on the controller the diff is checked by its own test below.
@pytest.mark.parametrize("sent, diff", [(False, True), (True, False)], ids=["artifact-on-host", "src-from-controller"])
def test_app_release(tmp_path, sent, diff):
    args = release_args(tmp_path, sent)
    artifact, release_dir, link = tmp_path / "artifacts" / "svc-1.0.0.tar.gz", tmp_path / "releases" / "1.0.0", tmp_path / "current"
    predicted, applied, before, after = check_apply_check_apply("app_release", args, lambda: snapshot(tmp_path), diff=diff)

    for key in ("artifact_copied", "built", "linked", "previous_release", "removed"):
        assert predicted[key] == applied[key], (key, predicted, applied)
    assert (predicted["artifact_copied"], predicted["built"], predicted["linked"]) == (sent, True, True)
    if diff:
        assert predicted["diff"] == {"before": f"{link} -> None\n", "after": f"{link} -> {release_dir}\n"}
    assert os.readlink(link) == str(release_dir)
    assert (release_dir / ".app_release").is_file() and (release_dir / ".venv" / ".requirements-installed").exists()
    assert (release_dir / "svc" / "app.py").read_bytes() == b"x = 1\n"
    made = {str(link), str(tmp_path / "releases")} | {path for path in after if path.startswith(str(release_dir))}
    if sent:
        made |= {str(artifact), str(artifact.parent)}
        assert artifact.read_bytes() == (tmp_path / "dist" / "svc-1.0.0.tar.gz").read_bytes()
    assert changed_paths(before, after) == made


# The action plugin holds src back from the module's first call; in check mode it reads the
# artifact's VERSION on the controller and predicts the diff from what the module found.


def test_app_release_from_the_controller_predicts_its_diff(tmp_path):
    args = release_args(tmp_path, sent=True)
    predicted = succeeded(run("app_release", args, check=True, diff=True))
    assert predicted["changed"] is True
    assert predicted.get("diff") == {"before": f"{tmp_path / 'current'} -> None\n",
                                     "after": f"{tmp_path / 'current'} -> {tmp_path / 'releases' / '1.0.0'}\n"}, predicted


def test_app_release_from_the_controller_checks_the_version_in_check_mode(tmp_path):
    args = release_args(tmp_path, sent=True, artifact_version="1.0.1")
    before = snapshot(tmp_path)
    applied = run("app_release", args)
    assert applied.get("failed") and "VERSION is 1.0.1, but 1.0.0 was requested" in applied["msg"], applied
    assert snapshot(tmp_path) == before
    predicted = run("app_release", args, check=True)
    assert predicted.get("failed") and "VERSION is 1.0.1, but 1.0.0 was requested" in predicted["msg"], predicted


# approval_verify -------------------------------------------------------------------------


def test_approval_verify_reads_the_same_in_check_mode_and_changes_nothing(tmp_path):
    key = Ed25519PrivateKey.generate()
    public = tmp_path / "alice.pub"
    public.write_bytes(key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    expires = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    document = approval.sign(key, "CHG-1", "checkout", "ab" * 32, "alice", expires)
    (tmp_path / "CHG-1.json").write_text(json.dumps(document))
    args = {"approval": str(tmp_path / "CHG-1.json"), "public_keys": [str(public)], "ticket": "CHG-1", "service": "checkout",
            "release_sha256": "ab" * 32, "executor": "bob"}
    before = snapshot(tmp_path)
    checked = succeeded(run("approval_verify", args, check=True))
    assert snapshot(tmp_path) == before
    verified = succeeded(run("approval_verify", args))
    assert snapshot(tmp_path) == before
    assert checked["changed"] is False and verified["changed"] is False
    assert checked["approval"] == verified["approval"] and verified["approval"]["approver"] == "alice"
    # A refusal is the same in both modes too.
    refused = [run("approval_verify", dict(args, executor="Alice"), check=check) for check in (True, False)]
    assert refused[0]["failed"] and refused[0]["msg"] == refused[1]["msg"] and "approval.approver" in refused[0]["msg"]
    assert snapshot(tmp_path) == before


# haproxy_backend and lb_split on a real HAProxy -------------------------------------------


@pytest.fixture
def haproxy(tmp_path):
    lb = HAProxyUnderTest(tmp_path, ["blue_1", "blue_2", "green_1", "green_2"]).start()
    yield lb
    lb.stop()


# Columns of `show servers state` that HAProxy's own health checks move on their own: the
# seconds since the last change, the last check's result and its running flags.
LIVE_COLUMNS = {"srv_time_since_last_change", "srv_check_result", "srv_check_state"}


def servers_state(haproxy):
    """`show servers state app`, one dict per server, without the live check columns."""
    lines = haproxy.cli("show servers state app").splitlines()
    names = lines[1].lstrip("# ").split()
    rows = [dict(zip(names, line.split())) for line in lines[2:] if line.strip()]
    return {row["srv_name"]: {k: v for k, v in row.items() if k not in LIVE_COLUMNS} for row in rows}


def haproxy_world(haproxy):
    def world():
        state_file = haproxy.state_file
        return servers_state(haproxy), open(state_file, "rb").read() if os.path.exists(state_file) else None
    return world


def assert_haproxy_holds(haproxy, before, after, predicted_after):
    """The servers hold the predicted weights and states, and nothing else changed."""
    wanted = {key.split("/")[1]: (value["weight"], ADMIN_FLAGS[value["state"]]) for key, value in predicted_after.items()}
    assert haproxy.servers() == wanted
    for name, row in after[0].items():
        moved = {k for k in row if row[k] != before[0][name][k]}
        assert moved <= {"srv_admin_state", "srv_uweight"}, (name, moved)
    # The server-state file was written with the new state, so that a reload keeps it.
    assert before[1] is None and after[1] is not None
    saved = {line.split()[3]: (int(line.split()[7]), int(line.split()[6])) for line in after[1].decode().splitlines()[2:] if line.strip()}
    assert saved == wanted


def test_haproxy_backend(haproxy):
    args = {"socket": haproxy.socket, "backend": "app", "state_file": haproxy.state_file,
            "weights": {"blue": 0, "green": 100}, "states": {"blue": "drain"}}
    predicted, applied, before, after = check_apply_check_apply("haproxy_backend", args, haproxy_world(haproxy), diff=True)
    assert predicted["after"] == applied["after"] and predicted["split_after"] == applied["split_after"]
    assert predicted["split_after"]["app"]["colors"] == {"blue": 0.0, "green": 100.0}
    assert predicted["diff"]["after"]["app/blue_1"] == {"weight": 0, "state": "drain"}
    assert_haproxy_holds(haproxy, before, after, predicted["diff"]["after"])
    again = run("haproxy_backend", args, check=True, diff=True)
    assert again["diff"]["before"] == again["diff"]["after"] == predicted["diff"]["after"]


def test_lb_split_on_haproxy(haproxy):
    args = {"kind": "haproxy", "weights": {"blue": 75, "green": 25},
            "haproxy": {"socket": haproxy.socket, "backend": "app", "state_file": haproxy.state_file}}
    predicted, applied, before, after = check_apply_check_apply("lb_split", args, haproxy_world(haproxy), diff=True)
    assert predicted["kind"] == applied["kind"] == "haproxy"
    assert predicted["split_after"] == applied["split_after"]
    assert predicted["split_after"]["app"]["colors"] == {"blue": 75.0, "green": 25.0}
    assert_haproxy_holds(haproxy, before, after, predicted["diff"]["after"])


# trace_health and trace_probe ------------------------------------------------------------


def test_trace_health_answers_the_same_in_check_mode(tmp_path):
    """Nothing listens on the backend's port: the gate fails closed, the same way in both modes."""
    port = free_port()
    args = {"backend": "jaeger", "url": f"http://127.0.0.1:{port}", "retries": 0, "service": "checkout",
            "end": 1764072060.0, "window": 60}
    before = snapshot(tmp_path)
    checked = succeeded(run("trace_health", args, check=True))
    judged = succeeded(run("trace_health", args))
    assert snapshot(tmp_path) == before
    assert checked["changed"] is False and judged["changed"] is False
    assert checked["verdict"] == judged["verdict"] == "fail"
    assert f"127.0.0.1:{port}" in judged["reasons"][0]
    for key in ("reasons", "checks", "window", "queries"):
        assert checked[key] == judged[key], key


def test_trace_probe_claims_no_check_mode_and_a_check_run_sends_no_probe():
    app = AppServer("probe-target")
    try:
        args = {"backend": "jaeger", "url": f"http://127.0.0.1:{free_port()}", "retries": 0,
                "urls": [f"http://127.0.0.1:{app.port}/api/quote"], "count": 2, "deadline": 0.5,
                "service": "checkout", "color": "green"}
        checked = run_task("trace_probe", args, check=True)
        assert checked.get("skipped") is True and not checked.get("changed"), checked
        assert app.requests == 0
        # The same call for real sends its probes (and fails: no backend holds their traces).
        probed = run_task("trace_probe", args)
        assert probed.get("failed") and not probed.get("changed"), probed
        assert app.requests == 2
    finally:
        app.stop()


# audit_event, audit_copy, audit_report, audit_verify -------------------------------------


def signed_log(tmp_path):
    """A sealed run's log written by audit_event, and the public key that verifies it."""
    key = Ed25519PrivateKey.generate()
    private, public = tmp_path / "keys" / "audit.key", tmp_path / "keys" / "audit.pub"
    private.parent.mkdir()
    private.write_bytes(key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    private.chmod(0o600)
    public.write_bytes(key.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))
    log = tmp_path / "logs" / "run-7.jsonl"
    for event_type, fields, signed in (("run_start", {"actor": "alice", "actor_source": "os", "change_ticket": "CHG-7"}, False),
                                       ("gate_result", {"gate": "trace_health", "verdict": "pass"}, False),
                                       ("run_sealed", {"outcome": "succeeded"}, True)):
        args = {"path": str(log), "run_id": "run-7", "type": event_type, "fields": fields}
        if signed:
            args["signing_key"] = str(private)
        succeeded(run("audit_event", args))
    return log, public, private


def test_audit_event_predicts_its_record_and_writes_nothing_in_check_mode(tmp_path):
    log = tmp_path / "logs" / "run-8.jsonl"
    args = {"path": str(log), "run_id": "run-8", "type": "run_start",
            "fields": {"actor": "alice", "actor_source": "os", "change_ticket": "CHG-8"}}
    before = snapshot(tmp_path)
    predicted = succeeded(run("audit_event", args, check=True))
    assert predicted["changed"] is True and snapshot(tmp_path) == before, predicted
    applied = succeeded(run("audit_event", args))
    assert applied["changed"] is True and log.read_text(encoding="utf-8").count("\n") == 1


def test_audit_copy(tmp_path):
    log, _public, _private = signed_log(tmp_path)
    copy = tmp_path / "copy" / "run-7.jsonl"
    # As the file lookup hands them over: the last line feed stripped, then split at line feeds.
    args = {"path": str(copy), "lines": log.read_text(encoding="utf-8").rstrip("\n").split("\n")}
    predicted, applied, _before, _after = check_apply_check_apply("audit_copy", args, lambda: snapshot(tmp_path / "copy")
                                                                  if (tmp_path / "copy").exists() else {})
    assert predicted["appended"] == applied["appended"] == 3
    assert copy.read_bytes() == log.read_bytes()


def test_audit_report(tmp_path):
    log, public, _private = signed_log(tmp_path)
    reports = tmp_path / "reports"
    args = {"log": str(log), "public_keys": [str(public)], "run_id": "run-7", "dest_dir": str(reports)}
    check_apply_check_apply("audit_report", args, lambda: snapshot(reports) if reports.exists() else {})
    assert {path.name for path in reports.iterdir()} == {"run-7.html", "run-7.md"}


def test_audit_verify_reads_the_same_in_check_mode_and_changes_nothing(tmp_path):
    log, public, _private = signed_log(tmp_path)
    before = snapshot(tmp_path)
    answers = [succeeded(run("audit_verify", {"path": str(log), "public_keys": [str(public)]}, check=check))
               for check in (True, False)]
    assert [a["changed"] for a in answers] == [False, False]
    assert answers[0]["ok"] is answers[1]["ok"] is True and answers[0]["records"] == answers[1]["records"] == 3
    assert snapshot(tmp_path) == before
