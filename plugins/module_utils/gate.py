# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The analysis gate over time: one look, or repeated looks through a bake time.

A cutover step bakes for minutes, but a broken release must not serve users for minutes:
the gate looks every `interval` seconds and stops at the first `fail`. An `inconclusive` end
of the bake is held and looked at again until `hold` has passed. A backend that cannot
answer ends the gate with `fail` at once: the gate fails closed.

Every look at a healthy release is a chance to fail it, so the looks of one watch spend
alpha by a plan on the time scale (Lan-DeMets): with tau = (t - start) / (bake + hold), look k
judges at alpha * (f(tau_k) - f(tau_k-1)), so that the levels of all its looks add up to at
most alpha however many there are and whenever they come, which bounds the false-fail rate by
the union bound (Bonferroni) whatever the dependence between looks that judge overlapping
windows. f (see spending) gives the looks before the end of the bake 0.3 * sqrt(tau / tau_bake),
so that even the first look of a long bake can fail a clear regression; jumps to 0.9 at the
end of the bake, the look with the most data, so that a modest regression still fails there;
and rises in proportion to time to 1 over the hold. The fixed levels it replaces (a tenth of
alpha at each look before the end of the bake, the whole alpha at its end and at each look of
the hold) added up with every look: 3.3 alpha for a bake of 24 looks, more with a hold.
benchmarks/bench_judge.py P7 measures both.
"""

from __future__ import annotations

import math
import sys
import time
from decimal import ROUND_FLOOR, Decimal

from ansible_collections.tracegate.bluegreen.plugins.module_utils import analysis
from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces.model import DEFAULT_LIMIT, BackendError, TraceQuery

# The alpha-spending plan (see spending): the share of alpha the looks before the end of the
# bake may spend, and the share left for the hold; the look at the end of the bake has the
# rest, at least 0.6.
INTERIM_SHARE = 0.3
HOLD_SHARE = 0.1
# A baseline window that ended this long ago holds every span it will ever hold (the
# OpenTelemetry SDKs export within 5 s by default), so later looks of the same watch reuse it.
BASELINE_SETTLED_SECONDS = 5.0


class GateSettings:
    """What one gate judges: service, colors, window and thresholds; with the number of hosts
    of each color, the load per host that decides whether latencies are compared; with the
    export delay (how long after a request its spans may still be missing from the backend),
    the part of the window the traced-share check can count."""

    def __init__(self, service, baseline_color, candidate_color, window, limit=DEFAULT_LIMIT, exclude_operations=(),
                 thresholds=None, candidate_traffic_share=None, since=None, baseline_end=None, baseline_hosts=None,
                 candidate_hosts=None, export_delay=0.0):
        self.service = service
        self.baseline_color = baseline_color
        self.candidate_color = candidate_color
        self.window = float(window)
        self.limit = limit
        self.exclude_operations = list(exclude_operations or ())
        self.thresholds = analysis.check_thresholds(thresholds)
        self.candidate_traffic_share = candidate_traffic_share
        self.since = since
        self.baseline_end = baseline_end
        self.hosts = {"baseline": baseline_hosts, "candidate": candidate_hosts}
        self.export_delay = float(export_delay)


def load_per_host(requests, hosts, seconds):
    """Traced requests per host and second, or None when the hosts are not known."""
    if not hosts or seconds <= 0:
        return None
    return round(requests / hosts / seconds, 3)


def spending(tau, tau_bake, interim):
    """f(tau): the share of alpha that the looks of a watch up to information time `tau` may
    have spent, the bake ending at `tau_bake` (1 without a hold). Before the end of the bake
    (`interim`: the caller says so, so that rounding cannot move a look across that end)
    INTERIM_SHARE * sqrt(tau / tau_bake); from its end 1 - HOLD_SHARE, rising in proportion
    to time to 1 at the end of the hold; 1 from then on, and from the end of a bake without
    a hold."""
    if interim:
        return INTERIM_SHARE * math.sqrt(min(1.0, max(0.0, tau / tau_bake)))
    if tau >= 1 or tau_bake >= 1:
        return 1.0
    return 1.0 - HOLD_SHARE * min(1.0, (1.0 - tau) / (1.0 - tau_bake))


def readable(level):
    """`level` rounded down to three significant digits, so that a reason reads "alpha
    0.00106", not "alpha 0.0010606601717798214"; never more than `level`."""
    digits = Decimal(repr(level))
    return float(digits.quantize(Decimal(1).scaleb(digits.adjusted() - 2), rounding=ROUND_FLOOR))


def look(backend, settings, end, *, settled=None, alpha=None):
    """One judgement of the window ending at `end` at significance level `alpha` (by default
    the thresholds' alpha, which a single look may spend whole); returns the judge's result
    plus `window` and `look_alpha` and, when the backend failed, a `fail` naming it.
    `settled` (a dict kept across the looks of one watch) holds a baseline sample that can
    no longer change."""
    alpha = settings.thresholds["alpha"] if alpha is None else float(alpha)
    start = end - settings.window
    if settings.since is not None:
        start = max(start, float(settings.since))
    # Both colors are judged over the same window (so the traced-share check compares like
    # with like), unless the baseline stopped serving: then over its last window before that.
    if settings.baseline_end is None:
        baseline_start, baseline_end = start, end
    else:
        baseline_end = min(end, float(settings.baseline_end))
        baseline_start = baseline_end - settings.window
    window = {"start": start, "end": end, "baseline_start": baseline_start, "baseline_end": baseline_end}
    if end - start < 1:
        reason = f"the window since {settings.since} is shorter than a second: nothing to judge yet"
        return {"verdict": "inconclusive", "reasons": [reason], "checks": [{"check": "window", "outcome": "inconclusive",
                                                                            "reason": reason}], "window": window,
                "look_alpha": alpha}
    fixed = (settled is not None and settings.baseline_end is not None
             and end - baseline_end >= BASELINE_SETTLED_SECONDS)
    try:
        baseline = settled.get((baseline_start, baseline_end)) if fixed else None
        if baseline is None:
            baseline = backend.sample(TraceQuery(settings.service, baseline_start, baseline_end, color=settings.baseline_color,
                                                 limit=settings.limit, exclude_operations=settings.exclude_operations))
            if fixed:
                settled[(baseline_start, baseline_end)] = baseline
        candidate = backend.sample(TraceQuery(settings.service, start, end, color=settings.candidate_color,
                                              limit=settings.limit, exclude_operations=settings.exclude_operations))
        share_requests = exported_requests(backend, settings, start, end, baseline, candidate)
    except BackendError as exc:
        reason = f"trace backend: {exc}"
        return {"verdict": "fail", "reasons": [reason], "checks": [{"check": "backend", "outcome": "fail", "reason": reason}],
                "window": window, "look_alpha": alpha}
    thresholds = dict(settings.thresholds)
    thresholds["alpha"] = alpha
    loads = {"blue": load_per_host(baseline.requests, settings.hosts["baseline"], baseline_end - baseline_start),
             "green": load_per_host(candidate.requests, settings.hosts["candidate"], end - start)}
    judged = analysis.judge(baseline, candidate, thresholds, green_traffic_share=settings.candidate_traffic_share,
                            load_per_host=loads if None not in loads.values() else None,
                            same_time=settings.baseline_end is None, share_requests=share_requests)
    for role, (first, last) in (("blue", (baseline_start, baseline_end)), ("green", (start, end))):
        judged["colors"][role].update(window={"start": round(first, 3), "end": round(last, 3)}, load_per_host=loads[role],
                                      hosts=settings.hosts["baseline" if role == "blue" else "candidate"])
    judged["colors"] = {settings.baseline_color: judged["colors"]["blue"], settings.candidate_color: judged["colors"]["green"]}
    if settings.baseline_color != "blue":
        judged["reasons"] = swap_colors(judged["reasons"])
    judged["window"] = window
    judged["look_alpha"] = alpha
    return judged


def exported_requests(backend, settings, start, end, baseline, candidate):
    """The (baseline, candidate) requests that started in the window before its last
    `export_delay` seconds, for the traced-share check; a string when that part of the
    window is under a second long; None when the check counts the whole window.

    Each host's SDK exports its batch on its own timer, so in the last export delay of a
    window one color may have exported everything and the other nothing yet: a short
    window would make a traced candidate look blind. Errors and latencies are not
    counted by host and time, so the other checks keep the whole window."""
    if settings.candidate_traffic_share is None or settings.export_delay <= 0 or settings.baseline_end is not None:
        return None
    exported_end = end - settings.export_delay
    if exported_end - start < 1:
        return (f"the window is {end - start:.0f} s long; the spans of its last {settings.export_delay:g} s (export "
                "delay) may not all be exported yet, so the traced share waits for a longer window")
    counts = (baseline.requests_started_before(exported_end), candidate.requests_started_before(exported_end))
    if None not in counts:
        return counts
    return tuple(backend.sample(TraceQuery(settings.service, start, exported_end, color=color, limit=settings.limit,
                                           exclude_operations=settings.exclude_operations)).requests
                 for color in (settings.baseline_color, settings.candidate_color))


def swap_colors(reasons):
    """The judge speaks of blue (baseline) and green (candidate); say the real colors."""
    swap = {"blue": "green", "green": "blue"}
    return [" ".join(swap.get(word, word) for word in reason.split(" ")) for reason in reasons]


def summary_of(judged, at, interim):
    """The compact record of one look kept for every look of a watch."""
    colors = judged.get("colors", {})
    return {
        "at": round(at, 3),
        "interim": interim,
        "alpha": judged.get("look_alpha"),
        "verdict": judged["verdict"],
        "reasons": judged["reasons"],
        "colors": {color: {key: numbers.get(key) for key in ("requests", "errors", "error_rate", "p95_ms", "load_per_host")}
                   for color, numbers in colors.items()},
    }


def watch(backend, settings, bake=0.0, interval=5.0, hold=0.0, bake_from=None, clock=time.time, sleep=time.sleep):
    """Looks until a verdict: the first `fail`, else the verdict at the end of the bake,
    held while `inconclusive` until `hold` has passed. The bake counts from `bake_from`
    (the traffic change it follows), else from now; its first look is one interval in,
    as a look at a second of data judges the export delay of the tracing SDKs, not the
    release. Without a bake, one look now. Each look spends its share of alpha (see
    spending). Returns the deciding look's full result with `looks` (every look, compact),
    `decided_at`, `look_alpha` (the level that look used) and `alpha_spent` (what all the
    looks used)."""
    alpha = settings.thresholds["alpha"]
    started = clock() if bake_from is None else float(bake_from)
    bake = max(0.0, float(bake))
    span = bake + max(0.0, float(hold))
    bake_end = started + bake
    hold_end = started + span
    tau_bake = bake / span if span else 1.0
    next_look = min(started + interval, bake_end)
    looks = []
    settled = {}
    spent = 0.0  # f at the last look
    used = 0.0  # the levels of the looks so far, each rounded down
    while True:
        sleep(max(0.0, next_look - clock()))
        now = clock()
        interim = now < bake_end
        tau = min(1.0, max(0.0, (now - started) / span)) if span else 1.0
        spent = max(spent, spending(tau, tau_bake, interim))
        # A look with nothing left to spend (the clock did not move) fails on no test but an
        # underflowing p-value: the judge needs a positive level.
        look_alpha = readable(max(alpha * spent - used, sys.float_info.min))
        used += look_alpha
        judged = look(backend, settings, now, settled=settled, alpha=look_alpha)
        looks.append(summary_of(judged, now, interim))
        verdict = judged["verdict"]
        done = verdict == "fail" or (not interim and (verdict == "pass" or now >= hold_end))
        if done:
            judged["looks"] = looks
            judged["decided_at"] = now
            judged["alpha_spent"] = used
            return judged
        next_look = now + interval
        if interim and next_look > bake_end:
            next_look = bake_end
