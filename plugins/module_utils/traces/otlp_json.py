# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Reads OTLP traces in JSON as two backends write them: spec OTLP-JSON (Jaeger api_v3: hex
ids, integer enums, 64-bit integers as strings) and gogo jsonpb (Tempo: base64 ids, enum
names as strings, `batches` in its v1 API). Both leave out fields at their zero value
(protojson, jsonpb), so a missing kind or status is the zero one; a span without a start
time is skipped and counted (jaeger v1.76.0 cmd/query/app/apiv3/snapshots/FindTraces.json
has such spans)."""

from __future__ import annotations

import json

from .model import BackendError, Span, normalize_id

KIND_NUMBERS = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
STATUS_ERROR = (2, "STATUS_CODE_ERROR")
SCALARS = ("stringValue", "boolValue", "doubleValue")


def any_value(value):
    """The Python value of an OTLP AnyValue; None for anything else. Arrays are read one
    level deep: the gates read scalar attributes only."""
    if not isinstance(value, dict):
        return None
    for key in SCALARS:
        if key in value:
            return value[key]
    if "intValue" in value:
        try:
            return int(value["intValue"])
        except (TypeError, ValueError, OverflowError):
            return None
    array = value.get("arrayValue")
    if isinstance(array, dict) and isinstance(array.get("values"), list):
        return [_scalar(v) for v in array["values"]]
    return None


def _scalar(value):
    return any_value(value) if isinstance(value, dict) and "arrayValue" not in value else None


def attributes(items):
    """{key: value} of an OTLP attribute list; entries that are not {"key": <string>, ...}
    are left out."""
    if not isinstance(items, list):
        return {}
    return {item["key"]: any_value(item.get("value")) for item in items
            if isinstance(item, dict) and isinstance(item.get("key"), str)}


def span_kind(kind):
    if isinstance(kind, int):
        return KIND_NUMBERS.get(kind, "unspecified")
    if isinstance(kind, str):
        return kind.replace("SPAN_KIND_", "").lower()
    return "unspecified"


def resource_spans(document, source):
    """The list of resourceSpans in any of the envelopes: {"result": {...}} (api_v3),
    {"trace": {...}} (Tempo v2), {"batches": [...]} (Tempo v1), or bare."""
    if not isinstance(document, dict):
        raise BackendError(f"{source} answered something that is not an OTLP JSON object: {str(document)[:200]}")
    for wrapper in ("result", "trace"):
        if isinstance(document.get(wrapper), dict):
            document = document[wrapper]
    found = document.get("resourceSpans", document.get("batches"))
    if found is None:
        # protojson leaves an empty list out, so {} (or {"result": {}}) is an empty answer;
        # an object of other keys ({"error": ...}, a gateway's {"message": ...}) is not one.
        if document:
            raise BackendError(f"{source} answered an object without resourceSpans: {json.dumps(document)[:200]}")
        return []
    if not isinstance(found, list):
        raise BackendError(f"{source}: resourceSpans is not a list: {str(found)[:100]}")
    return found


def _list(container, keys, source, what):
    """The first of `keys` in `container` that is present, as a list ([] when absent)."""
    if not isinstance(container, dict):
        raise BackendError(f"{source}: a {what} is not an object: {str(container)[:100]}")
    for key in keys:
        if key in container:
            found = container[key] or []
            if not isinstance(found, list):
                raise BackendError(f"{source}: {key} is not a list: {str(found)[:100]}")
            return found
    return []


def raw_spans_by_resource(document, source):
    """(resourceSpans entry, [raw span, ...]) of an OTLP JSON answer, every scope's spans together."""
    for resource_span in resource_spans(document, source):
        scopes = _list(resource_span, ("scopeSpans", "instrumentationLibrarySpans"), source, "resourceSpans entry")
        yield resource_span, [raw for scope in scopes for raw in _list(scope, ("spans",), source, "scopeSpans entry")]


def count_trace_ids(document, source):
    """How many traces an OTLP JSON answer holds spans of (distinct raw trace ids, as the
    backend wrote them), without parsing the spans."""
    return len({str(raw.get("traceId")) for _resource, raws in raw_spans_by_resource(document, source)
                for raw in raws if isinstance(raw, dict)})


def spans_from_document(document, source, skipped):
    """Spans of an OTLP JSON answer; `source` names the backend and URL in errors, spans
    that cannot be read are counted in `skipped`."""
    spans = []
    for resource_span, raws in raw_spans_by_resource(document, source):
        resource_object = resource_span.get("resource")
        resource = attributes(resource_object.get("attributes")) if isinstance(resource_object, dict) else {}
        service = resource.get("service.name", "")
        for raw in raws:
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
            except (BackendError, KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
                skipped.skip(source, raw, exc)
    return spans
