"""The gate over time, on a fake clock and a scripted backend (the subject is our own loop)."""
import pytest

from ansible_collections.tracegate.bluegreen.plugins.module_utils import gate
from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces.model import BackendError, ColorSample


class FakeClock:
    def __init__(self):
        self.now = 1000.0
        self.sleeps = []

    def time(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


class ScriptedBackend:
    """Answers each look with the next (blue, green) pair of (requests, errors); records queries."""

    def __init__(self, script):
        self.script = list(script)
        self.queries = []
        self.current = None

    def sample(self, query):
        self.queries.append(query)
        if query.color == "blue":
            self.current = self.script.pop(0) if len(self.script) > 1 else self.script[0]
        answer = self.current[0 if query.color == "blue" else 1]
        if answer is None:
            raise BackendError("connection refused")
        requests, errors = answer
        return ColorSample(query.color, requests=requests, errors=errors, latencies_ms=[10.0 + i % 7 for i in range(requests)])


def settings(**kwargs):
    return gate.GateSettings("bgdemo", "blue", "green", 60, **kwargs)


def test_a_healthy_bake_looks_every_interval_and_passes_at_the_end():
    clock = FakeClock()
    backend = ScriptedBackend([((2000, 20), (400, 4))])
    result = gate.watch(backend, settings(), bake=20, interval=5, clock=clock.time, sleep=clock.sleep)
    assert result["verdict"] == "pass"
    assert [entry["interim"] for entry in result["looks"]] == [True, True, True, False]
    assert [entry["at"] for entry in result["looks"]] == [1005.0, 1010.0, 1015.0, 1020.0]
    assert result["decided_at"] == 1020.0


def test_without_a_bake_there_is_one_look_now():
    clock = FakeClock()
    backend = ScriptedBackend([((2000, 20), (400, 4))])
    result = gate.watch(backend, settings(), clock=clock.time, sleep=clock.sleep)
    assert result["verdict"] == "pass" and [entry["at"] for entry in result["looks"]] == [1000.0]


def test_a_bake_counts_from_the_traffic_change_not_from_the_start_of_the_task():
    clock = FakeClock()
    backend = ScriptedBackend([((2000, 20), (400, 4))])
    result = gate.watch(backend, settings(), bake=20, interval=5, bake_from=997.5, clock=clock.time, sleep=clock.sleep)
    assert result["verdict"] == "pass"
    assert result["decided_at"] == 1017.5
    assert [entry["interim"] for entry in result["looks"]][-1] is False


def test_the_first_failing_look_ends_the_bake():
    clock = FakeClock()
    backend = ScriptedBackend([((2000, 20), (400, 4)), ((2000, 20), (400, 200))])
    result = gate.watch(backend, settings(), bake=60, interval=5, clock=clock.time, sleep=clock.sleep)
    assert result["verdict"] == "fail"
    assert len(result["looks"]) == 2 and result["decided_at"] == 1010.0


def test_interim_looks_use_a_tenth_of_alpha():
    # p of this difference lies between 0.0005 and 0.005: fails only at the final look.
    backend = ScriptedBackend([((5000, 50), (1000, 22))])
    judged = gate.look(backend, settings(), 1000.0, interim=True)
    final = gate.look(backend, settings(), 1000.0, interim=False)
    assert judged["verdict"] == "pass", judged["reasons"]
    assert final["verdict"] == "fail", final["reasons"]


def test_an_unreachable_backend_fails_the_gate_at_once():
    clock = FakeClock()
    backend = ScriptedBackend([((2000, 20), None)])
    result = gate.watch(backend, settings(), bake=60, interval=5, clock=clock.time, sleep=clock.sleep)
    assert result["verdict"] == "fail" and "connection refused" in result["reasons"][0]
    assert len(result["looks"]) == 1


def test_inconclusive_is_held_then_given_up():
    clock = FakeClock()
    backend = ScriptedBackend([((2000, 20), (5, 0))])
    result = gate.watch(backend, settings(), bake=10, interval=5, hold=12, clock=clock.time, sleep=clock.sleep)
    assert result["verdict"] == "inconclusive"
    assert result["decided_at"] >= 1022.0
    assert [entry["verdict"] for entry in result["looks"]] == ["inconclusive"] * len(result["looks"])


def test_held_inconclusive_that_gathers_traffic_passes():
    clock = FakeClock()
    backend = ScriptedBackend([((2000, 20), (5, 0)), ((2000, 20), (5, 0)), ((2000, 20), (5, 0)), ((2000, 20), (300, 3))])
    result = gate.watch(backend, settings(), bake=5, interval=5, hold=60, clock=clock.time, sleep=clock.sleep)
    assert result["verdict"] == "pass" and len(result["looks"]) == 4
    assert result["decided_at"] == 1020.0


def test_both_colors_share_the_window_bounded_by_since():
    backend = ScriptedBackend([((2000, 20), (400, 4))])
    gate.look(backend, settings(since=980.0), 1000.0)
    blue, green = backend.queries
    assert (blue.start, blue.end) == (green.start, green.end) == (980.0, 1000.0)


def test_since_and_baseline_end_bound_the_windows():
    backend = ScriptedBackend([((2000, 20), (400, 4))])
    result = gate.look(backend, settings(since=980.0, baseline_end=990.0), 1000.0)
    blue, green = backend.queries
    assert (blue.start, blue.end) == (930.0, 990.0)
    assert (green.start, green.end) == (980.0, 1000.0)
    assert result["window"]["start"] == 980.0


def test_a_watch_reads_the_old_colors_settled_baseline_once():
    clock = FakeClock()
    backend = ScriptedBackend([((2000, 20), (400, 4))])
    # Switched at 999: at the look at 1003 its last spans may still be on their way.
    result = gate.watch(backend, settings(since=900.0, baseline_end=999.0), bake=13, interval=3, clock=clock.time,
                        sleep=clock.sleep)
    assert result["verdict"] == "pass" and len(result["looks"]) == 5
    baselines = [(q.start, q.end) for q in backend.queries if q.color == "blue"]
    assert baselines == [(939.0, 999.0), (939.0, 999.0)]  # at 1003, and at 1006 (then kept)
    assert len([q for q in backend.queries if q.color == "green"]) == 5


def test_reasons_name_the_real_colors_when_green_is_the_baseline():
    class Swapped(ScriptedBackend):
        def sample(self, query):
            return super().sample(type(query)(query.service, query.start, query.end,
                                              color={"green": "blue", "blue": "green"}[query.color]))

    swapped = Swapped([((2000, 20), (400, 200))])
    result = gate.look(swapped, gate.GateSettings("bgdemo", "green", "blue", 60), 1000.0)
    assert result["verdict"] == "fail"
    assert any(reason.startswith("blue error rate") for reason in result["reasons"])


@pytest.mark.parametrize("key", ["nonsense"])
def test_unknown_threshold_is_named(key):
    with pytest.raises(gate.analysis.AnalysisError, match=key):
        settings(thresholds={key: 1})
