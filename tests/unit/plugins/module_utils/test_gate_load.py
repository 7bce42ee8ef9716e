"""Which samples a look compares: each color's own window and its load per host (a scripted
backend; the subject is our own arithmetic and wording)."""
from ansible_collections.tracegate.bluegreen.plugins.module_utils import gate
from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces.model import ColorSample


class LoadBackend:
    """Answers `requests[color]` requests per query, at `median_ms[color]`, and records the windows asked."""

    def __init__(self, requests, median_ms):
        self.requests, self.median_ms = requests, median_ms
        self.windows = {}

    def sample(self, query):
        self.windows[query.color] = (query.start, query.end)
        count, median = self.requests[query.color], self.median_ms[query.color]
        return ColorSample(query.color, requests=count, errors=0, latencies_ms=[median * (0.8 + 0.4 * (i % 11) / 10) for i in range(count)])


def test_green_slower_under_three_times_the_load_per_host_is_not_failed_on_latency():
    backend = LoadBackend({"blue": 600, "green": 1800}, {"blue": 10.0, "green": 20.0})
    judged = gate.look(backend, gate.GateSettings("bgdemo", "blue", "green", 60, baseline_hosts=2, candidate_hosts=2), 1000.0)
    check = next(c for c in judged["checks"] if c["check"] == "latency_vs_blue")
    assert judged["verdict"] == "pass" and check["outcome"] == "not_compared", judged["checks"]
    assert judged["colors"]["blue"]["load_per_host"] == 5.0 and judged["colors"]["green"]["load_per_host"] == 15.0
    assert judged["colors"]["green"]["window"] == {"start": 940.0, "end": 1000.0} and judged["colors"]["green"]["hosts"] == 2


def test_green_slower_at_the_same_load_per_host_fails():
    backend = LoadBackend({"blue": 600, "green": 600}, {"blue": 10.0, "green": 20.0})
    judged = gate.look(backend, gate.GateSettings("bgdemo", "blue", "green", 60, baseline_hosts=2, candidate_hosts=2), 1000.0)
    assert judged["verdict"] == "fail", judged["checks"]


def test_without_host_counts_latency_is_compared_as_before():
    backend = LoadBackend({"blue": 600, "green": 1800}, {"blue": 10.0, "green": 20.0})
    judged = gate.look(backend, gate.GateSettings("bgdemo", "blue", "green", 60), 1000.0)
    assert judged["verdict"] == "fail" and judged["colors"]["green"]["load_per_host"] is None


def test_a_baseline_from_before_is_measured_over_its_own_window():
    """The watch: the old color's window ended when the shift began, green's is since the switch."""
    backend = LoadBackend({"green": 1200, "blue": 300}, {"green": 10.0, "blue": 10.0})
    settings = gate.GateSettings("bgdemo", "green", "blue", 120, since=950.0, baseline_end=800.0, baseline_hosts=2,
                                 candidate_hosts=2)
    judged = gate.look(backend, settings, 1000.0)
    assert backend.windows == {"green": (680.0, 800.0), "blue": (950.0, 1000.0)}
    assert judged["colors"]["green"]["window"] == {"start": 680.0, "end": 800.0}
    assert judged["colors"]["green"]["load_per_host"] == 5.0 and judged["colors"]["blue"]["load_per_host"] == 3.0
    assert judged["verdict"] == "pass", judged["checks"]


def test_the_load_reason_names_the_real_colors_when_blue_is_the_candidate():
    backend = LoadBackend({"green": 600, "blue": 1800}, {"green": 10.0, "blue": 20.0})
    judged = gate.look(backend, gate.GateSettings("bgdemo", "green", "blue", 60, baseline_hosts=2, candidate_hosts=2), 1000.0)
    reason = next(c for c in judged["checks"] if c["check"] == "latency_vs_blue")["reason"]
    assert "each host of green served" in reason  # the judge's own words, about its candidate
    assert any("each host of blue served 15.00" in line for line in judged["reasons"]), judged["reasons"]


def test_the_watch_compares_medians_a_step_the_p95():
    # The same load per host in both looks: 5 req/s on 2 hosts, over 120 s and over 50 s.
    backend = LoadBackend({"green": 1200, "blue": 500}, {"green": 10.0, "blue": 10.0})
    watch = gate.look(backend, gate.GateSettings("bgdemo", "green", "blue", 120, since=950.0, baseline_end=800.0,
                                                 baseline_hosts=2, candidate_hosts=2), 1000.0)
    same_window = LoadBackend({"green": 500, "blue": 500}, {"green": 10.0, "blue": 10.0})
    step = gate.look(same_window, gate.GateSettings("bgdemo", "green", "blue", 50, baseline_hosts=2, candidate_hosts=2), 1000.0)
    statistic = {name: next(c for c in judged["checks"] if c["check"] == "latency_vs_blue")["statistic"]
                 for name, judged in (("watch", watch), ("step", step))}
    assert statistic == {"watch": "p50", "step": "p95"}
