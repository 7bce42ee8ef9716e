# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Zipkin v2 client. Zipkin has no resource attributes: the OpenTelemetry exporter puts
them (deployment.color, service.version) on every span as string tags.

Upstream facts relied on (openzipkin/zipkin 3.5.1):
- zipkin2/Endpoint.java Builder.serviceName and zipkin2/storage/QueryRequest.java
  Builder.build lowercase service names (and span names) on ingest and in queries; build
  refuses endTs, lookback and limit that are not above 0.
- QueryRequest.test: a trace is in the window [endTs - lookback, endTs] (ms) when its root
  span's timestamp is (or, without a root, its earliest span's); every span of it is
  returned, whenever it started.
"""

from __future__ import annotations

from .model import BackendError, SkippedSpans, Span, normalize_id
from .search import SlicingSearch, group_by_trace

RESOURCE_TAGS = ("service.version", "deployment.color", "deployment.environment.name")
# How long before one of the service's spans its trace's root may have started. Zipkin
# finds a trace by its root's timestamp, so the searches reach back this far before the
# window; a request reaches the service within its callers' timeouts (30 s to a minute in
# common proxies), traces whose root is older than that are not found.
ROOT_LEAD_SECONDS = 60.0


class Zipkin(SlicingSearch):
    label = "Zipkin"
    search_path = "/api/v2/traces"

    def search_range(self, query):
        return query.start - ROOT_LEAD_SECONDS, query.end

    def search(self, query, start, end, skipped):
        end_ms = max(1, int(end * 1000))
        params = {"serviceName": query.service, "endTs": end_ms, "lookback": max(1, end_ms - int(start * 1000)),
                  "limit": query.limit}
        if query.color:
            params["annotationQuery"] = f"deployment.color={query.color}"
        source = self.http.source(self.search_path)
        document = self.http.get_json(self.search_path, params)
        if not isinstance(document, list) or not all(isinstance(trace, list) for trace in document):
            raise BackendError(f"{source} answered something that is not a list of traces: {str(document)[:200]}")
        return len(document), lambda: group_by_trace(parse_spans([span for trace in document for span in trace], source, skipped))

    def trace(self, trace_id):
        path = f"/api/v2/trace/{trace_id}"
        document = self.http.get_json(path, not_found=[])
        if not isinstance(document, list):
            raise BackendError(f"{self.http.source(path)} answered something that is not a list of spans: "
                               f"{str(document)[:200]}")
        return parse_spans(document, self.http.source(path), SkippedSpans())


def parse_spans(raw_spans, source, skipped):
    """Spans of a list of Zipkin v2 spans; `source` names the backend and URL, spans that
    cannot be read are counted in `skipped`."""
    spans = []
    for raw in raw_spans:
        try:
            tags = raw.get("tags") or {}
            service = (raw.get("localEndpoint") or {}).get("serviceName", "")
            resource = {key: tags[key] for key in RESOURCE_TAGS if key in tags}
            resource["service.name"] = service
            attributes = {k: v for k, v in tags.items() if k not in RESOURCE_TAGS}
            remote = (raw.get("remoteEndpoint") or {}).get("serviceName")
            if remote and "peer.service" not in attributes:
                attributes["peer.service"] = remote
            spans.append(Span(
                trace_id=normalize_id(raw["traceId"], 32),
                span_id=normalize_id(raw["id"], 16),
                parent_id=normalize_id(raw["parentId"], 16) if raw.get("parentId") else None,
                name=raw.get("name", ""),
                kind=str(raw.get("kind", "unspecified")).lower(),
                start_us=raw["timestamp"],
                duration_us=raw.get("duration", 0),
                service=service,
                error="error" in tags or tags.get("otel.status_code") == "ERROR",
                http_status=tags.get("http.response.status_code", tags.get("http.status_code")),
                resource=resource,
                attributes=attributes,
            ))
        except (BackendError, KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            skipped.skip(source, raw, exc)
    return spans
