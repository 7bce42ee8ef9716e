"""awx/objects.yml, the import file generated from it, and the check against the playbooks."""

import copy
import json
import sys
from pathlib import Path

import jinja2
import pytest
import yaml
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "tools"))
# pylint: disable=wrong-import-position
import awx_objects  # noqa: E402


@pytest.fixture(name="objects")
def fixture_objects():
    return copy.deepcopy(awx_objects.load_objects())


def by_name(items, name, key="name"):
    return next(item for item in items if item[key] == name)


def test_the_committed_import_file_is_what_the_objects_generate(objects):
    assert awx_objects.IMPORT.read_text(encoding="utf-8") == awx_objects.render(objects), \
        "awx/import.json is stale: run python3 tools/awx_objects.py"


def test_the_objects_fit_the_playbooks(objects):
    assert awx_objects.check(objects) == []


def test_a_survey_field_no_playbook_reads(objects):
    by_name(objects["job_templates"], "tracegate rollback")["survey"].append(
        {"bluegreen_colour": {"question": "Colour", "type": "text", "required": False}})
    assert awx_objects.check(objects) == [
        "job template tracegate rollback: survey field bluegreen_colour is read by nothing playbooks/rollback.yml runs"]


def test_a_required_variable_without_a_field(objects):
    by_name(objects["job_templates"], "tracegate rollback")["survey"].remove("bluegreen_change_ticket")
    assert awx_objects.check(objects) == [
        "job template tracegate rollback: playbooks/rollback.yml requires bluegreen_change_ticket, which no survey field, "
        "extra variable, inventory variable or credential gives"]


def test_a_required_variable_a_workflow_node_is_not_given(objects):
    objects["workflow"]["survey"].remove("bluegreen_approval")
    assert awx_objects.check(objects) == [
        "workflow node cutover: playbooks/cutover.yml requires bluegreen_approval, which no survey field, "
        "extra variable, inventory variable or credential gives"]


def test_an_injector_feeding_nothing(objects):
    kind = by_name(objects["credential_types"], "tracegate trace backend")
    kind["injectors"]["extra_vars"]["bluegreen_trace_token"] = "{{ bearer_token }}"
    kind["injectors"]["env"] = {"TRACE_TOKEN": "{{ bearer_token }}"}
    assert awx_objects.check(objects) == [
        "credential type tracegate trace backend: injects bluegreen_trace_token, which no playbook of its job templates reads",
        "credential type tracegate trace backend: injects the environment variable TRACE_TOKEN; the playbooks read none"]


def test_a_file_no_injected_variable_names(objects):
    kind = by_name(objects["credential_types"], "tracegate approver keys")
    kind["injectors"]["extra_vars"]["bluegreen_approver_keys"] = "{{ tower.filename.approver_key_1 }}"
    assert awx_objects.check(objects) == [
        "credential type tracegate approver keys: the file template.approver_key_2 is named by no injected variable",
        "credential type tracegate approver keys: the file template.approver_key_3 is named by no injected variable"]


def test_set_stats_that_would_change_a_later_node(objects, tmp_path):
    # What end_run.yml returned before: a rollback after a failed cutover would have recorded
    # the cutover's outcome as its own and written into the cutover's sealed log.
    playbook = tmp_path / "returns.yml"
    playbook.write_text(yaml.safe_dump([{"hosts": "localhost", "tasks": [{"name": "Return", "ansible.builtin.set_stats": {
        "data": {"bluegreen_outcome": "rolled_back", "bluegreen_run_id": "awx-7", "bluegreen_audit_log": "/a/awx-7.jsonl"}}}]}]))
    by_name(objects["job_templates"], "tracegate deploy")["playbook"] = str(playbook)
    problems = [problem for problem in awx_objects.check(objects) if problem.startswith("workflow node")]
    assert problems == [
        "workflow node cutover: set_stats of an earlier node hands it bluegreen_outcome, which playbooks/cutover.yml sets itself",
        "workflow node cutover: set_stats of an earlier node hands it bluegreen_run_id, which playbooks/cutover.yml reads, unasked (takes)",
        "workflow node cutover: takes bluegreen_deploy, which no earlier node returns",
        "workflow node rollback: set_stats of an earlier node hands it bluegreen_outcome, which playbooks/rollback.yml sets itself",
        "workflow node rollback: set_stats of an earlier node hands it bluegreen_run_id, which playbooks/rollback.yml reads, unasked (takes)",
        "workflow node report: set_stats of an earlier node hands it bluegreen_run_id, which playbooks/audit_report.yml reads, unasked (takes)",
        "workflow node report_rollback: set_stats of an earlier node hands it bluegreen_run_id, which playbooks/audit_report.yml reads, "
        "unasked (takes)"]


def test_a_group_the_playbooks_name_is_missing(objects):
    del objects["inventory"]["groups"]["bluegreen_lb"]
    objects["inventory"]["groups"]["bluegreen_spare"] = "hosts nobody reads"
    assert awx_objects.check(objects) == [
        "inventory: no group bluegreen_lb, which the playbooks name", "inventory: group bluegreen_spare is named by no playbook"]


def test_an_inventory_variable_no_playbook_reads(objects):
    objects["inventory"]["variables"]["bluegreen_region"] = "eu"
    assert awx_objects.check(objects) == ["inventory: variable bluegreen_region is read by no playbook"]


def test_a_schedule_answers_its_templates_survey_only(objects):
    objects["schedules"][0]["survey_answers"]["bluegreen_steps"] = "[50, 100]"
    del objects["schedules"][0]["survey_answers"]["bluegreen_release_sha256"]
    problems = awx_objects.check(objects)
    assert "schedule tracegate daily verify: bluegreen_steps is not a survey field of tracegate verify" in problems
    # bluegreen_release is built from the answers by the template's extra variables: its
    # requirement stands, the missing answer is AWX's to refuse (a required survey field).
    assert len(problems) == 1


def test_the_workflow_graph():
    assets = json.loads(awx_objects.IMPORT.read_text(encoding="utf-8"))
    nodes = {node["identifier"]: node for node in assets["workflow_job_templates"][0]["related"]["workflow_nodes"]}
    edges = {(name, kind, target["identifier"]) for name, node in nodes.items()
             for kind in ("success", "failure", "always") for target in node["related"][f"{kind}_nodes"]}
    assert edges == {("deploy", "success", "approve"), ("approve", "success", "cutover"), ("cutover", "success", "report"),
                     ("cutover", "failure", "rollback"), ("rollback", "always", "report_rollback")}
    assert "unified_job_template" not in nodes["approve"] and nodes["approve"]["related"]["create_approval_template"]["timeout"] > 0


# AWX renders injectors with a sandboxed Jinja: StrictUndefined when it validates a credential
# type (every field 'EXAMPLE'), the default Undefined at job time, unset fields absent.
class Files:
    def __init__(self, names):
        for name in names:
            setattr(self, name, f"/runner/env/{name}")


def render_injectors(kind, inputs, undefined):
    files = [label.partition(".")[2] for label in kind["injectors"].get("file", {})]
    tower = type("Tower", (), {"filename": Files(files) if any(files) else "/runner/env/file"})()
    environment = ImmutableSandboxedEnvironment(undefined=undefined)
    return {key: environment.from_string(value).render(**inputs, tower=tower)
            for key, value in kind["injectors"].get("extra_vars", {}).items() if isinstance(value, str)}


@pytest.mark.parametrize("kind", awx_objects.load_objects()["credential_types"], ids=lambda kind: kind["name"])
def test_the_injectors_render_as_awx_validates_them(kind):
    fields = {field["id"]: "EXAMPLE" for field in kind["inputs"]["fields"]}
    render_injectors(kind, fields, jinja2.StrictUndefined)


def test_the_approver_keys_name_only_the_keys_given(objects):
    kind = by_name(objects["credential_types"], "tracegate approver keys")
    one = render_injectors(kind, {"approver_key_1": "PEM"}, jinja2.Undefined)
    two = render_injectors(kind, {"approver_key_1": "PEM", "approver_key_3": "PEM"}, jinja2.Undefined)
    assert one == {"bluegreen_approver_keys": "/runner/env/approver_key_1"}
    assert two == {"bluegreen_approver_keys": "/runner/env/approver_key_1,/runner/env/approver_key_3"}
