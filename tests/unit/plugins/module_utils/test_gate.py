"""The gate over time, on a fake clock and a scripted backend (the subject is our own loop)."""
import numpy
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


def test_a_look_judges_at_the_level_it_is_given_by_default_the_whole_alpha():
    # p of this difference lies between 0.0005 and 0.005: fails only at the full alpha.
    backend = ScriptedBackend([((5000, 50), (1000, 22))])
    strict = gate.look(backend, settings(), 1000.0, alpha=0.0005)
    whole = gate.look(backend, settings(), 1000.0)
    assert strict["verdict"] == "pass", strict["reasons"]
    assert whole["verdict"] == "fail", whole["reasons"]
    assert (strict["look_alpha"], whole["look_alpha"]) == (0.0005, 0.005)
    assert gate.summary_of(whole, 1000.0, False)["alpha"] == 0.005


HEALTHY = [((2000, 20), (400, 4))]
THIN = [((2000, 20), (5, 0))]  # inconclusive at every look: the watch holds to the end


@pytest.mark.parametrize("bake, interval, hold, script, count", [
    (0, 5, 0, HEALTHY, 1), (15, 5, 0, HEALTHY, 3), (50, 5, 0, HEALTHY, 10), (500, 5, 0, HEALTHY, 100),
    (20, 5, 30, THIN, 10), (5, 5, 495, THIN, 100), (13, 4, 7, THIN, 6),
])
def test_the_looks_of_a_watch_spend_at_most_alpha_however_many_there_are(bake, interval, hold, script, count):
    clock = FakeClock()
    result = gate.watch(ScriptedBackend(script), settings(), bake=bake, interval=interval, hold=hold, clock=clock.time,
                        sleep=clock.sleep)
    alphas = [entry["alpha"] for entry in result["looks"]]
    assert len(alphas) == count and min(alphas) > 0
    assert sum(alphas) <= 0.005 * (1 + 1e-12)
    assert result["alpha_spent"] == pytest.approx(sum(alphas), rel=1e-12)
    assert all(float(f"{value:.3g}") == value for value in alphas)  # as a reason shows it
    assert result["look_alpha"] == alphas[-1] and result["thresholds"]["alpha"] == alphas[-1]
    # The look at the end of the bake has the biggest share; a watch that holds to the end spends all.
    end_of_bake = [entry["interim"] for entry in result["looks"]].index(False)
    assert alphas[end_of_bake] >= 0.6 * 0.005
    if script is THIN:
        assert sum(alphas) == pytest.approx(0.005, rel=1e-3)  # less only by rounding each level down


class FixedBackend:
    """Answers every search with the same sample per color."""

    def __init__(self, blue, green):
        self.samples = {"blue": blue, "green": green}

    def sample(self, query):
        return self.samples[query.color]


def lognormal_ms(rng, count, median_ms):
    return list(rng.lognormal(0.0, 0.5, count) * median_ms)


@pytest.mark.parametrize("bake, interval, hold", [(8, 4, 12), (120, 5, 60), (600, 5, 300)])
@pytest.mark.parametrize("regression", ["errors", "latency"])
def test_a_clear_regression_fails_at_the_first_look(bake, interval, hold, regression):
    rng = numpy.random.default_rng(7)
    if regression == "errors":
        # 30 % of 40 requests against none of 50 (the baseline needs min_requests to compare with).
        backend = FixedBackend(ColorSample("blue", requests=50, errors=0, latencies_ms=lognormal_ms(rng, 50, 20)),
                               ColorSample("green", requests=40, errors=12, latencies_ms=lognormal_ms(rng, 40, 20)))
    else:
        # p95 doubled on 200 requests each.
        backend = FixedBackend(ColorSample("blue", requests=200, latencies_ms=lognormal_ms(rng, 200, 20)),
                               ColorSample("green", requests=200, latencies_ms=lognormal_ms(rng, 200, 40)))
    clock = FakeClock()
    result = gate.watch(backend, settings(), bake=bake, interval=interval, hold=hold, clock=clock.time, sleep=clock.sleep)
    assert result["verdict"] == "fail", result["reasons"]
    assert len(result["looks"]) == 1 and result["decided_at"] == 1000.0 + interval
    assert result["look_alpha"] < 0.005 * 0.3


class IndependentAA:
    """A healthy release (A/A): at every look both colors draw afresh from one distribution,
    so the looks share nothing and each is a new chance of a false fail (the worst case for
    looking often; overlapping windows, as in the lab, make fewer)."""

    def __init__(self, seed, requests=1000, error_rate=0.05):
        self.rng = numpy.random.default_rng(seed)
        self.requests = requests
        self.error_rate = error_rate

    def sample(self, query):
        return ColorSample(query.color, requests=self.requests, errors=int(self.rng.binomial(self.requests, self.error_rate)))


def test_a_healthy_release_is_not_failed_by_looking_more_often():
    # alpha 0.05 so that false fails are frequent enough to count on 80 watches; the error
    # test alone (no latencies) keeps it fast.
    aa = settings(thresholds={"alpha": 0.05})
    watches = 80
    bound = 2 * 0.05 * watches  # twice the expected count of a rate of at most alpha
    false_fails = {}
    for looks, bake in ((2, 10), (50, 250)):
        fails = 0
        for seed in range(watches):
            clock = FakeClock()
            result = gate.watch(IndependentAA(seed), aa, bake=bake, interval=5, clock=clock.time, sleep=clock.sleep)
            assert len(result["looks"]) == looks or result["verdict"] == "fail"
            fails += result["verdict"] == "fail"
        false_fails[looks] = fails
    assert false_fails[2] <= bound and false_fails[50] <= bound, false_fails
    # The old rule (a tenth of alpha at each look before the end of the bake, the full alpha at
    # its end and at every look of a hold) on the same 50 looks: 49 * 0.005 + 0.05 = 0.295 by
    # the union bound, and well over the bound measured.
    old_fails = 0
    for seed in range(watches):
        backend = IndependentAA(seed)
        old_fails += any(gate.look(backend, aa, 1000.0 + 5 * look, alpha=0.005 if look < 50 else 0.05)["verdict"] == "fail"
                         for look in range(1, 51))
    assert old_fails > bound, (old_fails, false_fails)


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


class SpanTimedBackend:
    """Each color's requests, one per start time, as a backend that reads spans answers them."""

    def __init__(self, starts):
        self.starts = starts
        self.queries = []

    def sample(self, query):
        self.queries.append(query)
        starts = [s for s in self.starts[query.color] if query.start <= s < query.end]
        sample = ColorSample(query.color, requests=len(starts), latencies_ms=[10.0] * len(starts))
        sample.request_starts = starts
        return sample


def traced_share(result):
    return next(c for c in result["checks"] if c["check"] == "traced_share")


def test_the_traced_share_ignores_the_last_export_delay_where_one_host_has_not_exported_yet():
    # 5 % of 200 requests a second on green since 992; blue's host exported everything, green's
    # only what started before 995 (its batch timer is 5 s behind): over the whole window
    # green looks under-traced.
    starts = {"blue": [900 + i / 190 for i in range(100 * 190)], "green": [992 + i / 10 for i in range(30)]}
    whole = gate.look(SpanTimedBackend(starts), settings(since=992.0, candidate_traffic_share=5), 1000.0)
    assert traced_share(whole)["outcome"] == "fail"
    exported = gate.look(SpanTimedBackend(starts), settings(since=992.0, candidate_traffic_share=5, export_delay=6),
                         1000.0)
    check = traced_share(exported)
    assert check["outcome"] == "pass" and "all exported" in check["reason"]
    assert check["observed_share"] == pytest.approx(100 * 20 / (380 + 20), abs=0.1)


def test_the_traced_share_waits_while_the_window_is_within_the_export_delay():
    starts = {"blue": [995 + i / 10 for i in range(50)], "green": []}
    result = gate.look(SpanTimedBackend(starts), settings(since=995.0, candidate_traffic_share=5, export_delay=6),
                       1000.0)
    assert traced_share(result)["outcome"] == "inconclusive" and result["verdict"] != "pass"
    assert "export delay" in traced_share(result)["reason"]


def test_a_blind_green_still_fails_the_traced_share_past_the_export_delay():
    starts = {"blue": [940 + i / 10 for i in range(600)], "green": []}
    result = gate.look(SpanTimedBackend(starts), settings(since=970.0, candidate_traffic_share=25, export_delay=6),
                       1000.0)
    assert traced_share(result)["outcome"] == "fail" and result["verdict"] == "fail"


def test_span_metrics_samples_have_the_exported_part_asked_for():
    backend = ScriptedBackend([((2000, 20), (100, 1))])
    gate.look(backend, settings(since=940.0, candidate_traffic_share=5, export_delay=6), 1000.0)
    assert [(q.color, q.start, q.end) for q in backend.queries[2:]] == [("blue", 940.0, 994.0), ("green", 940.0, 994.0)]
