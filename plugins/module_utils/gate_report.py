# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a person reads after each gate, and what the audit log keeps of it."""

from __future__ import annotations


def _numbers(colors, color):
    numbers = (colors or {}).get(color) or {}
    p95 = numbers.get("p95_ms")
    return (f"{color} {numbers.get('requests', 0)} req {numbers.get('errors', 0)} err "
            f"p95 {'-' if p95 is None else f'{p95:.1f}'} ms")


def gate_line(result, from_color, to_color, share, label=None):
    """One line per step: step, weights, per-color requests / errors / p95, verdict, reason."""
    verdict = result.get("verdict") or "error"
    reasons = result.get("reasons") or [result.get("msg") or "no verdict"]
    share = int(share)
    label = label or f"step {share:>3}%"
    return (f"{label} | {from_color} {100 - share} / {to_color} {share} | {_numbers(result.get('colors'), from_color)} | "
            f"{_numbers(result.get('colors'), to_color)} | {verdict} | {reasons[0]}")


def gate_evidence(result, gate, step=None):
    """The gate's verdict with the numbers and queries it used; never the raw module result."""
    evidence = {
        "gate": gate,
        "verdict": result.get("verdict") or "error",
        "reasons": result.get("reasons") or [result.get("msg") or "no verdict"],
    }
    if step is not None:
        evidence["step"] = int(step)
    for key in ("checks", "colors", "window", "thresholds", "queries", "missing", "wrong"):
        if result.get(key) is not None:
            evidence[key] = result[key]
    if result.get("looks") is not None:
        evidence["looks"] = len(result["looks"])
    if result.get("probes") is not None:
        evidence["probes"] = [{key: probe.get(key) for key in ("trace_id", "status", "color", "version", "problem")}
                              for probe in result["probes"]]
    return evidence
