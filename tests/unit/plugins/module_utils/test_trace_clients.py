"""Backend clients on responses recorded in the upstream shapes (fixtures/traces). The
subject is our parsing: the HTTP session is a stand-in that answers from the fixtures."""
import json
from pathlib import Path

import pytest

from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces import model
from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces.http import HttpClient
from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces.jaeger import JaegerV1, JaegerV3
from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces.prometheus import PrometheusRedMetrics, PrometheusSpanMetrics
from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces.tempo import Tempo
from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces.zipkin import Zipkin

FIXTURES = Path(__file__).parent / "fixtures" / "traces"
START, END = 1764071940.0, 1764072060.0


class Response:
    def __init__(self, status, body):
        self.status_code = status
        self.text = body if isinstance(body, str) else json.dumps(body)

    def json(self):
        return json.loads(self.text)


class RecordedSession:
    """Answers GETs from a list of (path suffix, status, fixture or body); records requests."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.requests = []
        self.headers = {}
        self.verify = True
        self.cert = None
        self.auth = None

    def get(self, url, params=None, timeout=None):
        self.requests.append((url, dict(params or {}), timeout))
        for index, (suffix, status, body) in enumerate(self.answers):
            if url.endswith(suffix):
                self.answers.pop(index)
                if isinstance(body, str) and body.endswith(".json"):
                    body = (FIXTURES / body).read_text()
                return Response(status, body)
        raise AssertionError(f"unexpected request {url} {params}")


def client(answers, **kwargs):
    session = RecordedSession(answers)
    return HttpClient("http://backend:1234/", session=session, retries=0, **kwargs), session


def query(color="green", limit=100):
    return model.TraceQuery("bgdemo", START, END, color=color, limit=limit)


def test_jaeger_v1_spans_times_in_microseconds_and_process_tags_as_resource():
    http, session = client([("/api/traces", 200, "jaeger_v1_search.json")])
    spans = JaegerV1(http).spans(query())
    url, params, timeout = session.requests[0]
    assert (params["start"], params["end"], params["service"]) == (1764071940000000, 1764072060000000, "bgdemo")
    assert json.loads(params["tags"]) == {"deployment.color": "green"}
    assert timeout == 10.0
    server = [s for s in spans if s.kind == "server"]
    assert len(server) == 2
    failed = next(s for s in server if s.error)
    assert (failed.http_status, failed.duration_us, failed.color, failed.version) == (500, 12500, "green", "1.1.0")
    assert server[1].trace_id == "00000000000000009b1096b48ef64ce2"  # 16-char id padded
    client_span = next(s for s in spans if s.kind == "client")
    assert (client_span.dependency, client_span.parent_id) == ("stock", "00f067aa0ba902b7")


def test_jaeger_v1_errors_envelope_is_an_error():
    http, _session = client([("/api/traces", 400, "jaeger_v1_errors.json")])
    with pytest.raises(model.BackendError, match="HTTP 400"):
        JaegerV1(http).spans(query())
    http, _session = client([("/api/traces", 200, "jaeger_v1_errors.json")])
    with pytest.raises(model.BackendError, match="parameter 'service' is required"):
        JaegerV1(http).spans(query())


def test_jaeger_v1_trace_not_found_is_empty():
    http, _session = client([("/api/traces/abc", 404, '{"data":null,"errors":[{"code":404,"msg":"trace not found"}]}')])
    assert JaegerV1(http).trace("abc") == []


def test_full_search_is_split_into_halves_of_the_window():
    full = json.loads((FIXTURES / "jaeger_v1_search.json").read_text())
    first_half, second_half = dict(full, data=full["data"][:1]), dict(full, data=full["data"][1:])
    http, session = client([("/api/traces", 200, full), ("/api/traces", 200, first_half), ("/api/traces", 200, second_half)])
    spans = JaegerV1(http).spans(query(limit=2))
    assert len(session.requests) == 3
    first, second = session.requests[1][1], session.requests[2][1]
    assert first["end"] == second["start"] == int((START + END) / 2 * 1e6)
    assert len({s.trace_id for s in spans}) == 2  # the same traces seen twice count once


@pytest.mark.parametrize("fixture", ["jaeger_v3_traces.json", "jaeger_v3_traces_unwrapped.json"])
def test_jaeger_v3_otlp_json_with_and_without_result_wrapper(fixture):
    http, session = client([("/api/v3/traces", 200, fixture)])
    spans = JaegerV3(http).spans(query(color=None))
    params = session.requests[0][1]
    assert params["query.start_time_min"] == "2025-11-25T11:59:00.000000Z"
    assert params["query.service_name"] == "bgdemo"
    server, dependency = spans
    assert (server.kind, server.duration_us, server.http_status, server.color, server.error) == ("server", 4500, 200, "blue", False)
    assert (dependency.kind, dependency.error, dependency.parent_id) == ("client", True, "eee19b7ec3c1b174")


def test_jaeger_v3_no_traces_404_is_empty():
    http, _session = client([("/api/v3/traces", 404, "jaeger_v3_not_found.json")])
    assert JaegerV3(http).spans(query()) == []


def test_tempo_search_traceql_window_in_seconds_and_trimmed_trace_ids():
    http, session = client([("/api/search", 200, "tempo_search.json"), ("/api/search", 200, {"traces": []})])
    spans = Tempo(http).spans(query())
    params = session.requests[0][1]
    assert params["start"] == 1764071940 and params["end"] == 1764072061
    assert 'resource.deployment.color = "green"' in params["q"] and "kind = server" in params["q"]
    assert "kind = client" in session.requests[1][1]["q"]
    by_trace = {s.trace_id: s for s in spans}
    assert set(by_trace) == {"2f3e0cee77ae5dc9c17ade3689eb2e54", "00003e0cee77ae5dc9c17ade3689eb2e54"[-32:]}
    failed = by_trace["2f3e0cee77ae5dc9c17ade3689eb2e54"]
    assert (failed.error, failed.http_status, failed.duration_us, failed.color, failed.kind) == (True, 500, 12000, "green", "server")


def test_tempo_traceql_strings_are_escaped():
    tempo = Tempo(None)
    q = model.TraceQuery('bg"demo', START, END, color="gr\\een")
    assert 'resource.service.name = "bg\\"demo"' in tempo.traceql(q, "server")
    assert 'resource.deployment.color = "gr\\\\een"' in tempo.traceql(q, "server")


@pytest.mark.parametrize(
    "fixture, path, version",
    [("tempo_trace_v2.json", "/api/v2/traces/abc", "v2"), ("tempo_trace_v1.json", "/api/traces/abc", "v1")],
)
def test_tempo_trace_base64_ids_and_enum_strings(fixture, path, version):
    http, _session = client([(path, 200, fixture)])
    server, dependency = Tempo(http, api_version=version).trace("abc")
    assert server.trace_id == "5b8efff798038103d269b633813fc700"
    assert server.span_id == "eee19b7ec3c1b100"
    assert (server.kind, server.error, server.color) == ("server", False, "green")
    assert (dependency.kind, dependency.error, dependency.parent_id) == ("client", True, "eee19b7ec3c1b100")


def test_zipkin_list_of_lists_string_tags_and_ms_window():
    http, session = client([("/api/v2/traces", 200, "zipkin_traces.json")])
    spans = Zipkin(http).spans(query())
    params = session.requests[0][1]
    assert (params["endTs"], params["lookback"], params["annotationQuery"]) == (1764072060000, 120000, "deployment.color=green")
    failed = next(s for s in spans if s.kind == "server" and s.error)
    assert (failed.http_status, failed.duration_us, failed.color, failed.version) == (500, 150000, "green", "1.1.0")
    dependency = next(s for s in spans if s.kind == "client")
    assert dependency.dependency == "stock" and not dependency.error
    assert next(s for s in spans if s.trace_id.endswith("ffdc9bb9a6453df4")).trace_id == "0000000000000000ffdc9bb9a6453df4"


def test_sample_from_spans_counts_requests_errors_and_dependencies():
    http, _session = client([("/api/v2/traces", 200, "zipkin_traces.json")])
    sample = Zipkin(http).sample(query())
    assert (sample.requests, sample.errors, sorted(sample.latencies_ms)) == (2, 1, [1.2, 150.0])
    assert sample.dependencies == {"stock": [1, 0, [2.0]]}
    assert sample.queries[0]["url"] == "http://backend:1234/api/v2/traces"


def prometheus_answers(names="prometheus_names.json"):
    return [
        ("/api/v1/query", 200, names),
        ("/api/v1/query", 200, "prometheus_calls_server.json"),
        ("/api/v1/query", 200, "prometheus_errors_server.json"),
        ("/api/v1/query", 200, "prometheus_empty.json"),
        ("/api/v1/query", 200, "prometheus_empty.json"),
        ("/api/v1/query", 200, "prometheus_buckets.json"),
    ]


def test_prometheus_span_metrics_sample():
    http, session = client(prometheus_answers())
    sample = PrometheusSpanMetrics(http).sample(query())
    queries = [r[1]["query"] for r in session.requests]
    assert 'traces_span_metrics_calls_total{service_name="bgdemo",span_kind="SPAN_KIND_SERVER",deployment_color="green"}[120s]' in queries[1]
    assert 'status_code="STATUS_CODE_ERROR"' in queries[2]
    assert "traces_span_metrics_duration_milliseconds_bucket" in queries[5]
    assert session.requests[1][1]["time"] == "1764072060.000"
    assert (sample.requests, sample.errors) == (1260, 24)
    assert sample.operations["GET /api/quote"][:2] == [1200, 24]
    assert len(sample.latencies_ms) == 1260 and sample.binned
    assert sorted(set(sample.latencies_ms)) == [1.0, 6.0, 30.0, 50.0]


def test_prometheus_legacy_names_use_the_operation_label():
    http, session = client(prometheus_answers("prometheus_names_legacy.json"))
    PrometheusSpanMetrics(http).sample(query())
    assert session.requests[1][1]["query"].startswith("sum by (operation) (increase(calls_total{")
    assert "latency_bucket" in session.requests[5][1]["query"]


def test_prometheus_without_span_metrics_is_an_error():
    http, _session = client([("/api/v1/query", 200, "prometheus_empty.json")])
    with pytest.raises(model.BackendError, match="no span metrics found"):
        PrometheusSpanMetrics(http).sample(query())


def test_prometheus_query_error_is_reported():
    http, _session = client([("/api/v1/query", 400, "prometheus_error.json")])
    with pytest.raises(model.BackendError, match="bad_data|HTTP 400"):
        PrometheusSpanMetrics(http).sample(query())


@pytest.mark.parametrize("body", ["<html>proxy error</html>", '{"unexpected": true}'])
def test_garbage_answers_are_errors_not_empty_results(body):
    http, _session = client([("/api/traces", 200, body)])
    with pytest.raises(model.BackendError):
        JaegerV1(http).spans(query())


def test_auth_tenant_and_tls_settings_reach_the_session():
    http, session = client([], bearer_token="s3cret", tenant="team-a", ca_bundle="/etc/ca.pem",
                           client_cert="/c.pem", client_key="/k.pem")
    assert session.headers["Authorization"] == "Bearer s3cret"
    assert session.headers["X-Scope-OrgID"] == "team-a"
    assert session.verify == "/etc/ca.pem" and session.cert == ("/c.pem", "/k.pem")
    http, session = client([], username="u", password="p")
    assert session.auth == ("u", "p") and "Authorization" not in session.headers


def test_retries_are_bounded():
    session = RecordedSession([("/api/traces", 503, "busy")] * 3)
    http = HttpClient("http://backend:1234", session=session, retries=2, backoff=0)
    with pytest.raises(model.BackendError, match="HTTP 503"):
        JaegerV1(http).spans(query())
    assert len(session.requests) == 3


@pytest.mark.parametrize("value, length, expected", [
    ("3e0cee77ae5dc9c17ade3689eb2e54", 32, "003e0cee77ae5dc9c17ade3689eb2e54"),
    ("W47/95gDgQPSabYzgT/HAA==", 32, "5b8efff798038103d269b633813fc700"),
    ("ABCDEF0123456789", 16, "abcdef0123456789"),
])
def test_ids_are_normalized(value, length, expected):
    assert model.normalize_id(value, length) == expected


@pytest.mark.parametrize("value", ["", None, "not-an-id!", "W47/95gDgQPSabYzgT/HAAAAAAAAAAAAAAAAAAAAAA=="])
def test_bad_ids_are_refused(value):
    with pytest.raises(model.BackendError):
        model.normalize_id(value, 32)


def test_excluded_operations_are_not_counted():
    http, _session = client([("/api/v2/traces", 200, "zipkin_traces.json")])
    q = model.TraceQuery("bgdemo", START, END, color="green", exclude_operations=["GET /api/quote"])
    sample = Zipkin(http).sample(q)
    assert sample.requests == 0 and sample.dependencies == {"stock": [1, 0, [2.0]]}


def test_prometheus_excludes_operations_by_label():
    http, session = client(prometheus_answers())
    q = model.TraceQuery("bgdemo", START, END, color="green", exclude_operations=["GET /healthz", "GET /metrics"])
    PrometheusSpanMetrics(http).sample(q)
    assert 'span_name!~"(?i)get /healthz|get /metrics"' in session.requests[1][1]["query"]


def test_prometheus_red_metrics_sample():
    def vector(*result):
        return ("/api/v1/query", 200, {"status": "success", "data": {"resultType": "vector", "result": list(result)}})

    answers = [vector({"metric": {"route": "/api/quote"}, "value": [1, "400"]}),
               vector({"metric": {"route": "/api/quote"}, "value": [1, "8"]}),
               vector({"metric": {"le": "0.005"}, "value": [1, "300"]}, {"metric": {"le": "+Inf"}, "value": [1, "400"]})]
    http, session = client(answers)
    red = {"requests": "bgdemo_requests_total", "duration_bucket": "bgdemo_request_duration_seconds_bucket"}
    q = model.TraceQuery("bgdemo", START, END, color="green", exclude_operations=["/healthz"])
    sample = PrometheusRedMetrics(http, red).sample(q)
    queries = [r[1]["query"] for r in session.requests]
    assert queries[0] == ('sum by (route) (increase(bgdemo_requests_total{job="bgdemo",color="green",'
                          'route!~"(?i)/healthz"}[120s]))')
    assert 'code=~"5.."' in queries[1]
    assert (sample.requests, sample.errors) == (400, 8)
    assert sorted(set(sample.latencies_ms)) == [2.5, 5.0]
