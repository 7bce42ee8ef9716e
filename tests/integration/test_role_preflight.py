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


# What app_env needs to know in any case: the service and its release.
APP_RELEASE = {"app_env_service_name": "checkout", "app_env_color": "blue", "app_env_release_version": "2.4.1",
               "app_env_artifact": "/srv/releases/checkout-2.4.1.tar.gz", "app_env_artifact_sha256": "0" * 64}


def preflight(tmp_path, role, role_vars):
    playbook = tmp_path / "preflight.yml"
    playbook.write_text(json.dumps([{
        "hosts": "localhost", "connection": "local", "gather_facts": False,
        "tasks": [{"ansible.builtin.include_role": {"name": f"tracegate.bluegreen.{role}", "tasks_from": "preflight"},
                   "vars": role_vars}],
    }]), encoding="utf-8")
    return subprocess.run([ANSIBLE_PLAYBOOK, "-i", "localhost,", str(playbook)], capture_output=True, text=True, check=False,
                          timeout=120)


def nginx_preflight(tmp_path, **role_vars):
    return preflight(tmp_path, "nginx", dict({"nginx_service_name": "checkout", "nginx_servers": SERVERS}, **role_vars))


def test_the_defaults_pass(tmp_path):
    result = nginx_preflight(tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("role_vars, named", [
    ({"haproxy_service_name": "../etc"}, "haproxy_service_name must name the service"),
    ({"haproxy_service_name": "checkout", "haproxy_backend_name": "app;x"}, "haproxy_backend_name the same"),
])
def test_haproxy_refuses_a_bad_name_naming_it(tmp_path, role_vars, named):
    servers = [dict(server, port=8080, address=server["address"].split(":", maxsplit=1)[0]) for server in SERVERS]
    result = preflight(tmp_path, "haproxy", dict({"haproxy_servers": servers}, **role_vars))
    assert result.returncode != 0 and named in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize("role_vars, named", [
    ({"nginx_upstream_name": "server"}, "'server' is an NGINX keyword"),
    ({"nginx_upstream_name": "app;x"}, "invalid upstream name"),
    ({"nginx_fail_timeout": "500ms"}, "fail_timeout=500ms"),
    ({"nginx_fail_timeout": "5s; return 200"}, "fail_timeout=5s;"),
    ({"nginx_max_fails": -1}, "max_fails=-1"),
    ({"nginx_service_name": "../etc"}, "nginx_service_name must name the service"),
])
def test_a_bad_setting_is_refused_naming_it(tmp_path, role_vars, named):
    result = nginx_preflight(tmp_path, **role_vars)
    assert result.returncode != 0 and named in result.stdout, result.stdout + result.stderr


@pytest.mark.parametrize("role_vars", [
    {"app_env_kind": "command", "app_env_command": "bin/goshop"},
    {"app_env_kind": "python", "app_env_wsgi_app": "shop.wsgi:application", "app_env_vars": {"SHOP_MODE": "fast"}},
], ids=["command", "python"])
def test_app_env_accepts_a_service_of_either_kind(tmp_path, role_vars):
    result = preflight(tmp_path, "app_env", dict(APP_RELEASE, **role_vars))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("role_vars, named", [
    # A line break in the command would add directives to the systemd unit.
    ({"app_env_kind": "command", "app_env_command": "bin/goshop\nExecStartPre=/bin/sh -c id"}, "bin/goshop\\nExecStartPre"),
    ({"app_env_kind": "command", "app_env_command": "../../bin/sh"}, "../../bin/sh"),
    ({"app_env_kind": "command", "app_env_command": "/bin/sh"}, "/bin/sh"),
    ({"app_env_kind": "python", "app_env_wsgi_app": "shop.wsgi"}, "shop.wsgi"),
    ({"app_env_kind": "jar"}, "jar"),
    ({"app_env_kind": "python", "app_env_wsgi_app": "a:b", "app_env_vars": {"BLUEGREEN_COLOR": "green"}}, "BLUEGREEN_COLOR"),
    ({"app_env_kind": "python", "app_env_wsgi_app": "a:b", "app_env_vars": {"MODE": "a\nBLUEGREEN_COLOR=green"}},
     "one-line values"),
    ({"app_env_kind": "command", "app_env_command": "bin/goshop", "app_env_version_path": "/version x"}, '"/version x"'),
    ({"app_env_kind": "command", "app_env_command": "bin/goshop", "app_env_version_path": "/v?x=1"}, '"/v?x=1"'),
])
def test_app_env_refuses_a_bad_setting_naming_it(tmp_path, role_vars, named):
    result = preflight(tmp_path, "app_env", dict(APP_RELEASE, **role_vars))
    assert result.returncode != 0 and named in result.stdout, result.stdout + result.stderr
