# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Grafana Tempo client: TraceQL search for the window's spans, trace by id (v2, or v1)."""

from __future__ import annotations

from .search import SlicingSearch
from .model import BackendError, Span, normalize_id
from .otlp_json import attributes, spans_from_document

# Attributes the search must return with each matched span.
SELECTED = ("span:status", "span.http.response.status_code", "span.peer.service",
            "resource.service.version", "resource.deployment.color")


def traceql_string(value):
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _key(attribute_key):
    """Tempo names returned attributes with or without their scope; we keep the bare key."""
    for scope in ("resource.", "span."):
        if attribute_key.startswith(scope):
            return attribute_key[len(scope):]
    return attribute_key


class Tempo(SlicingSearch):
    name = "tempo"

    def __init__(self, http, api_version="v2", spans_per_spanset=10000):
        super().__init__(http)
        self.api_version = api_version
        self.spans_per_spanset = spans_per_spanset

    def traceql(self, query, kind):
        conditions = [f"resource.service.name = {traceql_string(query.service)}", f"kind = {kind}"]
        if query.color:
            conditions.append(f"resource.deployment.color = {traceql_string(query.color)}")
        return "{ " + " && ".join(conditions) + " } | select(" + ", ".join(SELECTED) + ")"

    def search(self, query, start, end):
        traces = {}
        for kind in ("server", "client"):
            params = {"q": self.traceql(query, kind), "start": int(start), "end": int(end) + 1,
                      "limit": query.limit, "spss": self.spans_per_spanset}
            document = self.http.get_json("/api/search", params)
            for trace_id, spans in parse_search(document, query.service, kind).items():
                traces.setdefault(trace_id, []).extend(spans)
        return traces

    def trace(self, trace_id):
        path = f"/api/v2/traces/{trace_id}" if self.api_version == "v2" else f"/api/traces/{trace_id}"
        return spans_from_document(self.http.get_json(path, not_found={}))


def parse_search(document, service, kind):
    """{trace_id: [Span]} from a search answer. Search spans carry only the attributes the
    query matched or selected, so service and kind come from the query itself."""
    if not isinstance(document, dict) or not isinstance(document.get("traces", []), list):
        raise BackendError("Tempo search answer has no 'traces' list")
    traces = {}
    for trace in document.get("traces") or []:
        try:
            trace_id = normalize_id(trace["traceID"], 32)
            spansets = trace.get("spanSets") or ([trace["spanSet"]] if trace.get("spanSet") else [])
            seen = set()
            for spanset in spansets:
                for raw in spanset.get("spans") or []:
                    span_id = normalize_id(raw["spanID"], 16)
                    if span_id in seen:
                        continue
                    seen.add(span_id)
                    attrs = {_key(k): v for k, v in attributes(raw.get("attributes")).items()}
                    resource = {"service.name": service}
                    for key in ("service.version", "deployment.color"):
                        if key in attrs:
                            resource[key] = attrs.pop(key)
                    traces.setdefault(trace_id, []).append(Span(
                        trace_id=trace_id,
                        span_id=span_id,
                        name=raw.get("name", ""),
                        kind=kind,
                        start_us=int(raw["startTimeUnixNano"]) // 1000,
                        duration_us=int(raw.get("durationNanos", 0)) // 1000,
                        service=service,
                        error=attrs.get("status") == "error",
                        http_status=attrs.get("http.response.status_code"),
                        resource=resource,
                        attributes=attrs,
                    ))
        except (KeyError, TypeError, ValueError) as exc:
            raise BackendError(f"unreadable Tempo search result {str(trace)[:200]}: {exc!r}") from exc
    return traces
