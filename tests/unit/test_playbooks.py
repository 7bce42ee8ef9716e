"""Static rules of the playbooks that no run would show until the day they matter."""

from pathlib import Path

import pytest
import yaml

PLAYBOOKS = Path(__file__).resolve().parents[2] / "playbooks"
# Records that precede a traffic change, and the seal, must reach the audit hosts before the
# run goes on (audit_copied.yml); audit.yml only writes on the controller.
COPIED_TYPES = {"traffic_change", "rollback", "run_sealed"}


def tasks_in(node):
    if isinstance(node, list):
        for item in node:
            yield from tasks_in(item)
    elif isinstance(node, dict):
        yield node
        for key in ("tasks", "block", "rescue", "always", "pre_tasks", "post_tasks", "handlers"):
            yield from tasks_in(node.get(key))


def audit_includes():
    for path in sorted(PLAYBOOKS.rglob("*.yml")):
        if path.name == "audit_copied.yml":  # records through audit.yml with its caller's vars
            continue
        for task in tasks_in(yaml.safe_load(path.read_text(encoding="utf-8"))):
            for action in ("ansible.builtin.include_tasks", "ansible.builtin.import_tasks"):
                target = task.get(action)
                target = target.get("file") if isinstance(target, dict) else target
                if target and Path(target).name in ("audit.yml", "audit_copied.yml"):
                    yield path.name, task.get("name"), Path(target).name, (task.get("vars") or {}).get("audit_type")


def test_the_playbooks_record_something():
    assert len(list(audit_includes())) > 20


@pytest.mark.parametrize("where, name, target, audit_type", list(audit_includes()))
def test_records_before_a_traffic_change_and_seals_are_copied(where, name, target, audit_type):
    assert audit_type, f"{where}: {name!r} names no audit_type"
    if audit_type in COPIED_TYPES:
        assert target == "audit_copied.yml", f"{where}: {name!r} records {audit_type} without copying the log"


# Settings of the tracing_agent role that its drift fingerprint leaves out, and why: the
# color is what differs by design; header values are secrets (their names are in it); the
# rest say where the role puts files and how it restarts and checks the app, not how spans
# are made, sent or redacted. Every other setting must change the fingerprint.
TRACING_AGENT_NOT_FINGERPRINTED = {
    "tracing_agent_otlp_headers": "header_names", "tracing_agent_collector_artifact": "collector_sha256",
    "tracing_agent_collector_ca_file": "collector_tls", "tracing_agent_collector_cert_file": "collector_tls",
    "tracing_agent_collector_key_file": "collector_tls", "tracing_agent_env_file": None, "tracing_agent_env_group": None,
    "tracing_agent_restart_unit": None, "tracing_agent_health_url": None, "tracing_agent_collector_binary": None,
    "tracing_agent_collector_config": None,
}


def test_every_tracing_setting_reaches_the_drift_fingerprint():
    role = PLAYBOOKS.parent / "roles" / "tracing_agent"
    settings = set(yaml.safe_load((role / "defaults" / "main.yml").read_text(encoding="utf-8")))
    fingerprint = yaml.safe_load((role / "vars" / "main.yml").read_text(encoding="utf-8"))["_tracing_agent_fingerprint_input"]
    rendered = " ".join(str(value) for value in fingerprint.values())
    missing = sorted(name for name in settings - set(TRACING_AGENT_NOT_FINGERPRINTED) if name not in rendered)
    assert not missing, f"tracing_agent settings that do not change the drift fingerprint: {missing}"
    for name, field in TRACING_AGENT_NOT_FINGERPRINTED.items():
        assert field is None or field in fingerprint, (name, field)
