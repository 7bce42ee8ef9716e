"""The green-vs-blue judge: seeded synthetic samples with known answers."""
import random

import pytest

from ansible_collections.tracegate.bluegreen.plugins.module_utils import analysis
from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces.model import ColorSample


def synthetic(color, requests, error_rate, median_ms, seed, dependency_error_rate=None):
    rng = random.Random(seed)
    latencies = [rng.lognormvariate(0, 0.4) * median_ms for index in range(requests)]
    errors = sum(rng.random() < error_rate for index in range(requests))
    sample = ColorSample(color, requests=requests, errors=errors, latencies_ms=latencies)
    if dependency_error_rate is not None:
        dep_errors = sum(rng.random() < dependency_error_rate for index in range(requests))
        sample.dependencies = {"stock": [requests, dep_errors, latencies]}
    return sample


def test_same_distribution_passes():
    result = analysis.judge(synthetic("blue", 2000, 0.01, 20, 1), synthetic("green", 2000, 0.01, 20, 2))
    assert result["verdict"] == "pass", result["reasons"]
    assert result["colors"]["green"]["requests"] == 2000


def test_doubled_error_rate_fails_with_the_numbers():
    result = analysis.judge(synthetic("blue", 5000, 0.01, 20, 1), synthetic("green", 5000, 0.03, 20, 2))
    assert result["verdict"] == "fail"
    check = next(c for c in result["checks"] if c["check"] == "error_rate_vs_blue")
    assert check["outcome"] == "fail" and check["p_value"] < 0.01
    assert "Fisher" in check["reason"]


def test_slower_green_fails():
    result = analysis.judge(synthetic("blue", 1000, 0.0, 20, 1), synthetic("green", 1000, 0.0, 30, 2))
    check = next(c for c in result["checks"] if c["check"] == "latency_vs_blue")
    assert result["verdict"] == "fail" and check["ratio"] > 1.2


def test_significant_but_tiny_latency_difference_passes():
    result = analysis.judge(synthetic("blue", 20000, 0.0, 20, 1), synthetic("green", 20000, 0.0, 21, 2))
    check = next(c for c in result["checks"] if c["check"] == "latency_vs_blue")
    assert check["p_value"] < 0.01 and check["outcome"] == "pass"


def test_too_little_green_traffic_is_inconclusive_never_pass_or_fail():
    result = analysis.judge(synthetic("blue", 2000, 0.01, 20, 1), synthetic("green", 10, 0.5, 200, 2))
    assert result["verdict"] == "inconclusive"
    assert "fewer than min_requests 50" in result["reasons"][0]


def test_absolute_slo_fails_without_a_baseline():
    result = analysis.judge(synthetic("blue", 0, 0, 20, 1), synthetic("green", 500, 0.2, 20, 2), {"max_error_rate": 0.05})
    assert result["verdict"] == "fail"
    assert any(c["check"] == "error_rate_slo" and c["outcome"] == "fail" for c in result["checks"])


def test_missing_baseline_alone_is_inconclusive():
    result = analysis.judge(synthetic("blue", 3, 0, 20, 1), synthetic("green", 500, 0.0, 20, 2))
    assert result["verdict"] == "inconclusive"


def test_failing_dependency_from_green_only_fails():
    blue = synthetic("blue", 2000, 0.0, 20, 1, dependency_error_rate=0.0)
    green = synthetic("green", 2000, 0.0, 20, 2, dependency_error_rate=0.2)
    result = analysis.judge(blue, green)
    assert result["verdict"] == "fail"
    assert any(c["check"] == "dependency:stock" and c["outcome"] == "fail" for c in result["checks"])


def test_under_traced_green_fails_the_blind_spot_check():
    result = analysis.judge(synthetic("blue", 2000, 0.0, 20, 1), synthetic("green", 60, 0.0, 20, 2), green_traffic_share=25)
    check = next(c for c in result["checks"] if c["check"] == "traced_share")
    assert check["outcome"] == "fail" and "under-traced" in check["reason"]
    assert result["verdict"] == "fail"


def test_traced_share_matching_traffic_passes():
    result = analysis.judge(synthetic("blue", 1500, 0.0, 20, 1), synthetic("green", 500, 0.0, 20, 2), green_traffic_share=25)
    assert next(c for c in result["checks"] if c["check"] == "traced_share")["outcome"] == "pass"


@pytest.mark.parametrize(
    "thresholds, message",
    [({"alpha": 2}, "alpha"), ({"bogus": 1}, "unknown key 'bogus'"), ({"max_p95_ms": "fast"}, "max_p95_ms"),
     ({"min_requests": -1}, "min_requests"), ({"max_load_ratio": 0.5}, "max_load_ratio"),
     ({"max_p95_ratio": float("nan")}, "max_p95_ratio"), ({"max_p95_ms": float("inf")}, "max_p95_ms")],
)
def test_bad_thresholds_are_named(thresholds, message):
    with pytest.raises(analysis.AnalysisError, match=message):
        analysis.check_thresholds(thresholds)


def test_thin_but_overwhelming_regression_fails_early():
    result = analysis.judge(synthetic("blue", 2000, 0.01, 20, 1), synthetic("green", 30, 0.4, 20, 2))
    assert result["verdict"] == "fail"
    check = next(c for c in result["checks"] if c["check"] == "error_rate_vs_blue")
    assert "on 30 requests, already significant" in check["reason"]


def test_thin_data_without_a_clear_regression_stays_inconclusive():
    result = analysis.judge(synthetic("blue", 2000, 0.01, 20, 1), synthetic("green", 30, 0.01, 20, 2))
    assert result["verdict"] == "inconclusive"


def test_a_slower_p95_by_less_than_the_absolute_margin_passes():
    # 2 ms -> 2.6 ms: significant and ratio 1.3, but half a millisecond is warm-up, not a regression.
    result = analysis.judge(synthetic("blue", 2000, 0.0, 2, 1), synthetic("green", 2000, 0.0, 2.6, 2))
    check = next(c for c in result["checks"] if c["check"] == "latency_vs_blue")
    assert check["p_value"] < 0.005 and check["ratio"] > 1.2
    assert check["outcome"] == "pass" and result["verdict"] == "pass"


def test_green_slower_only_because_its_hosts_carry_more_load_is_not_failed_on_latency():
    blue, green = synthetic("blue", 1000, 0.0, 20, 1), synthetic("green", 1000, 0.0, 30, 2)
    result = analysis.judge(blue, green, load_per_host={"blue": 5.0, "green": 15.0})
    check = next(c for c in result["checks"] if c["check"] == "latency_vs_blue")
    assert result["verdict"] == "pass" and check["outcome"] == "not_compared", result["checks"]
    assert "15.00 req/s" in check["reason"] and "5.00" in check["reason"]


def test_errors_are_compared_whatever_the_load():
    blue, green = synthetic("blue", 5000, 0.01, 20, 1), synthetic("green", 5000, 0.03, 20, 2)
    assert analysis.judge(blue, green, load_per_host={"blue": 5.0, "green": 15.0})["verdict"] == "fail"


@pytest.mark.parametrize("load", [{"blue": 10.0, "green": 12.0}, {"blue": 10.0, "green": 1.0}, None, {"blue": 0, "green": 3.0}])
def test_green_slower_on_every_request_at_comparable_or_lighter_load_fails(load):
    result = analysis.judge(synthetic("blue", 1000, 0.0, 20, 1), synthetic("green", 1000, 0.0, 30, 2), load_per_host=load)
    assert result["verdict"] == "fail", result["checks"]


def heavy_tailed(color, requests, tail_share, seed):
    """Most requests near 1 ms, `tail_share` of them 10-25 ms: what a healthy host at a light
    load showed beside busy ones on the lab's contended CPUs."""
    rng = random.Random(seed)
    latencies = [rng.uniform(10, 25) if rng.random() < tail_share else rng.uniform(0.9, 1.3) for index in range(requests)]
    return ColorSample(color, requests=requests, errors=0, latencies_ms=latencies)


def test_a_heavier_tail_at_a_lighter_load_is_judged_by_the_median():
    blue, green = heavy_tailed("blue", 2000, 0.02, 1), heavy_tailed("green", 200, 0.15, 2)
    lighter = analysis.judge(blue, green, load_per_host={"blue": 50.0, "green": 2.5})
    check = next(c for c in lighter["checks"] if c["check"] == "latency_vs_blue")
    assert lighter["verdict"] == "pass" and check["outcome"] == "pass" and check["statistic"] == "p50", lighter["checks"]
    assert check["p_value"] < 0.005, "the tail is significant, but not a regression of the median"
    assert "green p50" in check["reason"] and "each host of green served 2.50 req/s" in check["reason"]
    # The same samples at the same load per host: the p95 is compared and the tail fails.
    same = analysis.judge(blue, green, load_per_host={"blue": 50.0, "green": 50.0})
    check = next(c for c in same["checks"] if c["check"] == "latency_vs_blue")
    assert same["verdict"] == "fail" and check["statistic"] == "p95", same["checks"]


def test_across_time_a_heavier_tail_is_judged_by_the_median():
    """The watch: blue's window is from before the switch; the tail of a contended machine
    moves between the two windows whatever the release."""
    blue, green = heavy_tailed("blue", 3600, 0.02, 3), heavy_tailed("green", 1100, 0.08, 4)
    across = analysis.judge(blue, green, load_per_host={"blue": 60.0, "green": 60.0}, same_time=False)
    check = next(c for c in across["checks"] if c["check"] == "latency_vs_blue")
    assert across["verdict"] == "pass" and check["statistic"] == "p50", across["checks"]
    assert "blue's window is from another time" in check["reason"]
    together = analysis.judge(blue, green, load_per_host={"blue": 60.0, "green": 60.0})
    assert together["verdict"] == "fail", together["checks"]


def test_across_time_a_release_slower_on_every_request_fails():
    result = analysis.judge(synthetic("blue", 3600, 0.0, 1, 5), synthetic("green", 1100, 0.0, 16, 6),
                            load_per_host={"blue": 60.0, "green": 60.0}, same_time=False)
    assert result["verdict"] == "fail", result["checks"]
