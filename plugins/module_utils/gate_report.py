# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a person reads after each gate, and what the audit log keeps of it."""

from __future__ import annotations


def _window_end(numbers):
    window = numbers.get("window") if isinstance(numbers.get("window"), dict) else {}
    return window.get("end") if isinstance(window.get("end"), (int, float)) else None


def _numbers(colors, color, compared_with=None):
    """One color's sample: requests, errors, p95, and, when the gate knew them, the load per
    host and how long before the other color's window this one ended."""
    numbers = (colors or {}).get(color) or {}
    p95 = numbers.get("p95_ms")
    text = (f"{color} {numbers.get('requests', 0)} req {numbers.get('errors', 0)} err "
            f"p95 {'-' if p95 is None else f'{p95:.1f}'} ms")
    if isinstance(numbers.get("load_per_host"), (int, float)):
        text += f" {numbers['load_per_host']:.1f} req/s/host"
    other_end, own_end = _window_end((colors or {}).get(compared_with) or {}), _window_end(numbers)
    if other_end is not None and own_end is not None and other_end - own_end >= 1:
        text += f" (window ended {other_end - own_end:.0f} s before {compared_with}'s)"
    return text


def gate_line(result, from_color, to_color, share, label=None):
    """One line per step: step, weights, per-color sample (requests / errors / p95, load per
    host, and the baseline's window when it is not the candidate's), verdict, reason."""
    verdict = result.get("verdict") or "error"
    reasons = result.get("reasons") or [result.get("msg") or "no verdict"]
    share = int(share)
    label = label or f"step {share:>3}%"
    colors = result.get("colors")
    return (f"{label} | {from_color} {100 - share} / {to_color} {share} | {_numbers(colors, from_color, to_color)} | "
            f"{_numbers(colors, to_color)} | {verdict} | {reasons[0]}")


def gate_evidence(result, gate, step=None):
    """The gate's verdict with the numbers and queries it used; never the raw module result."""
    evidence = {
        "gate": gate,
        "verdict": result.get("verdict") or "error",
        "reasons": result.get("reasons") or [result.get("msg") or "no verdict"],
    }
    if step is not None:
        evidence["step"] = int(step)
    for key in ("checks", "colors", "window", "thresholds", "queries", "missing", "wrong", "differences", "hosts",
                "keys_compared", "dependencies", "load"):
        if result.get(key) is not None:
            evidence[key] = result[key]
    if result.get("looks") is not None:
        evidence["looks"] = len(result["looks"])
    if result.get("probes") is not None:
        evidence["probes"] = [{key: probe.get(key) for key in ("trace_id", "status", "color", "version", "problem")}
                              for probe in result["probes"]]
    return evidence
