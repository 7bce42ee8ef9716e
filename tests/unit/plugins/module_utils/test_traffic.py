"""The live-color decision from load-balancer reports."""
import pytest

from ansible_collections.tracegate.bluegreen.plugins.module_utils.traffic import TrafficError, live_traffic


def report(host, blue, green, state=None, stale=False):
    return {"host": host, "colors": {"blue": blue, "green": green}, "state": state or {}, "nginx_stale": stale}


def test_all_on_one_color_is_settled():
    result = live_traffic([report("lb-a", 100, 0), report("lb-b", 100.0, 0.0)])
    assert result["settled"] and result["live"] == "blue" and result["problem"] is None


def test_load_balancers_that_disagree_without_a_run_are_a_problem_not_a_guess():
    result = live_traffic([report("lb-a", 100, 0), report("lb-b", 0, 100)])
    assert not result["settled"] and result["live"] is None
    assert "bluegreen_rollback_to" in result["problem"] and "lb-a" in result["problem"]


def test_a_killed_run_is_recovered_to_the_color_it_started_from():
    state = {"phase": "shifting", "from_color": "blue", "to_color": "green", "run_id": "r1", "updated_at": "2026"}
    result = live_traffic([report("lb-a", 75, 25, state), report("lb-b", 95, 5, state)])
    assert result["recover_to"] == "blue" and result["interrupted"]["run_id"] == "r1"


def test_a_run_killed_after_the_full_switch_is_recovered_too():
    state = {"phase": "watching", "from_color": "blue", "to_color": "green"}
    result = live_traffic([report("lb-a", 0, 100, state)])
    assert result["settled"] and result["recover_to"] == "blue"


def test_nginx_serving_another_split_than_its_file_is_not_settled():
    result = live_traffic([report("lb-a", 100, 0, stale=True)])
    assert not result["settled"] and "serves a different split" in result["problem"]


def test_finished_runs_leave_the_last_state_for_a_rollback():
    done = {"phase": "done", "from_color": "blue", "to_color": "green", "updated_at": "2026-11-25T10:00:00Z"}
    result = live_traffic([report("lb-a", 0, 100, done)])
    assert result["live"] == "green" and result["recover_to"] is None and result["last_state"]["from_color"] == "blue"


def test_no_report_is_an_error():
    with pytest.raises(TrafficError):
        live_traffic([])


def test_a_killed_gradual_rollback_is_finished_not_undone():
    state = {"phase": "shifting", "operation": "rollback", "from_color": "green", "to_color": "blue"}
    result = live_traffic([report("lb-a", 75, 25, state)])
    assert result["recover_to"] == "blue"


def test_rollback_goes_back_past_failed_runs_to_the_last_finished_cutover():
    failed = {"phase": "rolled_back", "from_color": "green", "to_color": "blue", "live": "green",
              "last_done": {"phase": "done", "from_color": "blue", "to_color": "green"}}
    assert live_traffic([report("lb-a", 0, 100, failed)])["previous"] == "blue"
    assert live_traffic([report("lb-a", 0, 100, {"phase": "done", "from_color": "blue", "to_color": "green"})])["previous"] == "blue"
    undone = {"phase": "rolled_back", "operation": "rollback", "from_color": "green", "to_color": "blue", "last_done": {}}
    assert live_traffic([report("lb-a", 100, 0, undone)])["previous"] is None


def test_a_watchdog_intervention_is_reported_with_the_dead_run_and_the_service_is_settled():
    restored = {"phase": "watchdog_restored", "from_color": "blue", "to_color": "green", "run_id": "dead", "live": "blue",
                "watchdog": {"run_id": "dead", "acted_at": "2026-11-30T12:00:00Z", "host": "lb-a"}}
    result = live_traffic([report("lb-a", 100, 0, restored), report("lb-b", 100, 0, restored)])
    assert result["settled"] and result["live"] == "blue" and result["recover_to"] is None and result["problem"] is None
    assert [(w["lb"], w["run_id"]) for w in result["watchdog"]] == [("lb-a", "dead"), ("lb-b", "dead")]
    assert live_traffic([report("lb-a", 100, 0)])["watchdog"] == []
