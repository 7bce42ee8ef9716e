"""What provision.yml must leave behind, checked right after the converge and before any
cutover (conftest.py runs this file first): units active, both colors healthy, all traffic
on blue through each load balancer's loopback port, one artifact checksum on every app host."""
import json
import urllib.request

import pytest
import testinfra

APP_HOSTS = {"cut-blue-1": "blue", "cut-blue-2": "blue", "cut-green-1": "green", "cut-green-2": "green"}
LOAD_BALANCERS = {"cut-lb-haproxy": ("haproxy", 28080), "cut-lb-nginx": ("nginx", 28081)}


def host(name):
    return testinfra.get_host(f"podman://{name}")


@pytest.mark.parametrize("name, color", APP_HOSTS.items())
def test_app_unit_active_and_healthy_with_its_color(name, color):
    h = host(name)
    assert h.service("bgdemo").is_running
    assert h.service("bgdemo").is_enabled
    assert h.check_output("curl -fsS http://127.0.0.1:8080/healthz") == "ok"
    version = json.loads(h.check_output("curl -fsS http://127.0.0.1:8080/version"))
    assert version["color"] == color
    assert version["version"] == "1.0.0"
    assert version["environment"] == "molecule"


def test_artifact_checksums_equal_on_all_app_hosts():
    sums = {name: host(name).check_output("sha256sum /opt/bgdemo/artifacts/bgdemo-1.0.0.tar.gz").split()[0] for name in APP_HOSTS}
    assert len(set(sums.values())) == 1, sums


def test_env_files_differ_only_by_color():
    def env_of(name):
        return sorted(line for line in host(name).file("/etc/bgdemo/app.env").content_string.splitlines() if not line.startswith("#"))

    blue, green = env_of("cut-blue-1"), env_of("cut-green-1")
    assert [line for line in blue if line not in green] == ["BLUEGREEN_COLOR=blue"]
    assert [line for line in green if line not in blue] == ["BLUEGREEN_COLOR=green"]


@pytest.mark.parametrize("name, kind_port", LOAD_BALANCERS.items())
def test_load_balancer_unit_active(name, kind_port):
    assert host(name).service(kind_port[0]).is_running


def test_haproxy_stats_socket_is_admin_only():
    socket = host("cut-lb-haproxy").file("/run/haproxy/admin.sock")
    assert socket.is_socket
    assert socket.mode == 0o600


@pytest.mark.parametrize("name, kind_port", LOAD_BALANCERS.items())
def test_all_traffic_through_the_loopback_port_is_answered_by_blue(name, kind_port):
    def answering_color():
        with urllib.request.urlopen(f"http://127.0.0.1:{kind_port[1]}/api/quote", timeout=5) as response:
            assert response.status == 200
            return response.headers["X-App-Color"]

    assert {answering_color() for request_number in range(20)} == {"blue"}


@pytest.mark.parametrize("name, kind_port", LOAD_BALANCERS.items())
def test_preview_route_reaches_green(name, kind_port):
    request = urllib.request.Request(f"http://127.0.0.1:{kind_port[1]}/api/quote", headers={"X-Bluegreen-Preview": "green"})
    with urllib.request.urlopen(request, timeout=5) as response:
        assert response.headers["X-App-Color"] == "green"
