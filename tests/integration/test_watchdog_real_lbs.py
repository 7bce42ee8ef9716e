"""The load balancer's watchdog against a real HAProxy 2.6 and a real NGINX 1.22 on loopback:
an overdue cutover's traffic goes back to where it started, verified by what the load
balancer serves, and its state is marked; a run on time is left alone."""
import importlib.machinery
import importlib.util
import urllib.request
from pathlib import Path

import pytest
from conftest import wait_until
from lb_harness import HAProxyUnderTest, NginxUnderTest, run_module

from ansible_collections.tracegate.bluegreen.plugins.module_utils import deployment_lock, watchdog

SERVERS = ["blue_1", "blue_2", "green_1", "green_2"]
SCRIPT = Path(__file__).resolve().parents[2] / "roles" / "lb_watchdog" / "files" / "bluegreen-watchdog"


def load_script():
    """The watchdog the role installs (a script without a .py name), for its runner and fetch."""
    loader = importlib.machinery.SourceFileLoader("bluegreen_watchdog", str(SCRIPT))
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(loader.name, loader))
    loader.exec_module(module)
    return module


SCRIPT_MODULE = load_script()


def cutover_state(target, deadline):
    """A shifting run's state naming what write_state.yml names: the kind and the backend or upstream."""
    load_balancer = {"kind": target["kind"], target["kind"]: target["state"]}
    return {"run_id": "run-1", "operation": "cutover", "phase": "shifting", "from_color": "blue", "to_color": "green",
            "share": 25, "deadline": deadline, "load_balancer": load_balancer}


def tick(state_dir, now, local):
    lines = []
    watchdog.tick(str(state_dir), "lb-1", now, "2026-11-30T12:00:00Z", SCRIPT_MODULE.run_command, SCRIPT_MODULE.fetch,
                  lines.append, local=local)
    return lines


def only_blue_soon(port):
    """HAProxy moves weights at once. After an NGINX reload the old workers may still accept a
    few new connections until they handle their QUIT, after the new generation already
    answers: only blue within a few seconds is the guarantee."""
    return wait_until(lambda: answered_by(port) == {"blue"}, 5, "only blue answering")


def answered_by(port, count=40):
    names = set()
    for unused_request in range(count):
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            names.add(response.headers["X-Server"].split("_")[0])
    return names


@pytest.fixture
def haproxy(tmp_path):
    lb = HAProxyUnderTest(tmp_path, SERVERS).start()
    yield lb
    lb.stop()


@pytest.fixture
def nginx(tmp_path):
    lb = NginxUnderTest(tmp_path, SERVERS)
    run_module("nginx_upstream", lb.module_args(servers=lb.servers_arg(), weights={"blue": 100, "green": 0}, reload=False))
    yield lb.start()
    lb.stop()


def haproxy_target(lb):
    """What the state names of this HAProxy, and the watchdog's own settings for it."""
    return {"kind": "haproxy", "state": {"socket": lb.socket, "backend": "app"},
            "local": {"haproxy": {"state_file": lb.state_file}}}


def nginx_target(lb):
    args = lb.module_args()
    return {"kind": "nginx", "state": {"upstream": args["upstream"]}, "local": {"nginx": {key: args[key] for key in (
        "path", "conf_path", "nginx_binary", "reload_command", "generation_url", "reload_timeout")}}}


def split_to_quarter(kind, lb):
    if kind == "haproxy":
        result = run_module("haproxy_backend", {"socket": lb.socket, "backends": ["app"], "state_file": lb.state_file,
                                                "weights": {"blue": 75, "green": 25}})
    else:
        result = run_module("nginx_upstream", lb.module_args(weights={"blue": 75, "green": 25}))
    assert result["changed"] is True, result
    assert answered_by(lb.port) == {"blue", "green"}


@pytest.mark.parametrize("kind", ["haproxy", "nginx"])
def test_an_overdue_cutover_is_returned_to_its_from_color(kind, request, tmp_path):
    lb = request.getfixturevalue(kind)
    target = haproxy_target(lb) if kind == "haproxy" else nginx_target(lb)
    split_to_quarter(kind, lb)
    state_dir = tmp_path / "state"
    path = deployment_lock.state_path(str(state_dir), "checkout")
    deployment_lock.write_state(path, cutover_state(target, deadline=1000.0))

    assert tick(state_dir, 999.0, target["local"]) == []
    assert answered_by(lb.port) == {"blue", "green"}, "a run on time is left alone"

    lines = tick(state_dir, 1001.0, target["local"])
    assert len(lines) == 1 and "all traffic returned to blue" in lines[0], lines
    assert only_blue_soon(lb.port)
    state = deployment_lock.read_state(path)
    assert state["phase"] == watchdog.RESTORED_PHASE and state["watchdog"]["split_after"]["green"] == 0, state
    assert tick(state_dir, 1010.0, target["local"]) == [], "acted once"


def test_an_nginx_that_rejects_the_restore_keeps_its_split_and_the_state_waits(nginx, tmp_path):
    target = nginx_target(nginx)
    split_to_quarter("nginx", nginx)
    state_dir = tmp_path / "state"
    path = deployment_lock.state_path(str(state_dir), "checkout")
    deployment_lock.write_state(path, cutover_state(target, deadline=1000.0))
    # A configuration NGINX refuses: nginx -t fails, nothing is reloaded, nothing half-applied.
    broken = nginx.root / "bluegreen" / "sites" / "broken.conf"
    broken.write_text("server { listen 127.0.0.1:1; bogus_directive on; }\n")
    lines = tick(state_dir, 1001.0, target["local"])
    assert len(lines) == 1 and "could not act, retrying next round" in lines[0], lines
    assert answered_by(nginx.port) == {"blue", "green"}
    assert deployment_lock.read_state(path)["phase"] == "shifting"
    broken.unlink()
    lines = tick(state_dir, 1003.0, target["local"])
    assert "all traffic returned to blue" in lines[0], lines
    assert only_blue_soon(nginx.port)
