"""Whatever JSON a server sends, a client either reads it or raises BackendError naming the
backend and the URL; nothing else gets out, and what it reads is well-formed. Answers are
arbitrary JSON (null, [null], "+Inf", NaN, huge numbers, wrong types at any depth) and the
recorded upstream answers (fixtures/traces) with parts replaced, dropped or repeated. Only
HTTP is stood in for: the subject is our parsing."""
import io
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces import model
from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces.http import HttpClient
from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces.jaeger import JaegerV1, JaegerV3
from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces.prometheus import PrometheusRedMetrics, PrometheusSpanMetrics
from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces.tempo import Tempo
from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces.zipkin import Zipkin

FIXTURES = Path(__file__).parent / "fixtures" / "traces"
BASE = "http://backend:1234"
START, END = 1764071940.0, 1764072060.0

# Keys of every wire format, so that arbitrary objects often look like the real ones.
KEYS = ("data", "errors", "spans", "traceID", "spanID", "processes", "processID", "tags", "key", "value", "type",
        "startTime", "duration", "references", "refType", "operationName", "serviceName", "result", "trace",
        "resourceSpans", "batches", "scopeSpans", "resource", "attributes", "traceId", "spanId", "parentSpanId",
        "startTimeUnixNano", "endTimeUnixNano", "kind", "status", "code", "name", "stringValue", "intValue",
        "boolValue", "doubleValue", "arrayValue", "values", "traces", "spanSets", "spanSet", "matched",
        "durationNanos", "id", "parentId", "timestamp", "localEndpoint", "remoteEndpoint", "warnings", "resultType",
        "metric", "le", "__name__", "span_name", "deployment_color", "error")
TEXTS = ("", "+Inf", "-Inf", "NaN", "1e400", "0", "-1", "500", "W47/95gDgQPSabYzgT/HAA==", "7uGbfsPBsQA=",
         "00f067aa0ba902b7", "4bf92f3577b34da6a3ce929d0e0e4736", "zz-not-an-id", "server", "SPAN_KIND_SERVER",
         "STATUS_CODE_ERROR", "CHILD_OF", "error", "green", "bgdemo", "success", "vector", "p1", "1764072000000000000")
scalars = (st.none() | st.booleans() | st.integers(min_value=-(2 ** 70), max_value=2 ** 70)
           | st.sampled_from([10 ** 400, -(10 ** 400), 2 ** 64, 2 ** 63 - 1, 1764072000000000])
           | st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(TEXTS) | st.text(max_size=12))
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=6),
                                                                      children, max_size=5),
    max_leaves=25,
)


@st.composite
def mutated(draw, node):
    """`node` with parts replaced by arbitrary JSON, object members dropped (protojson
    leaves zero values out) and list entries repeated."""
    # Rare enough that most answers keep readable spans beside the changed ones.
    if draw(st.integers(0, 40)) == 0:
        return draw(json_values)
    if isinstance(node, dict):
        return {key: draw(mutated(value)) for key, value in node.items() if draw(st.integers(0, 40)) != 0}
    if isinstance(node, list):
        items = [draw(mutated(value)) for value in node]
        if items and draw(st.integers(0, 8)) == 0:
            items.append(items[0])
        return items
    return node


def recorded(name):
    return json.loads((FIXTURES / name).read_text())


PROMETHEUS_ANSWER = {"status": "success", "warnings": ["partial result"], "data": {"resultType": "vector", "result": [
    {"metric": {"__name__": "traces_span_metrics_calls_total"}, "value": [1764072060, "48"]},
    {"metric": {"__name__": "traces_span_metrics_duration_milliseconds_bucket"}, "value": [1764072060, "768"]},
    {"metric": {"span_name": "GET /api/quote", "route": "/api/quote", "deployment_color": "green"}, "value": [1764072060, "12"]},
    {"metric": {"le": "10"}, "value": [1764072060, "5"]},
    {"metric": {"le": "+Inf"}, "value": [1764072060, "NaN"]}]}}


class AnyAnswer:
    """A session that answers every GET with one status and body."""

    def __init__(self, status, body):
        self.status, self.body = status, body
        self.headers = {}

    def get(self, url, params=None, timeout=None):
        return Answer(self.status, self.body)


class Answer:
    def __init__(self, status, text):
        self.status_code, self.text = status, text
        # The client reads every answer as a stream (HttpClient._get).
        self.headers = {}
        self.raw = io.BytesIO(text.encode("utf-8", "surrogatepass"))

    def close(self):
        pass


def query(limit, color="green"):
    return model.TraceQuery("bgdemo", START, END, color=color, limit=limit)


# What is asked: {name: (client, the call that reads the answer)}.
OPERATIONS = {
    "jaeger v1 search": (JaegerV1, lambda b, limit: b.sample(query(limit))),
    "jaeger v1 trace": (JaegerV1, lambda b, _limit: b.trace("abc")),
    "jaeger api_v3 search": (JaegerV3, lambda b, limit: b.sample(query(limit))),
    "jaeger api_v3 trace": (JaegerV3, lambda b, _limit: b.trace("abc")),
    "tempo search": (Tempo, lambda b, limit: b.sample(query(limit))),
    "tempo trace v2": (Tempo, lambda b, _limit: b.trace("abc")),
    "tempo trace v1": (lambda http: Tempo(http, api_version="v1"), lambda b, _limit: b.trace("abc")),
    "zipkin search": (Zipkin, lambda b, limit: b.sample(query(limit))),
    "zipkin trace": (Zipkin, lambda b, _limit: b.trace("abc")),
    "prometheus query and buckets": (PrometheusSpanMetrics, lambda b, _limit: b.sample(query(1000))),
    "prometheus red metrics": (PrometheusRedMetrics, lambda b, _limit: b.sample(query(1000))),
}
RECORDED = {
    "jaeger v1 search": "jaeger_v1_search.json",
    "jaeger v1 trace": "jaeger_v1_search.json",
    "jaeger api_v3 search": "jaeger_v3_protojson_zero_fields.json",
    "jaeger api_v3 trace": "jaeger_v3_traces.json",
    "tempo search": "tempo_search.json",
    "tempo trace v2": "tempo_trace_v2.json",
    "tempo trace v1": "tempo_trace_v1.json",
    "zipkin search": "zipkin_traces.json",
    "zipkin trace": "zipkin_traces.json",
}


def well_formed(result):
    spans = result if isinstance(result, list) else []
    if isinstance(result, model.ColorSample):
        assert isinstance(result.requests, int) and 0 <= result.errors <= result.requests
        assert result.skipped_spans >= 0 and len(result.skipped_reasons) <= model.SkippedSpans.MAX_REASONS
        assert all(isinstance(latency, float) and latency >= 0 for latency in result.latencies_ms)
    for span in spans:
        assert len(span.trace_id) == 32 and len(span.span_id) == 16
        assert isinstance(span.name, str) and isinstance(span.service, str) and span.kind in model.KINDS
        assert 0 <= span.start_us < 2 ** 64 and 0 <= span.duration_us < 2 ** 64


def check(operation, status, body, limit):
    make, run = OPERATIONS[operation]
    backend = make(HttpClient(BASE, session=AnyAnswer(status, body), retries=0))
    try:
        result = run(backend, limit)
    except model.BackendError as exc:
        assert backend.label in str(exc) and BASE in str(exc), str(exc)
        return
    well_formed(result)


PROPERTY_SETTINGS = settings(max_examples=120, deadline=None,
                             suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@PROPERTY_SETTINGS
@given(operation=st.sampled_from(sorted(OPERATIONS)), document=json_values,
       status=st.sampled_from([200, 200, 200, 400, 404, 500]), limit=st.sampled_from([2, 1000]))
def test_any_json_is_read_or_refused_with_backend_error(operation, document, status, limit):
    check(operation, status, json.dumps(document), limit)


@PROPERTY_SETTINGS
@given(data=st.data(), operation=st.sampled_from(sorted(OPERATIONS)), limit=st.sampled_from([2, 1000]))
def test_recorded_answers_with_parts_changed_are_read_or_refused_with_backend_error(data, operation, limit):
    base = recorded(RECORDED[operation]) if operation in RECORDED else PROMETHEUS_ANSWER
    check(operation, 200, json.dumps(data.draw(mutated(base))), limit)


@PROPERTY_SETTINGS
@given(operation=st.sampled_from(sorted(OPERATIONS)), body=st.text(max_size=40) | st.sampled_from(["[" * 5000, "null", "[null]"]))
def test_any_text_is_read_or_refused_with_backend_error(operation, body):
    check(operation, 200, body, 1000)
