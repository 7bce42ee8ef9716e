# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Span metrics in Prometheus, as the OpenTelemetry Collector's spanmetrics connector (or
the older spanmetrics processor) exports them.

Metric families, detected in this order (refs: spanmetrics connector and processor READMEs):
  traces_span_metrics_calls_total + traces_span_metrics_duration_{milliseconds,seconds}_bucket
  calls_total + duration_{milliseconds,seconds}_bucket   (connector before v0.109, no namespace)
  calls_total + latency_bucket (ms, label `operation`)   (deprecated processor)
Labels: service_name, span_name (or operation), span_kind (SPAN_KIND_*), status_code
(STATUS_CODE_*), and the color dimension (deployment_color).
"""

from __future__ import annotations

import math
import re

from .model import BackendError, ColorSample, TraceBackend

FAMILIES = (
    ("traces_span_metrics_calls_total", "traces_span_metrics_duration_milliseconds_bucket", 1.0, "span_name"),
    ("traces_span_metrics_calls_total", "traces_span_metrics_duration_seconds_bucket", 1000.0, "span_name"),
    ("calls_total", "duration_milliseconds_bucket", 1.0, "span_name"),
    ("calls_total", "duration_seconds_bucket", 1000.0, "span_name"),
    ("calls_total", "latency_bucket", 1.0, "operation"),
)
# RE2 (Prometheus' regex engine) rejects escapes of characters that are not special.
RE2_SPECIAL = re.compile(r"([.\\+*?()|\[\]{}^$])")
# Latency samples rebuilt from buckets are capped; the rank test needs shape, not volume.
MAX_BINNED_SAMPLES = 20000


def label_value(value):
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def excluded_operations(label, names):
    """Matcher that leaves the operations `names` out, compared without case (as TraceQuery
    keeps them lowercased)."""
    excluded = "|".join(RE2_SPECIAL.sub(r"\\\1", name) for name in sorted(names))
    return f"{label}!~{label_value('(?i)' + excluded)}"


class PrometheusSpanMetrics(TraceBackend):
    name = "prometheus"

    def __init__(self, http, color_label="deployment_color", service_label="service_name"):
        self.http = http
        self.color_label = color_label
        self.service_label = service_label
        self.family = None

    def queries_made(self):
        return list(self.http.queries)

    def query(self, promql, at):
        document = self.http.get_json("/api/v1/query", {"query": promql, "time": f"{at:.3f}"})
        if not isinstance(document, dict) or document.get("status") != "success":
            error = document.get("error") if isinstance(document, dict) else document
            raise BackendError(f"Prometheus query failed: {error}")
        data = document.get("data") or {}
        if data.get("resultType") != "vector":
            raise BackendError(f"Prometheus answered {data.get('resultType')!r}, expected a vector")
        result = []
        for item in data.get("result", []):
            try:
                value = float(item["value"][1])
            except (KeyError, IndexError, TypeError, ValueError) as exc:
                raise BackendError(f"unreadable Prometheus sample {item!r}") from exc
            result.append((item.get("metric", {}), 0.0 if math.isnan(value) else value))
        return result

    def detect_family(self, at):
        if self.family is None:
            names = {metric.get("__name__") for metric, _value in self.query(
                'count by (__name__) ({__name__=~"traces_span_metrics_calls_total|calls_total|'
                'traces_span_metrics_duration_(milliseconds|seconds)_bucket|duration_(milliseconds|seconds)_bucket|latency_bucket"})',
                at)}
            for family in FAMILIES:
                if family[0] in names and family[1] in names:
                    self.family = family
                    break
            else:
                raise BackendError(f"no span metrics found in Prometheus (looked for {', '.join(f[0] for f in FAMILIES[:1])} and older names)")
        return self.family

    def selector(self, query, kind, error=False):
        labels = [f"{self.service_label}={label_value(query.service)}", f'span_kind="SPAN_KIND_{kind.upper()}"']
        if kind == "server" and query.exclude_operations:
            labels.append(excluded_operations(self.family[3], query.exclude_operations))
        if query.color:
            labels.append(f"{self.color_label}={label_value(query.color)}")
        if error:
            labels.append('status_code="STATUS_CODE_ERROR"')
        return "{" + ",".join(labels) + "}"

    def spans(self, query):
        raise BackendError("span metrics hold no individual spans; use a trace backend for probes")

    def trace(self, trace_id):
        raise BackendError("span metrics hold no traces; use a trace backend for probes")

    def sample(self, query):
        at = query.end
        window = f"{max(1, int(round(query.end - query.start)))}s"
        calls, buckets, to_ms, operation_label = self.detect_family(at)
        sample = ColorSample(query.color, binned=True)
        for kind, breakdown in (("server", sample.operations), ("client", sample.dependencies)):
            for error in (False, True):
                promql = f"sum by ({operation_label}) (increase({calls}{self.selector(query, kind, error)}[{window}]))"
                for metric, value in self.query(promql, at):
                    entry = breakdown.setdefault(metric.get(operation_label, ""), [0, 0, []])
                    entry[1 if error else 0] += int(round(value))
        sample.requests = sum(entry[0] for entry in sample.operations.values())
        sample.errors = sum(entry[1] for entry in sample.operations.values())
        promql = f"sum by (le) (increase({buckets}{self.selector(query, 'server')}[{window}]))"
        sample.latencies_ms = latencies_from_buckets(self.query(promql, at), to_ms)
        sample.queries = self.queries_made()
        return sample


def latencies_from_buckets(rows, to_ms):
    """Cumulative histogram buckets to a list of latencies: each bucket's count at the
    bucket's midpoint (the +Inf bucket at its lower bound), scaled down to at most
    MAX_BINNED_SAMPLES values."""
    bounds = []
    for metric, value in rows:
        le = metric.get("le")
        if le is None:
            continue
        bounds.append((math.inf if le == "+Inf" else float(le), value))
    bounds.sort()
    counts, previous_bound, previous_total = [], 0.0, 0.0
    for bound, total in bounds:
        count = max(0.0, total - previous_total)
        point = previous_bound if math.isinf(bound) else (previous_bound + bound) / 2
        counts.append((point * to_ms, count))
        previous_bound, previous_total = (previous_bound if math.isinf(bound) else bound), total
    total = sum(count for _point, count in counts)
    scale = min(1.0, MAX_BINNED_SAMPLES / total) if total else 1.0
    latencies = []
    for point, count in counts:
        latencies.extend([point] * int(round(count * scale)))
    return latencies


RED_DEFAULTS = {
    "requests": "http_requests_total",
    "duration_bucket": "http_request_duration_seconds_bucket",
    "operation_label": "route",
    "status_label": "code",
    "color_label": "color",
    "selector": "",
}


class PrometheusRedMetrics(PrometheusSpanMetrics):
    """The service's own RED metrics in Prometheus (a request counter and a latency histogram
    in seconds, labelled by color), for services whose traces are not turned into span
    metrics. Errors are the 5xx answers. There are no dependency calls in RED metrics."""

    name = "prometheus_red"

    def __init__(self, http, red=None):
        super().__init__(http)
        self.red = dict(RED_DEFAULTS, **{k: v for k, v in (red or {}).items() if v is not None})

    def red_selector(self, query, error=False):
        labels = [self.red["selector"] or f"job={label_value(query.service)}"]
        if query.color:
            labels.append(f"{self.red['color_label']}={label_value(query.color)}")
        if query.exclude_operations:
            labels.append(excluded_operations(self.red['operation_label'], query.exclude_operations))
        if error:
            labels.append(f'{self.red["status_label"]}=~"5.."')
        return "{" + ",".join(labels) + "}"

    def sample(self, query):
        at = query.end
        window = f"{max(1, int(round(query.end - query.start)))}s"
        operation = self.red["operation_label"]
        sample = ColorSample(query.color, binned=True)
        for error in (False, True):
            promql = f"sum by ({operation}) (increase({self.red['requests']}{self.red_selector(query, error)}[{window}]))"
            for metric, value in self.query(promql, at):
                entry = sample.operations.setdefault(metric.get(operation, ""), [0, 0, []])
                entry[1 if error else 0] += int(round(value))
        sample.requests = sum(entry[0] for entry in sample.operations.values())
        sample.errors = sum(entry[1] for entry in sample.operations.values())
        promql = f"sum by (le) (increase({self.red['duration_bucket']}{self.red_selector(query)}[{window}]))"
        sample.latencies_ms = latencies_from_buckets(self.query(promql, at), 1000.0)
        sample.queries = self.queries_made()
        return sample
