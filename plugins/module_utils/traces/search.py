# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Window search for backends that return at most `limit` traces and have no paging, and
the one place where every backend's answer is cut to the window and rid of duplicates."""

from __future__ import annotations

from .model import BackendError, TraceBackend

# How far a window is split when a search comes back full (limit reached): 2**depth slices.
MAX_SPLIT_DEPTH = 6
# How far for an answer that only may have been cut short (below the limit, at the backend's
# full_share of it): a burst of traffic fills half the limit within a 64th of a window, and
# the split stops as soon as the answers drop below the share.
MAX_SHORT_SPLIT_DEPTH = 10


class SlicingSearch(TraceBackend):
    """Backends without paging return at most `limit` traces per search; a full answer is
    searched again in two halves of the window, down to MAX_SPLIT_DEPTH. An answer still
    full there may be truncated: the window is not judged on it (see spans)."""

    # Share of `limit` from which an answer counts as full. 1.0 where the backend stops at
    # exactly `limit` traces; lower where it may stop short of it with more to give.
    full_share = 1.0

    def spans(self, query, skipped):
        traces, truncated = {}, []
        first, last = self.search_range(query)
        self._collect(query, first, last, 0, traces, truncated, skipped)
        if truncated:
            slices = ", ".join(f"{start:.3f}-{end:.3f} (1/{2 ** depth} of the window, {count} traces)"
                               for start, end, count, depth in truncated[:5])
            raise BackendError(
                f"{self.http.source('')}: {len(truncated)} slices of the window, split as far as it goes, still held "
                f"{self.limit(query)} traces or close to it, so the answer may be truncated and is not judged: {slices}. "
                f"Raise limit or shorten the window")
        return spans_in_window(traces, query)

    def _collect(self, query, start, end, depth, traces, truncated, skipped):
        answered, read = self.search(query, start, end, skipped)
        if answered >= self.limit(query) * self.full_share:
            if depth < (MAX_SPLIT_DEPTH if answered >= self.limit(query) else MAX_SHORT_SPLIT_DEPTH):
                # The halves hold every trace of this answer: it is not read, a busy window's
                # first answers would otherwise be parsed once per level of the split.
                middle = (start + end) / 2
                self._collect(query, start, middle, depth + 1, traces, truncated, skipped)
                self._collect(query, middle, end, depth + 1, traces, truncated, skipped)
                return
            truncated.append((start, end, answered, depth))
            # Not judged (spans raises): nothing more to read.
            return
        found = read()
        if not traces:
            traces.update(found)
            return
        # Merged, not replaced: a slice may see other parts of a trace than its neighbour
        # (Tempo searches the blocks of the slice's time range only).
        for trace_id, spans in found.items():
            traces.setdefault(trace_id, []).extend(spans)

    def search_range(self, query):
        """The span of time the searches cover; the window itself unless the backend selects
        traces by something other than the start of the service's spans (see Zipkin)."""
        return query.start, query.end

    def limit(self, query):
        """Traces asked for per search."""
        return query.limit

    def search(self, query, start, end, skipped):
        """(answered, read) of one search: the most traces one answer of it held, counted
        before parsing (a trace whose spans were all skipped still counts towards the limit),
        and a function that parses the answer into {trace_id: [Span]}, called only for an
        answer that is kept; spans it cannot read are counted in `skipped`."""
        raise NotImplementedError


def group_by_trace(spans):
    traces = {}
    for span in spans:
        traces.setdefault(span.trace_id, []).append(span)
    return traces


def spans_in_window(traces, query):
    """The spans that started in the query's window, each once. Backends select whole
    traces (Tempo by overlap with the window, Zipkin by the root span's timestamp, Jaeger
    by any matching span) and return every span of them, so the window is applied here,
    to the span, the same way for all. A span answered twice (the same trace seen by two
    slices, or a storage that repeats it) is counted once: see Span.key."""
    start_us, end_us = query.start * 1e6, query.end * 1e6
    spans = []
    for trace in traces.values():
        if len(trace) == 1:
            # Most traces of a busy service are one span; a lone span has nothing to repeat.
            if start_us <= trace[0].start_us <= end_us:
                spans.append(trace[0])
            continue
        seen = set()
        for span in trace:
            if start_us <= span.start_us <= end_us:
                key = span.key
                if key not in seen:
                    seen.add(key)
                    spans.append(span)
    return spans
