# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reads OTLP traces in JSON as two backends write them: spec OTLP-JSON (Jaeger api_v3: hex
ids, integer enums, 64-bit integers as strings) and gogo jsonpb (Tempo: base64 ids, enum
names as strings, `batches` in its v1 API)."""

from __future__ import annotations

from .model import BackendError, Span, normalize_id

KIND_NUMBERS = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
STATUS_ERROR = (2, "STATUS_CODE_ERROR")


def any_value(value):
    """The Python value of an OTLP AnyValue."""
    if not isinstance(value, dict):
        return None
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in value:
            return value[key]
    if "intValue" in value:
        return int(value["intValue"])
    if "arrayValue" in value:
        return [any_value(v) for v in value["arrayValue"].get("values", [])]
    return None


def attributes(items):
    return {item["key"]: any_value(item.get("value")) for item in items or [] if "key" in item}


def span_kind(kind):
    if isinstance(kind, int):
        return KIND_NUMBERS.get(kind, "unspecified")
    if isinstance(kind, str):
        return kind.replace("SPAN_KIND_", "").lower()
    return "unspecified"


def resource_spans(document):
    """The list of resourceSpans in any of the envelopes: {"result": {...}} (api_v3),
    {"trace": {...}} (Tempo v2), {"batches": [...]} (Tempo v1), or bare."""
    if not isinstance(document, dict):
        raise BackendError("OTLP JSON document is not an object")
    for wrapper in ("result", "trace"):
        if isinstance(document.get(wrapper), dict):
            document = document[wrapper]
    found = document.get("resourceSpans", document.get("batches"))
    if found is None:
        return []
    if not isinstance(found, list):
        raise BackendError("resourceSpans is not a list")
    return found


def spans_from_document(document):
    spans = []
    for resource_span in resource_spans(document):
        resource = attributes((resource_span.get("resource") or {}).get("attributes"))
        service = resource.get("service.name", "")
        scopes = resource_span.get("scopeSpans", resource_span.get("instrumentationLibrarySpans", []))
        for scope in scopes or []:
            for raw in scope.get("spans", []) or []:
                try:
                    start_ns = int(raw["startTimeUnixNano"])
                    end_ns = int(raw.get("endTimeUnixNano", start_ns))
                    attrs = attributes(raw.get("attributes"))
                    status = (raw.get("status") or {}).get("code", 0)
                    parent = raw.get("parentSpanId") or None
                    spans.append(Span(
                        trace_id=normalize_id(raw["traceId"], 32),
                        span_id=normalize_id(raw["spanId"], 16),
                        parent_id=normalize_id(parent, 16) if parent else None,
                        name=raw.get("name", ""),
                        kind=span_kind(raw.get("kind", 0)),
                        start_us=start_ns // 1000,
                        duration_us=max(0, end_ns - start_ns) // 1000,
                        service=service,
                        error=status in STATUS_ERROR,
                        http_status=attrs.get("http.response.status_code", attrs.get("http.status_code")),
                        resource=resource,
                        attributes=attrs,
                    ))
                except (KeyError, TypeError, ValueError) as exc:
                    raise BackendError(f"unreadable OTLP span {str(raw)[:200]}: {exc!r}") from exc
    return spans
