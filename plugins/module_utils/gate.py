# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The analysis gate over time: one look, or repeated looks through a bake time.

A cutover step bakes for minutes, but a broken release must not serve users for minutes:
the gate looks every `interval` seconds and stops at the first `fail`. Looks before the end
of the bake are interim looks and use a tenth of alpha, so that looking often does not
multiply the false-fail rate (the early boundary of a group-sequential design is strict in
the same way); the look at the end of the bake uses the full alpha. An `inconclusive` end is
held and looked at again until `hold` has passed. A backend that cannot answer ends the gate
with `fail` at once: the gate fails closed.
"""

from __future__ import annotations

import time

from ansible_collections.tracegate.bluegreen.plugins.module_utils import analysis
from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces.model import BackendError, TraceQuery

INTERIM_ALPHA_SHARE = 0.1
# A baseline window that ended this long ago holds every span it will ever hold (the
# OpenTelemetry SDKs export within 5 s by default), so later looks of the same watch reuse it.
BASELINE_SETTLED_SECONDS = 5.0


class GateSettings:
    """What one gate judges: service, colors, window and thresholds."""

    def __init__(self, service, baseline_color, candidate_color, window, limit=1000, exclude_operations=(),
                 thresholds=None, candidate_traffic_share=None, since=None, baseline_end=None):
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


def look(backend, settings, end, interim=False, settled=None):
    """One judgement of the window ending at `end`; returns the judge's result plus `window`
    and, when the backend failed, a `fail` naming it. `settled` (a dict kept across the looks
    of one watch) holds a baseline sample that can no longer change."""
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
                                                                            "reason": reason}], "window": window}
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
    except BackendError as exc:
        reason = f"trace backend: {exc}"
        return {"verdict": "fail", "reasons": [reason], "checks": [{"check": "backend", "outcome": "fail", "reason": reason}],
                "window": window}
    thresholds = dict(settings.thresholds)
    if interim:
        thresholds["alpha"] = thresholds["alpha"] * INTERIM_ALPHA_SHARE
    judged = analysis.judge(baseline, candidate, thresholds, green_traffic_share=settings.candidate_traffic_share)
    judged["colors"] = {settings.baseline_color: judged["colors"]["blue"], settings.candidate_color: judged["colors"]["green"]}
    if settings.baseline_color != "blue":
        judged["reasons"] = swap_colors(judged["reasons"])
    judged["window"] = window
    return judged


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
        "verdict": judged["verdict"],
        "reasons": judged["reasons"],
        "colors": {color: {key: numbers.get(key) for key in ("requests", "errors", "error_rate", "p95_ms")}
                   for color, numbers in colors.items()},
    }


def watch(backend, settings, bake=0.0, interval=5.0, hold=0.0, bake_from=None, clock=time.time, sleep=time.sleep):
    """Looks until a verdict: the first `fail`, else the verdict at the end of the bake,
    held while `inconclusive` until `hold` has passed. The bake counts from `bake_from`
    (the traffic change it follows), else from now; its first look is one interval in,
    as a look at a second of data judges the export delay of the tracing SDKs, not the
    release. Without a bake, one look now. Returns the deciding look's full result with
    `looks` (every look, compact) and `decided_at`."""
    started = clock() if bake_from is None else float(bake_from)
    bake_end = started + max(0.0, float(bake))
    hold_end = bake_end + max(0.0, float(hold))
    next_look = min(started + interval, bake_end)
    looks = []
    settled = {}
    while True:
        sleep(max(0.0, next_look - clock()))
        now = clock()
        interim = now < bake_end
        judged = look(backend, settings, now, interim=interim, settled=settled)
        looks.append(summary_of(judged, now, interim))
        verdict = judged["verdict"]
        done = verdict == "fail" or (not interim and (verdict == "pass" or now >= hold_end))
        if done:
            judged["looks"] = looks
            judged["decided_at"] = now
            return judged
        next_look = now + interval
        if interim and next_look > bake_end:
            next_look = bake_end
