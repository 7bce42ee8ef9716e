"""The variables of one of this collection's playbooks, read from its YAML and Jinja without
running it: which it reads, which it sets itself, which its assertions require, which it
returns with set_stats, and which inventory groups it names.

A variable is read when a Jinja expression of the playbook, of a tasks or vars file it
includes, or of a role it includes (tasks, defaults, vars, templates, argument spec) names
it; `when`, `that`, `changed_when`, `failed_when` and `until` are Jinja expressions too.
"""

import warnings
from functools import lru_cache
from pathlib import Path

import jinja2
import jinja2.nodes
import yaml

ROOT = Path(__file__).resolve().parents[1]
NAMESPACE = "tracegate.bluegreen."
BARE_EXPRESSIONS = ("when", "that", "changed_when", "failed_when", "until")
INCLUDES = ("include_tasks", "import_tasks")
ROLE_INCLUDES = ("include_role", "import_role")
# Ansible's own variables, never an input of the user's.
MAGIC = {"ansible_check_mode", "groups", "hostvars", "inventory_hostname", "omit", "item", "play_hosts", "lookup", "query", "q", "now",
         "undef", "range", "dict", "lipsum", "cycler", "joiner", "namespace", "loop"}
JINJA = jinja2.Environment(extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"])


def _short(action):
    """The action's name without ansible.builtin. (tasks name it either way)."""
    return action.rsplit(".", 1)[-1] if action.startswith("ansible.builtin.") else action


def names_in(template, bare=False):
    """(variables read, group names read) by one Jinja string; bare for `when`-like expressions."""
    if not isinstance(template, str) or not (bare or "{{" in template or "{%" in template):
        return frozenset(), frozenset()
    return _names_in(template, bare)


# The same task files are read once for each playbook and each way they are included.
@lru_cache(maxsize=None)
def _names_in(template, bare):
    with warnings.catch_warnings():
        # Jinja decodes string literals with unicode-escape, which warns on a regex's \\s.
        warnings.simplefilter("ignore", DeprecationWarning)
        tree = JINJA.parse("{{ (%s) }}" % template if bare else template)
    stored = {node.name for node in tree.find_all(jinja2.nodes.Name) if node.ctx in ("store", "param")}
    read = {node.name for node in tree.find_all(jinja2.nodes.Name) if node.ctx == "load"} - stored
    groups = set()
    for node in tree.find_all((jinja2.nodes.Getitem, jinja2.nodes.Getattr)):
        key = node.attr if isinstance(node, jinja2.nodes.Getattr) else getattr(node.arg, "value", None)
        target = node.node
        if isinstance(target, jinja2.nodes.Name) and target.name == "groups" and isinstance(key, str):
            groups.add(key)
        # hostvars[host].name and hostvars[host]['name'] read a host's variable `name`.
        if isinstance(target, jinja2.nodes.Getitem) and getattr(target.node, "name", None) == "hostvars" and isinstance(key, str):
            read.add(key)
    # map('extract', hostvars, 'name') reads each listed host's variable `name`.
    for node in tree.find_all(jinja2.nodes.Filter):
        args = node.args
        if (node.name == "map" and len(args) == 3 and getattr(args[0], "value", None) == "extract"
                and getattr(args[1], "name", None) == "hostvars" and isinstance(getattr(args[2], "value", None), str)):
            read.add(args[2].value)
    return frozenset(read), frozenset(groups)


@lru_cache(maxsize=None)
def _load(path):
    return yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}


class PlaybookVars:
    """What one playbook reads, sets, requires and returns (see the module's docstring).

    operation: the constant variables its includes pass (bluegreen_operation: cutover) decide
    the `when` of an assertion that names only them; any other condition counts as met, so
    that `required` is the strictest case (production, an approval given)."""

    def __init__(self, playbook):
        self.path = Path(playbook)
        self.reads, self.sets, self.required, self.returns = set(), set(), set(), set()
        self.groups, self.added_groups = set(), set()
        self._seen = set()
        for play in _load(self.path):
            self._play(play)
        self.required -= self.sets | MAGIC

    def _read(self, value, bare=False):
        if isinstance(value, dict):
            for key, item in value.items():
                self._read(key)
                self._read(item, bare or key in BARE_EXPRESSIONS)
        elif isinstance(value, list):
            for item in value:
                self._read(item, bare)
        else:
            read, groups = names_in(value, bare)
            self.reads |= read
            self.groups |= groups

    def _play(self, play):
        for pattern in str(play.get("hosts", "")).replace(",", ":").split(":"):
            if pattern.strip() and pattern.strip() not in ("localhost", "all"):
                self.groups.add(pattern.strip().lstrip("!&"))
        self._vars(play.get("vars"))
        for vars_file in play.get("vars_files") or []:
            self._vars(_load(self.path.parent / vars_file))
        self._read(play.get("module_defaults"))
        for section in ("pre_tasks", "tasks", "post_tasks", "handlers"):
            self._tasks(play.get(section), self.path.parent, {})

    def _vars(self, variables):
        if variables:
            self.sets |= set(variables)
            self._read(variables)

    def _tasks(self, tasks, base, constants, conditions=()):
        for task in tasks or []:
            self._task(task, base, constants, conditions + tuple(_as_list(task.get("when"))))

    def _task(self, task, base, constants, conditions):
        task_vars = task.get("vars") or {}
        self._vars(task_vars)
        constants = {**constants, **{k: v for k, v in task_vars.items() if isinstance(v, (str, int, bool)) and not names_in(v)[0]}}
        self._read({key: value for key, value in task.items() if key not in ("vars", "block", "rescue", "always")})
        self.sets |= {name for name in (task.get("register"), (task.get("loop_control") or {}).get("loop_var")) if name}
        if "block" in task:
            for section in ("block", "rescue", "always"):
                self._tasks(task.get(section), base, constants, conditions)
            return
        handler = next((_ACTIONS[_short(key)] for key in task if _short(key) in _ACTIONS), None)
        if handler:
            handler(self, task[next(key for key in task if _short(key) in _ACTIONS)], base, constants, conditions)

    def _include(self, args, base, constants, conditions):
        target = args.get("file") if isinstance(args, dict) else args
        if names_in(target)[0]:
            return  # the user's own file (bluegreen_deploy_hook): its expression was read above
        path = base / target if (base / target).exists() else self.path.parent / target
        self._tasks_file(path, constants, conditions)

    def _tasks_file(self, path, constants, conditions):
        key = (path, tuple(sorted(constants.items())), conditions)
        if key in self._seen:
            return
        self._seen.add(key)
        self._tasks(_load(path), path.parent, constants, conditions)

    def _role(self, args, _base, constants, conditions):
        role = ROOT / "roles" / args["name"].removeprefix(NAMESPACE)
        self._tasks_file(role / "tasks" / f"{args.get('tasks_from', 'main')}.yml", constants, conditions)
        if ("role", role) in self._seen:
            return
        self._seen.add(("role", role))
        for part in ("defaults", "vars"):
            for path in sorted((role / part).glob("*.yml")):
                self._read(_load(path))
        for path in sorted((role / "templates").rglob("*.j2")):
            self._read(path.read_text(encoding="utf-8"))
        for spec in _load(role / "meta" / "argument_specs.yml").get("argument_specs", {}).values():
            self.reads |= set(spec.get("options") or {})

    def _set_fact(self, args, *_):
        self.sets |= set(args) - {"cacheable"}

    def _set_stats(self, args, *_):
        self.returns |= set(args.get("data") or {})

    def _add_host(self, args, *_):
        self.added_groups |= set(_as_list(args.get("groups")))

    def _assert(self, args, base, constants, conditions):
        # A role's own assertions check its settings, which the inventory gives per service.
        if ROOT / "roles" not in base.parents and all(_may_hold(condition, constants) for condition in conditions):
            for expression in _as_list(args.get("that")):
                self.required |= names_in(expression, bare=True)[0]


_ACTIONS = {
    **{name: PlaybookVars._include for name in INCLUDES},
    **{name: PlaybookVars._role for name in ROLE_INCLUDES},
    "set_fact": PlaybookVars._set_fact,
    "set_stats": PlaybookVars._set_stats,
    "add_host": PlaybookVars._add_host,
    "assert": PlaybookVars._assert,
}


def _as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _may_hold(condition, constants):
    """False only when the condition names nothing but the constants and is false with them."""
    if not isinstance(condition, str):
        return bool(condition)
    read = names_in(condition, bare=True)[0]
    if not read or not read <= set(constants):
        return True
    try:
        return bool(JINJA.compile_expression(condition)(**constants))
    except jinja2.TemplateError:  # an Ansible filter or test: not decided here
        return True
