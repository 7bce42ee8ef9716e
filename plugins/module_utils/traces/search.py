# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Window search for backends that return at most `limit` traces and have no paging."""

from __future__ import annotations

from .model import TraceBackend

# How far a window is split when a search comes back full (limit reached): 2**depth slices.
MAX_SPLIT_DEPTH = 6


class SlicingSearch(TraceBackend):
    """Backends without paging return at most `limit` traces per search; a full answer is
    searched again in two halves of the window, down to MAX_SPLIT_DEPTH."""

    def __init__(self, http):
        self.http = http

    def queries_made(self):
        return list(self.http.queries)

    def spans(self, query):
        seen = {}
        self._collect(query, query.start, query.end, 0, seen)
        return [span for trace in seen.values() for span in trace]

    def _collect(self, query, start, end, depth, seen):
        traces = self.search(query, start, end)
        if len(traces) >= query.limit and depth < MAX_SPLIT_DEPTH:
            middle = (start + end) / 2
            self._collect(query, start, middle, depth + 1, seen)
            self._collect(query, middle, end, depth + 1, seen)
            return
        for trace_id, spans in traces.items():
            seen[trace_id] = spans

    def search(self, query, start, end):
        """{trace_id: [Span]} of one search."""
        raise NotImplementedError


def group_by_trace(spans):
    traces = {}
    for span in spans:
        traces.setdefault(span.trace_id, []).append(span)
    return traces
