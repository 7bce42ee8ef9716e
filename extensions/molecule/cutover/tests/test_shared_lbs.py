"""A second service on the cutover lab's load balancers, provisioned and cut over from its own
variables (as from its own inventory): the demo app again, named bgdemo-admin, on its own app
port and load-balancer ports. Neither run touches bgdemo: its files on the load balancers,
its lock and state, and the color that serves it stay as they were, under load throughout."""
import hashlib
import json
import os
import sys
from pathlib import Path

import pytest
import testinfra

ROOT = Path(__file__).resolve().parents[4]
sys.path.insert(0, str(ROOT / "tests" / "lab"))

from tour import SCENARIO_TIMING as TIMING  # noqa: E402
from tour import LabLoad, build_release, keypair, run_logged_playbook, served_colors  # noqa: E402

INVENTORY = os.environ["MOLECULE_INVENTORY_FILE"]
LOG_DIR = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/tmp")) / "shared-lb-runs"
APP_HOSTS = ["cut-blue-1", "cut-blue-2", "cut-green-1", "cut-green-2"]
FIRST_URLS = ["http://127.0.0.1:28080", "http://127.0.0.1:28081"]
# molecule.yml publishes the LBs' ports 8091 (HAProxy) and 8092 (NGINX) on these.
SECOND_URLS = ["http://127.0.0.1:28082", "http://127.0.0.1:28083"]
SECOND = "bgdemo-admin"
SECOND_VARS = {
    "bluegreen_service": SECOND,
    "bluegreen_app_port": 8090,
    "app_env_vars": {"BG_DEPENDENCY_URL": "http://127.0.0.1:8090/stock"},
    "haproxy_frontend_port": 8091,
    "nginx_listen_port": 8092,
    # Extra vars reach every host: each load balancer's own URL, from its kind.
    "bluegreen_lb_url": "{{ 'http://127.0.0.1:28082' if lb_kind == 'haproxy' else 'http://127.0.0.1:28083' }}",
}
# What belongs to bgdemo on each load balancer.
FIRST_FILES = {
    "cut-lb-haproxy": ["/etc/haproxy/bluegreen.d/bgdemo.cfg", "/var/lib/tracegate-bluegreen/bgdemo.lock",
                       "/var/lib/tracegate-bluegreen/bgdemo.state.json"],
    # The lock lives on the first load balancer by name only.
    "cut-lb-nginx": ["/etc/nginx/bluegreen/sites/bgdemo.conf", "/etc/nginx/bluegreen/generation/bgdemo.conf",
                     "/etc/nginx/bluegreen/upstreams/bluegreen_bgdemo.conf", "/var/lib/tracegate-bluegreen/bgdemo.state.json"],
}


def first_service_files():
    """sha256 of each of bgdemo's files on the load balancers (None: absent)."""
    seen = {}
    for host, paths in FIRST_FILES.items():
        lb = testinfra.get_host(f"podman://{host}")
        for path in paths:
            found = lb.file(path)
            seen[f"{host}:{path}"] = hashlib.sha256(found.content).hexdigest() if found.exists else None
    return seen


def live_colors(urls):
    return {url: set(seen["by_color"]) for url, seen in served_colors(urls, 30).items()}


@pytest.fixture(scope="module")
def second_service(tmp_path_factory):
    """bgdemo-admin's run variables; its units are stopped afterwards, so that the cases after
    this one meet the app hosts' load they always had."""
    directory = tmp_path_factory.mktemp("shared-audit")
    key = keypair(directory, "signing")
    yield dict(TIMING, **SECOND_VARS, bluegreen_audit_dir=str(directory), bluegreen_audit_signing_key=str(key))
    for host in APP_HOSTS:
        testinfra.get_host(f"podman://{host}").run(f"systemctl disable --now {SECOND}.service")


def test_a_second_service_shares_the_load_balancers_without_touching_the_first(second_service):
    first_live = live_colors(FIRST_URLS)
    assert all(len(colors) == 1 for colors in first_live.values()), first_live
    files_before = first_service_files()

    with LabLoad(FIRST_URLS, rate=20) as first_load:
        code, lines, _seconds = run_logged_playbook("provision", INVENTORY, dict(
            second_service, bluegreen_release=build_release("2.1.0")), LOG_DIR, echo=False)
        assert code == 0, lines
        assert {url: set(seen["by_color"]) for url, seen in served_colors(SECOND_URLS, 30).items()} == \
            dict.fromkeys(SECOND_URLS, {"blue"})

        with LabLoad(SECOND_URLS, rate=20) as second_load:
            code, lines, _seconds = run_logged_playbook("cutover", INVENTORY, dict(
                second_service, bluegreen_release=build_release("2.2.0")), LOG_DIR, echo=False)
        assert code == 0, lines

    assert live_colors(SECOND_URLS) == dict.fromkeys(SECOND_URLS, {"green"})
    assert live_colors(FIRST_URLS) == first_live
    first, second = first_load.totals(), second_load.totals()
    assert first["errors"] == 0 and first["non_2xx"] == 0, first
    assert set(first["by_color"]) == set().union(*first_live.values()), first
    assert second["errors"] == 0 and second["non_2xx"] == 0 and second["by_color"].get("green", 0) > 0, second
    assert first_service_files() == files_before
    for host in FIRST_FILES:
        state = testinfra.get_host(f"podman://{host}").file(f"/var/lib/tracegate-bluegreen/{SECOND}.state.json")
        assert json.loads(state.content_string)["phase"] == "done", (host, state.content_string)
