"""The demo app under real gunicorn with the real OpenTelemetry SDK exporting OTLP/HTTP."""
import json
import secrets

import pytest
from conftest import wait_until
from otlp_sink import OtlpSink

SERVER, CLIENT = 2, 3  # OTLP SpanKind values
STATUS_ERROR = 2


def traceparent():
    trace_id = secrets.token_hex(16)
    return trace_id, {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}


@pytest.fixture
def sink():
    with OtlpSink() as running:
        yield running


def test_every_response_names_color_and_version(start_app):
    app = start_app()
    status, headers, body = app.get("/version")
    assert status == 200
    assert (headers["X-App-Color"], headers["X-App-Version"]) == ("green", "9.8.7")
    assert json.loads(body) == {"service": "bgdemo", "version": "9.8.7", "color": "green", "environment": "ci"}
    status, headers, unused_body = app.get("/nowhere")
    assert status == 404 and headers["X-App-Color"] == "green"


def test_trace_is_continued_and_exported_with_color_and_version(start_app, sink):
    app = start_app(OTEL_EXPORTER_OTLP_ENDPOINT=sink.endpoint, BG_DEPENDENCY_URL="{url}/stock")
    trace_id, headers = traceparent()
    status, response_headers, body = app.get("/api/quote", headers)
    assert status == 200 and json.loads(body)["dependency"] == "ok"
    assert response_headers["X-Trace-Id"] == trace_id

    spans = wait_until(lambda: len(sink.spans_of(trace_id)) >= 3 and sink.spans_of(trace_id), 10, "three spans of the trace")
    by_name = {s["name"]: s for s in spans}
    assert by_name["GET /api/quote"]["kind"] == SERVER
    assert by_name["GET stock"]["kind"] == CLIENT
    assert by_name["GET stock"]["attributes"]["peer.service"] == "stock"
    assert by_name["GET /stock"]["kind"] == SERVER  # the dependency continued the same trace
    assert by_name["GET /api/quote"]["resource"] == {
        **by_name["GET /api/quote"]["resource"],
        "service.name": "bgdemo",
        "service.version": "9.8.7",
        "deployment.environment.name": "ci",
        "deployment.color": "green",
    }


def test_error_rate_knob_fails_requests_and_marks_spans(start_app, sink):
    app = start_app(OTEL_EXPORTER_OTLP_ENDPOINT=sink.endpoint, BG_ERROR_RATE="1")
    trace_id, headers = traceparent()
    status, unused_headers, body = app.get("/api/quote", headers)
    assert status == 500 and json.loads(body)["error"] == "injected fault"
    (span,) = wait_until(lambda: sink.spans_of(trace_id), 10, "the failed request's span")
    assert span["status"] == STATUS_ERROR
    assert span["attributes"]["http.response.status_code"] == 500


def test_unreachable_dependency_is_a_502(start_app):
    app = start_app(BG_DEPENDENCY_URL="http://127.0.0.1:9/stock")
    status, unused_headers, body = app.get("/api/quote")
    assert status == 502 and "dependency" in json.loads(body)["error"]


def test_tracing_off_exports_nothing_and_ignores_traceparent(start_app, sink):
    app = start_app(OTEL_EXPORTER_OTLP_ENDPOINT=sink.endpoint, BG_TRACING="off")
    trace_id, headers = traceparent()
    status, response_headers, unused_body = app.get("/api/quote", headers)
    assert status == 200 and "X-Trace-Id" not in response_headers
    # A traced app started alongside proves the sink receives; the untraced one sent nothing.
    traced = start_app(OTEL_EXPORTER_OTLP_ENDPOINT=sink.endpoint)
    other_id, other_headers = traceparent()
    traced.get("/api/quote", other_headers)
    wait_until(lambda: sink.spans_of(other_id), 10, "the traced app's span")
    app.stop()  # flushes anything the untraced app could have buffered
    assert sink.spans_of(trace_id) == []


def test_red_metrics_by_color_and_version(start_app):
    app = start_app()
    app.get("/api/quote")
    status, unused_headers, body = app.get("/metrics")
    assert status == 200
    assert 'bgdemo_requests_total{code="200",color="green",method="GET",route="/api/quote",version="9.8.7"} 1.0' in body.decode()


def test_basket_is_a_business_route_of_its_own(start_app, sink):
    app = start_app(OTEL_EXPORTER_OTLP_ENDPOINT=sink.endpoint, BG_DEPENDENCY_URL="{url}/stock")
    status, response_headers, body = app.get("/api/basket")
    assert status == 200 and response_headers["X-App-Color"] == "green"
    answer = json.loads(body)
    assert (answer["color"], answer["version"]) == ("green", "9.8.7") and answer["items"]
    metrics = app.get("/metrics")[2].decode()
    assert 'bgdemo_requests_total{code="200",color="green",method="GET",route="/api/basket",version="9.8.7"} 1.0' in metrics

    trace_id, headers = traceparent()
    assert app.get("/api/basket", headers)[1]["X-Trace-Id"] == trace_id
    # One span, no dependency call: a client span would have ended before the server span and
    # so been exported no later.
    (span,) = wait_until(lambda: sink.spans_of(trace_id), 10, "the basket's span")
    assert (span["name"], span["kind"], span["attributes"]["http.route"]) == ("GET /api/basket", SERVER, "/api/basket")


def test_error_rate_knob_fails_every_business_route_only(start_app):
    app = start_app(BG_ERROR_RATE="1", BG_DEPENDENCY_URL="{url}/stock")
    assert (app.get("/api/basket")[0], app.get("/api/quote")[0]) == (500, 500)
    assert (app.get("/stock")[0], app.get("/healthz")[0], app.get("/version")[0]) == (200, 200, 200)
