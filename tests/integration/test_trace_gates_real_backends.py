"""trace_health and trace_probe end to end on loopback, against the real servers: the demo app
under gunicorn with the real OpenTelemetry SDK exports OTLP to the REAL Jaeger v2 and Zipkin's
own JSON to the REAL Zipkin server; Jaeger's real spanmetrics connector feeds a real
Prometheus, and Jaeger forwards every span to the Tempo LAB STAND-IN (not Tempo; Tempo cannot be
installed here). Test ids say which: `real` or `standin`.

Services are named with capitals ("Healthy"): Zipkin stores them lowercased, and the gates must
still find them."""
import concurrent.futures

import pytest
from conftest import free_port, wait_until
from lb_harness import run_module
from trace_servers import Prometheus, RealJaeger, RealZipkin, TempoStandin

# The demo app's own RED metrics, scraped from every app (file_sd, labelled by service).
RED_METRICS = {"requests": "bgdemo_requests_total", "duration_bucket": "bgdemo_request_duration_seconds_bucket"}
SPAN_BACKENDS = ["jaeger-api-v3-real", "jaeger-api-v1-real", "zipkin-real", "tempo-standin"]
ALL_BACKENDS = SPAN_BACKENDS + ["spanmetrics-real", "red-metrics-real"]
SERVICES = {"Healthy": (0, 300), "Faulty": (0.3, 300), "Thin": (0, 10)}


class Backends:
    def __init__(self, workdir):
        self.running = []
        try:
            self.tempo_standin = self._start(TempoStandin(workdir))
            self.jaeger = self._start(RealJaeger(workdir, forward_otlp_http=self.tempo_standin.otlp))
            self.zipkin = self._start(RealZipkin(workdir))
            self.prometheus = self._start(Prometheus(workdir, self.jaeger.spanmetrics))
        except BaseException:
            self.stop()
            raise

    def _start(self, process):
        self.running.append(process)
        return process

    def args(self, case):
        """The connection arguments of one backend case."""
        return {
            "jaeger-api-v3-real": {"backend": "jaeger", "url": self.jaeger.url},
            "jaeger-api-v1-real": {"backend": "jaeger", "jaeger_api_version": "v1", "url": self.jaeger.url},
            "zipkin-real": {"backend": "zipkin", "url": self.zipkin.url},
            "tempo-standin": {"backend": "tempo", "url": self.tempo_standin.url},
            "spanmetrics-real": {"backend": "prometheus", "url": self.prometheus.url},
            "red-metrics-real": {"backend": "prometheus_red", "url": self.prometheus.url},
        }[case]

    def app_env(self):
        return {"OTEL_EXPORTER_OTLP_ENDPOINT": self.jaeger.otlp, "OTEL_EXPORTER_ZIPKIN_ENDPOINT": self.zipkin.spans_endpoint}

    def stop(self):
        for process in reversed(self.running):
            process.stop()


def load(*apps, requests):
    """`requests` requests to each app, interleaved: apps loaded side by side meet the same
    moments of a busy machine (pytest-xdist runs another worker beside this one), so an
    identical pair's latencies differ by chance only."""

    def one(index):
        return apps[index % len(apps)].get("/api/quote")[0]

    # Fewer clients than app threads: the app calls itself as its dependency.
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        return list(pool.map(one, range(requests * len(apps))))


@pytest.fixture(scope="module")
def backends(tmp_path_factory):
    running = Backends(tmp_path_factory.mktemp("backends"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def scenarios(backends, start_app_module):
    """Three services: a healthy pair, green with a 30% error rate, too little traffic."""
    made = {}
    for service, (green_error_rate, _requests) in SERVICES.items():
        for color, error_rate in (("blue", 0), ("green", green_error_rate)):
            made[(service, color)] = start_app_module(
                BLUEGREEN_COLOR=color, BLUEGREEN_SERVICE=service, BG_ERROR_RATE=error_rate, BG_DEPENDENCY_URL="{url}/stock",
                **backends.app_env())
    # Prometheus counts an increase only from a series' first scrape on: a few requests
    # first, the main load once every series is seen.
    prometheus = backends.prometheus
    prometheus.scrape_apps(made)
    for app in made.values():
        load(app, requests=3)
    span_series = 'traces_span_metrics_calls_total{span_kind="SPAN_KIND_SERVER",span_name="GET /api/quote"}'
    red_series = 'bgdemo_requests_total{route="/api/quote"}'
    wait_until(lambda: len(prometheus.promql(span_series) or []) >= 6 and len(prometheus.promql(red_series) or []) >= 6,
               60, "every series scraped (span metrics from the real connector, RED metrics from the apps)")
    faulty_green = made[("Faulty", "green")]
    wait_until(lambda: load(faulty_green, requests=3) and prometheus.promql('bgdemo_requests_total{service="Faulty",code="500"}')
               and prometheus.promql('traces_span_metrics_calls_total{service_name="Faulty",status_code="STATUS_CODE_ERROR"}'),
               60, "the faulty green's error series scraped")
    for service, (_green_error_rate, requests) in SERVICES.items():
        load(made[(service, "blue")], made[(service, "green")], requests=requests)
    wait_until(lambda: set(SERVICES) <= set(backends.jaeger.services()), 20, "spans in Jaeger")
    wait_until(lambda: {s.lower() for s in SERVICES} <= set(backends.zipkin.services()), 20, "spans in Zipkin")
    return made


# Two identical apps on a busy 2-core machine (another xdist worker, a JVM, Jaeger) differ in
# p95 by 1.3-2x in either direction, measured with stress-ng beside this module: the scheduler
# starves one process more than the other for the whole load. No test here judges latency, so
# the margin is the lab's (its inventories say the same) and the error-rate checks stay strict.
LAB_LATENCY_MARGIN = {"max_p95_ratio": 2.5, "min_p95_delta_ms": 50}


def health(backends, case, service, **kwargs):
    # Prometheus scrapes the apps' /metrics every second: not user traffic.
    args = {**backends.args(case), "service": service, "window": 300, "retries": 0, "exclude_operations": ["GET /metrics"],
            "thresholds": LAB_LATENCY_MARGIN}
    if case == "red-metrics-real":
        args["red_metrics"] = dict(RED_METRICS, selector=f'service="{service}"')
        args["exclude_operations"] = ["/stock"]
    return run_module("trace_health", {**args, **kwargs})


def settled(check, green_requests=0):
    """Spans arrive in batches; poll until the verdict stops being inconclusive for lack of data
    and green shows at least `green_requests` requests: a verdict can be reached on part of the
    traffic before the rest is searchable."""
    # 60 s: Tempo 3.0 (and so its stand-in) searches only up to 30 s before now (query_end_cutoff).
    def arrived():
        result = check()
        enough = result["verdict"] != "inconclusive" and result["colors"]["green"]["requests"] >= green_requests
        return enough and result

    return wait_until(arrived, 60, f"a settled verdict on at least {green_requests} green requests")


@pytest.mark.parametrize("case", ALL_BACKENDS)
def test_healthy_green_passes(backends, scenarios, case):
    result = settled(lambda: health(backends, case, "Healthy"), green_requests=290)
    assert result["verdict"] == "pass", result["reasons"]
    if case != "red-metrics-real":  # RED metrics have no dependency calls
        assert any("stock" in name for name in result["colors"]["green"]["dependencies"])
    assert result["queries"]


@pytest.mark.parametrize("case", ALL_BACKENDS)
def test_green_error_rate_fails(backends, scenarios, case):
    result = settled(lambda: health(backends, case, "Faulty"))
    assert result["verdict"] == "fail"
    assert any(c["check"] == "error_rate_vs_blue" and c["outcome"] == "fail" for c in result["checks"]), result["checks"]


@pytest.mark.parametrize("case", ALL_BACKENDS)
def test_too_little_traffic_is_inconclusive(backends, scenarios, case):
    result = health(backends, case, "Thin")
    assert result["verdict"] == "inconclusive"
    assert "fewer than min_requests" in " ".join(result["reasons"])


def test_spanmetrics_real_connector_without_color_dimension_names_the_label(backends, scenarios):
    """The real connector only makes a label of a dimension it is configured with."""
    result = health(backends, "spanmetrics-real", "Healthy", color_label="deployment_colour")
    assert result["verdict"] == "fail"
    assert "deployment_colour" in " ".join(result["reasons"])


@pytest.mark.parametrize("case", SPAN_BACKENDS)
def test_probe_passes_when_green_is_traced(backends, scenarios, case):
    green = scenarios[("Healthy", "green")]
    result = run_module("trace_probe", {**backends.args(case), "urls": [f"{green.url}/api/quote"], "count": 5,
                                        "service": "Healthy", "color": "green", "version": "9.8.7",
                                        "deadline": 20, "poll_interval": 0.2})
    assert not result.get("failed"), result.get("msg")
    assert len(result["probes"]) == 5 and result["missing"] == []


@pytest.mark.parametrize("case", ["jaeger-api-v3-real", "zipkin-real"])
def test_probe_fails_when_green_tracing_is_off(backends, start_app_module, case):
    untraced = start_app_module(BLUEGREEN_COLOR="green", BLUEGREEN_SERVICE="Healthy", BG_TRACING="off", **backends.app_env())
    result = run_module("trace_probe", {**backends.args(case), "urls": [f"{untraced.url}/api/quote"], "count": 3,
                                        "service": "Healthy", "color": "green", "deadline": 3, "poll_interval": 0.5})
    assert result["failed"] is True
    assert len(result["missing"]) == 3
    assert all(trace_id in result["msg"] for trace_id in result["missing"])


def test_probes_sent_in_one_task_are_looked_up_in_the_next_and_only_there(backends, scenarios, start_app_module):
    green = scenarios[("Healthy", "green")]
    args = {**backends.args("jaeger-api-v3-real"), "service": "Healthy", "color": "green", "version": "9.8.7"}
    sent = run_module("trace_probe", {**args, "urls": [f"{green.url}/api/quote"], "count": 3, "wait": False})
    assert not sent.get("failed"), sent.get("msg")
    assert len(sent["probes"]) == 3 and all(probe["status"] == 200 for probe in sent["probes"]), sent
    found = run_module("trace_probe", {**args, "sent": sent["probes"], "deadline": 20, "poll_interval": 0.2})
    assert not found.get("failed"), found.get("msg")
    assert [probe["trace_id"] for probe in found["probes"]] == [probe["trace_id"] for probe in sent["probes"]]
    assert found["missing"] == [] and all(probe["problem"] is None for probe in found["probes"]), found
    # Sent to an untraced color: the first task passes (it only sends), the look-up fails.
    untraced = start_app_module(BLUEGREEN_COLOR="green", BLUEGREEN_SERVICE="Healthy", BG_TRACING="off", **backends.app_env())
    sent = run_module("trace_probe", {**args, "urls": [f"{untraced.url}/api/quote"], "count": 2, "wait": False})
    assert not sent.get("failed") and sent["missing"] == [], sent
    found = run_module("trace_probe", {**args, "sent": sent["probes"], "deadline": 3, "poll_interval": 0.5})
    assert found["failed"] is True and sorted(found["missing"]) == sorted(probe["trace_id"] for probe in sent["probes"]), found


def test_probe_on_real_zipkin_names_the_wrong_color(backends, scenarios):
    blue = scenarios[("Healthy", "blue")]
    result = run_module("trace_probe", {**backends.args("zipkin-real"), "urls": [f"{blue.url}/api/quote"], "count": 2,
                                        "service": "Healthy", "color": "green", "deadline": 10, "poll_interval": 0.2})
    assert result["failed"] is True
    assert "deployment.color is 'blue', expected 'green'" in result["msg"]


@pytest.mark.parametrize("backend", ["jaeger", "tempo", "zipkin", "prometheus", "prometheus_red"])
def test_unreachable_backend_fails_closed(backend):
    result = run_module("trace_health", {"backend": backend, "url": f"http://127.0.0.1:{free_port()}",
                                         "service": "Healthy", "retries": 0})
    assert result["verdict"] == "fail"
    assert "cannot reach" in result["reasons"][0]


def test_stopped_backends_fail_closed(backends, scenarios):
    """Last in this module: the servers that answered every test above are stopped, and every
    gate that reads them fails."""
    backends.stop()
    for case in ALL_BACKENDS:
        result = health(backends, case, "Healthy", retries=1, request_timeout=2)
        assert result["verdict"] == "fail", case
        assert result["checks"][0]["check"] == "backend", case
