"""The watchdog's decisions on a cutover state, with a fake clock (plain values of `now`)."""
import pytest

from ansible_collections.tracegate.bluegreen.plugins.module_utils import deployment_lock, haproxy_runtime, nginx_upstream, watchdog

SHIFTING = {"run_id": "run-1", "operation": "cutover", "phase": "shifting", "from_color": "blue", "to_color": "green",
            "share": 25, "deadline": 1000.0}


def test_the_deadline_covers_the_longest_bake_and_the_margin():
    assert watchdog.step_deadline(500.0, bake=60, hold=120, interval=10, margin=30) == 720.0


@pytest.mark.parametrize("name", ["bake", "hold", "interval", "margin"])
def test_a_negative_time_is_named(name):
    times = {"bake": 60, "hold": 120, "interval": 10, "margin": 30}
    times[name] = -1
    with pytest.raises(watchdog.WatchdogError, match=name):
        watchdog.step_deadline(500.0, **times)


def test_a_run_on_time_is_left_alone():
    assert watchdog.overdue(SHIFTING, 1000.0) is None


def test_a_run_past_its_deadline_is_overdue_and_the_reason_says_where_it_was():
    reason = watchdog.overdue(SHIFTING, 1012.5)
    assert "run-1" in reason and "12.5 s past its deadline" in reason and "25 % to green" in reason


@pytest.mark.parametrize("state", [
    {}, dict(SHIFTING, phase="done"), dict(SHIFTING, phase="rolled_back"), dict(SHIFTING, operation="rollback"),
    {key: value for key, value in SHIFTING.items() if key != "deadline"}, dict(SHIFTING, phase=watchdog.RESTORED_PHASE),
])
def test_only_a_cutover_shifting_or_watching_with_a_deadline_is_watched(state):
    assert watchdog.overdue(state, 5000.0) is None


def test_a_deadline_that_is_not_a_number_is_named():
    with pytest.raises(watchdog.WatchdogError, match="deadline: 'soon'"):
        watchdog.overdue(dict(SHIFTING, deadline="soon"), 5000.0)


def test_traffic_goes_back_to_the_color_the_run_started_from():
    assert watchdog.restore_to(SHIFTING, {"blue": 75, "green": 25}) == "blue"


def test_nothing_moves_when_the_new_color_has_no_traffic():
    assert watchdog.restore_to(SHIFTING, {"blue": 100, "green": 0}) is None


@pytest.mark.parametrize("colors", [{"from_color": "blue", "to_color": "blue"}, {"from_color": "red"}, {"to_color": None}])
def test_a_state_without_two_valid_colors_moves_nothing(colors):
    with pytest.raises(watchdog.WatchdogError, match="nothing is moved"):
        watchdog.restore_to(dict(SHIFTING, **colors), {"blue": 75, "green": 25})


def test_the_restored_state_keeps_the_run_and_says_what_the_watchdog_did():
    record = watchdog.restored_state(SHIFTING, "overdue", "2026-11-30T12:00:00Z", {"blue": 75, "green": 25},
                                     {"blue": 100, "green": 0}, "lb-1")
    assert record["phase"] == watchdog.RESTORED_PHASE and record["live"] == "blue" and record["share"] == 0
    assert record["run_id"] == "run-1" and "deadline" not in record
    assert record["watchdog"] == {"acted_at": "2026-11-30T12:00:00Z", "reason": "overdue", "run_id": "run-1",
                                  "interrupted_phase": "shifting", "split_before": {"blue": 75, "green": 25},
                                  "split_after": {"blue": 100, "green": 0}, "host": "lb-1"}


def test_a_stopped_run_may_end_itself_but_not_shift_again():
    restored = watchdog.restored_state(SHIFTING, "overdue", "t", {}, {}, "lb-1")
    refusal = watchdog.refuses_write(restored, dict(SHIFTING, share=50))
    assert "watchdog on lb-1 returned all traffic to blue" in refusal and "this run stops" in refusal
    assert watchdog.refuses_write(restored, dict(SHIFTING, phase="rolled_back")) is None
    assert watchdog.refuses_write(restored, dict(SHIFTING, run_id="run-2")) is None
    assert watchdog.refuses_write(SHIFTING, dict(SHIFTING, share=50)) is None


class ScriptedSplit:
    """A load balancer's split as the watchdog sees it; `fail` makes the restore raise, as a
    switch that could not verify itself does after reverting."""

    def __init__(self, colors, stale=False, fail=None):
        self.colors, self.stale, self.fail, self.restored = dict(colors), stale, fail, []

    def read(self):
        return dict(self.colors), self.stale

    def restore(self, color):
        if self.fail:
            raise watchdog.WatchdogError(self.fail)
        self.restored.append(color)
        self.colors = {color: 100.0, watchdog.other_color(color): 0.0}
        return dict(self.colors)


def run_tick(state_dir, split, now):
    lines = []
    watchdog.tick(str(state_dir), "lb-1", now, "2026-11-30T12:00:00Z", None, None, lines.append,
                  splits=lambda load_balancer, runner, fetch, local: split)
    return lines


def write(state_dir, service, state):
    deployment_lock.write_state(deployment_lock.state_path(str(state_dir), service), state)


def test_an_overdue_run_has_its_traffic_returned_and_its_state_marked(tmp_path):
    write(tmp_path, "checkout", SHIFTING)
    split = ScriptedSplit({"blue": 75.0, "green": 25.0})
    lines = run_tick(tmp_path, split, 1010.0)
    assert split.restored == ["blue"]
    state = deployment_lock.read_state(deployment_lock.state_path(str(tmp_path), "checkout"))
    assert state["phase"] == watchdog.RESTORED_PHASE and state["watchdog"]["split_before"] == {"blue": 75.0, "green": 25.0}
    assert state["watchdog"]["split_after"] == {"blue": 100.0, "green": 0.0} and state["watchdog"]["host"] == "lb-1"
    assert len(lines) == 1 and lines[0].startswith("checkout: run run-1") and "returned to blue" in lines[0]
    # Done once: the next round finds nothing to do.
    assert run_tick(tmp_path, split, 1020.0) == [] and split.restored == ["blue"]


def test_a_run_on_time_is_not_touched(tmp_path):
    write(tmp_path, "checkout", SHIFTING)
    split = ScriptedSplit({"blue": 75.0, "green": 25.0})
    assert run_tick(tmp_path, split, 999.0) == [] and split.restored == []
    assert deployment_lock.read_state(deployment_lock.state_path(str(tmp_path), "checkout")) == SHIFTING


def test_a_failed_restore_is_logged_and_leaves_the_state_for_the_next_round(tmp_path):
    write(tmp_path, "checkout", SHIFTING)
    split = ScriptedSplit({"blue": 75.0, "green": 25.0}, fail="nginx -t failed; the previous upstream was restored")
    lines = run_tick(tmp_path, split, 1010.0)
    assert lines == ["checkout: could not act, retrying next round: nginx -t failed; the previous upstream was restored"]
    assert deployment_lock.read_state(deployment_lock.state_path(str(tmp_path), "checkout")) == SHIFTING
    split.fail = None
    run_tick(tmp_path, split, 1012.0)
    assert split.restored == ["blue"]


def test_a_stale_nginx_is_reloaded_with_the_old_color_even_when_its_file_holds_it(tmp_path):
    write(tmp_path, "checkout", SHIFTING)
    split = ScriptedSplit({"blue": 100.0, "green": 0.0}, stale=True)
    lines = run_tick(tmp_path, split, 1010.0)
    assert split.restored == ["blue"] and "stale generation" in lines[0]


def test_traffic_already_back_is_only_marked(tmp_path):
    write(tmp_path, "checkout", SHIFTING)
    split = ScriptedSplit({"blue": 100.0, "green": 0.0})
    run_tick(tmp_path, split, 1010.0)
    assert split.restored == []
    assert deployment_lock.read_state(deployment_lock.state_path(str(tmp_path), "checkout"))["phase"] == watchdog.RESTORED_PHASE


def test_every_service_is_watched_on_its_own(tmp_path):
    write(tmp_path, "checkout", SHIFTING)
    write(tmp_path, "search", dict(SHIFTING, deadline=2000.0))
    split = ScriptedSplit({"blue": 75.0, "green": 25.0})
    lines = run_tick(tmp_path, split, 1010.0)
    assert [line.split(":")[0] for line in lines] == ["checkout"]
    assert deployment_lock.read_state(deployment_lock.state_path(str(tmp_path), "search"))["phase"] == "shifting"


def test_an_unknown_load_balancer_kind_is_named():
    with pytest.raises(watchdog.WatchdogError, match="load_balancer.kind: 'f5'"):
        watchdog.split_of({"kind": "f5"}, None, None)


@pytest.mark.parametrize("load_balancer, named", [
    (None, "load_balancer: None is not a mapping"),
    ({"kind": "nginx", "nginx": ["bluegreen_app"]}, "load_balancer.nginx: ['bluegreen_app'] is not a mapping"),
    # Paths and programs are the watchdog's own settings: a state file never names them.
    ({"kind": "nginx", "nginx": {"upstream": "app", "reload_command": ["/bin/sh", "-c", "id"]}},
     "load_balancer.nginx.'reload_command': a state names only upstream"),
    ({"kind": "nginx", "nginx": {"upstream": "app", "path": "/etc/passwd"}}, "load_balancer.nginx.'path'"),
    ({"kind": "haproxy", "haproxy": {"backend": "app", "state_file": "/etc/shadow"}}, "load_balancer.haproxy.'state_file'"),
    ({"kind": "haproxy", "haproxy": {"backend": 7}}, "load_balancer.haproxy.backend: 7 is not a string"),
])
def test_a_state_naming_more_than_its_target_is_refused_by_name(load_balancer, named):
    with pytest.raises(watchdog.WatchdogError) as raised:
        watchdog.split_of(load_balancer, None, None)
    assert named in str(raised.value)


@pytest.mark.parametrize("upstream", ["app;\n    server 10.0.0.9:80", "app\nx", "é" * 5000])
def test_a_hostile_upstream_name_is_refused_before_anything_is_read(upstream):
    with pytest.raises(nginx_upstream.UpstreamError, match="invalid upstream name"):
        watchdog.split_of({"kind": "nginx", "nginx": {"upstream": upstream}}, None, None)


@pytest.mark.parametrize("backend", ["app;shutdown sessions", "app\nset server app/x state maint", "ü"])
def test_a_hostile_backend_name_is_refused_before_the_socket_is_opened(backend):
    with pytest.raises(haproxy_runtime.RuntimeApiError, match="invalid backend name"):
        watchdog.split_of({"kind": "haproxy", "haproxy": {"backend": backend, "socket": "/nonexistent.sock"}}, None, None)


def test_the_watchdogs_own_settings_fill_what_the_state_does_not_name():
    split = watchdog.split_of({"kind": "haproxy", "haproxy": {"backend": "shop"}}, None, None,
                              local={"haproxy": {"state_file": "/srv/haproxy.state", "timeout": 2.0}})
    assert (split.backend, split.state_file) == ("shop", "/srv/haproxy.state")


def test_nginx_generations_are_read_on_the_watchdogs_control_port():
    split = watchdog.split_of({"kind": "nginx", "nginx": {"upstream": "bluegreen_shop"}}, None, None,
                              local={"nginx": {"control_port": 9001}})
    assert split.generation_url == "http://127.0.0.1:9001/.bluegreen/generation/bluegreen_shop"
    assert watchdog.split_of({"kind": "nginx", "nginx": {"upstream": "bluegreen_shop"}}, None, None).generation_url \
        == "http://127.0.0.1:18079/.bluegreen/generation/bluegreen_shop"


def test_one_broken_state_does_not_stop_the_round_for_the_others(tmp_path):
    write(tmp_path, "broken", dict(SHIFTING, load_balancer={"kind": "nginx", "nginx": {"upstream": "a", "path": "/etc/x"}},
                                   run_id="run-é" * 2000))
    write(tmp_path, "checkout", SHIFTING)
    lines = []
    scripted = ScriptedSplit({"blue": 75.0, "green": 25.0})

    def splits(load_balancer, runner, fetch, local):
        # The sound state names no load balancer here: the scripted one stands for it.
        return scripted if load_balancer is None else watchdog.split_of(load_balancer, runner, fetch, local)

    watchdog.tick(str(tmp_path), "lb-1", 1010.0, "2026-11-30T12:00:00Z", None, None, lines.append, splits=splits)
    assert lines[0].startswith("broken: could not act, retrying next round: load_balancer.nginx.'path'"), lines
    assert lines[1].startswith("checkout: ") and "all traffic returned to blue" in lines[1], lines
    assert deployment_lock.read_state(deployment_lock.state_path(str(tmp_path), "broken"))["phase"] == "shifting"
