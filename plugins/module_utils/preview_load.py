# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""A bounded load through the load balancers' preview route to the idle color, before any
user request reaches it: the new color must carry its share of the traffic, not only answer
ten probes. The trace gate then judges the window of this load against the live color's
users in the same window (trace_health), at the same load per host.

Requests leave on a fixed schedule (`rate` per second over `duration` seconds, the URLs in
turn) from a few keep-alive clients: a request whose turn came while every client was busy
waiting for a slow answer leaves late, and is counted as late. No request leaves after the
duration, however the service answers: what could not be sent in it is counted as not sent,
a shortfall a slow release causes and the report shows."""

from __future__ import annotations

import http.client
import threading
import time
from urllib.parse import urlsplit

# Bounds of what a run may ask: the load is a test, not a stress test.
MAX_RATE = 2000.0
MAX_DURATION = 600.0
MAX_CLIENTS = 64


class LoadError(ValueError):
    """Bad input, naming the field."""


def check(urls, rate, duration, clients):
    if not urls:
        raise LoadError("urls: at least one URL")
    for index, url in enumerate(urls):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise LoadError(f"urls[{index}]: {url!r} is not an http:// or https:// URL naming a host")
    if not 0 < rate <= MAX_RATE:
        raise LoadError(f"rate: {rate} requests per second is not in (0, {MAX_RATE:g}]")
    if not 0 < duration <= MAX_DURATION:
        raise LoadError(f"duration: {duration} s is not in (0, {MAX_DURATION:g}]")
    if not 0 < clients <= MAX_CLIENTS:
        raise LoadError(f"clients: {clients} is not in [1, {MAX_CLIENTS}]")


class _Client:
    """One keep-alive connection per host, opened again after an error."""

    def __init__(self, headers, timeout, context=None):
        self.headers, self.timeout, self.context = headers, timeout, context
        self.connections = {}

    def get(self, url):
        parts = urlsplit(url)
        key = (parts.scheme, parts.hostname, parts.port)
        connection = self.connections.get(key)
        if connection is None:
            if parts.scheme == "https":
                connection = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=self.timeout,
                                                         context=self.context)
            else:
                connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=self.timeout)
            self.connections[key] = connection
        try:
            connection.request("GET", (parts.path or "/") + (f"?{parts.query}" if parts.query else ""), headers=self.headers)
            response = connection.getresponse()
            response.read()
            if response.will_close:
                self._drop(key)
            return response.status
        except (OSError, http.client.HTTPException):
            self._drop(key)
            raise

    def _drop(self, key):
        connection = self.connections.pop(key, None)
        if connection is not None:
            connection.close()

    def close(self):
        for key in list(self.connections):
            self._drop(key)


def run(urls, rate, duration, headers=None, clients=8, timeout=5.0, context=None, clock=time.time):
    """Sends round(rate * duration) GETs on schedule, none after the duration; returns what
    happened and when: {started_at, ended_at, sent, not_sent, ok, non_2xx, errors, late,
    error_samples, latency_ms: {p50, p95, max}}."""
    check(urls, rate, duration, clients)
    total = max(1, int(round(rate * duration)))
    lock = threading.Lock()
    state = {"next": 0, "not_sent": 0, "ok": 0, "non_2xx": 0, "errors": 0, "late": 0, "latencies": [], "error_samples": []}
    started = clock()
    monotonic_start = time.monotonic()

    def worker():
        client = _Client(headers or {}, timeout, context)
        try:
            while True:
                with lock:
                    index = state["next"]
                    if index >= total:
                        return
                    if time.monotonic() >= monotonic_start + duration:
                        # The duration is over: what the clients could not send in it is not sent.
                        state["not_sent"] = total - index
                        state["next"] = total
                        return
                    state["next"] += 1
                due = monotonic_start + index / rate
                wait = due - time.monotonic()
                if wait > 0:
                    time.sleep(wait)
                elif wait < -0.1:
                    with lock:
                        state["late"] += 1
                begun = time.monotonic()
                try:
                    status = client.get(urls[index % len(urls)])
                    bucket, error = ("ok" if 200 <= status < 300 else "non_2xx"), None
                except (OSError, http.client.HTTPException) as exc:
                    bucket, error = "errors", f"{type(exc).__name__}: {exc}"
                elapsed_ms = (time.monotonic() - begun) * 1000.0
                with lock:
                    state[bucket] += 1
                    if bucket != "errors":
                        state["latencies"].append(elapsed_ms)
                    elif len(state["error_samples"]) < 5:
                        state["error_samples"].append(error)
        finally:
            client.close()

    threads = [threading.Thread(target=worker, daemon=True) for _client in range(clients)]
    for thread in threads:
        thread.start()
    # Every request leaves by the end of the duration and waits at most `timeout`.
    deadline = time.monotonic() + duration + timeout + 5.0
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    latencies = sorted(state["latencies"])

    def percentile(share):
        return round(latencies[min(len(latencies) - 1, int(share * len(latencies)))], 3) if latencies else None

    return {"started_at": round(started, 3), "ended_at": round(clock(), 3), "sent": state["next"] - state["not_sent"],
            "not_sent": state["not_sent"], "ok": state["ok"],
            "non_2xx": state["non_2xx"], "errors": state["errors"], "late": state["late"],
            "error_samples": state["error_samples"],
            "latency_ms": {"p50": percentile(0.5), "p95": percentile(0.95), "max": latencies[-1] if latencies else None}}
