# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Grafana Tempo client: TraceQL search for the window's spans, trace by id (v2, or v1).

Upstream facts relied on (grafana/tempo, main at ad33aa8, after v3.0.0-rc.1):
- modules/frontend/config.go: search `limit` defaults to 20 and may not exceed max_limit
  (256 * 1024, else HTTP 400, search_handlers.go adjustLimit); spss defaults to 3 and may
  not exceed max_spans_per_span_set (100, else HTTP 400 "spans per span set exceeds 100",
  search_sharder.go, since v2.7.0); spss=0 is refused before 2.10.
- pkg/traceql/storage.go SearchMetaConditions: a search fetches span ids, start times and
  durations, not span names; pkg/traceql/engine.go asTraceSearchMetadata fills a span's
  `name` only when the query selects the intrinsic, and returns every other selected
  attribute under its bare name (`status`, `http.response.status_code`); a spanset's
  `matched` counts every span that matched, of which at most spss are returned.
- pkg/traceql/enum_attributes.go: `name` and `status` are the same intrinsics as
  `span:name` and `span:status`; the unscoped spellings are used as they also parse on
  Tempo before 2.5.
- Search selects traces that overlap the window, with every matching span of them.
- modules/frontend/config.go (3.0): searches end at most query_end_cutoff (default 30 s)
  before now, so the newest part of a window holds no spans of either color.
"""

from __future__ import annotations

import re
import time

from .model import BackendError, SkippedSpans, Span, normalize_id, same_service
from .otlp_json import attributes, spans_from_document
from .search import SlicingSearch

# What the search must return with each matched span; the rest of a span is not returned.
SELECTED = ("name", "status", "span.http.response.status_code", "span.http.status_code", "span.peer.service",
            "span.server.address", "resource.service.version", "resource.deployment.color")
# Tempo's default max_spans_per_span_set: more is refused; a trace that matched more spans
# than this is fetched whole instead (see Tempo.search).
SPANS_PER_SPANSET = 100
# Tempo's default max_limit. Each search asks for the gate's `limit` (trace_health's default
# is 5000) up to this: with one server span per request that is 5000 requests per slice and,
# through the splitting (search.MAX_SPLIT_DEPTH), up to 320000 per window, well above the
# 8000 per color at which the judge tells a 1 % error rate from 2 % (benchmarks, P6).
MAX_LIMIT = 256 * 1024
# Traces of one search that matched more spans than SPANS_PER_SPANSET and are fetched whole;
# beyond that many the answer is reported as truncated instead of judged.
MAX_WHOLE_TRACES = 50
# Tempo 3.0's default query_end_cutoff, in seconds.
QUERY_END_CUTOFF = 30


def traceql_string(value):
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def _key(attribute_key):
    """Tempo names returned attributes with or without their scope; we keep the bare key."""
    for scope in ("resource.", "span."):
        if attribute_key.startswith(scope):
            return attribute_key[len(scope):]
    return attribute_key


class Tempo(SlicingSearch):
    label = "Tempo"
    search_path = "/api/search"

    def __init__(self, http, api_version="v2"):
        super().__init__(http)
        self.api_version = api_version
        self.version = None

    def sample(self, query):
        """The sample, with a warning in its evidence when Tempo could not search the newest
        seconds of the window (3.0 and later): both colors lose them alike, so the judge stays
        fair, but it judges fewer requests than the window suggests."""
        sample = super().sample(query)
        unsearched = min(query.end - (time.time() - QUERY_END_CUTOFF), query.end - query.start)
        if unsearched > 0 and self.cuts_off_recent_spans():
            sample.warnings.append(
                f"{self.http.source(self.search_path)}: Tempo {self.version} searches only up to query_end_cutoff "
                f"({QUERY_END_CUTOFF} s by default) before now: the last {unsearched:.0f} s of the window were not searched")
        return sample

    def cuts_off_recent_spans(self):
        """Whether this Tempo is 3.0 or later, asked once (/api/status/buildinfo)."""
        if self.version is None:
            try:
                info = self.http.get_json("/api/status/buildinfo")
            except BackendError:
                info = {}
            self.version = str(info.get("version") or "unknown") if isinstance(info, dict) else "unknown"
        major = re.match(r"v?(\d+)\.", self.version)
        return bool(major) and int(major.group(1)) >= 3

    def traceql(self, query, kind):
        conditions = [f"resource.service.name = {traceql_string(query.service)}", f"kind = {kind}"]
        if query.color:
            conditions.append(f"resource.deployment.color = {traceql_string(query.color)}")
        return "{ " + " && ".join(conditions) + " } | select(" + ", ".join(SELECTED) + ")"

    def limit(self, query):
        return min(query.limit, MAX_LIMIT)

    def search(self, query, start, end, skipped):
        source = self.http.source(self.search_path)
        documents = {}
        for kind in ("server", "client"):
            params = {"q": self.traceql(query, kind), "start": int(start), "end": int(end) + 1,
                      "limit": self.limit(query), "spss": SPANS_PER_SPANSET}
            documents[kind] = self.http.get_json(self.search_path, params)
        answered = max(len(search_results(document, source)) for document in documents.values())
        return answered, lambda: self._read(documents, query, start, end, source, skipped)

    def _read(self, documents, query, start, end, source, skipped):
        """{trace_id: [Span]} of a search's answers, with the traces whose spans were cut at
        spss fetched whole."""
        traces = {}
        for kind, document in documents.items():
            found, partial = parse_search(document, query.service, kind, source, skipped)
            if len(partial) > MAX_WHOLE_TRACES:
                raise BackendError(
                    f"{source}: {len(partial)} traces matched more than {SPANS_PER_SPANSET} {kind} spans of "
                    f"{query.service} between {start:.3f} and {end:.3f}, of which Tempo returns {SPANS_PER_SPANSET} each; "
                    f"fetching more than {MAX_WHOLE_TRACES} of them whole is not attempted, so the answer is not judged")
            for trace_id in partial:
                found[trace_id] = [span for span in self._trace(trace_id, skipped, {"start": int(start), "end": int(end) + 1})
                                   if span.kind == kind and same_service(span.service, query.service)]
            for trace_id, spans in found.items():
                traces.setdefault(trace_id, []).extend(spans)
        return traces

    def trace(self, trace_id):
        return self._trace(trace_id, SkippedSpans())

    def _trace(self, trace_id, skipped, params=None):
        path = f"/api/v2/traces/{trace_id}" if self.api_version == "v2" else f"/api/traces/{trace_id}"
        return spans_from_document(self.http.get_json(path, params, not_found={}), self.http.source(path), skipped)


def search_results(document, source):
    """The list of traces of a search answer. jsonpb leaves an empty `traces` out, so an
    answer with only its `metrics` is an empty result; one with neither is not Tempo's
    (a gateway's error object), never read as no traces."""
    if (not isinstance(document, dict) or not isinstance(document.get("traces") or [], list)
            or not {"traces", "metrics"} & document.keys()):
        raise BackendError(f"{source} answered no 'traces' list: {str(document)[:200]}")
    return document.get("traces") or []


def parse_search(document, service, kind, source, skipped):
    """({trace_id: [Span]}, [trace ids whose spans were cut at spss]) from a search answer.
    Search spans carry only the attributes the query matched or selected, so service and
    kind come from the query itself."""
    traces, partial = {}, []
    for trace in search_results(document, source):
        if not isinstance(trace, dict):
            raise BackendError(f"{source}: a search result is not an object: {str(trace)[:100]}")
        spansets = trace.get("spanSets") or ([trace["spanSet"]] if trace.get("spanSet") else [])
        if not isinstance(spansets, list):
            raise BackendError(f"{source}: spanSets is not a list: {str(spansets)[:100]}")
        seen = set()
        for spanset in spansets:
            if not isinstance(spanset, dict) or not isinstance(spanset.get("spans") or [], list):
                raise BackendError(f"{source}: a spanset is not an object with a list of spans: {str(spanset)[:100]}")
            raw_spans = spanset.get("spans") or []
            matched = spanset.get("matched")
            if isinstance(matched, int) and matched > len(raw_spans):
                try:
                    partial.append(normalize_id(trace.get("traceID"), 32))
                except BackendError as exc:
                    skipped.skip(source, trace, exc)
                continue
            for raw in raw_spans:
                try:
                    trace_id = normalize_id(trace.get("traceID"), 32)
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
                        http_status=attrs.get("http.response.status_code", attrs.get("http.status_code")),
                        resource=resource,
                        attributes=attrs,
                    ))
                except (BackendError, KeyError, TypeError, ValueError, AttributeError, OverflowError) as exc:
                    skipped.skip(source, raw, exc)
    return traces, list(dict.fromkeys(partial))
