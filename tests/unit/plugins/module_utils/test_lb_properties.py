"""Hostile input to the logic of haproxy_backend and nginx_upstream: argument checks, the
include's rendering and reading, the Runtime API's commands and answers. Each example
corrupts one argument of a valid call (`;`, newlines, `}`, NUL, huge, non-ASCII, digits of
other scripts, wrong types); the outcome is a refusal naming that argument or a correct
result, never another exception. The same calls through the real HAProxy and NGINX are in
tests/integration/test_lb_hostile_input.py."""
import re
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ansible_collections.tracegate.bluegreen.plugins.module_utils import haproxy_runtime as hr
from ansible_collections.tracegate.bluegreen.plugins.module_utils import nginx_upstream as nu
from ansible_collections.tracegate.bluegreen.plugins.module_utils import server_check

FIXTURES = Path(__file__).parent / "fixtures" / "haproxy"

HOSTILE_PIECES = (
    "", " ", ";", "\n", "\r\n", "}", "{", "\x00", "#", "$", '"', "'", "\\", "\t", "=", "/", ":", "..", "\u2028", "\x85",
    "\u0663", "\u00b2", "\uff11", "\U0001d7d9", "\u0e53", "\u00e9", "-1", "0", "1", "256", "257", "1e3", "0x10", "nan",
    "inf", "max_fails=1", "fail_timeout=5s", "weight=5", "backup", "slow_start=1s", "include /etc/shadow",
    "server { listen 127.0.0.1:9; return 200 injected; }", "set server app/blue_1 state maint", "blue", "green",
    "blue_1", "127.0.0.1:8080", "[::1]:80", "server", "http", "if",
)
hostile_text = st.one_of(
    st.sampled_from(HOSTILE_PIECES),
    st.lists(st.sampled_from(HOSTILE_PIECES), min_size=2, max_size=6).map("".join),
    st.text(max_size=30),
    st.sampled_from(HOSTILE_PIECES).map(lambda piece: piece * 3000),
)
hostile_value = st.one_of(
    hostile_text, st.integers(min_value=-(2 ** 70), max_value=2 ** 70), st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(), st.none(), st.lists(st.integers(), max_size=2),
)
hostile_mapping = st.dictionaries(st.one_of(hostile_text, st.sampled_from(["blue", "green", "blue_1", "green_2"])),
                                  hostile_value, max_size=3)


def refused(error, field, *also):
    """The refusal names `field` (or says one of `also`, refusals of a combination)."""
    message = str(error)
    assert field in message or any(words in message for words in also), (field, message)
    assert "\x00" not in message and len(message) < 2000, message


# nginx_upstream

SERVERS = [{"address": "127.0.0.1:8081", "color": "blue"}, {"address": "127.0.0.1:8082", "color": "blue"},
           {"address": "127.0.0.1:8083", "color": "green"}]
VALID_CALL = {"name": "bluegreen_app", "servers": SERVERS, "weights": {"blue": 50, "green": 50},
              "server_weights": {}, "server_params": "max_fails=1 fail_timeout=5s", "keepalive": 32}
# Every line of an include this module writes: nothing else may get into it.
INCLUDE_LINE = re.compile(
    r"# Managed by tracegate\.bluegreen \(nginx_upstream\): the traffic split of this upstream\."
    r"|# Edits by hand are overwritten at the next switch\."
    r"|map \$host \$bluegreen_generation_[A-Za-z0-9_]+ \{"
    r'|    default "[0-9a-f]{16}";'
    r"|\}"
    r"|upstream [A-Za-z0-9_]+ \{"
    r"|    server [A-Za-z0-9.:\[\]-]+ weight=[0-9]+( (max_fails|max_conns)=[0-9]+| fail_timeout=[0-9yMwdhms]+)*;  # color=(blue|green)"
    r"|    # server [A-Za-z0-9.:\[\]-]+ down;  # color=(blue|green)"
    r"|    keepalive [0-9]+;"
)


def open_source():
    return "nginx/1.22.1", False


@st.composite
def nginx_calls(draw):
    """A valid call with one argument corrupted: (field, call)."""
    field = draw(st.sampled_from(["name", "servers", "weights", "server_weights", "server_params", "keepalive"]))
    call = dict(VALID_CALL)
    if field == "servers":
        call["servers"] = draw(st.lists(st.fixed_dictionaries({
            "address": st.one_of(hostile_value, st.sampled_from([s["address"] for s in SERVERS])),
            "color": st.one_of(hostile_value, st.sampled_from(["blue", "green"])),
        }), max_size=4))
    elif field in ("weights", "server_weights"):
        call[field] = draw(hostile_mapping)
    else:
        call[field] = draw(hostile_value)
    return field, call


@settings(max_examples=400, deadline=None)
@given(nginx_calls())
def test_nginx_upstream_refuses_by_name_or_writes_only_its_own_grammar(corrupted):
    field, call = corrupted
    argument = {"name": "upstream"}.get(field, field)
    try:
        after, content, generation = nu.planned_include(
            call["name"], [], call["servers"], call["weights"], call["server_weights"], call["server_params"],
            call["keepalive"], open_source)
    except nu.UpstreamError as error:
        refused(error, argument, "no server has a weight above 0", "servers", "no blue server", "no green server")
        return
    for line in content.splitlines():
        assert INCLUDE_LINE.fullmatch(line), line
    assert nu.parse(content) == (after, generation)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(hostile_text, st.sampled_from([
    "    server 127.0.0.1:8080 weight=5;  # color=blue", "    # server [::1]:80 down;  # color=green",
    '    default "0123456789abcdef";', "    server a:1 weight=abc;  # color=blue", "    server a:1 weight=\u0663;  # color=blue",
    "    server a:99999;  # color=green", "    server a:1;  # color=red"])), max_size=8).map("\n".join))
def test_nginx_include_text_reads_or_is_refused_by_line(text):
    try:
        servers, _generation = nu.parse(text)
    except nu.UpstreamError as error:
        assert re.match(r"line [0-9]+: ", str(error)), str(error)
        return
    assert all(nu.check_address(s.address) and s.color in nu.COLORS and s.weight >= 0 for s in servers)


SECRET = "s3cr3t"


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(
    st.sampled_from(["nginx: [emerg] ", "nginx: [alert] ", "2026/11/30 08:01:19 [emerg] 22826#22826: "]),
    st.lists(st.sampled_from(['unknown directive "', SECRET, '"', "\n", " in ", "/etc/nginx/", ":", "1", " ", "}", ";"]),
             max_size=8).map("".join),
    st.sampled_from(["/etc/nginx/secret.conf", "/etc/nginx/sites/a b.conf"]),
    st.integers(min_value=1, max_value=999)), min_size=1, max_size=4))
def test_nginx_messages_about_other_files_never_carry_their_words(records):
    output = "".join(f"{prefix}{text} in {path}:{line}\n" for prefix, text, path, line in records)
    assert SECRET not in nu.nginx_message(output, "/etc/nginx/bluegreen/upstreams/app.conf")


# haproxy_runtime

def current_servers():
    rows = hr.parse_servers_state((FIXTURES / "show_servers_state_app.txt").read_text())
    return {key: hr.ServerState.from_row(row) for key, row in rows.items()}


SET_COMMAND = re.compile(r"set server app/(blue|green)_[a-z]+-[0-9] (state (ready|drain|maint)|weight [0-9]{1,3})")


@st.composite
def haproxy_calls(draw):
    """A valid call with one argument corrupted: (field, call)."""
    call = {"weights": {"blue": 50, "green": 50}, "server_weights": {}, "states": {"green": "ready"}, "server_states": {}}
    field = draw(st.sampled_from(sorted(call)))
    call[field] = draw(hostile_mapping)
    return field, call


@settings(max_examples=400, deadline=None)
@given(haproxy_calls())
def test_haproxy_backend_refuses_by_name_or_sends_only_set_server_commands(corrupted):
    field, call = corrupted
    current = current_servers()
    try:
        wanted = hr.plan_changes(current, **call)
    except hr.RuntimeApiError as error:
        refused(error, field, "no ready server of weight above 0")
        return
    for key, target in wanted.items():
        assert 0 <= target.weight <= 256 and target.state in hr.ADMIN_STATES
        for command in hr.apply_commands(current[key], target):
            assert SET_COMMAND.fullmatch(command), command


@settings(max_examples=300, deadline=None)
@given(hostile_value, st.lists(hostile_value, max_size=3), hostile_value)
def test_haproxy_connection_arguments_are_refused_by_name_before_connecting(socket_address, backends, timeout):
    try:
        hr.BackendSwitch(socket_address, backends, timeout)
    except hr.RuntimeApiError as error:
        refused(error, "socket", "backend", "timeout")


RUNTIME_API_PIECES = ("1", "# ", "be_name", "srv_name", "srv_uweight", "srv_admin_state", "srv_op_state", "app", "blue_x",
                      "100", "8", "2", "abc", "\u0663", " ", "\n", ",", "pxname", "svname", "scur", "\x00", '"', "-1")


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(RUNTIME_API_PIECES) | st.text(max_size=5), max_size=40).map("".join))
def test_runtime_api_answers_are_read_or_refused(answer):
    try:
        [hr.ServerState.from_row(row) for row in hr.parse_servers_state(answer).values()]
    except hr.RuntimeApiError:
        pass
    try:
        for row in hr.parse_show_stat(answer).values():
            hr.stat_number(row, "scur")
            hr.passed_check_since_ready(row)
    except hr.RuntimeApiError:
        pass


# server_check (require_up)

@settings(max_examples=300, deadline=None)
@given(hostile_value, hostile_value)
def test_server_addresses_and_health_paths_are_refused_by_name(address, path):
    try:
        host, port = server_check.split_address(address)
        assert re.fullmatch(r"[A-Za-z0-9._:-]+", host) and 1 <= port <= 65535
    except ValueError as error:
        refused(error, "host:port")
    try:
        server_check.check_health_path(path)
    except ValueError as error:
        refused(error, "health_path")
