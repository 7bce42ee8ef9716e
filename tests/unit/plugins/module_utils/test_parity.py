import random

import pytest
from ansible_collections.tracegate.bluegreen.plugins.module_utils import parity


def probes(n, ok=True, ms=10.0, spread=2.0, seed=1):
    rng = random.Random(seed)
    return [{"ok": ok, "ms": ms + rng.uniform(-spread, spread)} for _probe in range(n)]


def results(green_probes, blue_probes=None):
    blue_probes = blue_probes if blue_probes is not None else probes(20)
    return {"blue-1": {"color": "blue", "probes": {"partner-api": blue_probes}},
            "blue-2": {"color": "blue", "probes": {"partner-api": probes(20, seed=2)}},
            "green-1": {"color": "green", "probes": {"partner-api": green_probes}},
            "green-2": {"color": "green", "probes": {"partner-api": probes(20, seed=3)}}}


def test_equal_colors_pass():
    judged = parity.compare(results(probes(20, seed=4)), "blue")
    assert judged["verdict"] == "pass", judged["reasons"]


def test_a_dependency_unreachable_from_one_new_host_fails_naming_it():
    judged = parity.compare(results([{"ok": False} for _probe in range(20)]), "blue")
    assert judged["verdict"] == "fail"
    assert judged["reasons"][0].startswith("partner-api: green failed 20 of 40 probes, blue 0 of 40")
    assert judged["dependencies"]["partner-api"]["hosts"]["green-1"] == {"probes": 20, "failures": 20, "median_ms": None,
                                                                         "color": "green"}


def test_a_dependency_slow_only_from_the_new_color_fails():
    slow = results(probes(20, ms=90.0, seed=5))
    slow["green-2"]["probes"]["partner-api"] = probes(20, ms=90.0, seed=6)
    judged = parity.compare(slow, "blue")
    assert judged["verdict"] == "fail" and "median" in judged["reasons"][0], judged["reasons"]


def test_a_small_slowdown_within_the_margins_passes():
    judged = parity.compare(results(probes(20, ms=14.0, seed=7)), "blue")
    assert judged["verdict"] == "pass"


def test_the_old_color_is_whichever_is_live():
    judged = parity.compare(results(probes(20, seed=4), blue_probes=[{"ok": False} for _probe in range(20)]), "green")
    assert judged["verdict"] == "fail" and judged["reasons"][0].startswith("partner-api: blue failed 20 of 40")


def test_too_few_probes_are_inconclusive_never_a_pass():
    few = {"blue-1": {"color": "blue", "probes": {"db": probes(3)}}, "green-1": {"color": "green", "probes": {"db": probes(3)}}}
    judged = parity.compare(few, "blue")
    assert judged["verdict"] == "inconclusive" and "fewer than min_probes 10" in judged["reasons"][0]


@pytest.mark.parametrize("bad, named", [
    ({"h": {"color": "red", "probes": {}}}, "results.h.color"),
    ({"h": {"color": "blue", "probes": []}}, "results.h.probes: not a mapping"),
    ({"h": {"color": "blue", "probes": {"db": "x"}}}, "results.h.probes.db: not a list"),
    ({"h": {"color": "blue", "probes": {"db": [{"ok": "yes"}]}}}, r"results.h.probes.db\[0\]: needs ok"),
    ({"h": {"color": "blue", "probes": {"db": [{"ok": True, "ms": -1}]}}}, r"results.h.probes.db\[0\].ms"),
])
def test_bad_input_is_named(bad, named):
    with pytest.raises(parity.ParityError, match=named):
        parity.compare(bad, "blue")


class Clock:
    def __init__(self):
        self.now = 0.0

    def time(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_probe_asks_every_dependency_each_round_and_keeps_what_failed():
    clock = Clock()
    asked = []

    def get_status(url):
        asked.append(url)
        clock.now += 0.004
        return 503 if url.endswith("/down") else 200

    def connect(host, port):
        asked.append((host, port))
        raise ConnectionRefusedError("connection refused")

    deps = parity.dependencies_of([{"name": "partner", "url": "http://partner:9000/health"},
                                   {"name": "down", "url": "http://partner:9000/down"},
                                   {"name": "db", "tcp": "db.lab:5432"}])
    probes = parity.probe(deps, 3, 0.5, get_status, connect, clock=clock.time, sleep=clock.sleep)
    assert probes["partner"] == [{"ok": True, "ms": 4.0}] * 3
    assert probes["down"][0] == {"ok": False, "error": "answered 503", "ms": 4.0}
    assert probes["db"][0] == {"ok": False, "error": "connection refused", "ms": 0.0}
    assert asked[:3] == ["http://partner:9000/health", "http://partner:9000/down", ("db.lab", 5432)]
    assert clock.now == pytest.approx(1.008)  # rounds begin every 0.5 s; the last one takes 8 ms


@pytest.mark.parametrize("items, named", [
    ([], "dependencies: a non-empty list"),
    ([{"url": "http://x"}], r"dependencies\[0\].name"),
    ([{"name": "a", "url": "http://x"}, {"name": "a", "tcp": "x:1"}], r"dependencies\[1\].name: 'a' is declared twice"),
    ([{"name": "a", "url": "http://x", "tcp": "x:1"}], r"dependencies\[0\]: exactly one of url and tcp"),
    ([{"name": "a", "url": "ftp://x"}], r"dependencies\[0\].url"),
    ([{"name": "a", "url": "http://partner\n.lab/health"}], r"dependencies\[0\].url"),
    ([{"name": "a", "url": "http://partner.lab/stän"}], r"dependencies\[0\].url: .* is not ASCII"),
    ([{"name": "a", "url": "http://pärtner.lab/"}], r"dependencies\[0\].url: .* is not ASCII"),
    ([{"name": "a", "tcp": "x:99999"}], r"dependencies\[0\].tcp"),
    ([{"name": "a", "tcp": "x:1", "timeout": 3}], "unknown: timeout"),
])
def test_a_bad_dependency_is_named(items, named):
    with pytest.raises(parity.ParityError, match=named):
        parity.dependencies_of(items)
