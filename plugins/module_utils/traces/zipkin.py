# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Zipkin v2 client. Zipkin has no resource attributes: the OpenTelemetry exporter puts
them (deployment.color, service.version) on every span as string tags."""

from __future__ import annotations

from .search import SlicingSearch, group_by_trace
from .model import BackendError, Span, normalize_id

RESOURCE_TAGS = ("service.version", "deployment.color", "deployment.environment.name")


class Zipkin(SlicingSearch):
    name = "zipkin"

    def search(self, query, start, end):
        end_ms = int(end * 1000)
        params = {"serviceName": query.service, "endTs": end_ms, "lookback": end_ms - int(start * 1000),
                  "limit": query.limit}
        if query.color:
            params["annotationQuery"] = f"deployment.color={query.color}"
        document = self.http.get_json("/api/v2/traces", params)
        if not isinstance(document, list):
            raise BackendError("Zipkin traces answer is not a list of traces")
        return group_by_trace(parse_spans([span for trace in document for span in trace]))

    def trace(self, trace_id):
        return parse_spans(self.http.get_json(f"/api/v2/trace/{trace_id}", not_found=[]))


def parse_spans(raw_spans):
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
                start_us=raw.get("timestamp", 0),
                duration_us=raw.get("duration", 0),
                service=service,
                error="error" in tags or tags.get("otel.status_code") == "ERROR",
                http_status=tags.get("http.response.status_code", tags.get("http.status_code")),
                resource=resource,
                attributes=attributes,
            ))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise BackendError(f"unreadable Zipkin span {str(raw)[:200]}: {exc!r}") from exc
    return spans
