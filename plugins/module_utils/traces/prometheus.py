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

Upstream facts relied on (opentelemetry-collector-contrib connector/spanmetricsconnector
v0.140.1, the one Jaeger v2.13 builds in): factory.go createDefaultConfig sets namespace
traces.span.metrics, histogram unit ms (s behind the feature gate
connector.spanmetrics.useSecondAsDefaultMetricsUnit) and metrics_flush_interval 60 s;
connector.go adds a label per configured `dimensions` entry only, so deployment_color exists
only when deployment.color is one.
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
# The gates read counts (increase of counters); a float above 2**53 is no longer an exact
# count, and no window holds that many requests.
MAX_COUNT = 2.0 ** 53
QUERY_PATH = "/api/v1/query"


def label_value(value):
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def excluded_operations(label, names):
    """Matcher that leaves the operations `names` out, compared without case (as TraceQuery
    keeps them lowercased)."""
    excluded = "|".join(RE2_SPECIAL.sub(r"\\\1", name) for name in sorted(names))
    return f"{label}!~{label_value('(?i)' + excluded)}"


def parse_vector(document, source, warnings):
    """[(labels, value)] of an instant query's answer; the answer's `warnings` are added to
    `warnings`. Values are counts: NaN (0/0 over an empty range) reads as 0, anything
    negative, infinite or beyond MAX_COUNT is an error."""
    if not isinstance(document, dict):
        raise BackendError(f"{source} answered something that is not a Prometheus API object: {str(document)[:200]}")
    if document.get("status") != "success":
        raise BackendError(f"{source}: query failed, status {document.get('status')!r}, "
                           f"{document.get('errorType')}: {str(document.get('error'))[:300]}")
    found = document.get("warnings")
    for warning in found if isinstance(found, list) else [found] if found else []:
        warning = str(warning)[:300]
        if warning not in warnings:
            warnings.append(warning)
    data = document.get("data")
    if not isinstance(data, dict) or data.get("resultType") != "vector":
        result_type = data.get("resultType") if isinstance(data, dict) else None
        raise BackendError(f"{source} answered result type {str(result_type)[:40]!r}, expected a vector")
    result = data.get("result") or []
    if not isinstance(result, list):
        raise BackendError(f"{source}: the vector's result is not a list: {str(result)[:100]}")
    rows = []
    for item in result:
        try:
            metric = item.get("metric") or {}
            if not isinstance(metric, dict) or not all(isinstance(v, str) for v in metric.values()):
                raise TypeError("labels are not a map of strings")
            value = float(item["value"][1])
        except (KeyError, IndexError, TypeError, ValueError, AttributeError, OverflowError) as exc:
            raise BackendError(f"{source}: unreadable sample {str(item)[:200]}: {exc}") from exc
        if math.isnan(value):
            value = 0.0
        if not 0.0 <= value <= MAX_COUNT:
            raise BackendError(f"{source}: sample value {value} of {str(metric)[:200]} is not a count")
        rows.append((metric, value))
    return rows


class PrometheusSpanMetrics(TraceBackend):
    label = "Prometheus"

    def __init__(self, http, color_label="deployment_color", service_label="service_name"):
        super().__init__(http)
        self.color_label = color_label
        self.service_label = service_label
        self.family = None

    def query(self, promql, at, warnings):
        document = self.http.get_json(QUERY_PATH, {"query": promql, "time": f"{at:.3f}"})
        return parse_vector(document, self.http.source(QUERY_PATH), warnings)

    def detect_family(self, at, warnings):
        if self.family is None:
            names = {metric.get("__name__") for metric, _value in self.query(
                'count by (__name__) ({__name__=~"traces_span_metrics_calls_total|calls_total|'
                'traces_span_metrics_duration_(milliseconds|seconds)_bucket|duration_(milliseconds|seconds)_bucket|latency_bucket"})',
                at, warnings)}
            for family in FAMILIES:
                if family[0] in names and family[1] in names:
                    self.family = family
                    break
            else:
                raise BackendError(f"{self.http.source(QUERY_PATH)}: no span metrics found (looked for "
                                   f"{', '.join(f[0] for f in FAMILIES[:1])} and older names)")
        return self.family

    def require_color_label(self, query, calls, at, warnings):
        """Called when the color has no series: fails when the service has series but none
        carries the color label, as that is the connector's configuration, not traffic."""
        promql = f"count by ({self.color_label}) ({calls}{{{self.service_label}={label_value(query.service)}}})"
        rows = self.query(promql, at, warnings)
        if rows and not any(metric.get(self.color_label) for metric, _value in rows):
            raise BackendError(
                f"{self.http.source(QUERY_PATH)}: {calls} has series of {query.service} but none with the label "
                f"{self.color_label}: the spanmetrics connector adds it only when deployment.color is one of its "
                f"dimensions (dimensions: [{{name: deployment.color}}]); or set color_label to the label that holds it")

    def selector(self, query, kind, error=False):
        labels = [f"{self.service_label}={label_value(query.service)}", f'span_kind="SPAN_KIND_{kind.upper()}"']
        if kind == "server" and query.exclude_operations:
            labels.append(excluded_operations(self.family[3], query.exclude_operations))
        if query.color:
            labels.append(f"{self.color_label}={label_value(query.color)}")
        if error:
            labels.append('status_code="STATUS_CODE_ERROR"')
        return "{" + ",".join(labels) + "}"

    def spans(self, query, skipped):
        raise BackendError("span metrics hold no individual spans; use a trace backend for probes")

    def trace(self, trace_id):
        raise BackendError("span metrics hold no traces; use a trace backend for probes")

    def sample(self, query):
        at = query.end
        window = f"{max(1, int(round(query.end - query.start)))}s"
        warnings = []
        calls, buckets, to_ms, operation_label = self.detect_family(at, warnings)
        sample = ColorSample(query.color, binned=True)
        answered = False
        for kind, breakdown in (("server", sample.operations), ("client", sample.dependencies)):
            for error in (False, True):
                promql = f"sum by ({operation_label}) (increase({calls}{self.selector(query, kind, error)}[{window}]))"
                for metric, value in self.query(promql, at, warnings):
                    answered = True
                    entry = breakdown.setdefault(metric.get(operation_label, ""), [0, 0, []])
                    entry[1 if error else 0] += int(round(value))
        if query.color and not answered:
            self.require_color_label(query, calls, at, warnings)
        sample.requests = sum(entry[0] for entry in sample.operations.values())
        sample.errors = sum(entry[1] for entry in sample.operations.values())
        promql = f"sum by (le) (increase({buckets}{self.selector(query, 'server')}[{window}]))"
        sample.latencies_ms = latencies_from_buckets(self.query(promql, at, warnings), to_ms,
                                                     self.http.source(QUERY_PATH))
        sample.queries = self.queries_made()
        sample.warnings = warnings
        return sample


def latencies_from_buckets(rows, to_ms, source):
    """Cumulative histogram buckets to a list of latencies: each bucket's count at the
    bucket's midpoint (the +Inf bucket at its lower bound), scaled down to at most
    MAX_BINNED_SAMPLES values."""
    bounds = []
    for metric, value in rows:
        le = metric.get("le")
        if le is None:
            continue
        try:
            bound = float(le)
        except ValueError:
            bound = math.nan
        if math.isnan(bound) or bound < 0 or (not math.isinf(bound) and math.isinf(bound * to_ms)):
            raise BackendError(f"{source}: bucket bound le={le[:40]!r} is not a latency")
        bounds.append((bound, value))
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

    label = "Prometheus (RED metrics)"

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
        warnings = []
        for error in (False, True):
            promql = f"sum by ({operation}) (increase({self.red['requests']}{self.red_selector(query, error)}[{window}]))"
            for metric, value in self.query(promql, at, warnings):
                entry = sample.operations.setdefault(metric.get(operation, ""), [0, 0, []])
                entry[1 if error else 0] += int(round(value))
        sample.requests = sum(entry[0] for entry in sample.operations.values())
        sample.errors = sum(entry[1] for entry in sample.operations.values())
        promql = f"sum by (le) (increase({self.red['duration_bucket']}{self.red_selector(query)}[{window}]))"
        sample.latencies_ms = latencies_from_buckets(self.query(promql, at, warnings), 1000.0,
                                                     self.http.source(QUERY_PATH))
        sample.queries = self.queries_made()
        sample.warnings = warnings
        return sample
