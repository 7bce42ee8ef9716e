"""The demo app under real gunicorn with the real OpenTelemetry SDK exporting OTLP/HTTP, and
releases of it built with defects (build_artifact --defect) doing what each defect says."""
import concurrent.futures
import io
import json
import secrets
import statistics
import tarfile
import time

import pytest
from conftest import RunningApp, wait_until
from otlp_sink import OtlpSink

import build_artifact

SERVER, CLIENT = 2, 3  # OTLP SpanKind values
STATUS_UNSET, STATUS_ERROR = 0, 2
BASE_ENV = {"BLUEGREEN_COLOR": "green", "BLUEGREEN_ENVIRONMENT": "ci", "OTEL_BSP_SCHEDULE_DELAY": "100"}


class TimedSink(OtlpSink):
    """The test sink that also keeps each span's duration, for the defects that slow a span."""

    def __init__(self):
        super().__init__()
        self.durations = {}

    def add(self, request):
        super().add(request)
        with self.lock:
            for resource_spans in request.resource_spans:
                for scope_spans in resource_spans.scope_spans:
                    for span in scope_spans.spans:
                        seconds = (span.end_time_unix_nano - span.start_time_unix_nano) / 1e9
                        self.durations[(span.trace_id.hex(), span.name)] = seconds

    def duration(self, trace_id, name):
        """Seconds the span `name` of the trace took (names are unique within these tests' traces)."""
        with self.lock:
            return self.durations[(trace_id, name)]


def traceparent():
    trace_id = secrets.token_hex(16)
    return trace_id, {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"}


@pytest.fixture
def sink():
    with TimedSink() as running:
        yield running


def unpack_release(directory, version, defects):
    """Builds the demo app's artifact with a DEFECTS mapping (source only, no wheels) and unpacks
    it like app_env does; returns the release directory."""
    wheels = directory / "wheels"
    wheels.mkdir(parents=True)
    data = build_artifact.artifact_bytes(version, wheels, defects)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        tar.extractall(directory, filter="data")
    return directory / f"bgdemo-{version}"


@pytest.fixture
def start_release(tmp_path):
    """Starts faulty releases: start_release(["failing_route=/api/basket"], **env), the defects
    given as on build_artifact's command line."""
    running = []

    def start(defects, **env):
        directory = tmp_path / f"faulty-{len(running)}"
        release = unpack_release(directory, "9.9.0", build_artifact.parse_defects(defects))
        log = open(directory / "app.log", "w+b")  # pylint: disable=consider-using-with
        app = RunningApp(release, {**BASE_ENV, **{k: str(v) for k, v in env.items()}}, log)
        running.append(app)
        return app

    yield start
    for app in running:
        app.stop()
        app.log.close()


def timed_gets(app, path, clients, each):
    """`clients` clients at once, each sending `each` requests one after the other; returns
    (statuses, seconds per request)."""
    def client():
        results = []
        for unused_index in range(each):
            started = time.perf_counter()
            status = app.get(path)[0]
            results.append((status, time.perf_counter() - started))
        return results

    with concurrent.futures.ThreadPoolExecutor(max_workers=clients) as pool:
        futures = [pool.submit(client) for unused_client in range(clients)]
        results = [result for future in futures for result in future.result()]
    return [status for status, unused_seconds in results], [seconds for unused_status, seconds in results]


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


def test_failing_route_fails_that_route_only(start_release, sink):
    app = start_release(["failing_route=/api/basket"], OTEL_EXPORTER_OTLP_ENDPOINT=sink.endpoint, BG_DEPENDENCY_URL="{url}/stock")
    assert [app.get("/api/basket")[0] for unused_index in range(20)] == [500] * 20
    assert [app.get("/api/quote")[0] for unused_index in range(20)] == [200] * 20
    assert app.get("/healthz")[0] == 200

    basket_id, basket_headers = traceparent()
    status, unused_headers, body = app.get("/api/basket", basket_headers)
    assert status == 500 and json.loads(body)["error"] == "injected fault"
    quote_id, quote_headers = traceparent()
    assert app.get("/api/quote", quote_headers)[0] == 200
    (basket,) = wait_until(lambda: sink.spans_of(basket_id), 10, "the failed basket's span")
    assert (basket["status"], basket["attributes"]["http.response.status_code"]) == (STATUS_ERROR, 500)
    quote_spans = wait_until(lambda: len(sink.spans_of(quote_id)) >= 3 and sink.spans_of(quote_id), 10, "the quote's spans")
    assert {span["status"] for span in quote_spans} == {STATUS_UNSET}


def test_failing_route_error_rate_fails_that_share_of_the_route(start_release):
    app = start_release(["failing_route=/api/quote", "failing_route_error_rate=0.5"])
    statuses = [app.get("/api/quote")[0] for unused_index in range(200)]
    assert set(statuses) == {200, 500}
    # Binomial(200, 0.5): outside [40, 160] once in far more runs than this suite will see.
    assert 40 < statuses.count(500) < 160, statuses.count(500)
    assert [app.get("/api/basket")[0] for unused_index in range(20)] == [200] * 20


def test_latency_under_load_is_slow_only_above_its_request_rate(start_app, start_release):
    added = 0.1  # seconds more per request above the rate
    healthy = start_app(BG_DEPENDENCY_URL="{url}/stock")
    faulty = start_release([f"latency_under_load_ms={added * 1000:g}", "load_threshold_rps=20"], BG_DEPENDENCY_URL="{url}/stock")

    # Ten requests: never more than 20 in a second, so the faulty release is as fast as the
    # healthy one (the quote's own call to /stock does not count).
    light = {}
    for name, app in (("healthy", healthy), ("faulty", faulty)):
        statuses, seconds = timed_gets(app, "/api/quote", clients=1, each=10)
        assert set(statuses) == {200}
        light[name] = statistics.median(seconds)
    assert light["faulty"] < light["healthy"] + added / 2, light

    # Eight clients with ten requests each, as fast as they are answered: the rate passes 20 a
    # second within the first few requests, and from then on each waits the added 100 ms.
    heavy = {}
    for name, app in (("healthy", healthy), ("faulty", faulty)):
        statuses, seconds = timed_gets(app, "/api/quote", clients=8, each=10)
        assert set(statuses) == {200}
        heavy[name] = statistics.median(seconds)
    assert heavy["faulty"] > heavy["healthy"] + added / 2, heavy
    assert heavy["faulty"] > light["faulty"] + added / 2, (light, heavy)


def test_dependency_latency_shows_in_the_client_span_only(start_app, start_release, sink):
    # A second, and each app warmed by one quote first: a healthy app's first call to its
    # dependency (a new connection, on a machine busy with other tests) took 0.41 s in CI.
    added = 1.0
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": sink.endpoint, "BG_DEPENDENCY_URL": "{url}/stock"}
    apps = {"healthy": start_app(**env), "faulty": start_release([f"dependency_latency_ms={added * 1000:g}"], **env)}
    traces = {}
    for name, app in apps.items():
        assert app.get("/api/quote")[0] == 200
        trace_id, headers = traceparent()
        assert app.get("/api/quote", headers)[0] == 200
        traces[name] = trace_id
    for trace_id in traces.values():
        wait_until(lambda trace_id=trace_id: len(sink.spans_of(trace_id)) >= 3, 10, "the quote's three spans")

    faulty, healthy = traces["faulty"], traces["healthy"]
    assert sink.duration(faulty, "GET stock") >= 0.9 * added
    # The dependency answered as fast as ever: its own server span does not hold the delay.
    assert sink.duration(faulty, "GET /stock") < added
    assert sink.duration(faulty, "GET /api/quote") >= sink.duration(faulty, "GET stock")
    assert sink.duration(healthy, "GET stock") < added


@pytest.mark.parametrize(
    "defects, named",
    [
        ({"latency_under_load_ms": "fast"}, "latency_under_load_ms='fast'"),
        ({"failing_route": "/api/nowhere"}, "failing_route='/api/nowhere'"),
        ({"dependency_latency_ms": "-5"}, "dependency_latency_ms='-5'"),
        ({"slow_start": "1"}, "unknown defect 'slow_start'"),
    ],
)
def test_release_with_a_bad_defect_does_not_start_and_names_it(tmp_path, defects, named):
    release = unpack_release(tmp_path, "9.9.1", defects)
    with open(tmp_path / "app.log", "w+b") as log, pytest.raises(AssertionError, match="the demo app exited") as refused:
        RunningApp(release, BASE_ENV, log)
    assert named in str(refused.value)
