"""Two services on one load balancer: the haproxy and nginx roles' own templates rendered for
each service into a configuration tree, each file written only after the role's own checker
accepted it with the real `haproxy -c` / `nginx -t` together with the other service's files.
A second service never rewrites the first one's files, and a clash (the same port, the same
backend or upstream) is refused naming it, with nothing written."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.tracegate.bluegreen.plugins.module_utils import nginx_upstream

ROOT = Path(__file__).resolve().parents[2]
ANSIBLE_PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")
SERVERS = {"shop": [{"name": "shop-b1", "address": "10.0.0.1", "port": 8080, "color": "blue"},
                    {"name": "shop-g1", "address": "10.0.0.2", "port": 8080, "color": "green"}],
           "billing.api": [{"name": "bill-b1", "address": "10.0.1.1", "port": 9000, "color": "blue"},
                           {"name": "bill-g1", "address": "10.0.1.2", "port": 9000, "color": "green"}]}


def render(tmp_path, role, files, role_vars):
    """The role's templates, in order, each through the role's checker (as its tasks do)."""
    role_dir = ROOT / "roles" / role
    checker = role_dir / "files" / f"bluegreen-{role}-check"
    tasks = [{"name": f"render {target}", "ansible.builtin.template": {
        "src": str(role_dir / "templates" / template), "dest": str(role_vars["_root"] / target), "mode": "0644",
        "validate": f"sh {checker} %s {target} {role_vars['_root']}"}} for template, target in files]
    playbook = tmp_path / f"{role}-{role_vars['_service']}.yml"
    playbook.write_text(json.dumps([{
        "hosts": "localhost", "connection": "local", "gather_facts": False,
        "vars_files": [str(role_dir / "defaults" / "main.yml")], "tasks": tasks}]), encoding="utf-8")
    # Extra vars: above the role defaults, as inventory variables are above them in a real run.
    extra_vars = tmp_path / f"{role}-{role_vars['_service']}.json"
    extra_vars.write_text(json.dumps(dict({key: (str(value) if isinstance(value, Path) else value)
                                           for key, value in role_vars.items()}, ansible_python_interpreter=sys.executable)),
                          encoding="utf-8")
    result = subprocess.run([ANSIBLE_PLAYBOOK, "-i", "localhost,", "-e", f"@{extra_vars}", str(playbook)], capture_output=True,
                            text=True, check=False, timeout=120)
    return result.returncode, result.stdout + result.stderr


def snapshot(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture
def haproxy_root(tmp_path):
    root = tmp_path / "haproxy"
    (root / "bluegreen.d").mkdir(parents=True)
    # A first install: the package's haproxy.cfg (global and defaults, no listener) is in place.
    (root / "haproxy.cfg").write_text("global\n    log stdout format raw local0\ndefaults\n    mode http\n"
                                      "    timeout connect 5s\n    timeout client 30s\n    timeout server 30s\n")
    return root


def provision_haproxy(tmp_path, root, service, **extra):
    files = [("service.cfg.j2", f"bluegreen.d/{service}.cfg"), ("haproxy.cfg.j2", "haproxy.cfg")]
    return render(tmp_path, "haproxy", files, dict({"_root": root, "_service": service, "haproxy_service_name": service,
                                                    "haproxy_servers": SERVERS[service]}, **extra))


@pytest.fixture
def nginx_root(tmp_path):
    root = tmp_path / "nginx"
    for part in ("upstreams", "sites", "generation"):
        (root / "bluegreen" / part).mkdir(parents=True)
    shutil.copy("/etc/nginx/mime.types", root / "mime.types")
    (root / "nginx.conf").write_text("events {}\nhttp {}\n")
    return root


def provision_nginx(tmp_path, root, service, **extra):
    """The role's order: the shared nginx.conf, the service's site, the upstream include (written
    once, by nginx_upstream's own renderer), the generation location."""
    role_vars = dict({"_root": root, "_service": service, "nginx_service_name": service, "nginx_servers": SERVERS[service],
                      "_nginx_resolvers": ["127.0.0.1"]}, **extra)
    code, out = render(tmp_path, "nginx", [("nginx.conf.j2", "nginx.conf"), ("site.conf.j2", f"bluegreen/sites/{service}.conf")],
                       role_vars)
    if code:
        return code, out
    upstream = extra.get("nginx_upstream_name") or nginx_upstream.upstream_name_for(service)
    include = root / "bluegreen" / "upstreams" / f"{upstream}.conf"
    if not include.exists():
        servers = [nginx_upstream.UpstreamServer(f"{s['address']}:{s['port']}", s["color"], 100 if s["color"] == "blue" else 0)
                   for s in SERVERS[service]]
        include.write_text(nginx_upstream.render(upstream, servers)[0])
    code, more = render(tmp_path, "nginx", [("generation.conf.j2", f"bluegreen/generation/{service}.conf")], role_vars)
    return code, out + more


def test_two_services_share_haproxy_each_in_its_own_file(tmp_path, haproxy_root):
    code, out = provision_haproxy(tmp_path, haproxy_root, "shop", haproxy_frontend_port=8081)
    assert code == 0, out
    shop = (haproxy_root / "bluegreen.d" / "shop.cfg").read_text()
    code, out = provision_haproxy(tmp_path, haproxy_root, "billing.api", haproxy_frontend_port=8082)
    assert code == 0, out
    assert (haproxy_root / "bluegreen.d" / "shop.cfg").read_text() == shop
    billing = (haproxy_root / "bluegreen.d" / "billing.api.cfg").read_text()
    assert "backend billing.api\n" in billing and "bind :8082" in billing and "server blue_bill-b1 10.0.1.1:9000" in billing
    shared = (haproxy_root / "haproxy.cfg").read_text()
    assert "\nbackend " not in shared and "\nfrontend " not in shared
    check = subprocess.run(["haproxy", "-c", "-f", str(haproxy_root / "haproxy.cfg"), "-f", str(haproxy_root / "bluegreen.d")],
                           capture_output=True, text=True, check=False)
    assert check.returncode == 0, check.stdout + check.stderr
    code, out = provision_haproxy(tmp_path, haproxy_root, "shop", haproxy_frontend_port=8081)
    assert code == 0 and "changed=0" in out, out


@pytest.mark.parametrize("clash, named", [
    ({"haproxy_frontend_port": 8081}, "more than one service's frontend binds :8081"),
    ({"haproxy_frontend_port": 8082, "haproxy_backend_name": "shop"}, "shop"),
], ids=["same port", "same backend"])
def test_a_second_service_that_clashes_is_refused_and_nothing_is_written(tmp_path, haproxy_root, clash, named):
    assert provision_haproxy(tmp_path, haproxy_root, "shop", haproxy_frontend_port=8081)[0] == 0
    before = snapshot(haproxy_root)
    code, out = provision_haproxy(tmp_path, haproxy_root, "billing.api", **clash)
    assert code != 0 and named in out, out
    assert snapshot(haproxy_root) == before


def test_two_services_share_nginx_each_in_its_own_files(tmp_path, nginx_root):
    code, out = provision_nginx(tmp_path, nginx_root, "shop", nginx_listen_port=8081)
    assert code == 0, out
    shop = snapshot(nginx_root)
    code, out = provision_nginx(tmp_path, nginx_root, "billing.api", nginx_listen_port=8082)
    assert code == 0, out
    after = snapshot(nginx_root)
    assert {name: text for name, text in after.items() if name in shop and name != "nginx.conf"} == \
        {name: text for name, text in shop.items() if name != "nginx.conf"}
    site = after["bluegreen/sites/billing.api.conf"].decode()
    assert "listen 8082 default_server;" in site and "proxy_pass http://$bluegreen_upstream_bluegreen_billing_api;" in site
    assert b"/.bluegreen/generation/bluegreen_billing_api" in after["bluegreen/generation/billing.api.conf"]
    assert b"listen 127.0.0.1:18079;" in after["nginx.conf"]
    code, out = provision_nginx(tmp_path, nginx_root, "shop", nginx_listen_port=8081)
    assert code == 0 and "changed=0" in out, out


@pytest.mark.parametrize("clash, named", [
    ({"nginx_listen_port": 8081}, "duplicate default server"),
    ({"nginx_listen_port": 8082, "nginx_upstream_name": "bluegreen_shop"}, "site routes through upstream bluegreen_shop"),
], ids=["same port", "same upstream"])
def test_a_second_nginx_service_that_clashes_is_refused_and_nothing_is_written(tmp_path, nginx_root, clash, named):
    assert provision_nginx(tmp_path, nginx_root, "shop", nginx_listen_port=8081)[0] == 0
    before = snapshot(nginx_root)
    code, out = provision_nginx(tmp_path, nginx_root, "billing.api", **clash)
    assert code != 0 and named in out, out
    assert snapshot(nginx_root) == before
