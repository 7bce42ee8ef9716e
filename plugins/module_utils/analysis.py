# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Green against blue: verdict `pass`, `fail` or `inconclusive`, with every reason and number.

A regression fails the gate only when it is both statistically significant (one-sided
tests at `alpha`: Fisher's exact test on error counts, Mann-Whitney U on latencies) and
larger than the practical margin (`max_error_rate_delta`; for latency both `max_p95_ratio`
and `min_p95_delta_ms`), so that a
harmless difference on a big sample does not roll a release back, and noise on a small one
does not either. Absolute SLOs fail on their own. Below `min_requests` the verdict is
`inconclusive`, never a silent pass (the complaint users of Flagger and Argo Rollouts make
about empty or thin data); it can only be `fail` there, from `min_requests_to_fail` on, when
the exact tests already show a regression beyond the margin: a release that fails one
request in three should not wait for fifty before it is rolled back.

Latency depends on load, in both directions, so the p95 is compared only between samples
that carried comparable load per host (within `max_load_ratio` of each other). When green's
hosts each served more than `max_load_ratio` times what blue's did, a slower green measures
the load, not the release, and its latency is not compared (the absolute SLO still applies).
When they served less than blue's by that factor (the first steps), green's tail is not
comparable either: in the lab, under CPU contention, healthy hosts at 2.5 req/s showed a p90
of 12-15 ms where the old color's at 50 req/s showed 4-6 ms, with the same median (docs/judge.md).
There the median is compared instead, with the same test and margins: a release that is
slower on every request (a slow dependency, added work) still fails at the first step. The
same holds across time: when blue's window is from before the switch (the watch), the tail
of a contended machine moves between the two windows whatever the release (a healthy release
failed with p95 10.7 against 4.5 ms and equal medians, docs/judge.md), so the medians are
compared; a regression of the tail alone is the steps' to find, at the same time and load.
"""

from __future__ import annotations

import math

from ansible_collections.tracegate.bluegreen.plugins.module_utils import significance

DEFAULT_THRESHOLDS = {
    "min_requests": 50,
    "min_requests_to_fail": 20,
    # Two one-sided tests (errors, latency) share a 1 % false-fail budget (Bonferroni).
    "alpha": 0.005,
    "max_error_rate": None,
    "max_p95_ms": None,
    "max_error_rate_delta": 0.005,
    "max_p95_ratio": 1.2,
    # A p95 that grows by less than this is no regression whatever the ratio: 1.9 ms -> 2.4 ms
    # on a freshly started process is warm-up, not a slower release.
    "min_p95_delta_ms": 5.0,
    "share_tolerance": 0.5,
    # Green's requests per host and second may differ from blue's by this factor either way
    # before its p95 is no longer compared with blue's (heavier: not compared; lighter: the
    # median is).
    "max_load_ratio": 1.25,
}


class AnalysisError(ValueError):
    pass


def check_thresholds(thresholds):
    merged = dict(DEFAULT_THRESHOLDS)
    for key, value in (thresholds or {}).items():
        if key not in DEFAULT_THRESHOLDS:
            raise AnalysisError(f"thresholds: unknown key {key!r} (known: {', '.join(sorted(DEFAULT_THRESHOLDS))})")
        if value is not None:
            try:
                value = float(value)
            except (TypeError, ValueError):
                raise AnalysisError(f"thresholds.{key}: {value!r} is not a number") from None
            if not math.isfinite(value) or value < 0:
                raise AnalysisError(f"thresholds.{key}: {value} must be a finite number, not negative")
        merged[key] = value
    if not 0 < merged["alpha"] < 1:
        raise AnalysisError(f"thresholds.alpha: {merged['alpha']} must be between 0 and 1")
    if merged["max_load_ratio"] < 1:
        raise AnalysisError(f"thresholds.max_load_ratio: {merged['max_load_ratio']} must be at least 1")
    return merged


def _percentile(values, q):
    value = significance.percentile(values, q)
    return None if value is None else round(float(value), 3)


def summarize(sample):
    """Per-color numbers for the report and the audit evidence."""

    def rate(errors, requests):
        return round(errors / requests, 6) if requests else None

    def breakdown(entries):
        return {
            name: {"requests": requests, "errors": errors, "error_rate": rate(errors, requests),
                   "p95_ms": _percentile(latencies, 95)}
            for name, (requests, errors, latencies) in sorted(entries.items())
        }

    return {
        "requests": sample.requests,
        "errors": sample.errors,
        "error_rate": rate(sample.errors, sample.requests),
        "p50_ms": _percentile(sample.latencies_ms, 50),
        "p95_ms": _percentile(sample.latencies_ms, 95),
        "p99_ms": _percentile(sample.latencies_ms, 99),
        "operations": breakdown(sample.operations),
        "dependencies": breakdown(sample.dependencies),
        "latencies_from_histogram": sample.binned,
        "skipped_spans": sample.skipped_spans,
        "skipped_span_reasons": sample.skipped_reasons,
        "backend_warnings": sample.warnings,
    }


class Judgement:
    def __init__(self):
        self.checks = []

    def add(self, name, outcome, reason, **numbers):
        self.checks.append({"check": name, "outcome": outcome, "reason": reason, **numbers})

    @property
    def verdict(self):
        outcomes = {c["outcome"] for c in self.checks}
        if "fail" in outcomes:
            return "fail"
        if "inconclusive" in outcomes or not outcomes:
            return "inconclusive"
        return "pass"

    def reasons(self):
        """Failures first, then what was inconclusive; every check when all passed."""
        return ([c["reason"] for c in self.checks if c["outcome"] == "fail"]
                + [c["reason"] for c in self.checks if c["outcome"] == "inconclusive"]) or [c["reason"] for c in self.checks]


def error_rate_test(blue_errors, blue_requests, green_errors, green_requests):
    """One-sided p-value that green's error rate is higher than blue's."""
    table = [[green_errors, green_requests - green_errors], [blue_errors, blue_requests - blue_errors]]
    return significance.fisher_exact_greater(table)


def latency_test(blue_latencies, green_latencies):
    """One-sided p-value that green's latencies are stochastically larger than blue's."""
    return significance.mann_whitney_greater(green_latencies, blue_latencies)


def judge(blue, green, thresholds=None, green_traffic_share=None, load_per_host=None, same_time=True,
          share_requests=None):
    """Compares two ColorSamples. `green_traffic_share` (percent of load-balancer traffic
    sent to green) enables the blind-spot check, on `share_requests` ((blue, green) request
    counts of the part of the window whose spans are all exported, or a string saying why
    there is no such part yet) when given, else on the samples' counts; `load_per_host` ({"blue": x, "green": y},
    requests per host and second in each sample's window) the load rule for latency;
    `same_time=False` (blue's window is from another time, the watch's) compares the medians."""
    t = check_thresholds(thresholds)
    minimum = int(t["min_requests"])
    result = Judgement()
    colors = {"blue": summarize(blue), "green": summarize(green)}
    g, b = colors["green"], colors["blue"]

    if green.requests < minimum:
        result.add("sample_size", "inconclusive", f"green served {green.requests} requests in the window, fewer than min_requests {minimum}",
                   green_requests=green.requests, min_requests=minimum)
        if green.requests >= t["min_requests_to_fail"] and blue.requests >= minimum:
            _fail_early(result, blue, green, b, g, t, load_per_host, same_time)
    else:
        result.add("sample_size", "pass", f"green served {green.requests} requests (min_requests {minimum})",
                   green_requests=green.requests, min_requests=minimum)
        if t["max_error_rate"] is not None:
            ok = g["error_rate"] <= t["max_error_rate"]
            result.add("error_rate_slo", "pass" if ok else "fail",
                       f"green error rate {g['error_rate']:.4f} {'within' if ok else 'above'} max_error_rate {t['max_error_rate']}",
                       value=g["error_rate"], threshold=t["max_error_rate"])
        if t["max_p95_ms"] is not None and g["p95_ms"] is not None:
            ok = g["p95_ms"] <= t["max_p95_ms"]
            result.add("p95_slo", "pass" if ok else "fail",
                       f"green p95 {g['p95_ms']} ms {'within' if ok else 'above'} max_p95_ms {t['max_p95_ms']}",
                       value=g["p95_ms"], threshold=t["max_p95_ms"])

        if blue.requests < minimum:
            result.add("baseline", "inconclusive",
                       f"blue served {blue.requests} requests, fewer than min_requests {minimum}: no comparison",
                       blue_requests=blue.requests, min_requests=minimum)
        else:
            _compare(result, blue, green, b, g, t, load_per_host, same_time)

    if green_traffic_share is not None:
        if isinstance(share_requests, str):
            if float(green_traffic_share) > 0:
                result.add("traced_share", "inconclusive", share_requests)
        else:
            blue_requests, green_requests = share_requests or (blue.requests, green.requests)
            _blind_spot(result, blue_requests, green_requests, float(green_traffic_share), t, minimum,
                        scope=" among the requests whose spans are all exported" if share_requests else "")

    return {"verdict": result.verdict, "reasons": result.reasons(), "checks": result.checks, "colors": colors,
            "thresholds": t}


def load_band(load_per_host, t):
    """How green's load per host stands to blue's: "comparable", "heavier" or "lighter"
    (beyond `max_load_ratio` either way); "comparable" when either is unknown."""
    if not load_per_host:
        return "comparable"
    blue_load, green_load = load_per_host.get("blue"), load_per_host.get("green")
    if not blue_load or green_load is None:
        return "comparable"
    if green_load > blue_load * t["max_load_ratio"]:
        return "heavier"
    if green_load * t["max_load_ratio"] < blue_load:
        return "lighter"
    return "comparable"


def _loads(load_per_host):
    # Colors as words of their own: gate.swap_colors renames them when blue is the candidate.
    return f"each host of green served {load_per_host['green']:.2f} req/s, each of blue {load_per_host['blue']:.2f}"


def _compare(result, blue, green, b, g, t, load_per_host=None, same_time=True):
    p_errors = error_rate_test(blue.errors, blue.requests, green.errors, green.requests)
    delta = g["error_rate"] - b["error_rate"]
    failed = p_errors < t["alpha"] and delta > t["max_error_rate_delta"]
    result.add("error_rate_vs_blue", "fail" if failed else "pass",
               f"green error rate {g['error_rate']:.4f} vs blue {b['error_rate']:.4f} "
               f"(difference {delta:+.4f}, margin {t['max_error_rate_delta']}, Fisher p={p_errors:.3g}, alpha {t['alpha']})",
               green=g["error_rate"], blue=b["error_rate"], p_value=p_errors)
    band = load_band(load_per_host, t)
    if band == "heavier" and green.latencies_ms and blue.latencies_ms:
        result.add("latency_vs_blue", "not_compared",
                   f"latency not compared with blue: {_loads(load_per_host)} (more than max_load_ratio "
                   f"{t['max_load_ratio']:g} times as much): a latency difference would measure the load, not the release",
                   green=g["p95_ms"], blue=b["p95_ms"], load_per_host=load_per_host)
    elif green.latencies_ms and blue.latencies_ms:
        statistic = "p50_ms" if band == "lighter" or not same_time else "p95_ms"
        label = statistic[:3]
        p_latency = latency_test(blue.latencies_ms, green.latencies_ms)
        ratio = g[statistic] / b[statistic] if b[statistic] else float("inf")
        delta_ms = g[statistic] - b[statistic]
        failed = p_latency < t["alpha"] and ratio > t["max_p95_ratio"] and delta_ms > t["min_p95_delta_ms"]
        if band == "lighter":
            why = (f"; {_loads(load_per_host)}, less than 1/{t['max_load_ratio']:g} as much: at a lighter load the tail is "
                   "not comparable, the median is")
        elif not same_time:
            why = "; blue's window is from another time: across time the tail is not comparable, the median is"
        else:
            why = ""
        result.add("latency_vs_blue", "fail" if failed else "pass",
                   f"green {label} {g[statistic]} ms vs blue {b[statistic]} ms (ratio {ratio:.2f}, margin {t['max_p95_ratio']} "
                   f"and {t['min_p95_delta_ms']:g} ms, Mann-Whitney p={p_latency:.3g}, alpha {t['alpha']}{why})",
                   green=g[statistic], blue=b[statistic], statistic=label, ratio=round(ratio, 4), p_value=p_latency,
                   load_per_host=load_per_host)
    for name, (requests, errors, _latencies) in sorted(green.dependencies.items()):
        base_requests, base_errors, _base = blue.dependencies.get(name, (0, 0, []))
        if requests < t["min_requests"] or base_requests < t["min_requests"]:
            continue
        p_dep = error_rate_test(base_errors, base_requests, errors, requests)
        delta = errors / requests - base_errors / base_requests
        failed = p_dep < t["alpha"] and delta > t["max_error_rate_delta"]
        result.add(f"dependency:{name}", "fail" if failed else "pass",
                   f"calls from green to {name} fail at {errors / requests:.4f} vs {base_errors / base_requests:.4f} from blue "
                   f"(Fisher p={p_dep:.3g})", green=errors / requests, blue=base_errors / base_requests, p_value=p_dep)


def _fail_early(result, blue, green, b, g, t, load_per_host=None, same_time=True):
    """Both tests are exact at any sample size, so a regression they already show on thin
    data is a failure; what they do not show yet stays inconclusive."""
    thin = Judgement()
    _compare(thin, blue, green, b, g, t, load_per_host, same_time)
    for check in thin.checks:
        if check["outcome"] == "fail":
            check["reason"] += f" on {green.requests} requests, already significant"
            result.checks.append(check)


def _blind_spot(result, blue_requests, green_requests, expected_share, t, minimum, scope=""):
    total = blue_requests + green_requests
    if expected_share <= 0:
        return
    if total < minimum:
        result.add("traced_share", "inconclusive", f"{total} traced requests in all{scope}, fewer than min_requests {minimum}",
                   traced_requests=total)
        return
    observed = 100.0 * green_requests / total
    floor = expected_share * (1 - t["share_tolerance"])
    ok = observed >= floor
    result.add("traced_share", "pass" if ok else "fail",
               f"green has {observed:.1f}% of traced requests{scope} for {expected_share:.1f}% of the traffic "
               f"({'at least' if ok else 'below'} {floor:.1f}%{'' if ok else ': green is under-traced'})",
               observed_share=round(observed, 2), expected_share=expected_share, floor=round(floor, 2))
