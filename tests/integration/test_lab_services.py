"""The lab's services other than the demo app, each built by its build.sh and run as its release
ships it: goshop (tests/lab/goshop, a static binary built with the machine's Go from the module
proxy, traced with the OpenTelemetry Go SDK) and jshop (tests/lab/jshop, jars run with the
host's Java, traced with the OpenTelemetry Java SDK from Maven Central). For each: the service
contract (BLUEGREEN_* variables, /version), its built-in defects, and its spans through the
real SDK to an OTLP receiver, with the incoming traceparent honoured."""
import json
import os
import secrets
import subprocess
import tarfile
from pathlib import Path

import pytest
from conftest import free_port, http_get, wait_until
from otlp_sink import OtlpSink

LAB = Path(__file__).resolve().parents[1] / "lab"
SERVICES = ["goshop", "jshop"]


def build(service, out, version, *defects):
    command = [str(LAB / service / "build.sh"), "--version", version, "--out", str(out)]
    for defect in defects:
        command += ["--defect", defect]
    return json.loads(subprocess.run(command, check=True, capture_output=True, text=True, timeout=900).stdout)


@pytest.fixture(scope="module", params=SERVICES)
def releases(request, tmp_path_factory):
    service = request.param
    out = tmp_path_factory.mktemp(service)
    return {"service": service, "healthy": build(service, out, "1.0.0"),
            "faulty": build(service, out, "1.0.1-faulty", "error_rate=1")}


def program(workdir, service, release):
    """The release unpacked in `workdir`, and the program that starts it."""
    with tarfile.open(release["path"]) as tarball:
        tarball.extractall(workdir, filter="data")
    return str(workdir / f"{service}-{release['version']}" / "bin" / service)


class RunningService:
    def __init__(self, service, release, workdir, env):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen([program(workdir, service, release)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        env={"PATH": os.environ["PATH"], "BLUEGREEN_PORT": str(self.port), **env})
        # A JVM starts in seconds on a busy machine.
        wait_until(lambda: self.process.poll() is not None or self.answers(), 60, f"{service} to answer")

    def answers(self):
        try:
            return self.get("/healthz")[0] == 200
        except OSError:
            return False

    def get(self, path, headers=None):
        status, answer_headers, body = http_get(self.url + path, headers)
        return status, answer_headers, json.loads(body)

    def stop(self):
        self.process.terminate()
        return self.process.wait(timeout=30)


@pytest.fixture
def start(releases, tmp_path):
    running = []

    def started(release, **env):
        workdir = tmp_path / f"service-{len(running)}"
        workdir.mkdir()
        service = RunningService(releases["service"], release, workdir,
                                 {"BLUEGREEN_COLOR": "green", "BLUEGREEN_SERVICE": releases["service"], **env})
        running.append(service)
        return service

    yield started
    for service in running:
        if service.process.poll() is None:
            service.stop()


def test_a_rebuilt_release_has_the_same_checksum(releases, tmp_path):
    assert build(releases["service"], tmp_path, "1.0.0")["sha256"] == releases["healthy"]["sha256"]


def test_version_names_the_built_version_and_the_configured_color(releases, start):
    service = start(releases["healthy"], BLUEGREEN_ENVIRONMENT="staging")
    status, headers, body = service.get("/version")
    assert status == 200 and body == {"service": releases["service"], "version": "1.0.0", "color": "green",
                                      "environment": "staging"}
    assert headers["X-App-Color"] == "green" and headers["X-App-Version"] == "1.0.0"
    assert [service.get("/api/quote")[0] for unused_index in range(20)] == [200] * 20


def test_a_faulty_release_fails_its_business_route_only(releases, start):
    service = start(releases["faulty"])
    assert [service.get("/api/quote")[0] for unused_index in range(10)] == [500] * 10
    assert service.get("/healthz")[0] == 200 and service.get("/version")[2]["version"] == "1.0.1-faulty"


def test_a_color_that_is_not_blue_or_green_stops_the_service(releases, tmp_path):
    workdir = tmp_path / "service"
    workdir.mkdir()
    done = subprocess.run([program(workdir, releases["service"], releases["healthy"])],
                          env={"PATH": os.environ["PATH"], "BLUEGREEN_COLOR": "purple"}, capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.returncode != 0 and 'BLUEGREEN_COLOR="purple" must be blue or green' in done.stderr


def test_spans_reach_otlp_with_the_color_the_version_and_the_callers_trace(releases, start):
    with OtlpSink() as sink:
        service = start(releases["faulty"], OTEL_EXPORTER_OTLP_ENDPOINT=sink.endpoint, OTEL_BSP_SCHEDULE_DELAY="100",
                        OTEL_RESOURCE_ATTRIBUTES="deployment.environment.name=lab,deployment.color=green")
        trace_id = secrets.token_hex(16)
        status, headers, _body = service.get("/api/quote", {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"})
        assert status == 500 and headers["X-Trace-Id"] == trace_id
        spans = wait_until(lambda: sink.spans_of(trace_id), 20, "the quote's span")
        service.stop()
    span = spans[0]
    assert span["name"] == "GET /api/quote" and span["status"] == 2  # STATUS_CODE_ERROR
    assert span["attributes"]["http.response.status_code"] == 500 and span["attributes"]["http.route"] == "/api/quote"
    assert span["resource"]["service.name"] == releases["service"] and span["resource"]["service.version"] == "1.0.1-faulty"
    assert span["resource"]["deployment.color"] == "green"
