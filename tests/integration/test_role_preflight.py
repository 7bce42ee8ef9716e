"""The roles' preflight refuses bad settings before any change, run by ansible-playbook on
the controller as a role's first tasks run."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

ANSIBLE_PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")
SERVERS = [{"name": "blue_1", "address": "10.0.0.1:8080", "color": "blue"},
           {"name": "green_1", "address": "10.0.0.2:8080", "color": "green"}]


def nginx_preflight(tmp_path, **role_vars):
    playbook = tmp_path / "preflight.yml"
    playbook.write_text(json.dumps([{
        "hosts": "localhost", "connection": "local", "gather_facts": False,
        "tasks": [{"ansible.builtin.include_role": {"name": "tracegate.bluegreen.nginx", "tasks_from": "preflight"},
                   "vars": dict({"nginx_servers": SERVERS}, **role_vars)}],
    }]), encoding="utf-8")
    return subprocess.run([ANSIBLE_PLAYBOOK, "-i", "localhost,", str(playbook)], capture_output=True, text=True, check=False,
                          timeout=120)


def test_the_defaults_pass(tmp_path):
    result = nginx_preflight(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("role_vars, named", [
    ({"nginx_upstream_name": "server"}, "'server' is an NGINX keyword"),
    ({"nginx_upstream_name": "app;x"}, "invalid upstream name"),
    ({"nginx_fail_timeout": "500ms"}, "fail_timeout=500ms"),
    ({"nginx_fail_timeout": "5s; return 200"}, "fail_timeout=5s;"),
    ({"nginx_max_fails": -1}, "max_fails=-1"),
])
def test_a_bad_setting_is_refused_naming_it(tmp_path, role_vars, named):
    result = nginx_preflight(tmp_path, **role_vars)
    assert result.returncode != 0 and named in result.stdout, result.stdout + result.stderr
