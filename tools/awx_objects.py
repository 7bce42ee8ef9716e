"""The AWX objects of tracegate.bluegreen: awx/import.json, in the format `awx import` reads
(awxkit's ApiV2.import_assets: assets by resource, each with its natural key, dependent
objects under `related`), generated from awx/objects.yml; and `check`, which holds those
objects against what the playbooks read, require and return (tools/playbook_vars.py).

    python3 tools/awx_objects.py            # write awx/import.json
    python3 tools/awx_objects.py --check    # exit 1 when it differs or a check fails
"""

import argparse
import json
import re
import sys
from functools import lru_cache
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
# pylint: disable=wrong-import-position
from playbook_vars import PlaybookVars, names_in  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
OBJECTS = ROOT / "awx" / "objects.yml"
IMPORT = ROOT / "awx" / "import.json"
SURVEY_TYPES = ("text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect")
EDGES = ("success", "failure", "always")


def load_objects(path=OBJECTS):
    return yaml.safe_load(Path(path).read_text(encoding="utf-8"))


def _text(variables):
    """Variables as AWX stores them: YAML text."""
    return yaml.safe_dump(variables, sort_keys=False, width=1000) if variables else ""


def _survey_field(variable, field):
    question = {"question_name": field["question"], "question_description": field.get("description", ""),
                "required": field["required"], "type": field["type"], "variable": variable}
    question.update({key: field[key] for key in ("min", "max", "default", "choices") if key in field})
    return question


def survey_fields(objects, entries):
    """(variable, field) of a survey as objects.yml lists it: a shared field's variable, or
    {variable: field} for a field of one template."""
    for entry in entries or []:
        if isinstance(entry, str):
            yield entry, objects["survey_fields"][entry]
        else:
            yield from entry.items()


def _survey_spec(objects, entries):
    return {"name": "", "description": "",
            "spec": [_survey_field(variable, field) for variable, field in survey_fields(objects, entries)]}


def assets_from(objects):
    """The import file's content: what `awx export` would write for these objects."""
    organization = {"name": objects["organization"], "type": "organization"}
    project, inventory = objects["project"], objects["inventory"]
    project_key = {"organization": organization, "name": project["name"], "type": "project"}
    inventory_key = {"organization": organization, "name": inventory["name"], "type": "inventory"}

    def template_key(name):
        return {"organization": organization, "name": name, "type": "job_template"}

    schedules = {}
    for schedule in objects.get("schedules", []):
        schedules.setdefault(schedule["job_template"], []).append({
            "name": schedule["name"], "description": schedule.get("description", ""), "rrule": schedule["rrule"],
            "enabled": schedule["enabled"], "extra_data": schedule.get("survey_answers", {}),
            "unified_job_template": template_key(schedule["job_template"]),
            "natural_key": {"unified_job_template": template_key(schedule["job_template"]), "name": schedule["name"],
                            "type": "schedule"},
        })

    workflow = objects["workflow"]
    workflow_key = {"organization": organization, "name": workflow["name"], "type": "workflow_job_template"}

    def node_key(identifier):
        return {"workflow_job_template": workflow_key, "identifier": identifier, "type": "workflow_job_template_node"}

    nodes = []
    for node in workflow["nodes"]:
        related = {f"{edge}_nodes": [node_key(target) for target in node.get(edge, [])] for edge in EDGES}
        asset = {"identifier": node["identifier"], "all_parents_must_converge": False, "extra_data": {}}
        if "approval" in node:
            related["create_approval_template"] = node["approval"]
        else:
            asset["unified_job_template"] = template_key(node["job_template"])
        nodes.append({**asset, "natural_key": node_key(node["identifier"]), "related": related})

    return {
        "credential_types": [
            {"name": kind["name"], "description": kind["description"], "kind": "cloud", "inputs": kind["inputs"],
             "injectors": kind["injectors"], "natural_key": {"name": kind["name"], "kind": "cloud", "type": "credential_type"}}
            for kind in objects["credential_types"]
        ],
        "projects": [{
            "name": project["name"], "description": project["description"], "scm_type": "git",
            "scm_url": project["scm_url"], "scm_branch": project["scm_branch"], "scm_clean": True,
            "scm_update_on_launch": True, "allow_override": False, "organization": organization,
            "natural_key": project_key,
        }],
        "inventory": [{
            "name": inventory["name"], "description": inventory["description"], "kind": "",
            "variables": _text(inventory["variables"]), "organization": organization, "natural_key": inventory_key,
            "related": {"groups": [
                {"name": group, "description": description, "variables": "",
                 "natural_key": {"name": group, "inventory": inventory_key, "type": "group"}}
                for group, description in inventory["groups"].items()
            ]},
        }],
        "job_templates": [
            {
                "name": template["name"], "description": template["description"], "job_type": "run",
                "inventory": inventory_key, "project": project_key, "playbook": template["playbook"],
                "extra_vars": _text(template.get("extra_vars")), "survey_enabled": bool(template.get("survey")),
                "ask_variables_on_launch": False, "ask_credential_on_launch": False, "allow_simultaneous": False,
                "organization": organization, "natural_key": template_key(template["name"]),
                "related": {"survey_spec": _survey_spec(objects, template.get("survey")),
                            "schedules": schedules.get(template["name"], [])},
            }
            for template in objects["job_templates"]
        ],
        "workflow_job_templates": [{
            "name": workflow["name"], "description": workflow["description"], "extra_vars": "",
            "organization": organization, "inventory": inventory_key, "survey_enabled": True,
            "ask_variables_on_launch": False, "allow_simultaneous": False, "natural_key": workflow_key,
            "related": {"survey_spec": _survey_spec(objects, workflow["survey"]), "workflow_nodes": nodes},
        }],
    }


def render(objects):
    return json.dumps(assets_from(objects), indent=2) + "\n"


@lru_cache(maxsize=None)
def playbook_vars(playbook):
    return PlaybookVars(ROOT / playbook)


def _template_reads(template):
    """What a job template's playbook reads, and what its own extra variables' templates read."""
    reads = set(playbook_vars(template["playbook"]).reads)
    for value in _leaves(template.get("extra_vars") or {}):
        reads |= names_in(value)[0]
    return reads


def _leaves(value):
    if isinstance(value, dict):
        for item in value.values():
            yield from _leaves(item)
    elif isinstance(value, list):
        for item in value:
            yield from _leaves(item)
    else:
        yield value


def _injected(objects, kinds):
    by_name = {kind["name"]: kind for kind in objects["credential_types"]}
    return {key for kind in kinds if kind in by_name for key in by_name[kind]["injectors"].get("extra_vars", {})}


def check(objects):
    """Every way the objects fail the playbooks they run, as sentences; none when they fit."""
    problems = []
    templates = {template["name"]: template for template in objects["job_templates"]}
    kinds = {kind["name"] for kind in objects["credential_types"]}
    inventory_vars = set(objects["inventory"]["variables"])

    def given(template, answers):
        """What a launch of the template gives its playbook besides `answers`."""
        return answers | set(template.get("extra_vars") or {}) | inventory_vars | _injected(objects, template["credential_types"])

    def require(where, template, answers):
        missing = playbook_vars(template["playbook"]).required - given(template, answers)
        problems.extend(f"{where}: {template['playbook']} requires {name}, which no survey field, extra variable, "
                        "inventory variable or credential gives" for name in sorted(missing))

    for name, template in templates.items():
        pb = playbook_vars(template["playbook"])
        reads = _template_reads(template)
        survey = dict(survey_fields(objects, template.get("survey")))
        for variable, field in survey.items():
            if variable not in reads:
                problems.append(f"job template {name}: survey field {variable} is read by nothing {template['playbook']} runs")
            if field["type"] not in SURVEY_TYPES or ("default" in field and field["default"] not in field.get("choices", [field["default"]])):
                problems.append(f"job template {name}: survey field {variable} is not one AWX takes (type {field['type']}, its default among its choices)")
        for variable in template.get("extra_vars") or {}:
            if variable not in pb.reads:
                problems.append(f"job template {name}: extra variable {variable} is read by nothing {template['playbook']} runs")
        for kind in template["credential_types"]:
            if kind not in kinds:
                problems.append(f"job template {name}: no credential type {kind}")
        require(f"job template {name}", template, set(survey))

    for kind in objects["credential_types"]:
        problems.extend(_injector_problems(kind, [t for t in templates.values() if kind["name"] in t["credential_types"]]))

    problems.extend(_workflow_problems(objects, templates, require))

    for schedule in objects.get("schedules", []):
        template = templates[schedule["job_template"]]
        survey = dict(survey_fields(objects, template.get("survey")))
        answers = set(schedule.get("survey_answers", {}))
        for variable in sorted(answers - set(survey)):
            problems.append(f"schedule {schedule['name']}: {variable} is not a survey field of {template['name']}")
        defaults = {variable for variable, field in survey.items() if "default" in field}
        require(f"schedule {schedule['name']}", template, answers | defaults)

    read_anywhere = set().union(*(playbook_vars(t["playbook"]).reads for t in templates.values()))
    problems.extend(f"inventory: variable {name} is read by no playbook" for name in sorted(inventory_vars - read_anywhere))
    named = set().union(*(playbook_vars(t["playbook"]).groups - playbook_vars(t["playbook"]).added_groups for t in templates.values()))
    groups = set(objects["inventory"]["groups"])
    problems.extend(f"inventory: no group {group}, which the playbooks name" for group in sorted(named - groups))
    problems.extend(f"inventory: group {group} is named by no playbook" for group in sorted(groups - named))
    return problems


def _injector_problems(kind, users):
    name, injectors = kind["name"], kind["injectors"]
    if not users:
        return [f"credential type {name}: no job template uses it"]
    reads = set().union(*(playbook_vars(t["playbook"]).reads for t in users))
    problems = [f"credential type {name}: injects {variable}, which no playbook of its job templates reads"
                for variable in injectors.get("extra_vars", {}) if variable not in reads]
    problems.extend(f"credential type {name}: injects the environment variable {variable}; the playbooks read none"
                    for variable in injectors.get("env", {}))
    # A file feeds the playbooks only through the variable that names it (tower.filename).
    named = set(re.findall(r"tower\.filename(?:\.(\w+))?", json.dumps(injectors.get("extra_vars", {}))))
    for label in injectors.get("file", {}):
        if label.partition(".")[2] not in named:
            problems.append(f"credential type {name}: the file {label} is named by no injected variable")
    return problems


def _workflow_problems(objects, templates, require):
    workflow = objects["workflow"]
    nodes = {node["identifier"]: node for node in workflow["nodes"]}
    parents = {identifier: set() for identifier in nodes}
    problems = []
    for node in workflow["nodes"]:
        for edge in EDGES:
            for target in node.get(edge, []):
                if target in parents:
                    parents[target].add(node["identifier"])
                else:
                    problems.append(f"workflow node {node['identifier']}: no node {target}")

    def ancestors(identifier, seen=frozenset()):
        found = set()
        for parent in parents[identifier] - seen:
            found |= {parent} | ancestors(parent, seen | {identifier})
        return found

    def returns(identifier):
        node = nodes[identifier]
        return playbook_vars(templates[node["job_template"]]["playbook"]).returns if "job_template" in node else set()

    survey = dict(survey_fields(objects, workflow["survey"]))
    read_by_nodes = set()
    for identifier, node in nodes.items():
        if "job_template" not in node:
            continue
        template = templates[node["job_template"]]
        pb = playbook_vars(template["playbook"])
        read_by_nodes |= _template_reads(template)
        handed = set().union(*(returns(ancestor) for ancestor in ancestors(identifier)))
        takes = set(node.get("takes", []))
        where = f"workflow node {identifier}"
        # Artifacts of earlier nodes reach a job as extra variables, which outrank every other.
        problems.extend(f"{where}: set_stats of an earlier node hands it {name}, which {template['playbook']} sets itself"
                        for name in sorted(handed & pb.sets))
        problems.extend(f"{where}: set_stats of an earlier node hands it {name}, which {template['playbook']} reads, unasked (takes)"
                        for name in sorted((handed & pb.reads) - takes - pb.sets))
        problems.extend(f"{where}: takes {name}, which no earlier node returns" for name in sorted(takes - handed))
        own = dict(survey_fields(objects, template.get("survey")))
        defaults = {variable for variable, field in own.items() if "default" in field}
        require(where, template, set(survey) | defaults | (takes & handed))
    problems.extend(f"workflow {workflow['name']}: survey field {variable} is read by no node's playbook"
                    for variable in survey if variable not in read_by_nodes)
    return problems


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", maxsplit=1)[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 when awx/import.json is stale or a check fails")
    args = parser.parse_args(argv)
    objects = load_objects()
    problems = check(objects)
    for problem in problems:
        print(problem, file=sys.stderr)
    if args.check:
        stale = not IMPORT.exists() or IMPORT.read_text(encoding="utf-8") != render(objects)
        if stale:
            print(f"{IMPORT.relative_to(ROOT)} differs from what {OBJECTS.relative_to(ROOT)} generates", file=sys.stderr)
        return 1 if problems or stale else 0
    if problems:
        return 1
    IMPORT.write_text(render(objects), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
