"""The deployment lock on a real directory."""
import json

import pytest

from ansible_collections.tracegate.bluegreen.plugins.module_utils.deployment_lock import (
    DeploymentLock,
    LockError,
    LockHeld,
    read_state,
    state_path,
    write_state,
)


def take(lock, run_id, now=1000.0, **kwargs):
    return lock.acquire(run_id, {"actor": f"actor-{run_id}", "controller": "ops-1"}, now, "2026-11-25T15:00:00Z",
                        stale_after=600, **kwargs)


def test_first_run_takes_the_lock_and_a_second_is_refused_with_the_holder_named(tmp_path):
    lock = DeploymentLock(str(tmp_path), "bgdemo")
    changed, record, broken = take(lock, "run-a")
    assert changed and broken is None and record["actor"] == "actor-run-a"
    with pytest.raises(LockHeld) as refused:
        take(DeploymentLock(str(tmp_path), "bgdemo"), "run-b", now=1010.0)
    assert "run run-a of actor-run-a on ops-1" in str(refused.value)
    assert not refused.value.stale
    assert json.loads((tmp_path / "bgdemo.lock").read_text())["run_id"] == "run-a"


def test_the_holder_refreshes_its_heartbeat_without_a_change(tmp_path):
    lock = DeploymentLock(str(tmp_path), "bgdemo")
    take(lock, "run-a")
    changed, record, _broken = take(lock, "run-a", now=1300.0)
    assert not changed and record["heartbeat_at"] == 1300.0 and record["acquired_at"] == 1000.0


def test_a_heartbeat_needs_the_lock_still_held_by_the_same_run(tmp_path):
    lock = DeploymentLock(str(tmp_path), "bgdemo")
    with pytest.raises(LockError, match="is gone"):
        lock.heartbeat("run-a", 1000.0)
    take(lock, "run-a")
    assert lock.heartbeat("run-a", 1200.0)["heartbeat_at"] == 1200.0
    assert lock.read()["heartbeat_at"] == 1200.0
    take(lock, "run-b", now=5000.0, break_lock=True)
    with pytest.raises(LockHeld, match="now held by run run-b"):
        lock.heartbeat("run-a", 5001.0)
    assert lock.read()["run_id"] == "run-b"


def test_a_stale_lock_is_reported_and_only_broken_on_request(tmp_path):
    lock = DeploymentLock(str(tmp_path), "bgdemo")
    take(lock, "run-a")
    with pytest.raises(LockHeld, match="stale .* break_lock=true takes it over") as refused:
        take(lock, "run-b", now=2000.0)
    assert refused.value.stale
    changed, record, broken = take(lock, "run-b", now=2000.0, break_lock=True)
    assert changed and record["run_id"] == "run-b" and broken["run_id"] == "run-a"


def test_check_mode_writes_nothing(tmp_path):
    lock = DeploymentLock(str(tmp_path), "bgdemo")
    changed, _record, _broken = take(lock, "run-a", check_mode=True)
    assert changed and not (tmp_path / "bgdemo.lock").exists()


def test_release_only_by_the_holder_unless_forced(tmp_path):
    lock = DeploymentLock(str(tmp_path), "bgdemo")
    take(lock, "run-a")
    with pytest.raises(LockError, match="belongs to run run-a"):
        lock.release("run-b")
    changed, removed = lock.release("run-a")
    assert changed and removed["run_id"] == "run-a"
    assert not (tmp_path / "bgdemo.lock").exists()
    assert lock.release("run-a") == (False, None)


def test_an_unreadable_lock_file_still_refuses(tmp_path):
    (tmp_path / "bgdemo.lock").write_text("{half")
    with pytest.raises(LockHeld):
        take(DeploymentLock(str(tmp_path), "bgdemo"), "run-b")


@pytest.mark.parametrize("service", ["", "../etc", "a b", "x;y"])
def test_bad_service_names_are_refused(tmp_path, service):
    with pytest.raises(LockError, match="service"):
        DeploymentLock(str(tmp_path), service)


def test_state_round_trip_and_unreadable_state(tmp_path):
    path = state_path(str(tmp_path / "state"), "bgdemo")
    assert read_state(path) == {}
    write_state(path, {"phase": "shifting", "share": 25})
    assert read_state(path) == {"phase": "shifting", "share": 25}
    (tmp_path / "state" / "bgdemo.state.json").write_text("{half")
    assert read_state(path) == {"phase": "unreadable"}


def test_the_lock_of_a_run_the_watchdog_stopped_is_taken_over_without_break_lock(tmp_path):
    lock = DeploymentLock(str(tmp_path), "checkout")
    lock.acquire("dead-run", {"actor": "alice"}, 100.0, "t", 3600)
    restored = {"phase": "watchdog_restored", "run_id": "dead-run", "watchdog": {"run_id": "dead-run", "host": "lb-1"}}
    changed, record, broken = lock.acquire("next-run", {}, 200.0, "t", 3600, state=restored)
    assert changed and record["run_id"] == "next-run" and broken["run_id"] == "dead-run"


def test_a_watchdog_record_of_another_run_does_not_open_the_lock(tmp_path):
    lock = DeploymentLock(str(tmp_path), "checkout")
    lock.acquire("live-run", {"actor": "alice"}, 100.0, "t", 3600)
    restored = {"phase": "watchdog_restored", "run_id": "older-run", "watchdog": {"run_id": "older-run"}}
    with pytest.raises(LockHeld, match="held by"):
        lock.acquire("next-run", {}, 200.0, "t", 3600, state=restored)
