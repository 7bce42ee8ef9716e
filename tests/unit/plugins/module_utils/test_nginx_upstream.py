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
        ({"blue": "\u00b2", "green": 1}, {}, "weights: the weight of 'blue' must be a whole number from 0 to 256 in ASCII digits"),
        ({"blue": "\u0663", "green": 1}, {}, "weights: the weight of 'blue' must be"),
        ({"blue": 1, "green": 1}, {"g1:8080": "9" * 5000}, "server_weights: the weight of 'g1:8080' must be"),
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
        ([{"address": "b1:99999", "color": "blue"}], r"servers\[0\].address 'b1:99999' must be host:port \(port 1 to 65535\)"),
        ([{"address": "b1:0", "color": "blue"}], r"servers\[0\].address"),
        ([{"address": "[zz::1]:80", "color": "blue"}], r"servers\[0\].address"),
        ([{"address": "b1:\u0663", "color": "blue"}], r"servers\[0\].address"),
        ([{"address": "b" * 300 + ":80", "color": "blue"}], r"servers\[0\].address"),
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


# server_params: a closed set of NGINX 1.22 `server` parameters with checked values.

def open_source():
    return "nginx/1.22.1", False


def nginx_plus():
    return "nginx/1.25.3 (nginx-plus-r31)", True


@pytest.mark.parametrize(
    "text, tokens",
    [
        ("max_fails=1 fail_timeout=5s", ("max_fails=1", "fail_timeout=5s")),
        ("  max_conns=100\tmax_fails=0\n", ("max_conns=100", "max_fails=0")),
        ("fail_timeout=1h30m", ("fail_timeout=1h30m",)),
        ("fail_timeout=1m5", ("fail_timeout=1m5",)),
        ("fail_timeout=10", ("fail_timeout=10",)),
        ("", ()),
    ],
)
def test_server_params_nginx_accepts_are_kept(text, tokens):
    assert nu.ServerParameters(text, open_source).tokens == tokens


@pytest.mark.parametrize(
    "text, message",
    [
        ("max_fails=1; } server { listen 127.0.0.1:9; return 200 injected; }", r"server_params: 'max_fails=1;' is not"),
        ("max_fails=1\n}\nserver {", "server_params: unknown parameter '}'"),
        ("max_fails=1;\ninclude /etc/shadow", "server_params: 'max_fails=1;"),
        ("include /etc/shadow", "server_params: unknown parameter 'include'"),
        ("max_fails=1 fail_timeout=5s}", r"server_params: 'fail_timeout=5s}' is not"),
        ("max_fails=abc", "server_params: 'max_fails=abc' is not"),
        ("max_fails=\u0663", "server_params: 'max_fails=\u0663' is not"),
        ("max_fails=-1", "server_params: 'max_fails=-1' is not"),
        ("max_fails=99999999999999999999", "server_params: 'max_fails=99999999999999999999' is not"),
        ("fail_timeout=500ms", "server_params: 'fail_timeout=500ms' is not"),
        ("fail_timeout=5s1m", "server_params: 'fail_timeout=5s1m' is not"),
        ("fail_timeout=s", "server_params: 'fail_timeout=s' is not"),
        ("fail_timeout=", "server_params: 'fail_timeout=' is not"),
        ("max_fails", "server_params: 'max_fails' is not"),
        ("max_fails=1\x00", "server_params: 'max_fails=1\\\\x00' is not"),
        ("max_fails=1 max_fails=2", "server_params: max_fails is given twice"),
        ("weight=5", "server_params: weight is set by this module"),
        ("down", "server_params: down is set by this module"),
        ("backup", "server_params: backup would make every server"),
        ("bogus=1", "server_params: unknown parameter 'bogus'"),
        ("x" * 100000, "server_params: unknown parameter 'xxxx"),
    ],
)
def test_server_params_outside_the_closed_set_are_refused(text, message):
    with pytest.raises(nu.UpstreamError, match=message):
        nu.ServerParameters(text, open_source)


@pytest.mark.parametrize("name", ["slow_start=30s", "resolve", "route=a", "service=http", "drain"])
def test_nginx_plus_parameters_are_refused_on_open_source_nginx_by_name(name):
    parameter = name.split("=")[0]
    with pytest.raises(nu.UpstreamError, match=f"server_params: {parameter} is an NGINX Plus parameter; nginx/1.22.1 is open source"):
        nu.ServerParameters(name, open_source)


def test_slow_start_is_kept_on_nginx_plus_and_nginx_is_asked_only_for_plus_parameters():
    assert nu.ServerParameters("slow_start=30s max_fails=2", nginx_plus).tokens == ("slow_start=30s", "max_fails=2")
    with pytest.raises(nu.UpstreamError, match="server_params: 'slow_start=fast' is not"):
        nu.ServerParameters("slow_start=fast", nginx_plus)
    with pytest.raises(nu.UpstreamError, match="server_params: resolve needs a shared-memory zone"):
        nu.ServerParameters("resolve", nginx_plus)

    def never_asked():
        raise AssertionError("nginx -v was run for open-source parameters")

    assert nu.ServerParameters("max_fails=2", never_asked).tokens == ("max_fails=2",)


def test_render_writes_only_checked_parameters():
    planned = nu.plan_weights(SERVERS, {"blue": 100, "green": 0})
    text, _generation = nu.render("app", planned, nu.ServerParameters("max_conns=10 fail_timeout=1m", open_source))
    assert "    server b1:8080 weight=100 max_conns=10 fail_timeout=1m;  # color=blue" in text
    with pytest.raises(TypeError):
        nu.render("app", planned, "max_fails=1; } server { listen 9; }")


OWN_INCLUDE = "/etc/nginx/bluegreen/upstreams/app.conf"


@pytest.mark.parametrize("prefix", ["nginx: [emerg] ", "2026/11/30 08:01:19 [emerg] 22826#22826: "])
def test_nginx_messages_keep_text_about_our_include_and_withhold_other_files_text(prefix):
    output = (
        f'{prefix}invalid port in upstream "b1:99999" in {OWN_INCLUDE}:7\n'
        f'{prefix}unknown directive "root:$6$secret-hash" in /etc/nginx/secret.conf:1\n'
        f'{prefix}unknown directive "two\nlines-secret" in /etc/nginx/secret.conf:3\n'
        f'{prefix}open() "/etc/nginx/missing.conf" failed (2: No such file or directory)\n'
        f'{prefix}unknown "secret_variable" variable\n'
        "nginx: configuration file /etc/nginx/nginx.conf test failed\n"
    )
    shown = nu.nginx_message(output, OWN_INCLUDE)
    assert shown.splitlines() == [
        f'nginx: [emerg] invalid port in upstream "b1:99999" in {OWN_INCLUDE}:7',
        "nginx: [emerg] (text withheld: it quotes that file) in /etc/nginx/secret.conf:1",
        "nginx: [emerg] (text withheld: it quotes that file) in /etc/nginx/secret.conf:3",
        'nginx: [emerg] open() "/etc/nginx/missing.conf" failed (2: No such file or directory)',
        "nginx: [emerg] (text withheld: it may quote a configuration file)",
        "nginx: configuration file /etc/nginx/nginx.conf test failed",
    ]


def test_a_staged_check_names_the_files_of_the_live_tree():
    def runner(argv):
        return 1, "", ('nginx: [emerg] invalid port in upstream "b1:99999" in /tmp/stage/nginx/bluegreen/upstreams/app.conf:7\n'
                       'nginx: [emerg] unknown directive "secret" in /tmp/stage/nginx/sites/x.conf:2\n')

    with pytest.raises(nu.UpstreamError) as failure:
        nu.run(runner, ["nginx", "-t"], "nginx -t of the new upstream", own_file=OWN_INCLUDE, staged=("/tmp/stage/nginx", "/etc/nginx"))
    assert str(failure.value) == (
        "nginx -t of the new upstream failed (nginx -t): "
        f'nginx: [emerg] invalid port in upstream "b1:99999" in {OWN_INCLUDE}:7\n'
        "nginx: [emerg] (text withheld: it quotes that file) in /etc/nginx/sites/x.conf:2"
    )


def test_output_of_other_programs_is_kept():
    assert nu.nginx_message("Job for nginx.service failed.\nSee 'systemctl status nginx.service'.\n") == (
        "Job for nginx.service failed.\nSee 'systemctl status nginx.service'.")


class Commands:
    """A stand-in for AnsibleModule.run_command: `outcomes` maps a program to what running it
    does (an exception to raise, or rc), or to a list of those, one per run."""

    def __init__(self, **outcomes):
        self.outcomes = outcomes
        self.ran = []

    def __call__(self, argv):
        self.ran.append(argv[0])
        outcome = self.outcomes.get(argv[0], 0)
        if isinstance(outcome, list):
            outcome = outcome.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome, "", "" if outcome == 0 else f"{argv[0]} failed"


def switch_in(tmp_path, commands, fetch=lambda url: None, generation_url=""):
    conf = tmp_path / "nginx.conf"
    conf.write_text("events {}\n")
    include = tmp_path / "upstreams" / "app.conf"
    include.parent.mkdir()
    include.write_text("previous\n")
    switch = nu.UpstreamSwitch("app", str(include), commands, fetch, conf_path=str(conf), nginx="nginx",
                               reload_command=["reload"], generation_url=generation_url, reload_timeout=0.2)
    return switch, include


@pytest.mark.parametrize(
    "outcome, message",
    [
        (FileNotFoundError(2, "No such file or directory"), "reload failed (reload): [Errno 2] No such file or directory"),
        (ValueError("embedded null byte"), "reload failed (reload): embedded null byte"),
        (1, "reload failed (reload): reload failed"),
    ],
)
def test_a_reload_that_cannot_run_restores_the_file_and_says_its_reload_failed_too(tmp_path, outcome, message):
    switch, include = switch_in(tmp_path, Commands(reload=outcome))
    with pytest.raises(nu.UpstreamError) as failure:
        switch.apply("new\n", "0123", "previous\n")
    assert include.read_text() == "previous\n"
    assert str(failure.value).startswith(message)
    assert f"; the previous upstream was restored in {include}, but reloading NGINX with it failed too: {message}" in str(failure.value)


def test_an_unexpected_error_after_the_write_restores_the_file(tmp_path):
    def broken_fetch(url):
        raise KeyError(url)

    switch, include = switch_in(tmp_path, Commands(), fetch=broken_fetch, generation_url="http://127.0.0.1:1/g")
    with pytest.raises(KeyError):
        switch.apply("new\n", "0123", "previous\n")
    assert include.read_text() == "previous\n"


def test_a_missing_nginx_for_the_live_check_restores_the_file(tmp_path):
    switch, include = switch_in(tmp_path, Commands(nginx=[0, FileNotFoundError(2, "No such file or directory")]))
    with pytest.raises(nu.UpstreamError, match=r"nginx -t of the live configuration failed .*; the previous upstream was restored$"):
        switch.apply("new\n", "0123", "previous\n")
    assert include.read_text() == "previous\n"


def test_weights_as_strings_of_ascii_digits_are_read():
    assert [s.weight for s in nu.plan_weights(SERVERS, {"blue": "75", "green": " 25 "})] == [75, 75, 25]


@pytest.mark.parametrize(
    "line, message",
    [
        ("    server b1:8080 weight=abc;  # color=blue", "line 2: weight= must be a whole number from 1 to 2147483647, once"),
        ("    server b1:8080 weight=0;  # color=blue", "line 2: weight= must be"),
        ("    server b1:8080 weight=\u0663;  # color=blue", "line 2: weight= must be"),
        ("    server b1:8080 weight=1 weight=2;  # color=blue", "line 2: weight= must be"),
        ("    server b1:99999 weight=5;  # color=blue", "line 2: the server address is not host:port"),
        ("    server b1:8080 weight=5;  # color=purple", "line 2: the color must be blue or green"),
    ],
)
def test_include_lines_that_cannot_be_read_are_named_by_number(line, message):
    with pytest.raises(nu.UpstreamError, match=message):
        nu.parse(f"upstream app {{\n{line}\n}}\n")


def test_a_hand_written_weight_nginx_takes_is_read():
    assert nu.parse("    server b1:8080 weight=1000;  # color=blue\n")[0] == [nu.UpstreamServer("b1:8080", "blue", 1000)]


@pytest.mark.parametrize("content", [b"\xff\xfe not utf-8\n", b"    server b1:8080 weight=abc;  # color=blue\n"])
def test_an_include_that_cannot_be_read_names_the_file(tmp_path, content):
    switch, include = switch_in(tmp_path, Commands())
    include.write_bytes(content)
    with pytest.raises(nu.UpstreamError, match=f"cannot read {include}: "):
        switch.current()


@pytest.mark.parametrize("keepalive", [-1, 65536, True, "32"])
def test_keepalive_outside_what_nginx_sets_aside_is_refused(keepalive):
    with pytest.raises(nu.UpstreamError, match="keepalive must be a whole number from 0 to 65535"):
        nu.render("app", nu.plan_weights(SERVERS, {"blue": 1, "green": 1}), keepalive=keepalive)


@pytest.mark.parametrize("reload_timeout", [-1, 0, float("nan"), float("inf")])
def test_a_reload_timeout_that_is_no_deadline_is_refused(tmp_path, reload_timeout):
    with pytest.raises(nu.UpstreamError, match="reload_timeout must be a number of seconds above 0"):
        nu.UpstreamSwitch("app", str(tmp_path / "app.conf"), Commands(), None, conf_path=str(tmp_path / "nginx.conf"),
                          reload_timeout=reload_timeout)


@pytest.mark.parametrize("name", ["server", "http", "if", "upstream", "location", "map", "include", "default", "Server", "events"])
def test_upstream_names_that_are_nginx_keywords_are_refused(name):
    with pytest.raises(nu.UpstreamError, match=f"upstream: {name!r} is an NGINX keyword"):
        nu.check_upstream_name(name)


def test_upstream_names_of_any_length_nginx_reads_pass_and_longer_are_refused():
    assert nu.check_upstream_name("servers_app_2") == "servers_app_2"
    with pytest.raises(nu.UpstreamError, match="invalid upstream name"):
        nu.check_upstream_name("a" * 101)


@pytest.mark.parametrize(
    "path, checked",
    [
        ("/etc/nginx/..foo.conf", "/etc/nginx/..foo.conf"),
        ("/etc/nginx/bluegreen/upstreams/app.conf", "/etc/nginx/bluegreen/upstreams/app.conf"),
        ("/etc/nginx//bluegreen/./upstreams/app.conf", "/etc/nginx/bluegreen/upstreams/app.conf"),
        ("/etc/nginx/bluegreen/../app.conf", "/etc/nginx/app.conf"),
    ],
)
def test_include_paths_inside_the_configuration_directory_pass(path, checked):
    assert nu.check_include_path(path, "/etc/nginx/nginx.conf") == checked


@pytest.mark.parametrize(
    "path, message",
    [
        ("/etc/nginx/../shadow", "path /etc/shadow is outside the configuration directory /etc/nginx"),
        ("/etc/nginx-other/app.conf", "is outside the configuration directory"),
        ("/etc/nginx", "is outside the configuration directory"),
        ("/etc/nginx/nginx.conf", "path /etc/nginx/nginx.conf is the main configuration file"),
        ("bluegreen/app.conf", "path 'bluegreen/app.conf' must be an absolute path"),
        ("/etc/nginx/app\0.conf", "path '/etc/nginx/app\\\\x00.conf' must be an absolute path"),
    ],
)
def test_include_paths_outside_the_configuration_directory_are_refused(path, message):
    with pytest.raises(nu.UpstreamError, match=message):
        nu.check_include_path(path, "/etc/nginx/nginx.conf")


def test_an_include_path_that_leads_outside_through_a_link_is_refused(tmp_path):
    (tmp_path / "nginx").mkdir()
    (tmp_path / "nginx" / "upstreams").symlink_to(tmp_path)
    with pytest.raises(nu.UpstreamError, match="leads outside the configuration directory"):
        nu.check_include_path(str(tmp_path / "nginx" / "upstreams" / "app.conf"), str(tmp_path / "nginx" / "nginx.conf"))
