"""The lab's Go service (tests/lab/goshop), built by its build.sh with the machine's Go from
the module proxy and run as the binary a release ships: the app_env contract (BLUEGREEN_*
variables, /version), its built-in defects, and its spans through the real OpenTelemetry Go
SDK to an OTLP receiver, with the incoming traceparent honoured."""
import json
import os
import secrets
import subprocess
import tarfile
from pathlib import Path

import pytest
from conftest import free_port, http_get, wait_until
from otlp_sink import OtlpSink

BUILD = Path(__file__).resolve().parents[1] / "lab" / "goshop" / "build.sh"


def build(out, version, *defects):
    command = [str(BUILD), "--version", version, "--out", str(out)]
    for defect in defects:
        command += ["--defect", defect]
    return json.loads(subprocess.run(command, check=True, capture_output=True, text=True, timeout=900).stdout)


@pytest.fixture(scope="module")
def releases(tmp_path_factory):
    out = tmp_path_factory.mktemp("goshop")
    return {"healthy": build(out, "1.0.0"), "faulty": build(out, "1.0.1-faulty", "error_rate=1")}


class RunningService:
    def __init__(self, release, workdir, env):
        with tarfile.open(release["path"]) as tarball:
            tarball.extractall(workdir, filter="data")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen([str(workdir / f"goshop-{release['version']}" / "bin" / "goshop")], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                        env={"PATH": os.environ["PATH"], "BLUEGREEN_PORT": str(self.port), **env})
        wait_until(lambda: self.process.poll() is not None or self.answers(), 20, "the Go service to answer")

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
def start(tmp_path):
    running = []

    def started(release, **env):
        workdir = tmp_path / f"service-{len(running)}"
        workdir.mkdir()
        service = RunningService(release, workdir, {"BLUEGREEN_COLOR": "green", "BLUEGREEN_SERVICE": "goshop", **env})
        running.append(service)
        return service

    yield started
    for service in running:
        if service.process.poll() is None:
            service.stop()


def test_a_rebuilt_release_has_the_same_checksum(releases, tmp_path):
    assert build(tmp_path, "1.0.0")["sha256"] == releases["healthy"]["sha256"]


def test_version_names_the_built_version_and_the_configured_color(releases, start):
    service = start(releases["healthy"], BLUEGREEN_ENVIRONMENT="staging")
    status, headers, body = service.get("/version")
    assert status == 200 and body == {"service": "goshop", "version": "1.0.0", "color": "green", "environment": "staging"}
    assert headers["X-App-Color"] == "green" and headers["X-App-Version"] == "1.0.0"
    assert [service.get("/api/quote")[0] for unused_index in range(20)] == [200] * 20


def test_a_faulty_release_fails_its_business_route_only(releases, start):
    service = start(releases["faulty"])
    assert [service.get("/api/quote")[0] for unused_index in range(10)] == [500] * 10
    assert service.get("/healthz")[0] == 200 and service.get("/version")[2]["version"] == "1.0.1-faulty"


def test_a_color_that_is_not_blue_or_green_stops_the_service(releases, tmp_path):
    workdir = tmp_path / "service"
    workdir.mkdir()
    with tarfile.open(releases["healthy"]["path"]) as tarball:
        tarball.extractall(workdir, filter="data")
    done = subprocess.run([str(workdir / "goshop-1.0.0" / "bin" / "goshop")], env={"BLUEGREEN_COLOR": "purple"}, capture_output=True, text=True,
                          timeout=30, check=False)
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
    assert span["resource"]["service.name"] == "goshop" and span["resource"]["service.version"] == "1.0.1-faulty"
    assert span["resource"]["deployment.color"] == "green"
