# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The blind-spot gate: synthetic requests with fresh W3C trace ids, then proof that the
trace backend holds every one of them with the expected service, color and version."""

from __future__ import annotations

import re
import secrets
import time
from urllib.parse import urlsplit

from .traces.userinfo import without_userinfo
from .traces.model import BackendError, same_service

# Probes are HTTP requests to the service; the URL opener would read a file:// or try an
# ftp:// URL just as well.
PROBE_SCHEMES = ("http", "https")


def new_traceparent():
    """(trace_id, traceparent header) with the sampled flag set."""
    trace_id = secrets.token_hex(16)
    return trace_id, f"00-{trace_id}-{secrets.token_hex(8)}-01"


TRACE_ID = re.compile(r"[0-9a-f]{32}")


def sent_probes(records):
    """The probes an earlier call sent (its `probes`), checked before any look-up: a trace
    id of 32 lower-case hex digits (not all zero), and a status that is a number or None
    (no answer). Raises ValueError naming the first bad field."""
    if not records:
        raise ValueError("sent: no probes; give the probes an earlier trace_probe task returned")
    probes = []
    for index, record in enumerate(records):
        if not isinstance(record, dict):
            raise ValueError(f"sent[{index}]: not a probe (a dict with trace_id and status)")
        trace_id = record.get("trace_id")
        if not isinstance(trace_id, str) or not TRACE_ID.fullmatch(trace_id) or trace_id == "0" * 32:
            raise ValueError(f"sent[{index}].trace_id: {trace_id!r} is not a trace id (32 lower-case hex digits, not all zero)")
        if "status" not in record or not (record["status"] is None or (isinstance(record["status"], int) and not isinstance(record["status"], bool))):
            raise ValueError(f"sent[{index}].status: {record.get('status')!r} is not an HTTP status or null")
        probes.append(dict(record))
    return probes


def unfit_url(urls):
    """The message for the first of `urls` that is not an http:// or https:// URL naming a
    host (and a port, if any, from 1 to 65535), without its credentials; None when all are fit."""
    for index, url in enumerate(urls):
        try:
            parts = urlsplit(url)
            # urlsplit drops tabs and line breaks silently; the request would not.
            fit = (parts.scheme in PROBE_SCHEMES and bool(parts.hostname) and parts.port != 0
                   and not any(ord(c) < 33 or c == "\x7f" for c in url))
        except ValueError:  # a malformed [IPv6] host, or a port that is no number up to 65535
            fit = False
        if not fit:
            return f"urls[{index}]: {without_userinfo(url)!r} is not an http:// or https:// URL naming a host"
    return None


def send_probes(send, urls, count, headers=None):
    """Sends `count` GETs spread over `urls`. `send(url, headers)` returns (status, response
    headers) or raises OSError. Returns one record per probe; URLs and errors are shown
    without credentials."""
    probes = []
    for index in range(count):
        url = urls[index % len(urls)]
        trace_id, traceparent = new_traceparent()
        record = {"trace_id": trace_id, "url": without_userinfo(url)}
        try:
            status, response_headers = send(url, dict(headers or {}, traceparent=traceparent))
            record.update(status=status, color=response_headers.get("x-app-color"),
                          version=response_headers.get("x-app-version"))
        except OSError as exc:
            record.update(status=None, error=without_userinfo(str(exc)))
        probes.append(record)
    return probes


def inspect_trace(spans, service, color=None, version=None):
    """None when the trace holds a server span of `service` with the expected attributes;
    else what is wrong (missing, or the attributes found). The service is compared without
    case, as Zipkin keeps it lowercased (see same_service)."""
    server = [s for s in spans if same_service(s.service, service) and s.kind == "server"]
    if not server:
        others = sorted({s.service for s in spans})
        return f"no server span of {service}" + (f" (spans of {', '.join(others)} only)" if others else "")
    problems = []
    span = server[0]
    if color is not None and span.color != color:
        problems.append(f"deployment.color is {span.color!r}, expected {color!r}")
    if version is not None and span.version != version:
        problems.append(f"service.version is {span.version!r}, expected {version!r}")
    return "; ".join(problems) or None


def wait_for_traces(backend, probes, service, color, version, deadline, interval=0.25, max_interval=2.0):
    """Polls the backend until every probe's trace is found and correct, or the deadline.
    Returns {trace_id: problem or None}; the backend failing counts as a problem. The pause
    between polls starts short (traces exported within a second are seen at once) and grows
    by half each time up to `max_interval` (a backend slow to index is not hammered)."""
    pending = {p["trace_id"] for p in probes if p.get("status") is not None}
    outcome = {p["trace_id"]: "the request itself failed: " + p.get("error", "") for p in probes if p.get("status") is None}
    last = {}
    while True:
        for trace_id in sorted(pending):
            try:
                problem = inspect_trace(backend.trace(trace_id), service, color, version)
            except BackendError as exc:
                problem = f"backend error: {exc}"
            last[trace_id] = problem
            if problem is None or not problem.startswith(("no server span", "backend error")):
                pending.discard(trace_id)
                outcome[trace_id] = problem
        if not pending or time.monotonic() >= deadline:
            break
        time.sleep(min(interval, max(0.0, deadline - time.monotonic())))
        interval = min(interval * 1.5, max_interval)
    for trace_id in pending:
        outcome[trace_id] = last.get(trace_id) or "not found"
    return outcome
