"""Parsing and planning of the HAProxy Runtime API client, on answers recorded from HAProxy
2.6.12 (tests/unit/plugins/module_utils/fixtures/haproxy)."""
from pathlib import Path

import pytest

from ansible_collections.tracegate.bluegreen.plugins.module_utils import haproxy_runtime as hr

FIXTURES = Path(__file__).parent / "fixtures" / "haproxy"


def recorded(name):
    return (FIXTURES / name).read_text()


@pytest.fixture
def current():
    rows = hr.parse_servers_state(recorded("show_servers_state_app.txt"))
    return {key: hr.ServerState.from_row(row) for key, row in rows.items()}


def test_servers_state_parsed_by_column_name(current):
    assert sorted(current) == [("app", "blue_blue-1"), ("app", "blue_blue-2"), ("app", "green_green-1"), ("app", "green_green-2")]
    assert (current[("app", "blue_blue-1")].weight, current[("app", "blue_blue-1")].state) == (100, "ready")
    assert (current[("app", "green_green-1")].state, current[("app", "green_green-1")].operational) == ("maint", "stopped")
    assert current[("app", "green_green-2")].state == "drain"
    assert current[("app", "green_green-2")].color == "green"


def test_columns_found_by_name_not_position():
    text = "1\n# srv_name be_name srv_uweight srv_admin_state srv_op_state\nweb_x app 7 8 2\n"
    (state,) = [hr.ServerState.from_row(row) for row in hr.parse_servers_state(text).values()]
    assert (state.backend, state.server, state.weight, state.state) == ("app", "web_x", 7, "drain")


@pytest.mark.parametrize(
    "text, message",
    [("", "empty answer"), ("2\n# be_name\n", "unsupported servers state format"), ("1\nnope\n", "no column header")],
)
def test_garbage_servers_state_is_refused(text, message):
    with pytest.raises(hr.RuntimeApiError, match=message):
        hr.parse_servers_state(text)


def test_show_stat_parsed_by_column_name():
    rows = hr.parse_show_stat(recorded("show_stat_app.txt"))
    blue = rows[("app", "blue_blue-1")]
    assert (blue["status"], blue["check_status"], blue["scur"], blue["check_health"]) == ("UP", "L7OK", "0", "4")
    assert rows[("app", "green_green-1")]["status"] == "MAINT"


@pytest.mark.parametrize("flags, state", [(0, "ready"), (1, "maint"), (2, "maint"), (0x20, "maint"), (8, "drain"), (0x10, "drain"), (9, "maint"), (4, "ready")])
def test_admin_state_flags(flags, state):
    assert hr.admin_state(flags) == state


@pytest.mark.parametrize("name", ["app;shutdown sessions server app/blue_x", "app\nset weight", "app\n", "a b", "", "app/x", None, "a\tb"])
def test_names_that_could_carry_a_second_command_are_refused(name):
    with pytest.raises(hr.RuntimeApiError, match="invalid backend name"):
        hr.check_name("backends", "backend", name)


def test_names_haproxy_accepts_pass():
    assert hr.check_name("server_weights", "server", "green_app-g1.example:8") == "green_app-g1.example:8"


@pytest.mark.parametrize("name, color", [("blue_b1", "blue"), ("green_g-1", "green"), ("blue", None), ("red_x", None), ("web1", None)])
def test_server_color_from_name(name, color):
    assert hr.server_color(name) == color


def test_plan_by_color_touches_only_what_differs(current):
    wanted = hr.plan_changes(current, weights={"blue": 75, "green": 25}, states={"green": "ready"})
    assert {key: (s.weight, s.state) for key, s in wanted.items()} == {
        ("app", "blue_blue-1"): (75, "ready"),
        ("app", "blue_blue-2"): (75, "ready"),
        ("app", "green_green-1"): (25, "ready"),
        ("app", "green_green-2"): (25, "ready"),
    }


def test_plan_server_values_win_over_color_values(current):
    wanted = hr.plan_changes(current, weights={"green": 10}, server_weights={"green_green-2": 30}, states={"green": "ready"})
    assert wanted[("app", "green_green-2")].weight == 30
    assert wanted[("app", "green_green-1")].weight == 10


def test_plan_is_empty_when_nothing_differs(current):
    assert hr.plan_changes(current, weights={"blue": 100}) == {}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"weights": {"blue": 257}}, "from 0 to 256"),
        ({"weights": {"blue": -1}}, "from 0 to 256"),
        ({"weights": {"blue": "\u0663"}}, "weights: the weight of 'blue' must be a whole number from 0 to 256 in ASCII digits"),
        ({"weights": {"blue": "\u00b2"}}, "weights: the weight of 'blue' must be a whole number from 0 to 256"),
        ({"server_weights": {"green_green-1": "9" * 5000}}, "server_weights: the weight of 'green_green-1' must be"),
        ({"weights": {"blue": 50.5}}, "from 0 to 256"),
        ({"weights": {"blue": True}}, "from 0 to 256"),
        ({"weights": {"red": 5}}, "unknown color 'red'"),
        ({"states": {"blue": "off"}}, "state of 'blue'"),
        ({"server_weights": {"nosuch": 5}}, "unknown server 'nosuch'"),
        ({"server_weights": {"x;y": 5}}, "invalid server name"),
        ({"weights": {"blue": 0, "green": 0}}, "no ready server of weight above 0"),
        ({"weights": {"blue": 0}}, "no ready server of weight above 0"),
        ({"states": {"blue": "maint"}}, "no ready server of weight above 0"),
    ],
)
def test_bad_requests_are_refused_with_the_field_named(current, kwargs, message):
    with pytest.raises(hr.RuntimeApiError, match=message):
        hr.plan_changes(current, **kwargs)


def test_color_without_servers_is_refused():
    only_blue = {("app", "blue_x"): hr.ServerState("app", "blue_x", 100, "ready")}
    with pytest.raises(hr.RuntimeApiError, match="has no green servers"):
        hr.plan_changes(only_blue, weights={"green": 10})


def test_weight_goes_first_when_traffic_is_added_last_when_taken():
    up = hr.apply_commands(hr.ServerState("app", "g", 0, "maint"), hr.ServerState("app", "g", 50, "ready"))
    assert up == ["set server app/g weight 50", "set server app/g state ready"]
    down = hr.apply_commands(hr.ServerState("app", "b", 100, "ready"), hr.ServerState("app", "b", 0, "drain"))
    assert down == ["set server app/b state drain", "set server app/b weight 0"]


def test_traffic_split_counts_only_ready_running_servers(current):
    split = hr.traffic_split(list(current.values()))["app"]
    assert split["colors"] == {"blue": 100.0, "green": 0.0}
    assert split["servers"]["blue_blue-1"] == 50.0
    moved = [hr.ServerState("app", "blue_a", 75, "ready"), hr.ServerState("app", "green_a", 25, "ready"),
             hr.ServerState("app", "green_b", 25, "drain")]
    assert hr.traffic_split(moved)["app"]["colors"] == {"blue": 75.0, "green": 25.0}


@pytest.mark.parametrize(
    "row, passed",
    [
        ({"status": "UP 1/3", "check_status": "L7OK", "check_rise": "2", "check_fall": "3", "check_health": "2"}, False),
        ({"status": "UP", "check_status": "L7OK", "check_rise": "2", "check_fall": "3", "check_health": "3"}, True),
        ({"status": "UP", "check_status": "* L7OK", "check_rise": "2", "check_fall": "3", "check_health": "4"}, False),
        ({"status": "DOWN", "check_status": "L4CON", "check_rise": "2", "check_fall": "3", "check_health": "0"}, False),
        ({"status": "UP", "check_status": "L7STS", "check_rise": "2", "check_fall": "3", "check_health": "3"}, False),
        ({"status": "UP", "check_status": "L7OK", "check_rise": "2", "check_fall": "1", "check_health": "2"}, True),
    ],
)
def test_passed_check_after_leaving_maintenance(row, passed):
    assert hr.passed_check_since_ready(row) is passed


@pytest.mark.parametrize(
    "address, family, target",
    [
        ("/run/haproxy/admin.sock", "AF_UNIX", "/run/haproxy/admin.sock"),
        ("unix:/tmp/s", "AF_UNIX", "/tmp/s"),
        ("127.0.0.1:9999", "AF_INET", ("127.0.0.1", 9999)),
        ("tcp:[::1]:9999", "AF_INET6", ("::1", 9999)),
    ],
)
def test_socket_addresses(address, family, target):
    got_family, got_target = hr.parse_address(address)
    assert (got_family.name, got_target) == (family, target)


def test_bad_socket_address_is_named():
    with pytest.raises(hr.RuntimeApiError, match="invalid socket address 'nohost'"):
        hr.parse_address("nohost")


def test_weights_as_strings_of_ascii_digits_are_read():
    only_blue = {("app", "blue_x"): hr.ServerState("app", "blue_x", 100, "ready")}
    assert hr.plan_changes(only_blue, weights={"blue": " 50 "})[("app", "blue_x")].weight == 50


@pytest.mark.parametrize(
    "address", ["127.0.0.1:99999", "127.0.0.1:0", "127.0.0.1:\u0663", ":80", "tcp:", "unix:", "/run/x\0y", "host:80\n", "a b:80"]
)
def test_socket_addresses_that_cannot_be_used_are_named(address):
    with pytest.raises(hr.RuntimeApiError, match="invalid socket address"):
        hr.parse_address(address)


@pytest.mark.parametrize("timeout", [-1, 0, float("nan"), float("inf"), 10 ** 6, True, "5"])
def test_a_timeout_that_is_no_deadline_is_refused_before_connecting(tmp_path, timeout):
    with pytest.raises(hr.RuntimeApiError, match="timeout must be a number of seconds above 0 and at most 86400"):
        hr.BackendSwitch(str(tmp_path / "absent.sock"), ["app"], timeout=timeout)


@pytest.mark.parametrize("health_timeout", [-1, float("nan")])
def test_a_health_timeout_that_is_no_deadline_is_refused_before_connecting(tmp_path, health_timeout):
    with pytest.raises(hr.RuntimeApiError, match="health_timeout must be a number of seconds from 0 to 86400"):
        hr.BackendSwitch(str(tmp_path / "absent.sock"), ["app"]).run(weights={"blue": 1}, health_timeout=health_timeout)


@pytest.mark.parametrize(
    "text, message",
    [
        ("1\n# be_name srv_name srv_uweight srv_admin_state srv_op_state\napp blue_x abc 0 2\n", "unreadable srv_uweight"),
        ("1\n# be_name srv_name srv_uweight srv_admin_state srv_op_state\napp blue_x 5\n", "unreadable srv_admin_state, srv_op_state"),
        ("1\n# be_name srv_name\napp blue_x\n", "has no column srv_uweight, srv_admin_state, srv_op_state"),
        ("1\n# be_name srv_name srv_uweight srv_admin_state srv_op_state\napp blue_x \u0663 0 2\n", "unreadable srv_uweight"),
    ],
)
def test_servers_state_rows_that_cannot_be_read_are_refused(text, message):
    with pytest.raises(hr.RuntimeApiError, match=message):
        [hr.ServerState.from_row(row) for row in hr.parse_servers_state(text).values()]


def test_show_stat_numbers_that_cannot_be_read_are_refused():
    rows = hr.parse_show_stat("# pxname,svname,scur,qcur\napp,blue_x,lots,0\n")
    with pytest.raises(hr.RuntimeApiError, match="unreadable scur 'lots' in 'show stat' for app/blue_x"):
        hr.stat_number(rows[("app", "blue_x")], "scur")
