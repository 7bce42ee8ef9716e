# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Jaeger query service clients: the v1 JSON API (/api/traces) and api_v3 (OTLP JSON)."""

from __future__ import annotations

import datetime
import json

from .model import BackendError, Span, normalize_id
from .otlp_json import spans_from_document
from .search import SlicingSearch, group_by_trace


def rfc3339(epoch_seconds):
    return datetime.datetime.fromtimestamp(epoch_seconds, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class JaegerV1(SlicingSearch):
    name = "jaeger"

    def search(self, query, start, end):
        params = {"service": query.service, "start": int(start * 1e6), "end": int(end * 1e6), "limit": query.limit}
        if query.color:
            params["tags"] = json.dumps({"deployment.color": query.color})
        return group_by_trace(parse_v1(self.http.get_json("/api/traces", params)))

    def trace(self, trace_id):
        return parse_v1(self.http.get_json(f"/api/traces/{trace_id}", not_found={"data": []}))


def _tag_values(tags):
    try:
        return {tag["key"]: tag.get("value") for tag in tags or ()}
    except (KeyError, TypeError, AttributeError) as exc:
        raise BackendError(f"unreadable Jaeger tags {str(tags)[:200]}") from exc


def parse_v1(document):
    """Spans of a v1 envelope {"data": [trace...], "errors": ...}. This runs over every span
    of a window, so per-span work is kept to what the gates read."""
    if not isinstance(document, dict) or "data" not in document:
        raise BackendError("Jaeger v1 answer has no 'data'")
    if document.get("errors"):
        raise BackendError(f"Jaeger reported errors: {document['errors']}")
    spans = []
    for trace in document["data"] or []:
        processes = {}
        for pid, process in (trace.get("processes") or {}).items():
            service = process.get("serviceName", "")
            resource = _tag_values(process.get("tags"))
            resource["service.name"] = service
            processes[pid] = (service, resource)
        for raw in trace.get("spans") or ():
            try:
                tags = _tag_values(raw.get("tags"))
                service, resource = processes.get(raw.get("processID"), ("", {}))
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
            except (KeyError, TypeError, ValueError) as exc:
                raise BackendError(f"unreadable Jaeger span {str(raw)[:200]}: {exc!r}") from exc
    return spans


class JaegerV3(SlicingSearch):
    """api_v3 over HTTP cannot filter by tag: the color is filtered here."""

    name = "jaeger_v3"

    def search(self, query, start, end):
        params = {
            "query.service_name": query.service,
            "query.start_time_min": rfc3339(start),
            "query.start_time_max": rfc3339(end),
            "query.num_traces": query.limit,
        }
        spans = spans_from_document(self.http.get_json("/api/v3/traces", params, not_found={}))
        return group_by_trace(spans)

    def trace(self, trace_id):
        return spans_from_document(self.http.get_json(f"/api/v3/traces/{trace_id}", not_found={}))
