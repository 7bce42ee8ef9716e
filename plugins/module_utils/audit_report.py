# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The evidence report of one run, from its audit log alone: a self-contained HTML page (no
scripts, no outside resources; charts are inline SVG) and the same in Markdown.

It shows the run (who, when, which ticket and release), the verification of the log, a
timeline, every gate with its verdict and numbers, the traffic split over time, and per
step the error rate and p95 of each color. Every value comes from the verified log, so the
report is only as trustworthy as the verification printed at its top.
"""

from __future__ import annotations

import datetime
import html
import json
import math
import os
import re

from ansible_collections.tracegate.bluegreen.plugins.module_utils.audit import printable

COLORS = {"blue": "#1f5fbf", "green": "#1e8c3a"}
# Run ids as the playbooks make them (<operation>-<UTC time>-<random>, awx-<job id>); the
# report's files are named after the run only when its id is such a name.
FILE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")


def load_records(lines):
    """The records of a log's lines; a line that is not a JSON object is kept as `unreadable`
    (the report is rendered for a log that does not verify too)."""
    records = []
    for raw in lines:
        raw = raw.strip()
        if raw:
            try:
                record = json.loads(raw)
            except (ValueError, RecursionError):
                record = None
            if not isinstance(record, dict):
                text = raw[:200].decode("utf-8", "replace") if isinstance(raw, bytes) else raw[:200]
                record = {"type": "unreadable", "raw": text}
            records.append(record)
    return records


def _mapping(value):
    return value if isinstance(value, dict) else {}


def _number(value):
    """A number to chart, or None: a record's values are whatever its line holds."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return value if isinstance(value, int) or math.isfinite(value) else None


def summarize(records):
    """What the report shows, gathered from the records."""
    start = next((r for r in records if r.get("type") == "run_start"), {})
    seal = next((r for r in records if r.get("type") == "run_sealed"), {})
    gates = [r for r in records if r.get("type") == "gate_result"]
    changes = [r for r in records if r.get("type") in ("traffic_change", "rollback")]
    split = []
    for record in changes:
        if record.get("type") == "traffic_change":
            split.append((str(record.get("ts", "")), _mapping(record.get("split_after")), f"step {_fmt(record.get('step'))}"))
        else:
            to_color = record.get("to_color")
            if isinstance(to_color, str) and to_color in COLORS:
                other = "green" if to_color == "blue" else "blue"
                split.append((str(record.get("ts", "")), {to_color: 100, other: 0}, f"rollback: {_fmt(record.get('reason', ''))}"))
    steps = []
    for gate in gates:
        colors = _mapping(gate.get("colors"))
        if colors:
            steps.append({"label": f"{_fmt(gate.get('gate'))} {_fmt(gate.get('step', ''))}".strip(), "verdict": gate.get("verdict"),
                          "colors": {c: {key: _number(_mapping(colors.get(c)).get(key)) for key in ("error_rate", "p95_ms", "requests")}
                                     for c in COLORS}})
    interventions = [r for r in records if r.get("type") == "watchdog_intervention"]
    return {"run_id": (records[0].get("run_id") if records else None), "start": start, "seal": seal, "gates": gates,
            "changes": changes, "split": split, "steps": steps, "tasks": sum(1 for r in records if r.get("type") == "task_result"),
            "interventions": interventions}


def _svg_lines(title, series, labels, unit, width=640, height=200):
    """A small line chart: `series` maps a color to one value (or None) per label."""
    values = [v for points in series.values() for v in points if v is not None]
    top = max(values) if values else 1.0
    top = top * 1.1 if top > 0 else 1.0
    count = max(len(labels), 2)
    x = [40 + i * (width - 60) / (count - 1) for i in range(count)]

    def y(value):
        return height - 30 - (value / top) * (height - 50)

    parts = [f'<svg width="{width}" height="{height}" role="img" aria-label="{html.escape(title)}">',
             f'<text x="40" y="14" font-size="12">{html.escape(title)} (max {top / 1.1:.4g} {html.escape(unit)})</text>',
             f'<line x1="40" y1="{height - 30}" x2="{width - 20}" y2="{height - 30}" stroke="#888"/>']
    for index, label in enumerate(labels):
        parts.append(f'<text x="{x[index]:.1f}" y="{height - 12}" font-size="10" text-anchor="middle">{html.escape(str(label))}</text>')
    for color, points in series.items():
        coords = [(x[i], y(v)) for i, v in enumerate(points) if v is not None]
        if len(coords) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in coords)
            parts.append(f'<polyline fill="none" stroke="{COLORS.get(color, "#444")}" stroke-width="2" points="{path}"/>')
        for px, py in coords:
            parts.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{COLORS.get(color, "#444")}"/>')
    parts.append("</svg>")
    return "".join(parts)


def charts(summary):
    labels_split = [label.split(":")[0] for _ts, _split, label in summary["split"]]
    split_series = {c: [float(_number(s.get(c)) or 0) for _ts, s, _label in summary["split"]] for c in COLORS}
    labels_steps = [s["label"].replace("trace_health ", "") for s in summary["steps"]]
    errors = {c: [s["colors"][c]["error_rate"] for s in summary["steps"]] for c in COLORS}
    p95 = {c: [s["colors"][c]["p95_ms"] for s in summary["steps"]] for c in COLORS}
    return [
        _svg_lines("Traffic split (% of new requests)", split_series, labels_split, "%"),
        _svg_lines("Error rate per gate", errors, labels_steps, ""),
        _svg_lines("p95 latency per gate", p95, labels_steps, "ms"),
    ]


def _clock(epoch):
    """UTC time of day of an epoch second from the log, or None for anything else."""
    if isinstance(epoch, bool) or not isinstance(epoch, (int, float)) or not 0 <= epoch < 253402300800:
        return None
    return datetime.datetime.fromtimestamp(epoch, datetime.timezone.utc).strftime("%H:%M:%S")


def _fmt(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _row(*cells):
    """A Markdown table row; a cell is one line without a `|` whatever the record holds."""
    return "| " + " | ".join(" ".join(_fmt(cell).replace("|", "/").split()) for cell in cells) + " |"


def render_markdown(summary, verification):
    start, seal = summary["start"], summary["seal"]
    lines = [f"# Audit report: run {summary['run_id']}", "",
             f"- log verification: **{'valid' if verification.get('ok') else 'INVALID'}** "
             f"({verification.get('records')} records, {verification.get('signed_records')} signed, head `{verification.get('head')}`)"]
    if not verification.get("ok"):
        lines.append(f"- first bad record: line {verification.get('first_bad', {}).get('line')}: "
                     f"{verification.get('first_bad', {}).get('problem')}")
    for key in ("operation", "actor", "actor_source", "controller", "change_ticket", "environment", "service"):
        lines.append(f"- {key.replace('_', ' ')}: {_fmt(start.get(key))}")
    release = _mapping(start.get("release"))
    lines.append(f"- release: {_fmt(release.get('version'))} (sha256 {_fmt(release.get('sha256'))})")
    lines.append(f"- started: {_fmt(start.get('ts'))}; sealed: {_fmt(seal.get('ts'))} with outcome **{_fmt(seal.get('outcome'))}**")
    lines.append(f"- seal signature: key `{_fmt(seal.get('key_id'))}`, `{_fmt(seal.get('sig'))}`")
    lines.append(f"- task results recorded: {summary['tasks']}")
    for record in summary["interventions"]:
        for acted in record.get("interventions") if isinstance(record.get("interventions"), list) else []:
            acted = _mapping(acted)
            lines.append(f"- watchdog: before this run, the watchdog on {_fmt(acted.get('lb'))} returned all traffic of run "
                         f"{_fmt(acted.get('run_id'))} to {_fmt(record.get('live'))} at {_fmt(acted.get('acted_at'))} "
                         f"({_fmt(acted.get('reason'))})")
    lines += ["", "## Gates", "",
              "| time | gate | step | verdict | blue req / err / p95 ms / req/s per host | green req / err / p95 ms / req/s per host "
              "| windows compared | reason |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for gate in summary["gates"]:
        colors = _mapping(gate.get("colors"))
        cells, windows = [], []
        for color in COLORS:
            numbers = _mapping(colors.get(color))
            cells.append(f"{_fmt(numbers.get('requests'))} / {_fmt(numbers.get('errors'))} / {_fmt(numbers.get('p95_ms'))} / "
                         f"{_fmt(_number(numbers.get('load_per_host')))}")
            window = _mapping(numbers.get("window"))
            start, end = _clock(window.get("start")), _clock(window.get("end"))
            if start and end:
                windows.append(f"{color} {start}-{end}")
        reasons = gate.get("reasons")
        reason = _fmt(reasons[0] if isinstance(reasons, list) and reasons else "")
        lines.append(_row(gate.get("ts", ""), gate.get("gate"), gate.get("step"), gate.get("verdict"), *cells,
                          "; ".join(windows) or "-", reason))
    lines += ["", "## Traffic", "", "| time | change | blue % | green % |", "| --- | --- | --- | --- |"]
    for ts, split, label in summary["split"]:
        lines.append(_row(ts, label, split.get("blue"), split.get("green")))
    return printable("\n".join(lines) + "\n")


def render_html(summary, verification):
    markdown = render_markdown(summary, verification)
    body = []
    table = None
    for line in markdown.splitlines():
        if line.startswith("| ") and not line.startswith("| ---"):
            cells = [html.escape(c.strip()) for c in line.strip("|").split("|")]
            if table is None:
                table = ["<table><tr>" + "".join(f"<th>{c}</th>" for c in cells) + "</tr>"]
            else:
                table.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
            continue
        if line.startswith("| ---"):
            continue
        if table is not None:
            body.append("".join(table) + "</table>")
            table = None
        if line.startswith("# "):
            body.append(f"<h1>{html.escape(line[2:])}</h1>")
        elif line.startswith("## "):
            body.append(f"<h2>{html.escape(line[3:])}</h2>")
            if line == "## Traffic":
                body.extend(f"<figure>{svg}</figure>" for svg in charts(summary))
        elif line.startswith("- "):
            text = html.escape(line[2:]).replace("**", "")
            body.append(f"<p>{text}</p>")
    if table is not None:
        body.append("".join(table) + "</table>")
    style = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:3px 6px;font-size:13px}p{margin:2px 0}")
    title = html.escape(f"Audit report: run {summary['run_id']}")
    return printable(f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{title}</title><style>{style}</style></head>"
                     f"<body>{''.join(body)}</body></html>\n")


def report_name(summary, log_path):
    """The report files' name: the run id, or the log's own name when the id taken from the
    log could not name a file in the report directory (a path, or not a string at all)."""
    run_id = summary["run_id"]
    if isinstance(run_id, str) and FILE_NAME.match(run_id):
        return run_id
    return os.path.splitext(os.path.basename(log_path))[0]
