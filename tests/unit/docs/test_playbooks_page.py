"""docs/playbooks.md against what the playbooks read (tools/playbook_vars.py).

- every `bluegreen_*` variable a playbook reads and no playbook sets (its inputs) has a row in
  the page's Variables table, and every row names only variables a playbook reads: a setting
  added to a playbook without a row, or a row left behind by a removed one, fails;
- each playbook's section names every variable that playbook requires (its assertions, in the
  strictest case: production, an approval given).
"""

import re
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
PAGE = ROOT / "docs" / "playbooks.md"
sys.path.insert(0, str(ROOT / "tools"))
# pylint: disable=wrong-import-position
from playbook_vars import PlaybookVars  # noqa: E402

PLAYBOOKS = sorted((ROOT / "playbooks").glob("*.yml"))
VARIABLE = re.compile(r"`(bluegreen_\w+)`")


def sections(text):
    """{heading: its text} of the page's level-2 sections."""
    parts = re.split(r"^## (.+)$", text, flags=re.M)
    return dict(zip(parts[1::2], parts[2::2]))


def table_variables(section):
    """The variables named in the first column of the section's table rows."""
    return {name for line in section.splitlines() if line.startswith("| `")
            for name in VARIABLE.findall(line.split("|")[1])}


@pytest.fixture(name="playbooks", scope="module")
def fixture_playbooks():
    return {path.name: PlaybookVars(path) for path in PLAYBOOKS}


@pytest.fixture(name="page", scope="module")
def fixture_page():
    return sections(PAGE.read_text(encoding="utf-8"))


def inputs(playbooks):
    """{variable: [playbooks reading it]} of the bluegreen_* variables read and set by none."""
    set_anywhere = set().union(*(playbook.sets for playbook in playbooks.values()))
    found = {}
    for name, playbook in playbooks.items():
        for variable in playbook.reads - set_anywhere:
            if variable.startswith("bluegreen_"):
                found.setdefault(variable, []).append(name)
    return found


def test_every_variable_the_playbooks_read_has_a_row(playbooks, page):
    read = inputs(playbooks)
    assert len(read) > 50
    rows = table_variables(page["Variables"])
    missing = [f"{variable} (read by {', '.join(sorted(names))})" for variable, names in sorted(read.items())
               if variable not in rows]
    assert not missing, "variables without a row in docs/playbooks.md#variables:\n" + "\n".join(missing)


def test_every_row_names_a_variable_the_playbooks_read(playbooks, page):
    unread = sorted(table_variables(page["Variables"]) - set(inputs(playbooks)))
    assert not unread, f"rows of docs/playbooks.md#variables that no playbook reads: {unread}"


def test_every_playbook_has_a_section_naming_what_it_requires(playbooks, page):
    assert set(playbooks) <= set(page), f"playbooks without a section: {sorted(set(playbooks) - set(page))}"
    unnamed = [f"{name}: {variable}" for name, playbook in sorted(playbooks.items())
               for variable in sorted(playbook.required) if variable.startswith("bluegreen_")
               and variable not in VARIABLE.findall(page[name])]
    assert not unnamed, "required variables not named in their playbook's section:\n" + "\n".join(unnamed)


def test_a_new_setting_without_a_row_is_reported(tmp_path):
    playbook = tmp_path / "sample.yml"
    playbook.write_text("- hosts: localhost\n  tasks:\n    - ansible.builtin.debug:\n"
                        "        msg: \"{{ bluegreen_sample_seconds | default(5) }} {{ bluegreen_given }}\"\n"
                        "    - ansible.builtin.set_fact:\n        bluegreen_given: 1\n", encoding="utf-8")
    read = inputs({"sample.yml": PlaybookVars(playbook)})
    assert read == {"bluegreen_sample_seconds": ["sample.yml"]}
    page = sections("## Variables\n\n| variable | default |\n| --- | --- |\n| `bluegreen_other`, `x` | 1 |\n")
    assert table_variables(page["Variables"]) == {"bluegreen_other"}
