# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The backend options every trace module shares (documented in doc_fragments/trace_backend)
and the client they select."""

from __future__ import annotations

from .http import DEFAULT_MAX_ANSWER_BYTES, HttpClient
from .jaeger import JaegerV1, JaegerV3
from .prometheus import RED_DEFAULTS, PrometheusRedMetrics, PrometheusSpanMetrics
from .tempo import Tempo
from .zipkin import Zipkin

# jaeger_v3 is the deprecated spelling of backend=jaeger with jaeger_api_version=v3.
BACKENDS = ("jaeger", "jaeger_v3", "tempo", "zipkin", "prometheus", "prometheus_red")
# The header each backend reads the tenant from: Jaeger's --multi-tenancy.header default
# (jaeger v1.76.0 internal/tenancy/flags.go); Tempo, Mimir and Cortex read X-Scope-OrgID.
TENANT_HEADERS = {"jaeger": "x-tenant", "jaeger_v3": "x-tenant"}
DEFAULT_TENANT_HEADER = "X-Scope-OrgID"

BACKEND_ARGUMENT_SPEC = {
    "backend": {"type": "str", "required": True, "choices": list(BACKENDS)},
    "url": {"type": "str", "required": True},
    "tenant": {"type": "str"},
    "bearer_token": {"type": "str", "no_log": True},
    "username": {"type": "str"},
    "password": {"type": "str", "no_log": True},
    "validate_certs": {"type": "bool", "default": True},
    "ca_bundle": {"type": "path"},
    "client_cert": {"type": "path"},
    "client_key": {"type": "path"},
    "request_timeout": {"type": "float", "default": 10.0},
    "max_answer_bytes": {"type": "int", "default": DEFAULT_MAX_ANSWER_BYTES},
    "retries": {"type": "int", "default": 2},
    "jaeger_api_version": {"type": "str", "default": "v3", "choices": ["v1", "v3"]},
    "tempo_api_version": {"type": "str", "default": "v2", "choices": ["v1", "v2"]},
    "color_label": {"type": "str", "default": "deployment_color"},
    "red_metrics": {
        "type": "dict",
        "options": {key: {"type": "str", "default": value} for key, value in RED_DEFAULTS.items()},
    },
}


def deprecated_backend(params):
    """The deprecation message for a deprecated `backend` choice, else None."""
    if params["backend"] == "jaeger_v3":
        return "backend=jaeger_v3 is deprecated: use backend=jaeger, whose jaeger_api_version is v3 by default"
    return None


def backend_from_params(params, session=None):
    kind = params["backend"]
    http = HttpClient(
        params["url"], timeout=params["request_timeout"], retries=params["retries"],
        validate_certs=params["validate_certs"], ca_bundle=params["ca_bundle"], client_cert=params["client_cert"],
        client_key=params["client_key"], bearer_token=params["bearer_token"], username=params["username"],
        password=params["password"], tenant=params["tenant"],
        tenant_header=TENANT_HEADERS.get(kind, DEFAULT_TENANT_HEADER), session=session,
        max_answer_bytes=params["max_answer_bytes"],
    )
    if kind == "jaeger_v3" or (kind == "jaeger" and params["jaeger_api_version"] == "v3"):
        return JaegerV3(http)
    if kind == "jaeger":
        return JaegerV1(http)
    if kind == "tempo":
        return Tempo(http, api_version=params["tempo_api_version"])
    if kind == "zipkin":
        return Zipkin(http)
    if kind == "prometheus_red":
        return PrometheusRedMetrics(http, params["red_metrics"])
    return PrometheusSpanMetrics(http, color_label=params["color_label"])
