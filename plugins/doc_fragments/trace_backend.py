# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  backend:
    description:
      - Which query API O(url) speaks. V(jaeger) is the Jaeger query service, through api_v3
        (OTLP JSON) or its v1 JSON API (see O(jaeger_api_version)), V(tempo) Grafana Tempo,
        V(zipkin) Zipkin v2, V(prometheus) span metrics in Prometheus as the OpenTelemetry
        Collector's spanmetrics connector exports them, V(prometheus_red) the service's own
        request counter and latency histogram in Prometheus (see O(red_metrics)). The two
        Prometheus kinds hold no traces and cannot serve probes.
      - V(jaeger_v3) is deprecated, it means V(jaeger) with O(jaeger_api_version=v3), the default.
      - Service names are compared without case everywhere, as Zipkin lowercases them.
    type: str
    required: true
    choices: [jaeger, jaeger_v3, tempo, zipkin, prometheus, prometheus_red]
  url:
    description:
      - Base URL of the query API, for example C(http://jaeger-query:16686).
      - Credentials in it (C(user:password@)) are sent as basic auth and shown as C(***) in
        every message, reason and recorded query; O(username) and O(password) keep them out
        of the URL altogether.
    type: str
    required: true
  tenant:
    description:
      - Tenant of a multi-tenant backend, sent as C(x-tenant) to Jaeger (its default
        C(--multi-tenancy.header)) and as C(X-Scope-OrgID) to the others (Tempo, and Mimir or
        Cortex behind V(prometheus)).
    type: str
  bearer_token:
    description: Bearer token for the backend. Never logged.
    type: str
  username:
    description: User for basic auth.
    type: str
  password:
    description: Password for basic auth. Never logged.
    type: str
  validate_certs:
    description: Verify the backend's TLS certificate.
    type: bool
    default: true
  ca_bundle:
    description: CA bundle to verify the backend's certificate with.
    type: path
  client_cert:
    description: Client certificate for mutual TLS.
    type: path
  client_key:
    description: Key of O(client_cert).
    type: path
  request_timeout:
    description:
      - Seconds to wait for the connection, and for each part of an answer.
      - The whole answer, from the request to its last byte, must have arrived within three
        times this (30 s by default), or the request is given up (not retried) and the gate
        fails naming the backend and URL; a backend that trickles its answer cannot hold the
        task. The last wait may add up to this once more.
    type: float
    default: 10
  max_answer_bytes:
    description:
      - Largest answer read from the backend, in bytes (after gzip is undone). A larger one is
        not read on and the gate fails naming the backend, the URL and this cap.
      - The default, 256 MiB, is four times the 58 MB that the real Jaeger answers for a
        window of 100,000 spans; it bounds the memory one answer takes on the controller
        (the spans parsed from it take several times its size).
    type: int
    default: 268435456
  retries:
    description: Retries after a connection error or a 429/502/503/504 answer, with exponential backoff.
    type: int
    default: 2
  jaeger_api_version:
    description:
      - Which Jaeger query API O(backend=jaeger) uses. V(v3) is api_v3 (C(/api/v3/traces)),
        which every Jaeger 2 has; the search parameters are sent under their camelCase names
        (read from Jaeger 2.19 on) and their snake_case names (read before), and the color is
        sent as C(query.attributes) (filtered by the server from 2.19 on, by the gate always).
      - V(v1) is the UI's JSON API (C(/api/traces)), for older Jaeger 1 servers that do not
        serve api_v3 over HTTP. Jaeger's main branch removed its search after 2.20; a server
        without it answers 404, which the gate reports with the advice to use V(v3).
    type: str
    default: v3
    choices: [v1, v3]
  tempo_api_version:
    description: Tempo's trace-by-id API version.
    type: str
    default: v2
    choices: [v1, v2]
  color_label:
    description:
      - Prometheus label that holds the color (the spanmetrics dimension C(deployment.color)).
      - "O(backend=prometheus) needs the spanmetrics connector configured with
        C(dimensions: [{name: deployment.color}, {name: service.version}]) (without the
        dimension there is no color label: the gate fails naming it when the service has
        series but none with this label), a C(histogram.unit) of C(ms) or C(s) (both are
        read), and a C(metrics_flush_interval) well below the gate's window (the default is
        60 s, so a window of a minute may see nothing yet)."
      - Warnings Prometheus sends with an answer are kept in each color's C(backend_warnings).
    type: str
    default: deployment_color
  red_metrics:
    description: Names for O(backend=prometheus_red).
    type: dict
    suboptions:
      requests:
        description: Request counter.
        type: str
        default: http_requests_total
      duration_bucket:
        description: Latency histogram buckets, in seconds.
        type: str
        default: http_request_duration_seconds_bucket
      operation_label:
        description: Label holding the route or operation; excluded operations of M(tracegate.bluegreen.trace_health) match it.
        type: str
        default: route
      status_label:
        description: Label holding the HTTP status; 5xx counts as an error.
        type: str
        default: code
      color_label:
        description: Label holding the color.
        type: str
        default: color
      selector:
        description: PromQL label matchers that select the service, for example V(job="checkout"). Empty selects C(job="<service>").
        type: str
        default: ""
requirements:
  - requests (on the controller)
notes:
  - "Runs where the task runs; point it at the controller with C(delegate_to: localhost) or a
    play on C(localhost) when the backend is reached from there."
"""
