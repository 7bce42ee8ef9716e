# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Jaeger query service clients: api_v3 (OTLP JSON, the default) and the v1 JSON API
(/api/traces) for servers that still have it.

Upstream facts relied on (jaegertracing/jaeger):
- v1.76.0 (Jaeger v2.13) cmd/query/app/apiv3/http_gateway.go: snake_case parameters
  (query.service_name, query.start_time_min/max required, query.num_traces); tag filters
  not read over HTTP; no traces is HTTP 404 {"error": {"httpCode": 404, ...}}.
- v2.19.0 cmd/jaeger/internal/extension/jaegerquery/internal/apiv3/query_parser.go:
  camelCase canonical (query.serviceName, query.startTimeMin/Max, query.searchDepth), the
  snake_case names (and query.num_traces) kept as deprecated aliases; the canonical name is
  read first; query.attributes (JSON map) filters server side.
- main after v2.20.0, commit 639eefe "Remove v1 HTTP endpoints the UI no longer calls
  (#9260)": GET /api/traces (search) is gone; GET /api/traces/{id} stays.
- v1.76.0 internal/storage/v1/cassandra/spanstore/reader.go: a search reads
  NumTraces * limitMultiple (3) index rows, one per span, so an answer can hold fewer traces
  than asked for while more exist (see FULL_SHARE).
"""

from __future__ import annotations

import datetime
import json

from .model import BackendError, SkippedSpans, Span, normalize_id
from .otlp_json import count_trace_ids, spans_from_document
from .search import SlicingSearch, group_by_trace

# An answer with at least this share of `limit` traces may be truncated: Cassandra stops at
# 3 index rows per asked-for trace, that is short of `limit` as soon as a trace holds more
# than 3 spans of the service; half the limit covers traces of up to 6 such spans. Other
# storages stop at exactly `limit`, and a split then costs one search more per slice.
FULL_SHARE = 0.5


def rfc3339(epoch_seconds):
    return datetime.datetime.fromtimestamp(epoch_seconds, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def api_v3_not_found(body):
    """Whether a 404's body is api_v3's own error object for an empty result."""
    try:
        document = json.loads(body)
    except ValueError:
        return False
    error = document.get("error") if isinstance(document, dict) else None
    return isinstance(error, dict) and error.get("httpCode") == 404


class JaegerV3(SlicingSearch):
    """api_v3 over HTTP. The color is asked for with query.attributes (read from 2.19 on,
    ignored before) and always filtered again here (TraceBackend.sample)."""

    label = "Jaeger (api_v3)"
    full_share = FULL_SHARE
    search_path = "/api/v3/traces"

    def search(self, query, start, end, skipped):
        window_start, window_end = rfc3339(start), rfc3339(end)
        # Each parameter under both names: 2.19 and later read the camelCase one first and
        # earlier releases know only the snake_case one, so every release reads one of them,
        # with no extra request and no guessing from error texts.
        params = {
            "query.serviceName": query.service, "query.service_name": query.service,
            "query.startTimeMin": window_start, "query.start_time_min": window_start,
            "query.startTimeMax": window_end, "query.start_time_max": window_end,
            "query.searchDepth": query.limit, "query.num_traces": query.limit,
        }
        if query.color:
            params["query.attributes"] = json.dumps({"deployment.color": query.color})
        document = self._get(self.search_path, params)
        source = self.http.source(self.search_path)
        # OTLP JSON does not group by trace: the distinct trace ids of the raw spans.
        return count_trace_ids(document, source), lambda: group_by_trace(spans_from_document(document, source, skipped))

    def trace(self, trace_id):
        path = f"/api/v3/traces/{trace_id}"
        return spans_from_document(self._get(path), self.http.source(path), SkippedSpans())

    def _get(self, path, params=None):
        """The answer; api_v3's own 404, {"error": {"httpCode": 404, ...}} ("No traces
        found"), is an empty result. A 404 in any other shape is not Jaeger saying so: a
        gateway's or another server's answer (no api_v3 at this URL), never read as no
        traces, which would let a gate count an unanswered color as idle."""
        try:
            return self.http.get_json(path, params)
        except BackendError as exc:
            if exc.status != 404:
                raise
            if api_v3_not_found(exc.body):
                return {}
            raise BackendError(f"{self.http.source(path)} answered 404 without api_v3's error body "
                               f"({exc.body.strip()[:200]!r}): no Jaeger api_v3 answers at this URL; for an older "
                               f"Jaeger set jaeger_api_version: v1", status=404) from exc


class JaegerV1(SlicingSearch):
    """The v1 JSON API of the Jaeger UI; it filters by tag (the color) server side."""

    label = "Jaeger (v1 API)"
    full_share = FULL_SHARE
    search_path = "/api/traces"

    def search(self, query, start, end, skipped):
        params = {"service": query.service, "start": int(start * 1e6), "end": int(end * 1e6), "limit": query.limit}
        if query.color:
            params["tags"] = json.dumps({"deployment.color": query.color})
        try:
            document = self.http.get_json(self.search_path, params)
        except BackendError as exc:
            if exc.status == 404:
                raise BackendError(f"{self.http.source(self.search_path)} answered 404: this Jaeger has no v1 query "
                                   f"API (Jaeger's main branch removed it after 2.20); set jaeger_api_version: v3", status=404) from exc
            raise
        source = self.http.source(self.search_path)
        # The envelope is checked at once, also for an answer that is split and never read.
        return len(v1_traces(document, source)), lambda: group_by_trace(parse_v1(document, source, skipped))

    def trace(self, trace_id):
        path = f"/api/traces/{trace_id}"
        return parse_v1(self.http.get_json(path, not_found={"data": []}), self.http.source(path), SkippedSpans())


def _tag_values(tags):
    return {tag["key"]: tag.get("value") for tag in tags or ()}


def _processes(raw, source):
    """{processID: (serviceName, resource)}. A process that cannot be read is left out: its
    spans are then skipped, and counted, as spans without a process."""
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise BackendError(f"{source}: 'processes' is not an object: {str(raw)[:100]}")
    processes = {}
    for pid, process in raw.items():
        try:
            service = process.get("serviceName", "")
            resource = _tag_values(process.get("tags"))
            resource["service.name"] = service
            processes[pid] = (service, resource)
        except (KeyError, TypeError, AttributeError):
            continue
    return processes


def v1_traces(document, source):
    """The list of traces of a v1 envelope {"data": [trace...], "errors": ...}; `source`
    names the backend and URL in errors."""
    if not isinstance(document, dict) or "data" not in document:
        raise BackendError(f"{source} answered no 'data': {str(document)[:200]}")
    if document.get("errors"):
        raise BackendError(f"{source} reported errors: {str(document['errors'])[:300]}")
    data = document["data"] or []
    if not isinstance(data, list):
        raise BackendError(f"{source}: 'data' is not a list of traces: {str(data)[:100]}")
    return data


def parse_v1(document, source, skipped):
    """Spans of a v1 envelope (see v1_traces). This runs over every span of a window, so
    per-span work is kept to what the gates read."""
    spans = []
    for trace in v1_traces(document, source):
        if not isinstance(trace, dict) or not isinstance(trace.get("spans") or [], list):
            raise BackendError(f"{source}: a trace is not an object with a list of spans: {str(trace)[:100]}")
        processes = _processes(trace.get("processes"), source)
        for raw in trace.get("spans") or ():
            try:
                tags = _tag_values(raw.get("tags"))
                process = processes.get(raw.get("processID"))
                if process is None:
                    raise LookupError(f"process {raw.get('processID')!r} missing or unreadable")
                service, resource = process
                parent = None
                for reference in raw.get("references") or ():
                    if reference.get("refType") == "CHILD_OF":
                        parent = normalize_id(reference["spanID"], 16)
                        break
                spans.append(Span(
                    trace_id=normalize_id(raw["traceID"], 32),
                    span_id=normalize_id(raw["spanID"], 16),
                    parent_id=parent,
                    name=raw.get("operationName", ""),
                    kind=str(tags.get("span.kind", "unspecified")).lower(),
                    start_us=raw["startTime"],
                    duration_us=raw["duration"],
                    service=service,
                    error=tags.get("error") in (True, "true") or tags.get("otel.status_code") == "ERROR",
                    http_status=tags.get("http.response.status_code", tags.get("http.status_code")),
                    resource=resource,
                    attributes=tags,
                ))
            except (BackendError, LookupError, TypeError, ValueError, AttributeError, OverflowError) as exc:
                skipped.skip(source, raw, exc)
    return spans
