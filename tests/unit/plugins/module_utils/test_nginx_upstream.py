"""Rendering, parsing and planning of the NGINX upstream include."""
import pytest

from ansible_collections.tracegate.bluegreen.plugins.module_utils import nginx_upstream as nu

SERVERS = [("b1:8080", "blue"), ("b2:8080", "blue"), ("g1:8080", "green")]


def test_render_then_parse_round_trips_weights_colors_and_generation():
    planned = nu.plan_weights(SERVERS, {"blue": 75, "green": 25})
    text, generation = nu.render("app", planned)
    servers, parsed_generation = nu.parse(text)
    assert servers == planned
    assert parsed_generation == generation


def test_weight_zero_is_kept_as_a_comment_nginx_does_not_resolve():
    text, _generation = nu.render("app", nu.plan_weights(SERVERS, {"blue": 100, "green": 0}))
    assert "    # server g1:8080 down;  # color=green" in text
    assert [(s.address, s.weight) for s in nu.parse(text)[0] if s.color == "green"] == [("g1:8080", 0)]
    assert "    server b1:8080 weight=100 max_fails=1 fail_timeout=5s;  # color=blue" in text
    assert 'map $host $bluegreen_generation_app {' in text


def test_an_include_with_down_servers_still_reads():
    servers, _generation = nu.parse("upstream app {\n    server g1:8080 down;  # color=green\n}\n")
    assert [(s.address, s.color, s.weight) for s in servers] == [("g1:8080", "green", 0)]


def test_generation_changes_with_the_split_only():
    a = nu.generation_of("app", nu.plan_weights(SERVERS, {"blue": 75, "green": 25}))
    b = nu.generation_of("app", nu.plan_weights(SERVERS, {"blue": 75, "green": 25}))
    c = nu.generation_of("app", nu.plan_weights(SERVERS, {"blue": 50, "green": 50}))
    assert a == b != c


def test_current_weights_kept_for_colors_not_named():
    current = nu.plan_weights(SERVERS, {"blue": 60, "green": 40})
    planned = nu.plan_weights(SERVERS, {"green": 10}, current=current)
    assert [s.weight for s in planned] == [60, 60, 10]


def test_split_per_color_and_server():
    split = nu.traffic_split(nu.plan_weights(SERVERS, {"blue": 50, "green": 100}))
    assert split["colors"] == {"blue": 50.0, "green": 50.0}
    assert split["servers"]["b1:8080"] == 25.0


@pytest.mark.parametrize(
    "weights, server_weights, message",
    [
        ({"blue": 257}, {}, "from 0 to 256"),
        ({"blue": -5}, {}, "from 0 to 256"),
        ({"blue": 0, "green": 0}, {}, "no server has a weight above 0"),
        ({"red": 1}, {}, "unknown color 'red'"),
        ({"blue": 1}, {"x:1": 5}, "unknown server 'x:1'"),
        ({"blue": 1}, {}, "no weight given for g1:8080"),
    ],
)
def test_bad_weights_are_refused_with_the_field_named(weights, server_weights, message):
    with pytest.raises(nu.UpstreamError, match=message):
        nu.plan_weights(SERVERS, weights, server_weights)


@pytest.mark.parametrize(
    "servers, message",
    [
        ([], "at least one server"),
        ([{"address": "b1:8080; include /etc/passwd", "color": "blue"}], r"servers\[0\].address"),
        ([{"address": "b1", "color": "blue"}], r"servers\[0\].address"),
        ([{"address": "b1:80", "color": "red"}], r"servers\[0\].color"),
        ([{"address": "b1:80", "color": "blue"}, {"address": "b1:80", "color": "green"}], "listed twice"),
    ],
)
def test_bad_servers_are_refused(servers, message):
    with pytest.raises(nu.UpstreamError, match=message):
        nu.check_servers(servers)


@pytest.mark.parametrize("name", ["app;", "app upstream", "", "a{b", "app\n"])
def test_bad_upstream_names_are_refused(name):
    with pytest.raises(nu.UpstreamError, match="invalid upstream name"):
        nu.check_upstream_name(name)


def test_parse_ignores_lines_without_a_color():
    servers, generation = nu.parse("upstream x {\n    server a:1 weight=3;\n    server b:2 weight=4;  # color=blue\n}\n")
    assert servers == [nu.UpstreamServer("b:2", "blue", 4)] and generation is None
