"""trace_health and trace_probe end to end on loopback: the demo app under gunicorn with the
real OpenTelemetry SDK exports OTLP to the LAB STAND-IN trace store (tests/lab/trace_store),
which answers the Jaeger, Tempo and Zipkin query APIs in their upstream shapes and exposes
span metrics in the spanmetrics connector's shape, scraped by a real Prometheus. The store
is not the real backend; these tests prove our clients and gates against those shapes."""
import concurrent.futures
import json
import shutil
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from conftest import free_port, wait_until
from lb_harness import run_module

STORE = Path(__file__).resolve().parents[1] / "lab" / "trace_store" / "store.py"
TRACE_BACKENDS = ["jaeger", "jaeger_v3", "tempo", "zipkin"]
BACKENDS = TRACE_BACKENDS + ["prometheus", "prometheus_red"]
# The demo app's own RED metrics, scraped from every app (file_sd, labelled by service).
RED_METRICS = {"requests": "bgdemo_requests_total", "duration_bucket": "bgdemo_request_duration_seconds_bucket"}
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


class LabStore:
    def __init__(self):
        self.ports = {name: free_port() for name in ("otlp", "jaeger", "tempo", "zipkin", "metrics")}
        self.process = subprocess.Popen(
            [sys.executable, str(STORE), "--address", "127.0.0.1"]
            + [arg for name, port in self.ports.items() for arg in (f"--{name}-port", str(port))],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_until(self._up, 15, "the lab trace store")

    def _up(self):
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.ports['zipkin']}/health", timeout=1):
                return True
        except OSError:
            return False

    def url(self, backend):
        port = {"jaeger_v3": "jaeger", "prometheus_red": "prometheus"}.get(backend, backend)
        return f"http://127.0.0.1:{self.ports[port]}"

    def scrape_apps(self, apps):
        """apps: {(service, color): app}; Prometheus picks the file up within a second."""
        groups = [{"targets": [f"127.0.0.1:{app.port}"], "labels": {"service": service}} for (service, _color), app in apps.items()]
        self.app_targets.write_text(json.dumps(groups))

    def start_prometheus(self, workdir):
        """A real Prometheus scraping the store's span metrics every second."""
        self.ports["prometheus"] = free_port()
        config = workdir / "prometheus.yml"
        self.app_targets = workdir / "apps.json"
        self.app_targets.write_text("[]")
        config.write_text(json.dumps({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [
                {"job_name": "lab-trace-store", "static_configs": [{"targets": [f"127.0.0.1:{self.ports['metrics']}"]}]},
                {"job_name": "apps", "file_sd_configs": [{"files": [str(self.app_targets)], "refresh_interval": "1s"}]},
            ],
        }))
        self.prometheus = subprocess.Popen(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{self.ports['prometheus']}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        wait_until(lambda: self.promql("up") is not None, 30, "Prometheus to answer")

    def promql(self, query):
        url = f"http://127.0.0.1:{self.ports['prometheus']}/api/v1/query?" + urllib.parse.urlencode({"query": query})
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return json.loads(response.read())["data"]["result"]
        except OSError:
            return None

    @property
    def otlp(self):
        return f"http://127.0.0.1:{self.ports['otlp']}"

    def services(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.ports['zipkin']}/api/v2/services", timeout=2) as response:
            return response.read().decode()

    def stop(self):
        for process in (self.process, getattr(self, "prometheus", None)):
            if process is not None:
                process.terminate()
                process.wait(timeout=20)


def load(app, requests):
    def one(index):
        return app.get("/api/quote")[0]

    # Fewer clients than app threads: the app calls itself as its dependency.
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        return list(pool.map(one, range(requests)))


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    running = LabStore()
    running.start_prometheus(tmp_path_factory.mktemp("prometheus"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def scenarios(store, start_app_module):
    """Three services in one store: healthy pair, green with a 30% error rate, too little traffic."""
    made, loads = {}, {}
    for service, green_error_rate, requests in (("healthy", 0, 300), ("faulty", 0.3, 300), ("thin", 0, 10)):
        for color, error_rate in (("blue", 0), ("green", green_error_rate)):
            app = start_app_module(BG_COLOR=color, BG_SERVICE_NAME=service, BG_ERROR_RATE=error_rate,
                                   BG_DEPENDENCY_URL="{url}/stock", OTEL_EXPORTER_OTLP_ENDPOINT=store.otlp)
            made[(service, color)], loads[(service, color)] = app, requests
    # Prometheus counts an increase only from a series' first scrape on, as with a real
    # spanmetrics connector: a few requests first, the main load once every series is seen.
    store.scrape_apps(made)
    for app in made.values():
        load(app, 3)
    span_series = 'traces_span_metrics_calls_total{span_kind="SPAN_KIND_SERVER",span_name="GET /api/quote"}'
    red_series = 'bgdemo_requests_total{route="/api/quote"}'
    wait_until(lambda: len(store.promql(span_series) or []) >= 6 and len(store.promql(red_series) or []) >= 6,
               30, "every series scraped")
    # The faulty green's error series too (its first error can come late).
    faulty_green = made[("faulty", "green")]
    wait_until(lambda: load(faulty_green, 3) and store.promql('bgdemo_requests_total{service="faulty",code="500"}')
               and store.promql('traces_span_metrics_calls_total{service_name="faulty",status_code="STATUS_CODE_ERROR"}'),
               30, "the faulty green's error series scraped")
    for key, app in made.items():
        load(app, loads[key])
    wait_until(lambda: all(s in store.services() for s in ("healthy", "faulty", "thin")), 15, "spans in the store")
    return made


def health(store, backend, service, **kwargs):
    # Prometheus scrapes the apps' /metrics every second: not user traffic.
    args = {"backend": backend, "url": store.url(backend), "service": service, "window": 300, "retries": 0,
            "exclude_operations": ["GET /metrics"]}
    if backend == "prometheus_red":
        args["red_metrics"] = dict(RED_METRICS, selector=f'service="{service}"')
        args["exclude_operations"] = ["/stock"]
    return run_module("trace_health", {**args, **kwargs})


def settled(check):
    """Spans arrive in batches; poll until the verdict stops being inconclusive for lack of data."""
    return wait_until(lambda: (r := check())["verdict"] != "inconclusive" and r, 20, "a settled verdict")


@pytest.mark.parametrize("backend", BACKENDS)
def test_lab_store_healthy_green_passes(store, scenarios, backend):
    result = settled(lambda: health(store, backend, "healthy"))
    assert result["verdict"] == "pass", result["reasons"]
    assert result["colors"]["green"]["requests"] >= 290
    if backend != "prometheus_red":  # RED metrics have no dependency calls
        assert any("stock" in name for name in result["colors"]["green"]["dependencies"])
    assert result["queries"]


@pytest.mark.parametrize("backend", BACKENDS)
def test_lab_store_green_error_rate_fails(store, scenarios, backend):
    result = settled(lambda: health(store, backend, "faulty"))
    assert result["verdict"] == "fail"
    assert any(c["check"] == "error_rate_vs_blue" and c["outcome"] == "fail" for c in result["checks"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_lab_store_too_little_traffic_is_inconclusive(store, scenarios, backend):
    result = health(store, backend, "thin")
    assert result["verdict"] == "inconclusive"
    assert "fewer than min_requests" in " ".join(result["reasons"])


@pytest.mark.parametrize("backend", BACKENDS)
def test_unreachable_backend_fails_closed(backend):
    result = run_module("trace_health", {"backend": backend, "url": f"http://127.0.0.1:{free_port()}",
                                         "service": "healthy", "retries": 0})
    assert result["verdict"] == "fail"
    assert "cannot reach" in result["reasons"][0]


def test_stopped_lab_store_fails_closed():
    stopped = LabStore()
    stopped.stop()
    for backend in TRACE_BACKENDS:
        result = run_module("trace_health", {"backend": backend, "url": stopped.url(backend), "service": "healthy",
                                             "retries": 1, "request_timeout": 2})
        assert result["verdict"] == "fail", backend
        assert result["checks"][0]["check"] == "backend"


@pytest.mark.parametrize("backend", TRACE_BACKENDS)
def test_lab_store_probe_passes_when_green_is_traced(store, scenarios, backend):
    green = scenarios[("healthy", "green")]
    result = run_module("trace_probe", {"backend": backend, "url": store.url(backend), "urls": [f"{green.url}/api/quote"],
                                        "count": 5, "service": "healthy", "color": "green", "version": "9.8.7",
                                        "deadline": 15, "poll_interval": 0.2})
    assert not result.get("failed"), result.get("msg")
    assert len(result["probes"]) == 5 and result["missing"] == []


def test_lab_store_probe_fails_when_green_tracing_is_off(store, start_app_module):
    untraced = start_app_module(BG_COLOR="green", BG_SERVICE_NAME="healthy", BG_TRACING="off",
                                OTEL_EXPORTER_OTLP_ENDPOINT=store.otlp)
    result = run_module("trace_probe", {"backend": "jaeger", "url": store.url("jaeger"), "urls": [f"{untraced.url}/api/quote"],
                                        "count": 3, "service": "healthy", "color": "green", "deadline": 3, "poll_interval": 0.5})
    assert result["failed"] is True
    assert len(result["missing"]) == 3
    assert all(trace_id in result["msg"] for trace_id in result["missing"])


def test_lab_store_probe_names_the_wrong_color(store, scenarios):
    blue = scenarios[("healthy", "blue")]
    result = run_module("trace_probe", {"backend": "zipkin", "url": store.url("zipkin"), "urls": [f"{blue.url}/api/quote"],
                                        "count": 2, "service": "healthy", "color": "green", "deadline": 10, "poll_interval": 0.2})
    assert result["failed"] is True
    assert "deployment.color is 'blue', expected 'green'" in result["msg"]
