"""Hostile arguments to haproxy_backend and nginx_upstream through ansible, against the real
HAProxy 2.6 and NGINX 1.22 on loopback. Each example corrupts one argument of a valid call
(`;`, newlines, `}`, NUL, huge, non-ASCII, digits of other scripts, wrong types). A refused
call names that argument (or is NGINX's own refusal of the checked candidate), and the load
balancer runs what it ran before, with the include file as it was; an accepted call is a
correct change, read back from the load balancer. Never a traceback. Each example is an
ansible run, so there are few of them; tests/unit/plugins/module_utils/test_lb_properties.py
drives the same logic with many."""
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lb_harness import HAProxyUnderTest, NginxUnderTest, run_task, served_generation

from ansible_collections.tracegate.bluegreen.plugins.module_utils import nginx_upstream as nu

SERVERS = ["blue_1", "blue_2", "green_1", "green_2"]
STATE_FLAGS = {"ready": 0, "maint": 1, "drain": 8}
# NUL must reach the module: by default Ansible refuses it first, while logging the
# module's arguments to syslog.
ANSIBLE_ENV = {"ANSIBLE_NO_TARGET_SYSLOG": "True"}
EXAMPLES = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

PIECES = (
    "", " ", ";", "\n", "}", "{", "\x00", "#", '"', "\\", "\t", "=", "/", "..", "\u2028", "\u0663", "\u00b2", "\uff11",
    "\u00e9", "-1", "0", "1", "50", "256", "257", "nan", "max_fails=1", "fail_timeout=5s", "weight=5", "backup",
    "slow_start=1s", "include /etc/shadow", "server { listen 127.0.0.1:9; return 200 injected; }",
    "set server app/blue_1 state maint", "blue", "green", "blue_1", "green_2", "ready", "drain", "maint",
    "127.0.0.1:99999", "server", "if",
)
# Short enough for one argument of a command line (ansible -a).
hostile_text = st.one_of(
    st.sampled_from(PIECES),
    st.lists(st.sampled_from(PIECES), min_size=2, max_size=5).map("".join),
    st.text(max_size=20),
    st.sampled_from(PIECES).map(lambda piece: piece * 2000),
)
hostile_value = st.one_of(hostile_text, st.integers(min_value=-(2 ** 70), max_value=2 ** 70), st.booleans(), st.none(),
                          st.floats(allow_nan=False, allow_infinity=False), st.lists(st.integers(), max_size=2))
hostile_mapping = st.dictionaries(st.one_of(hostile_text, st.sampled_from(["blue", "green", *SERVERS])),
                                  hostile_value, min_size=1, max_size=3)


def no_traceback(result):
    assert "MODULE FAILURE" not in result.get("msg", "") and "Traceback" not in result.get("module_stderr", ""), result


@pytest.fixture(scope="module")
def haproxy(tmp_path_factory):
    lb = HAProxyUnderTest(tmp_path_factory.mktemp("haproxy"), SERVERS).start()
    yield lb
    lb.stop()


@st.composite
def haproxy_calls(draw):
    call = {"weights": {"blue": 50, "green": 50}}
    field = draw(st.sampled_from(["weights", "server_weights", "states", "server_states", "backend", "timeout",
                                  "health_timeout", "health_path", "socket"]))
    if field in ("weights", "server_weights", "states", "server_states"):
        call[field] = draw(hostile_mapping)
    elif field == "backend":
        call[field] = draw(st.lists(hostile_text, min_size=1, max_size=2))
    elif field == "health_path":
        call.update(health_path=draw(hostile_text), require_up=["blue"])
    elif field == "socket":
        call[field] = draw(st.sampled_from(["127.0.0.1:99999", "127.0.0.1:\u0663", "unix:", "tcp:", ":80", "a b:1",
                                            "/nonexistent/\x00.sock", "127.0.0.1:1\n"]))
    else:
        call[field] = draw(hostile_value)
    return field, call


@EXAMPLES
@given(haproxy_calls())
def test_haproxy_backend_refuses_hostile_arguments_by_name_or_changes_correctly(haproxy, corrupted):
    field, call = corrupted
    before = haproxy.servers()
    args = {"socket": haproxy.socket, "backend": "app", "state_file": haproxy.state_file, "health_timeout": 5, **call}
    result = run_task("haproxy_backend", args, env=ANSIBLE_ENV)
    no_traceback(result)
    if result.get("failed"):
        assert field in result["msg"] or "no ready server of weight above 0" in result["msg"], (field, result["msg"])
        assert haproxy.servers() == before
    else:
        assert haproxy.servers() == {s["server"]: (s["weight"], STATE_FLAGS[s["state"]]) for s in result["after"]}


@pytest.fixture(scope="module")
def nginx(tmp_path_factory):
    lb = NginxUnderTest(tmp_path_factory.mktemp("nginx"), SERVERS)
    first = run_task("nginx_upstream", lb.module_args(servers=lb.servers_arg(), weights={"blue": 100, "green": 0}, reload=False))
    assert first["changed"] is True, first
    yield lb.start()
    lb.stop()


@st.composite
def nginx_calls(draw):
    call = {"weights": {"blue": 50, "green": 50}}
    field = draw(st.sampled_from(["weights", "server_weights", "server_params", "keepalive", "upstream", "servers",
                                  "reload_timeout", "health_path"]))
    if field in ("weights", "server_weights"):
        call[field] = draw(hostile_mapping)
    elif field == "servers":
        call[field] = draw(st.lists(st.fixed_dictionaries({"address": hostile_text, "color": st.sampled_from(["blue", "green"])}),
                                    min_size=1, max_size=3))
    elif field == "health_path":
        call.update(health_path=draw(hostile_text), require_up=["blue"])
    else:
        call[field] = draw(hostile_value)
    return field, call


@EXAMPLES
@given(nginx_calls())
def test_nginx_upstream_refuses_hostile_arguments_by_name_or_changes_correctly(nginx, corrupted):
    field, call = corrupted
    generation_url = nginx.module_args()["generation_url"]
    before_text, before_served = nginx.include.read_text(), served_generation(generation_url)
    result = run_task("nginx_upstream", nginx.module_args(**call), env=ANSIBLE_ENV)
    no_traceback(result)
    if result.get("failed"):
        assert (field in result["msg"] or "nginx -t of the new upstream failed" in result["msg"]
                or "no server has a weight above 0" in result["msg"]), (field, result["msg"])
        assert nginx.include.read_text() == before_text
        assert served_generation(generation_url) == before_served
    else:
        servers, generation = nu.parse(nginx.include.read_text())
        assert [s.as_dict() for s in servers] == result["after"] and generation == result["generation"]
        assert served_generation(generation_url) == result["generation"]
