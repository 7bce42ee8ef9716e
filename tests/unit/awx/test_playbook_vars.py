"""tools/playbook_vars.py: what a playbook reads, sets, requires and returns."""

import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tools"))
# pylint: disable=wrong-import-position
from playbook_vars import PlaybookVars, names_in  # noqa: E402


def test_names_in_a_template():
    reads, groups = names_in("{% for host in groups['bluegreen_lb'] %}{{ hostvars[host]['lb_kind'] ~ shown | default('') }}{% endfor %}")
    assert reads == {"groups", "hostvars", "lb_kind", "shown"}
    assert groups == {"bluegreen_lb"}


def test_a_variable_extracted_from_every_host_is_read():
    reads, _groups = names_in("{{ groups['bluegreen_lb'] | map('extract', hostvars, 'bluegreen_lb_url') | list }}")
    assert reads == {"groups", "hostvars", "bluegreen_lb_url"}


def test_a_bare_expression_is_read_and_plain_text_is_not():
    assert names_in("bluegreen_environment | default('production') == 'production'", bare=True)[0] == {"bluegreen_environment"}
    assert names_in("bluegreen_environment is not read here")[0] == set()


@pytest.fixture(name="playbook")
def fixture_playbook(tmp_path):
    (tmp_path / "tasks").mkdir()
    (tmp_path / "tasks" / "checks.yml").write_text(yaml.safe_dump([
        {"name": "Require a ticket", "ansible.builtin.assert": {"that": ["ticket | default('') | length > 0"]},
         "when": "operation != 'verify'"},
        {"name": "Require a key", "ansible.builtin.assert": {"that": ["key | default('') | length > 0", "derived > 0"]}},
    ]))
    path = tmp_path / "play.yml"
    path.write_text(yaml.safe_dump([{"hosts": "localhost:bluegreen_lb", "tasks": [
        {"name": "Derive", "ansible.builtin.set_fact": {"derived": "{{ given | int }}"}},
        {"name": "Check", "ansible.builtin.import_tasks": "tasks/checks.yml", "vars": {"operation": "verify"}},
        {"name": "Ask", "ansible.builtin.uri": {"url": "{{ url }}"}, "register": "answer"},
        {"name": "Return", "ansible.builtin.set_stats": {"data": {"result": "{{ answer.status }}"}}},
    ]}]))
    return PlaybookVars(path)


def test_reads_sets_and_returns(playbook):
    assert {"given", "url", "answer", "ticket", "key", "operation", "derived"} <= playbook.reads
    assert playbook.sets == {"derived", "operation", "answer"}
    assert playbook.returns == {"result"}
    assert playbook.groups == {"bluegreen_lb"}


def test_an_assertion_the_operation_skips_requires_nothing(playbook):
    # `derived` is the playbook's own fact, `ticket` is asserted only when operation is not verify.
    assert playbook.required == {"key"}


@pytest.mark.parametrize("name, required, not_required", [
    ("cutover", {"bluegreen_change_ticket", "bluegreen_approval", "bluegreen_approver_keys", "bluegreen_audit_signing_key",
                 "bluegreen_release", "bluegreen_trace_backend", "bluegreen_probe_path", "bluegreen_service"}, set()),
    ("verify", {"bluegreen_release", "bluegreen_service", "bluegreen_audit_signing_key"}, {"bluegreen_change_ticket"}),
    ("rollback", {"bluegreen_change_ticket", "bluegreen_audit_signing_key"}, {"bluegreen_release", "bluegreen_approval"}),
])
def test_the_playbooks_requirements(name, required, not_required):
    playbook = PlaybookVars(ROOT / "playbooks" / f"{name}.yml")
    assert required <= playbook.required
    assert not not_required & playbook.required
