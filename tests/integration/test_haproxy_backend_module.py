"""haproxy_backend against a real HAProxy 2.6 on loopback."""
import socket
import time
import urllib.request

import pytest
from lb_harness import HAProxyUnderTest, SocketRelay, run_module
from trickling_peer import TricklingPeer

from ansible_collections.tracegate.bluegreen.plugins.module_utils import haproxy_runtime as hr

SERVERS = ["blue_1", "blue_2", "green_1", "green_2"]
READY, MAINT, DRAIN = 0, 1, 8


@pytest.fixture
def haproxy(tmp_path):
    lb = HAProxyUnderTest(tmp_path, SERVERS).start()
    yield lb
    lb.stop()


def module_args(haproxy, **kwargs):
    return {"socket": haproxy.socket, "backend": "app", "state_file": haproxy.state_file, **kwargs}


def test_check_apply_check_apply_is_idempotent_and_traffic_moves(haproxy):
    args = module_args(haproxy, weights={"blue": 75, "green": 25})
    predicted = run_module("haproxy_backend", args, check=True, diff=True)
    assert predicted["changed"] is True
    assert haproxy.servers()["green_1"] == (0, READY)  # check mode sent nothing
    assert predicted["diff"]["after"]["app/green_1"] == {"weight": 25, "state": "ready"}

    applied = run_module("haproxy_backend", args)
    assert applied["changed"] is True
    assert applied["split_before"]["app"]["colors"] == {"blue": 100.0, "green": 0.0}
    assert applied["split_after"]["app"]["colors"] == {"blue": 75.0, "green": 25.0}
    assert haproxy.servers() == {"blue_1": (75, READY), "blue_2": (75, READY), "green_1": (25, READY), "green_2": (25, READY)}

    assert run_module("haproxy_backend", args, check=True)["changed"] is False
    assert run_module("haproxy_backend", args)["changed"] is False

    answered = set()
    for request_number in range(40):
        with urllib.request.urlopen(f"http://127.0.0.1:{haproxy.port}/", timeout=5) as response:
            answered.add(response.headers["X-Server"])
    assert answered == set(SERVERS)


def test_states_applied_and_persisted_to_the_state_file(haproxy):
    result = run_module("haproxy_backend", module_args(haproxy, weights={"green": 100}, states={"blue": "drain"}))
    assert result["changed"] is True
    assert haproxy.servers()["blue_1"] == (100, DRAIN)
    assert haproxy.servers()["green_2"] == (100, READY)
    assert result["split_after"]["app"]["colors"] == {"blue": 0.0, "green": 100.0}
    state = open(haproxy.state_file, encoding="utf-8").read()
    assert state.startswith("1\n# be_id") and " green_2 " in state


def test_leaving_maintenance_waits_for_a_passed_check(haproxy):
    run_module("haproxy_backend", module_args(haproxy, server_states={"green_1": "maint"}))
    assert haproxy.servers()["green_1"][1] == MAINT
    result = run_module("haproxy_backend", module_args(haproxy, server_states={"green_1": "ready"}, server_weights={"green_1": 10}))
    assert result["changed"] is True
    # Health only climbs above rise (2) through a passed check, and only a failed one lowers it;
    # the whole predicate would also read a check in progress ("* L7OK") as not passed.
    row = hr.parse_show_stat(haproxy.cli("show stat app 4 -1"))[("app", "green_1")]
    assert row["status"].startswith("UP") and hr.stat_number(row, "check_health") > 2, row


def test_unhealthy_server_leaving_maintenance_is_reverted(haproxy):
    run_module("haproxy_backend", module_args(haproxy, server_states={"green_1": "maint"}))
    haproxy.apps["green_1"].healthy = False
    result = run_module(
        "haproxy_backend", module_args(haproxy, server_states={"green_1": "ready"}, server_weights={"green_1": 50}, health_timeout=2)
    )
    assert result.get("failed") is True
    assert "no passed health check after leaving maintenance for app/green_1" in result["msg"]
    assert result["restored"] is True
    assert haproxy.servers()["green_1"] == (0, MAINT)


def test_socket_vanishing_mid_call_restores_the_previous_state(haproxy, tmp_path):
    relay = SocketRelay(str(tmp_path / "relay.sock"), haproxy.socket, marker="set server", cut_after=3)
    before = haproxy.servers()
    switch = hr.BackendSwitch(relay.path, ["app"])
    with pytest.raises(hr.SwitchFailed) as failure:
        switch.run(weights={"blue": 50, "green": 50})
    relay.close()
    assert "closed the Runtime API connection" in str(failure.value)
    assert failure.value.restored is True
    assert haproxy.servers() == before


@pytest.mark.parametrize(
    "args, message",
    [
        ({"backend": "app;shutdown sessions server app/blue_1", "weights": {"blue": 1}}, "invalid backend name"),
        ({"server_weights": {"blue_1\nset server app/blue_2 state maint": 5}}, "invalid server name"),
        ({"weights": {"blue": 300}}, "from 0 to 256"),
        ({"weights": {"blue": 0, "green": 0}}, "no ready server of weight above 0"),
        ({"backend": "nosuch", "weights": {"blue": 1}}, "unknown backend 'nosuch'"),
        ({"server_states": {"blue_9": "drain"}}, "unknown server 'blue_9'"),
        ({"weights": {"blue": "\u00b2"}}, "weights: the weight of 'blue' must be a whole number from 0 to 256 in ASCII digits, got '\u00b2'"),
        ({"server_weights": {"green_1": "\u0663"}}, "server_weights: the weight of 'green_1' must be a whole number from 0 to 256"),
        ({"weights": {"blue": "9" * 5000}}, "weights: the weight of 'blue' must be a whole number from 0 to 256"),
        ({"weights": {"blue": 50}, "timeout": -1}, "timeout must be a number of seconds above 0 and at most 86400, got -1.0"),
        ({"weights": {"blue": 50}, "health_timeout": "nan"}, "health_timeout must be a number of seconds from 0 to 86400, got nan"),
        ({"weights": {"blue": 50}, "drain_timeout": -5, "wait_drained": True}, "drain_timeout must be a number of seconds from 0"),
        ({"weights": {"blue": 50}, "socket": "127.0.0.1:99999"}, "invalid socket address '127.0.0.1:99999'"),
        ({"weights": {"blue": 50}, "health_path": "/x y", "require_up": ["blue"]}, "health_path '/x y' must be empty or an absolute path"),
    ],
)
def test_bad_input_changes_nothing_and_names_the_field(haproxy, args, message):
    before = haproxy.servers()
    result = run_module("haproxy_backend", module_args(haproxy, **args))
    assert result.get("failed") is True
    assert message in result["msg"], result["msg"]
    assert "Traceback" not in result.get("module_stderr", "")
    assert haproxy.servers() == before


def test_injected_name_sends_nothing(tmp_path):
    """A name that could carry a second command is refused before a connection is made."""
    listener = tmp_path / "nobody.sock"
    with pytest.raises(hr.RuntimeApiError, match="invalid backend name"):
        hr.BackendSwitch(str(listener), ["app;disable server app/blue_1"]).run(weights={"blue": 1})
    assert not listener.exists()


def test_unreachable_socket_is_a_clear_failure(tmp_path):
    result = run_module("haproxy_backend", {"socket": str(tmp_path / "absent.sock"), "backend": "app", "weights": {"blue": 1}})
    assert result.get("failed") is True
    assert "cannot use the HAProxy Runtime API" in result["msg"]


def test_wait_drained_reports_servers_taken_out(haproxy):
    result = run_module(
        "haproxy_backend",
        module_args(haproxy, weights={"blue": 0, "green": 100}, states={"blue": "drain"}, wait_drained=True, drain_timeout=5),
    )
    assert result["changed"] is True and result["undrained"] == {}


def test_require_up_refuses_traffic_to_a_dead_server_before_haproxy_marks_it_down(haproxy):
    haproxy.apps["green_1"].stop()  # asked directly, whatever HAProxy's own checks show by now
    result = run_module("haproxy_backend", module_args(haproxy, weights={"blue": 75, "green": 25}, require_up=["green"]))
    assert result.get("failed") and "app/green_1" in result["msg"] and "app/green_2" not in result["msg"], result
    assert "nothing was changed" in result["msg"]
    assert haproxy.servers()["green_2"] == (0, READY)
    # A live server answering 500 to the health path is refused as well.
    haproxy.apps["green_2"].healthy = False
    result = run_module("haproxy_backend", module_args(haproxy, server_weights={"green_2": 10}, require_up=["green"]))
    assert result.get("failed") and "GET /healthz answered 500" in result["msg"], result
    haproxy.apps["green_2"].healthy = True
    assert run_module("haproxy_backend", module_args(haproxy, server_weights={"green_2": 10}, require_up=["green"]))["changed"] is True
    # Without require_up nothing is asked: a rollback away from the dead server is never refused.
    result = run_module("haproxy_backend", module_args(haproxy, weights={"blue": 100, "green": 0}))
    assert result["changed"] is True and not result.get("failed"), result


def test_a_state_file_that_cannot_be_written_reports_the_switch_that_holds(haproxy, tmp_path):
    state_file = str(tmp_path / "missing-directory" / "server-state")
    result = run_module("haproxy_backend", module_args(haproxy, weights={"blue": 75, "green": 25}, state_file=state_file), diff=True)
    assert result.get("failed") is True and result["changed"] is True, result
    assert result["msg"].startswith(f"the switch holds; the state file was not written ({state_file}: "), result["msg"]
    assert haproxy.servers() == {"blue_1": (75, READY), "blue_2": (75, READY), "green_1": (25, READY), "green_2": (25, READY)}
    assert {s["server"]: s["weight"] for s in result["after"]} == {"blue_1": 75, "blue_2": 75, "green_1": 25, "green_2": 25}
    assert {s["server"]: s["weight"] for s in result["before"]}["green_1"] == 0
    assert result["split_after"]["app"]["colors"] == {"blue": 75.0, "green": 25.0}
    assert result["diff"]["after"]["app/green_1"] == {"weight": 25, "state": "ready"}


def test_a_runtime_api_that_trickles_fails_the_task_at_its_deadline():
    peer = TricklingPeer(socket.AF_INET, ("127.0.0.1", 0), interval=0.5)
    try:
        started = time.monotonic()
        result = run_module("haproxy_backend", {"socket": f"127.0.0.1:{peer.address[1]}", "backend": "app", "weights": {"blue": 1},
                                                "timeout": 2}, timeout=60)
    finally:
        peer.close()
    assert result.get("failed") is True and not result.get("changed"), result
    assert "no complete answer within 2s" in result["msg"], result["msg"]
    assert time.monotonic() - started < 30


def test_require_up_of_a_server_that_trickles_is_refused_at_its_deadline(haproxy):
    """HAProxy's own check is slower: the server answered the TCP connection and HAProxy
    marked it up; only its answer to the health path never completes."""
    peer = TricklingPeer(socket.AF_INET, ("127.0.0.1", 0), first=b"HTTP/1.1 200", interval=0.5)
    try:
        haproxy.cli(f"set server app/green_1 addr 127.0.0.1 port {peer.address[1]}")
        started = time.monotonic()
        result = run_module("haproxy_backend", module_args(haproxy, weights={"blue": 75, "green": 25}, require_up=["green"]), timeout=60)
    finally:
        peer.close()
    assert result.get("failed") is True, result
    assert f"app/green_1 (127.0.0.1:{peer.address[1]}: no answer within 2s)" in result["msg"], result["msg"]
    assert "nothing was changed" in result["msg"] and time.monotonic() - started < 30
    assert haproxy.servers()["green_2"] == (0, READY)
