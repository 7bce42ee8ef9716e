"""nginx_upstream against a real NGINX 1.22 on loopback."""
import urllib.error
import urllib.request

import pytest
from conftest import free_port
from lb_harness import NginxUnderTest, run_module, served_generation

from ansible_collections.tracegate.bluegreen.plugins.module_utils import nginx_upstream as nu

SERVERS = ["blue_1", "blue_2", "green_1", "green_2"]


@pytest.fixture
def nginx(tmp_path):
    lb = NginxUnderTest(tmp_path, SERVERS)
    first = run_module("nginx_upstream", lb.module_args(servers=lb.servers_arg(), weights={"blue": 100, "green": 0}, reload=False))
    assert first["changed"] is True, first
    yield lb.start()
    lb.stop()


def answered_by(lb, count=40):
    names = []
    for request_number in range(count):
        with urllib.request.urlopen(f"http://127.0.0.1:{lb.port}/", timeout=5) as response:
            names.append(response.headers["X-Server"])
    return names


def test_first_include_puts_all_traffic_on_blue(nginx):
    assert set(answered_by(nginx)) == {"blue_1", "blue_2"}


def test_check_apply_check_apply_is_idempotent_and_traffic_moves(nginx):
    args = nginx.module_args(weights={"blue": 50, "green": 50})
    before_text = nginx.include.read_text()
    predicted = run_module("nginx_upstream", args, check=True, diff=True)
    assert predicted["changed"] is True
    assert nginx.include.read_text() == before_text  # check mode wrote nothing
    assert "# color=green" in predicted["diff"]["after"] and "weight=50" in predicted["diff"]["after"]

    applied = run_module("nginx_upstream", args)
    assert applied["changed"] is True
    assert applied["split_before"]["colors"] == {"blue": 100.0, "green": 0.0}
    assert applied["split_after"]["colors"] == {"blue": 50.0, "green": 50.0}
    assert served_generation(args["generation_url"]) == applied["generation"]
    assert set(answered_by(nginx)) == set(SERVERS)

    assert run_module("nginx_upstream", args, check=True)["changed"] is False
    assert run_module("nginx_upstream", args)["changed"] is False


def test_weights_without_servers_reuse_the_include(nginx):
    result = run_module("nginx_upstream", nginx.module_args(weights={"green": 100, "blue": 0}))
    assert result["changed"] is True
    assert set(answered_by(nginx)) == {"green_1", "green_2"}


def test_rejected_by_nginx_t_changes_nothing(nginx):
    before_text = nginx.include.read_text()
    servers = nginx.servers_arg()
    servers[-1]["address"] = "bluegreen-no-such-host.invalid:8080"
    result = run_module("nginx_upstream", nginx.module_args(servers=servers, weights={"blue": 50, "green": 50}))
    assert result.get("failed") is True
    assert "nginx -t of the new upstream failed" in result["msg"]
    # NGINX's words about the include this module writes are kept.
    assert f'host not found in upstream "bluegreen-no-such-host.invalid:8080" in {nginx.include}:' in result["msg"], result["msg"]
    assert nginx.include.read_text() == before_text
    assert set(answered_by(nginx)) == {"blue_1", "blue_2"}


def test_reload_that_never_takes_effect_is_reverted(nginx):
    before_text = nginx.include.read_text()
    result = run_module("nginx_upstream", nginx.module_args(weights={"blue": 50, "green": 50}, reload_command=["true"], reload_timeout=1))
    assert result.get("failed") is True
    assert "did not serve generation" in result["msg"]
    assert "previous upstream was restored" in result["msg"]
    assert nginx.include.read_text() == before_text
    assert set(answered_by(nginx)) == {"blue_1", "blue_2"}


def test_failing_reload_command_is_reverted(nginx):
    before_text = nginx.include.read_text()
    result = run_module("nginx_upstream", nginx.module_args(weights={"green": 100}, reload_command=["false"]))
    assert result.get("failed") is True and "reload failed" in result["msg"]
    assert nginx.include.read_text() == before_text


@pytest.mark.parametrize(
    "args, message",
    [
        ({"weights": {"blue": 300}}, "from 0 to 256"),
        ({"weights": {"blue": 0, "green": 0}}, "no server has a weight above 0"),
        ({"server_weights": {"10.0.0.9:80": 5}}, "unknown server '10.0.0.9:80'"),
        ({"upstream": "app;include /etc/passwd", "weights": {"blue": 1}}, "invalid upstream name"),
        ({"servers": [{"address": "127.0.0.1:1; include /etc/passwd", "color": "blue"}], "weights": {"blue": 1}}, "servers[0].address"),
        ({"servers": [{"address": "127.0.0.1:99999", "color": "blue"}], "weights": {"blue": 1}}, "servers[0].address '127.0.0.1:99999'"),
        ({"weights": {"blue": "\u00b2"}}, "weights: the weight of 'blue' must be a whole number from 0 to 256 in ASCII digits, got '\u00b2'"),
        ({"weights": {"green": "\u0663", "blue": 1}}, "weights: the weight of 'green' must be a whole number from 0 to 256"),
        ({"weights": {"blue": 50}, "keepalive": -1}, "keepalive must be a whole number from 0 to 65535, got -1"),
        ({"weights": {"blue": 50}, "reload_timeout": -1}, "reload_timeout must be a number of seconds above 0 and at most 86400, got -1.0"),
        ({"weights": {"blue": 50}, "health_path": "/x\r\nHost: evil", "require_up": ["blue"]}, "health_path '/x\\r\\nHost: evil' must be"),
    ],
)
def test_bad_input_changes_nothing_and_names_the_field(nginx, args, message):
    before_text = nginx.include.read_text()
    result = run_module("nginx_upstream", nginx.module_args(**args))
    assert result.get("failed") is True
    assert message in result["msg"], result["msg"]
    assert "Traceback" not in result.get("module_stderr", "")
    assert nginx.include.read_text() == before_text


@pytest.mark.parametrize(
    "line, message",
    [
        ("    server 127.0.0.1:8080 weight=abc;  # color=blue", "line 8: weight= must be a whole number from 1"),
        ("    server 127.0.0.1:8080 weight=\u0663;  # color=blue", "line 8: weight= must be a whole number from 1"),
        ("    server 127.0.0.1:99999 weight=5;  # color=blue", "line 8: the server address is not host:port"),
        ("    server 127.0.0.1:8080 weight=5;  # color=purple", "line 8: the color must be blue or green"),
    ],
)
def test_an_include_that_cannot_be_read_is_named_with_its_line(nginx, line, message):
    lines = nginx.include.read_text().splitlines()
    lines.insert(7, line)
    nginx.include.write_text("\n".join(lines) + "\n")
    for args in ({}, {"weights": {"blue": 50, "green": 50}}):
        result = run_module("nginx_upstream", nginx.module_args(**args))
        assert result.get("failed") is True, result
        assert result["msg"] == f"cannot read {nginx.include}: {message}" or result["msg"].startswith(f"cannot read {nginx.include}: {message}"), result["msg"]


def test_stale_generation_is_reloaded(nginx):
    """The include holds the split but NGINX was never reloaded with it: that is a change."""
    args = nginx.module_args(weights={"blue": 10, "green": 90})
    content, generation = nu.render(nginx.upstream, nu.plan_weights(
        [(s["address"], s["color"]) for s in nginx.servers_arg()], {"blue": 10, "green": 90}))
    nginx.include.write_text(content)
    assert run_module("nginx_upstream", args, check=True)["changed"] is True
    result = run_module("nginx_upstream", args)
    assert result["changed"] is True
    assert served_generation(args["generation_url"]) == generation


def test_require_up_refuses_traffic_to_a_server_that_does_not_answer(nginx):
    green = [app for name, app in nginx.apps.items() if name.startswith("green")]
    green[0].stop()
    result = run_module("nginx_upstream", nginx.module_args(weights={"blue": 75, "green": 25}, require_up=["green"]))
    assert result.get("failed") and f"127.0.0.1:{green[0].port}" in result["msg"], result
    assert f"127.0.0.1:{green[1].port}" not in result["msg"] and "nothing was changed" in result["msg"]
    assert "green" not in {s["color"] for s in run_module("nginx_upstream", nginx.module_args())["after"] if s["weight"] > 0}
    result = run_module("nginx_upstream", nginx.module_args(weights={"blue": 75, "green": 25}, require_up=["blue"]))
    assert result["changed"] is True and not result.get("failed"), result


def answers_on(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as response:
            return response.read().decode()
    except (urllib.error.URLError, OSError):
        return None


def one_blue_server_with_traffic(lb, **kwargs):
    """Weights that leave a single server line with parameters (a second copy of an injected
    block would be a duplicate NGINX refuses anyway)."""
    blue_2 = next(s["address"] for s in lb.servers_arg() if s["address"].endswith(str(lb.apps["blue_2"].port)))
    return lb.module_args(weights={"blue": 100, "green": 0}, server_weights={blue_2: 0}, **kwargs)


def test_server_params_cannot_inject_a_server_block(nginx):
    port = free_port()
    before_text = nginx.include.read_text()
    injected = (f"max_fails=1; }} server {{ listen 127.0.0.1:{port}; return 200 injected; }} "
                "upstream bluegreen_injected { server 127.0.0.1:1")
    result = run_module("nginx_upstream", one_blue_server_with_traffic(nginx, server_params=injected))
    assert result.get("failed") is True and not result.get("changed"), result
    assert result["msg"].startswith("server_params: 'max_fails=1;' is not"), result["msg"]
    assert nginx.include.read_text() == before_text
    assert answers_on(port) is None


def test_server_params_cannot_include_a_file_into_the_message(nginx, tmp_path):
    secret = tmp_path / "root-only.conf"
    secret.write_text("s3cr3t-token-of-root;\n")
    secret.chmod(0o600)
    result = run_module("nginx_upstream", one_blue_server_with_traffic(nginx, server_params=f"max_fails=1;\ninclude {secret}"))
    assert result.get("failed") is True and "server_params" in result["msg"], result
    assert "s3cr3t" not in str(result)


def test_nginx_plus_parameters_are_refused_by_name_on_open_source_nginx(nginx):
    before_text = nginx.include.read_text()
    result = run_module("nginx_upstream", nginx.module_args(weights={"blue": 50, "green": 50}, server_params="max_fails=2 slow_start=30s"))
    assert result.get("failed") is True
    assert "server_params: slow_start is an NGINX Plus parameter; nginx/1.22.1 is open source" in result["msg"]
    assert nginx.include.read_text() == before_text


def test_checked_server_params_reach_nginx(nginx):
    result = run_module("nginx_upstream", nginx.module_args(weights={"blue": 50, "green": 50}, server_params="max_fails=3 fail_timeout=1m30s max_conns=100"))
    assert result["changed"] is True, result
    assert nginx.include.read_text().count("weight=50 max_fails=3 fail_timeout=1m30s max_conns=100;") == 4
    assert set(answered_by(nginx)) == set(SERVERS)


def test_a_switch_without_server_params_keeps_those_the_include_has(nginx):
    """lb_split names no server_params: a later switch must not reset what the role set."""
    run_module("nginx_upstream", nginx.module_args(weights={"blue": 100, "green": 0}, server_params="max_fails=3 fail_timeout=30s"))
    result = run_module("nginx_upstream", nginx.module_args(weights={"blue": 50, "green": 50}))
    assert result["changed"] is True, result
    assert nginx.include.read_text().count("weight=50 max_fails=3 fail_timeout=30s;") == 4
    assert set(answered_by(nginx)) == set(SERVERS)


def test_server_params_edited_into_the_include_by_hand_are_checked_again(nginx):
    text = nginx.include.read_text().replace("max_fails=1", "max_fails=1 resolve")
    nginx.include.write_text(text)
    result = run_module("nginx_upstream", nginx.module_args(weights={"blue": 50, "green": 50}))
    assert result.get("failed") is True and result["msg"].startswith("server_params: resolve"), result
    assert nginx.include.read_text() == text


@pytest.mark.parametrize("url", ["file:///etc/hostname", "ftp://127.0.0.1/x", "http:///no-host"])
def test_a_generation_url_that_is_not_http_is_refused_before_anything_changes(nginx, url):
    before = nginx.include.read_text()
    result = run_module("nginx_upstream", nginx.module_args(weights={"blue": 50, "green": 50}, generation_url=url))
    assert result.get("failed") is True and result["msg"].startswith("generation_url: "), result
    assert nginx.include.read_text() == before


def test_nginx_errors_about_other_files_do_not_quote_them(nginx):
    """A broken file the module did not write makes the staged check fail: the message says
    where, never what that file holds."""
    (nginx.root / "bluegreen" / "sites" / "zz-broken.conf").write_text("private-token-from-a-site-file on;\n")
    before_text = nginx.include.read_text()
    result = run_module("nginx_upstream", nginx.module_args(weights={"blue": 50, "green": 50}))
    assert result.get("failed") is True and "nginx -t of the new upstream failed" in result["msg"], result
    assert "zz-broken.conf:1" in result["msg"]
    assert "private-token" not in str(result)
    assert nginx.include.read_text() == before_text


def test_a_missing_reload_program_leaves_the_previous_include(nginx):
    before_text = nginx.include.read_text()
    generation_url = nginx.module_args()["generation_url"]
    served = served_generation(generation_url)
    result = run_module("nginx_upstream", nginx.module_args(weights={"green": 100}, reload_command=["/nonexistent/reload"]))
    assert result.get("failed") is True and not result.get("changed"), result
    assert "reload failed (/nonexistent/reload)" in result["msg"], result["msg"]
    assert f"the previous upstream was restored in {nginx.include}, but reloading NGINX with it failed too" in result["msg"]
    assert nginx.include.read_text() == before_text
    assert served_generation(generation_url) == served
    assert set(answered_by(nginx)) == {"blue_1", "blue_2"}


def test_an_include_whose_name_starts_with_two_dots_is_inside_the_directory(nginx):
    include = nginx.root / "..extra.conf"
    result = run_module("nginx_upstream", nginx.module_args(upstream="extra", path=str(include), servers=nginx.servers_arg(),
                                                            weights={"blue": 100, "green": 0}, reload=False))
    assert result["changed"] is True and not result.get("failed"), result
    assert "upstream extra {" in include.read_text()


@pytest.mark.parametrize("name", ["server", "http", "if"])
def test_an_upstream_named_like_an_nginx_keyword_is_refused(nginx, name):
    result = run_module("nginx_upstream", nginx.module_args(upstream=name, path=str(nginx.root / "bluegreen" / "upstreams" / "k.conf"),
                                                            servers=nginx.servers_arg(), weights={"blue": 100, "green": 0}, reload=False))
    assert result.get("failed") is True and f"upstream: '{name}' is an NGINX keyword" in result["msg"], result
    assert not (nginx.root / "bluegreen" / "upstreams" / "k.conf").exists()


def test_an_include_outside_the_configuration_directory_is_never_read(nginx, tmp_path):
    outside = tmp_path / "private.conf"
    outside.write_text("    server 10.9.9.9:80 weight=7;  # color=blue\n")
    result = run_module("nginx_upstream", nginx.module_args(path=str(nginx.root / ".." / "private.conf")), diff=True)
    assert result.get("failed") is True and "is outside the configuration directory" in result["msg"], result
    assert "10.9.9.9" not in str(result)
