# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Which color is live, decided from what every load balancer says.

The load balancers are the truth; the state file a run leaves on them says where an
unfinished run was going. A settled service (every load balancer sends all new requests to
the same color, and NGINX serves the file it holds) has a live color. A split left by a run
that was killed is recovered by returning to the color that run started from (a killed
rollback, by finishing it). A split
nobody recorded is not guessed at: the operator names the color with a rollback. A state the
load balancer's watchdog marked (it returned an abandoned cutover's traffic) is reported.
"""

from __future__ import annotations

COLORS = ("blue", "green")
UNFINISHED_PHASES = ("shifting", "watching")


class TrafficError(ValueError):
    pass


def _only_color(colors):
    serving = [color for color in COLORS if float(colors.get(color, 0) or 0) > 0]
    return serving[0] if len(serving) == 1 else None


def live_traffic(reports):
    """`reports`: one dict per load balancer with `host`, `colors` ({color: percent}),
    `nginx_stale` (bool) and `state` (the state file, or {}). `previous` is the color a
    rollback returns to: where an interrupted run started, or where the last finished
    cutover started (states carry it as `last_done` through failed runs after it)."""
    if not reports:
        raise TrafficError("no load balancer reported its split")
    by_lb = {r["host"]: {c: round(float(r["colors"].get(c, 0) or 0), 2) for c in COLORS} for r in reports}
    only = {r["host"]: _only_color(r["colors"]) for r in reports}
    stale = sorted(r["host"] for r in reports if r.get("nginx_stale"))
    unfinished = [r["state"] for r in reports if (r.get("state") or {}).get("phase") in UNFINISHED_PHASES]
    last_states = [r["state"] for r in reports if r.get("state")]
    last = max(last_states, key=lambda s: str(s.get("updated_at", ""))) if last_states else {}
    settled_colors = set(only.values())
    settled = not stale and None not in settled_colors and len(settled_colors) == 1
    result = {
        "colors_by_lb": by_lb,
        "settled": settled,
        "live": settled_colors.pop() if settled else None,
        "interrupted": unfinished[0] if unfinished else None,
        "recover_to": None,
        "last_state": last,
        "previous": None,
        "problem": None,
        # What each load balancer's watchdog did to a run that stopped writing, for the next
        # run's audit log and verify's report.
        "watchdog": [dict(r["state"]["watchdog"], lb=r["host"]) for r in reports
                     if (r.get("state") or {}).get("phase") == "watchdog_restored" and isinstance(r["state"].get("watchdog"), dict)],
    }
    if unfinished:
        # An interrupted cutover returns to where it started; an interrupted rollback goes on
        # to where it was going.
        state = unfinished[0]
        origin = state.get("to_color") if state.get("operation") == "rollback" else state.get("from_color")
        if origin not in COLORS:
            result["problem"] = f"an unfinished run left a state without a valid from_color: {unfinished[0]}"
        else:
            result["recover_to"] = origin
    if result["recover_to"]:
        result["previous"] = result["recover_to"]
    elif last.get("phase") == "done":
        result["previous"] = last.get("from_color")
    elif result["live"] and (last.get("last_done") or {}).get("to_color") == result["live"]:
        # The last run failed or was stopped; the cutover before it is what a rollback undoes.
        result["previous"] = last["last_done"].get("from_color")
    if not unfinished and not settled:
        detail = ", ".join(f"{host} {by_lb[host]}" for host in sorted(by_lb))
        if stale:
            detail += f"; NGINX on {', '.join(stale)} serves a different split than its file"
        result["problem"] = (f"the load balancers are split and no unfinished run explains it ({detail}): "
                             "run the rollback playbook with bluegreen_rollback_to set to the color that should serve")
    return result
