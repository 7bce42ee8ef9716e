"""docs/troubleshooting.md has an entry for every error message the collection can give.

Where messages come from:
- Python (plugins/modules, plugins/module_utils, plugins/action, plugins/filter), read with ast:
  the `msg` of every `fail_json(...)` call and of every result built with `failed=True`; the
  first argument of every raised exception and of every exception built from a class the
  collection defines (SwitchFailed returned by a revert is raised by its caller); and, where a
  message is a call to one of the collection's functions (`unfit_url(...)`, `refusal(bad)`) or
  a variable assigned from one, the strings that function returns. `str(exc)` adds nothing:
  its text is listed where the exception is raised.
- YAML (playbooks/**/*.yml, roles/*/tasks/*.yml): the `msg` of `ansible.builtin.fail` and the
  `fail_msg` of `ansible.builtin.assert`; one without is reported, since Ansible's "Assertion
  failed" or "Failed as requested from task" tells an operator nothing.

A message is its fixed text cut at the variable parts (f-string fields, `.format` and `%`
fields, concatenated non-strings, Jinja `{{ }}`/`{% %}`, whose quoted strings with a space
count as fixed text). The rule: the longest fixed fragment must appear verbatim in the page,
white space folded in both. A message whose longest fragment is shorter than MIN_FRAGMENT
characters only frames another message (`f"{name}: {exc}"`) and is not checked.
"""

import ast
import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[3]
PAGE = ROOT / "docs" / "troubleshooting.md"
MIN_FRAGMENT = 12
PYTHON_SOURCES = ("plugins/modules/*.py", "plugins/module_utils/**/*.py", "plugins/action/*.py", "plugins/filter/*.py")
YAML_SOURCES = ("playbooks/**/*.yml", "roles/*/tasks/*.yml")
# Functions whose result reaches the user by a path the reading above does not follow (a
# field of a result) and that build it from parts held in variables: their returned and
# assigned strings are messages.
MESSAGE_PARTS = {
    "failure": "migrations.py: db_migration fails with the failed migration's reason",
    "live_traffic": "traffic.py: cutover.yml and rollback.yml fail with its problem",
}
MESSAGE_FIELDS = {f"{prefix}{action}": field for prefix in ("", "ansible.builtin.", "ansible.legacy.")
                  for action, field in (("fail", "msg"), ("assert", "fail_msg"))}
PLACEHOLDER = "\0"


def fixed_text(node, assignments):
    """The message `node` builds, its variable parts replaced by PLACEHOLDER; None when it
    holds no text of its own (`str(exc)`, a call)."""
    if isinstance(node, ast.Name) and node.id in assignments:
        return fixed_text(assignments[node.id], assignments)
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(part.value if isinstance(part, ast.Constant) else PLACEHOLDER for part in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        parts = [fixed_text(side, assignments) for side in (node.left, node.right)]
        if parts == [None, None]:
            return None
        return "".join(PLACEHOLDER if part is None else part for part in parts)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        text = fixed_text(node.left, assignments)
        return None if text is None else re.sub(r"%[-#0 +]*[0-9.]*[sdrfgx]", PLACEHOLDER, text)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
        text = fixed_text(node.func.value, assignments)
        return None if text is None else re.sub(r"\{[^{}]*\}", PLACEHOLDER, text)
    return None


def message_functions(node, assignments):
    """Names of the functions whose result is the message or a part of it (`refusal(bad)`,
    `"lb_" + unfit_url(urls)`, `f"{exc}; {self._restore(text)}"`, a variable assigned from such a call)."""
    if isinstance(node, ast.Name) and node.id in assignments:
        yield from message_functions(assignments[node.id], assignments)
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        yield from message_functions(node.left, assignments)
        yield from message_functions(node.right, assignments)
    elif isinstance(node, ast.JoinedStr):
        for part in node.values:
            if isinstance(part, ast.FormattedValue) and isinstance(part.value, ast.Call):
                yield from message_functions(part.value, assignments)
    elif isinstance(node, ast.Call) and called_name(node):
        yield called_name(node)


def called_name(call):
    """`f` of `f(...)` and of `module.f(...)`."""
    return call.func.attr if isinstance(call.func, ast.Attribute) else getattr(call.func, "id", None)


def keyword(call, name):
    return next((item.value for item in call.keywords if item.arg == name), None)


def is_failed_result(node):
    """dict(..., failed=True, msg=...) or {"failed": True, "msg": ...}: an action plugin's failure."""
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "dict":
        failed = keyword(node, "failed")
        return isinstance(failed, ast.Constant) and failed.value is True, keyword(node, "msg")
    if isinstance(node, ast.Dict):
        pairs = {key.value: value for key, value in zip(node.keys, node.values) if isinstance(key, ast.Constant)}
        failed = pairs.get("failed")
        return isinstance(failed, ast.Constant) and failed.value is True, pairs.get("msg")
    return False, None


class PythonSource:
    """The message expressions of one file, and the functions it defines."""

    def __init__(self, path):
        self.path = path
        self.tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        # Only names assigned once in the file: a message variable is followed to its one value.
        assigned = [(target.id, node.value) for node in ast.walk(self.tree) if isinstance(node, ast.Assign)
                    for target in node.targets if isinstance(target, ast.Name)]
        names = [name for name, _value in assigned]
        self.assignments = {name: value for name, value in assigned if names.count(name) == 1}

    def messages(self, exception_classes):
        """(line, message expression) of every place a message is handed to the user."""
        # A raised call of a name: a class, or a parameter holding one (lb_input's `error`); a
        # raised `self._revert(...)` builds its exception inside, where it is found.
        raised = {id(node.exc) for node in ast.walk(self.tree) if isinstance(node, ast.Raise)
                  and isinstance(node.exc, ast.Call) and isinstance(node.exc.func, ast.Name)}
        for node in ast.walk(self.tree):
            if isinstance(node, ast.Call):
                if called_name(node) == "fail_json" and (keyword(node, "msg") or node.args):
                    yield node.lineno, keyword(node, "msg") or node.args[0]
                elif (called_name(node) in exception_classes or id(node) in raised) and node.args:
                    yield node.lineno, node.args[0]
            failed, msg = is_failed_result(node)
            if failed and msg is not None:
                yield node.lineno, msg

    def returned_texts(self):
        """{function name: [(line, text)]} of the strings each function of this file returns,
        and of those it assigns when MESSAGE_PARTS names it."""
        texts = {}
        for function in ast.walk(self.tree):
            if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for node in ast.walk(function):
                    if isinstance(node, ast.Return) or (isinstance(node, ast.Assign) and function.name in MESSAGE_PARTS):
                        text = None if node.value is None else fixed_text(node.value, self.assignments)
                        if text is not None:
                            texts.setdefault(function.name, []).append((node.lineno, text))
        return texts


def exception_classes_in(trees):
    """Classes defined in the collection whose bases are exceptions, transitively."""
    known = {"Exception", "ValueError", "OSError", "AnsibleActionFail", "AnsibleFilterError", "AnsibleError"}
    classes = [node for tree in trees for node in ast.walk(tree) if isinstance(node, ast.ClassDef)]
    grown = True
    while grown:
        grown = False
        for node in classes:
            bases = {base.attr if isinstance(base, ast.Attribute) else getattr(base, "id", None) for base in node.bases}
            if node.name not in known and bases & known:
                known.add(node.name)
                grown = True
    return known


def python_messages(paths):
    """(file, line, fixed text) of every message of the Python files `paths`."""
    sources = [PythonSource(path) for path in paths]
    exceptions = exception_classes_in([source.tree for source in sources])
    returned = {}
    for source in sources:
        for name, texts in source.returned_texts().items():
            returned.setdefault(name, []).extend((source.path, line, text) for line, text in texts)
    found = {item for name in MESSAGE_PARTS for item in returned.get(name, [])}
    for source in sources:
        for line, node in source.messages(exceptions):
            text = fixed_text(node, source.assignments)
            if text is not None:
                found.add((source.path, line, text))
            for name in message_functions(node, source.assignments):
                if name not in exceptions:
                    found.update(returned.get(name, []))
    return sorted(found, key=lambda item: (str(item[0]), item[1]))


def jinja_fixed_text(template):
    """The template's text outside Jinja's {{ }}, {% %} and {# #}, plus the quoted strings inside
    them that hold a space: text (`default('no verdict')`), not names (`attribute='msg'`)."""
    pieces = []
    for index, part in enumerate(re.split(r"(\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\})", template, flags=re.DOTALL)):
        if index % 2:
            quoted = (single or double for single, double in re.findall(r"'([^']*)'|\"([^\"]*)\"", part))
            pieces.extend(text for text in quoted if " " in text)
        else:
            pieces.append(part)
    return PLACEHOLDER.join(pieces)


def mappings_in(node):
    """Every mapping of a YAML document: tasks wherever they stand (blocks, rescue, handlers)."""
    if isinstance(node, dict):
        yield node
        for value in node.values():
            yield from mappings_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from mappings_in(item)


def yaml_messages(paths):
    """(file, task name, fixed text or None) of every fail and assert; None: no message given."""
    found = []
    for path in paths:
        for task in mappings_in(yaml.safe_load(path.read_text(encoding="utf-8"))):
            for action, field in MESSAGE_FIELDS.items():
                if action in task:
                    message = task[action].get(field) if isinstance(task[action], dict) else None
                    found.append((path, task.get("name"), None if message is None else jinja_fixed_text(str(message))))
    return found


def longest_fragment(text):
    """The longest fixed part of a message, its white space runs folded to one space."""
    return max((" ".join(part.split()) for part in text.split(PLACEHOLDER)), key=len)


def missing_from(page, messages):
    """What the page lacks: "file:where: fragment" for each message whose longest fragment it does not hold."""
    page = " ".join(page.split())
    missing = []
    for path, where, text in messages:
        fragment = longest_fragment(text)
        if len(fragment) >= MIN_FRAGMENT and fragment not in page:
            missing.append(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}:{where}: {fragment!r}")
    return missing


def sources(patterns):
    return sorted({path for pattern in patterns for path in ROOT.glob(pattern)})


def test_every_python_message_has_an_entry():
    messages = python_messages(sources(PYTHON_SOURCES))
    assert len(messages) > 300
    missing = missing_from(PAGE.read_text(encoding="utf-8"), messages)
    assert not missing, "messages without an entry in docs/troubleshooting.md:\n" + "\n".join(missing)


def test_every_playbook_message_has_an_entry():
    messages = yaml_messages(sources(YAML_SOURCES))
    assert len(messages) > 40
    unexplained = [f"{path.relative_to(ROOT)}: {name!r}" for path, name, text in messages if text is None]
    assert not unexplained, "fail and assert tasks without a message of their own:\n" + "\n".join(unexplained)
    missing = missing_from(PAGE.read_text(encoding="utf-8"), messages)
    assert not missing, "messages without an entry in docs/troubleshooting.md:\n" + "\n".join(missing)


def test_a_new_module_message_is_found_and_reported_missing(tmp_path):
    sample = tmp_path / "sample_module.py"
    sample.write_text(
        "class SampleError(ValueError):\n    pass\n\n\n"
        "def main(module, port):\n"
        "    if port > 65535:\n"
        "        module.fail_json(msg=f'port: {port} is beyond the last port there is')\n"
        "    raise SampleError('the sample service has no listener; start it first')\n"
        "    module.fail_json('positional: the message of an older style of call')\n",
        encoding="utf-8")
    missing = missing_from("# Troubleshooting\n", python_messages([sample]))
    assert missing == [f"{sample}:7: 'is beyond the last port there is'",
                       f"{sample}:8: 'the sample service has no listener; start it first'",
                       f"{sample}:9: 'positional: the message of an older style of call'"]
    assert not missing_from("`port: {port} is beyond the last port there is`\n"
                            "the sample service has no listener; start it\n  first\n"
                            "positional: the message of an older style of call", python_messages([sample]))


def test_a_new_playbook_message_is_found_and_reported_missing(tmp_path):
    sample = tmp_path / "sample.yml"
    sample.write_text(
        "- name: Sample\n  hosts: all\n  tasks:\n"
        "    - name: Refuse\n      ansible.builtin.fail:\n"
        "        msg: \"{{ inventory_hostname }} has no sample color{{ ' (set sample_color)' if true else '' }}\"\n"
        "    - name: Assert without a message\n      ansible.builtin.assert:\n        that: [true]\n"
        "    - name: Fail in the short form\n      fail: msg=stopped\n",
        encoding="utf-8")
    messages = yaml_messages([sample])
    assert [part for part in messages[0][2].split(PLACEHOLDER) if part] == [" has no sample color", " (set sample_color)"]
    assert [text for _path, _name, text in messages[1:]] == [None, None]
    assert missing_from("", messages[:1]) == [f"{sample}:Refuse: 'has no sample color'"]
