# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One span model and one small interface for every trace backend.

Each backend client turns its own wire format into `Span`s (or, for span metrics, into a
`ColorSample` directly); everything after that, the analysis included, sees one shape.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import gc
import re

KINDS = ("unspecified", "internal", "server", "client", "producer", "consumer")
HEX = re.compile(r"^[0-9a-fA-F]+$")


@contextlib.contextmanager
def paused_gc():
    """Decoding a large answer and building a span per entry creates objects by the hundred
    thousand, and the cyclic collector would rescan all of them again and again (it tripled
    the parse time of 100,000 spans). None of it is cyclic garbage, so collection waits."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


class BackendError(Exception):
    """The backend could not be asked, refused, or answered something we cannot read.
    A gate treats it as a failure, never as a pass. `status` is the HTTP status of an
    error answer and `body` the start of its text, for the clients that tell an empty
    result or a missing API from a failure by them."""

    def __init__(self, message, status=None, body=""):
        super().__init__(message)
        self.status = status
        self.body = body


def normalize_id(value, length):
    """Hex id of `length` characters. Accepts hex (Tempo's search trims leading zeros, so
    shorter hex is left-padded) or base64 (Tempo's jsonpb trace bodies)."""
    if not isinstance(value, str) or not value:
        raise BackendError(f"missing or non-string id {value!r}")
    if HEX.match(value) and len(value) <= length:
        return value.lower().rjust(length, "0")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise BackendError(f"id {value[:40]!r} is neither hex nor base64") from None
    hexed = raw.hex()
    if len(hexed) > length:
        raise BackendError(f"id {value[:40]!r} is longer than {length // 2} bytes")
    return hexed.rjust(length, "0")


def same_service(reported, wanted):
    """Whether a span's service is the one asked for. Zipkin lowercases service names on
    ingest and in queries (zipkin2 Endpoint.Builder.serviceName, QueryRequest.Builder.build,
    openzipkin/zipkin 3.5.1), so names are compared without case for every backend."""
    return reported == wanted or (isinstance(reported, str) and reported.casefold() == wanted.casefold())


# Times are unsigned 64-bit on every wire format (OTLP nanoseconds, Jaeger and Zipkin
# microseconds); anything outside is not a time, whatever JSON number it was.
TIME_RANGE = range(0, 2 ** 64)


class Span:
    """A span reduced to what the gates need. Times in microseconds since the epoch.
    Raises TypeError or ValueError for a name, service or time no backend would send; the
    parsers count such a span as skipped."""

    __slots__ = ("trace_id", "span_id", "parent_id", "name", "kind", "start_us", "duration_us",
                 "error", "http_status", "service", "resource", "attributes")

    def __init__(self, trace_id, span_id, name, kind, start_us, duration_us, service, error=False,
                 http_status=None, parent_id=None, resource=None, attributes=None):
        if not isinstance(name, str) or not isinstance(service, str):
            raise TypeError(f"name {name!r:.40} and service {service!r:.40} must be strings")
        self.trace_id = trace_id
        self.span_id = span_id
        self.parent_id = parent_id or None
        self.name = name
        self.kind = kind if kind in KINDS else "unspecified"
        self.start_us = int(start_us)
        self.duration_us = int(duration_us)
        if self.start_us not in TIME_RANGE or self.duration_us not in TIME_RANGE:
            raise ValueError(f"start {self.start_us} or duration {self.duration_us} is not a time")
        self.error = bool(error)
        self.http_status = _status_code(http_status)
        self.service = service
        self.resource = resource or {}
        self.attributes = attributes or {}

    def attribute(self, key):
        """A resource attribute, else a span attribute (Zipkin has only span tags)."""
        if key in self.resource:
            return self.resource[key]
        return self.attributes.get(key)

    @property
    def color(self):
        return self.attribute("deployment.color")

    @property
    def version(self):
        return self.attribute("service.version")

    @property
    def dependency(self):
        """The downstream a client span calls, as exporters name it."""
        for key in ("peer.service", "server.address", "net.peer.name", "http.host"):
            if self.attributes.get(key):
                return str(self.attributes[key])
        return self.name

    @property
    def key(self):
        """What makes two spans the same span. The kind is part of it because Zipkin's B3
        instrumentation shares one span id between a client span and the server span it
        calls (zipkin2 Span.shared): those are two halves, not a duplicate."""
        return self.trace_id, self.span_id, self.kind

    def __repr__(self):
        return f"Span({self.service} {self.kind} {self.name!r} {self.trace_id}/{self.span_id} {self.duration_us}us)"


def _status_code(value):
    """The HTTP status as an int, or None: an odd status attribute is no reason to lose
    the span (its error flag is what the gates count)."""
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError, OverflowError):
        return None


class SkippedSpans:
    """Spans an answer held that could not be read (no start time, an id that is neither
    hex nor base64, a field of the wrong type): counted, with the first few reasons, so
    that one odd span does not void an answer and no span is lost unseen."""

    MAX_REASONS = 5

    __slots__ = ("count", "reasons")

    def __init__(self):
        self.count = 0
        self.reasons = []

    def add(self, reason):
        self.count += 1
        if len(self.reasons) < self.MAX_REASONS and reason not in self.reasons:
            self.reasons.append(reason)

    def skip(self, backend, raw, exc):
        """Counts `raw` as skipped because reading it raised `exc`."""
        if len(self.reasons) >= self.MAX_REASONS:
            self.count += 1
            return
        excerpt = str({k: raw[k] for k in list(raw)[:4]} if isinstance(raw, dict) else raw)[:80]
        problem = f"no {exc.args[0]!r}" if isinstance(exc, KeyError) else str(exc) or type(exc).__name__
        self.add(f"{backend} span {excerpt}: {problem}"[:240])


# Traces asked for per search. A search costs about the same whatever it returns (the real
# Jaeger 2 in the lab: 0.34 s for 500 traces, 0.37 s for 1,240), and a window that holds more
# is split into more searches (search.SlicingSearch): at 1000 a 15 s window of 80 requests per
# second and color took 14 searches and 6.4 s, at 5000 two and 2.3 s.
DEFAULT_LIMIT = 5000


class TraceQuery:
    """What to fetch: spans of `service` (optionally of one color) that started in
    [start, end], epoch seconds."""

    __slots__ = ("service", "start", "end", "color", "limit", "exclude_operations")

    def __init__(self, service, start, end, color=None, limit=DEFAULT_LIMIT, exclude_operations=()):
        if not service:
            raise BackendError("service: a service name is required")
        if end <= start:
            raise BackendError(f"window: end {end} is not after start {start}")
        if int(limit) < 1:
            raise BackendError(f"limit: {limit} traces per search; at least 1")
        self.service = service
        self.start = float(start)
        self.end = float(end)
        self.color = color
        self.limit = int(limit)
        # Server operations that are not user traffic (health checks, metrics scrapes),
        # compared without case: Zipkin lowercases span names.
        self.exclude_operations = frozenset(name.lower() for name in exclude_operations or ())


class ColorSample:
    """What one color did in a window: the input of the analysis.

    `latencies_ms` are the durations of the service's server spans (or, from span metrics,
    bucket bounds repeated by count). `operations` and `dependencies` map a name to
    [requests, errors, latencies_ms]. `queries` records what was asked, for the evidence;
    `skipped_spans` and `skipped_reasons` what could not be read (see SkippedSpans) and
    `warnings` what the backend warned of. `request_starts` holds the start time (epoch
    seconds) of every request when the sample was read from spans, None from span metrics.
    """

    def __init__(self, color, requests=0, errors=0, latencies_ms=None, operations=None, dependencies=None,
                 queries=None, spans=0, binned=False, skipped=None, warnings=None):
        self.color = color
        self.requests = requests
        self.errors = errors
        self.latencies_ms = latencies_ms if latencies_ms is not None else []
        self.operations = operations or {}
        self.dependencies = dependencies or {}
        self.queries = queries or []
        self.spans = spans
        self.binned = binned
        self.skipped_spans = skipped.count if skipped else 0
        self.skipped_reasons = list(skipped.reasons) if skipped else []
        self.warnings = list(warnings or ())
        self.request_starts = None

    def requests_started_before(self, moment):
        """How many of the requests started before `moment`, or None when the sample does
        not know when its requests started."""
        if self.request_starts is None:
            return None
        return sum(1 for start in self.request_starts if start < moment)

    @classmethod
    def from_spans(cls, color, service, spans, queries, exclude_operations=frozenset(), skipped=None):
        """Requests are the service's server spans; dependencies its client spans."""
        sample = cls(color, queries=queries, spans=len(spans), skipped=skipped)
        sample.request_starts = []
        for span in spans:
            if not same_service(span.service, service) or (span.kind == "server" and span.name.lower() in exclude_operations):
                continue
            latency = span.duration_us / 1000.0
            if span.kind == "server":
                sample.requests += 1
                sample.errors += span.error
                sample.latencies_ms.append(latency)
                sample.request_starts.append(span.start_us / 1e6)
                _add(sample.operations, span.name, span.error, latency)
            elif span.kind == "client":
                _add(sample.dependencies, span.dependency, span.error, latency)
        return sample


def _add(breakdown, key, error, latency):
    entry = breakdown.setdefault(key, [0, 0, []])
    entry[0] += 1
    entry[1] += bool(error)
    entry[2].append(latency)


class TraceBackend:
    """The interface every client implements. `label` names the backend in every error
    and skipped-span reason, with the URL asked."""

    label = "trace backend"

    def __init__(self, http):
        self.http = http
        http.label = self.label

    def spans(self, query, skipped):
        """Spans of query.service (all of them, or of query.color) that started in the
        window, each once; spans that could not be read are counted in `skipped`."""
        raise NotImplementedError

    def trace(self, trace_id):
        """All spans of one trace, or [] when the backend does not have it (yet)."""
        raise NotImplementedError

    def sample(self, query):
        """The ColorSample of query.color; span backends derive it from spans(). The color
        is always compared here, whatever the backend filtered already."""
        skipped = SkippedSpans()
        with paused_gc():
            spans = self.spans(query, skipped)
            if query.color:
                spans = [s for s in spans if s.color == query.color]
            return ColorSample.from_spans(query.color, query.service, spans, self.queries_made(), query.exclude_operations,
                                          skipped)

    def queries_made(self):
        return list(self.http.queries)
