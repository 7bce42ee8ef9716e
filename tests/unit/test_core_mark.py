"""The `ansible_core` mark (tests/unit/conftest.py), by which make matrix picks the unit tests
that run under every older ansible-core: a test file is marked through any chain of imports."""
import ast

import pytest
from conftest import ROOT, imported_names, exercises_ansible_core


@pytest.mark.parametrize("source, marked", [
    ("import json\n", False),
    ("from ansible.module_utils.basic import AnsibleModule\n", True),
    ("import ansible\n", True),
    ("import ansible_runner\n", False),
    # plugins/module_utils/http_answer.py imports ansible.module_utils.urls.
    ("from ansible_collections.tracegate.bluegreen.plugins.module_utils import http_answer\n", True),
    ("from ansible_collections.tracegate.bluegreen.plugins.module_utils.http_answer import open_url\n", True),
    # probe.py imports .traces.userinfo and .traces.model relatively; neither reaches ansible-core.
    ("from ansible_collections.tracegate.bluegreen.plugins.module_utils import probe\n", False),
    ("def f():\n    from ansible_collections.tracegate.bluegreen.plugins.modules import trace_probe\n", True),
    ("COMMAND = ['ansible-playbook', 'site.yml']\n", True),
])
def test_a_file_is_marked_when_it_reaches_ansible_core(tmp_path, source, marked):
    test_file = tmp_path / "test_example.py"
    test_file.write_text(source, encoding="utf-8")
    assert exercises_ansible_core(test_file) is marked


def test_a_relative_import_in_the_collection_is_followed():
    # probe.py: `from .traces.userinfo import without_userinfo`.
    probe = ROOT / "plugins" / "module_utils" / "probe.py"
    names = set(imported_names(ast.parse(probe.read_text(encoding="utf-8")), probe))
    assert "ansible_collections.tracegate.bluegreen.plugins.module_utils.traces.userinfo" in names
    assert exercises_ansible_core(ROOT / "plugins" / "modules" / "trace_probe.py") is True
