"""The Collector path of the tracing_agent role, run for real with goshop, the lab's Go
service: every app host runs the Collector as otelcol.service, the service exports to it
through the OpenTelemetry Go SDK, and the Collector forwards to the real Jaeger on the
trace-store host with the host's color set on the resource whatever the sender said.
A configuration the Collector refuses, or a binary with the wrong checksum, fails the role
and leaves the Collector, its files and its unit as they were."""
import json
import os
import secrets
import shlex
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import testinfra

APP_HOSTS = {"svc-blue-1": "blue", "svc-green-1": "green"}
JAEGER = "http://127.0.0.1:29686"
COLLECTOR_BINARY = "/usr/local/bin/otelcol"
COLLECTOR_CONFIG = "/etc/otelcol/config.yaml"
COLLECTOR_UNIT = "/etc/systemd/system/otelcol.service"
SCENARIO = Path(__file__).resolve().parent.parent


def host(name):
    return testinfra.get_host(f"podman://{name}")


def jaeger_trace(trace_id, timeout=30):
    """[(resource attributes, span)] of one trace in Jaeger's api_v3, waited for."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{JAEGER}/api/v3/traces/{trace_id}", timeout=5) as response:
                document = json.load(response)
            spans = [
                (attributes(resource_spans.get("resource", {}).get("attributes")), span)
                for resource_spans in document.get("result", {}).get("resourceSpans", [])
                for scope_spans in resource_spans.get("scopeSpans", [])
                for span in scope_spans.get("spans", [])
            ]
            if spans:
                return spans
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                raise
        assert time.monotonic() < deadline, f"trace {trace_id} did not reach Jaeger within {timeout} s"
        time.sleep(0.5)


def attributes(items):
    return {item["key"]: next(iter(item.get("value", {}).values()), None) for item in items or ()}


def run_converge(*extra_args):
    """converge.yml again on svc-blue-1 (and the controller's plays), as molecule runs it."""
    inventory = os.path.dirname(os.environ["MOLECULE_INVENTORY_FILE"])
    # Plain output: molecule forces colors, which would hide the recap lines from the checks.
    env = {**os.environ, "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1"}
    return subprocess.run(
        ["ansible-playbook", "--inventory", inventory, "--limit", "svc-blue-1,localhost",
         str(SCENARIO / "converge.yml"), *extra_args],
        capture_output=True, text=True, timeout=600, check=False, env=env,
    )


def collector_state(name):
    """What a refused run must leave exactly as it was."""
    h = host(name)
    return {
        "unit_mtime": h.check_output(f"stat -c %y {COLLECTOR_UNIT}"),
        "unit": h.check_output(f"sha256sum {COLLECTOR_UNIT}"),
        "config": h.check_output(f"sha256sum {COLLECTOR_CONFIG}"),
        "config_mtime": h.check_output(f"stat -c %y {COLLECTOR_CONFIG}"),
        "binary": h.check_output(f"sha256sum {COLLECTOR_BINARY}"),
        "service": h.check_output("systemctl show otelcol.service -p MainPID -p ActiveEnterTimestampMonotonic"),
        "staged": h.file(f"{COLLECTOR_BINARY}.staged").exists,
    }


@pytest.mark.parametrize("name", APP_HOSTS)
def test_collector_runs_as_its_own_user_which_alone_may_read_the_configuration(name):
    h = host(name)
    service = h.service("otelcol")
    assert service.is_running
    assert service.is_enabled
    pid = h.check_output("systemctl show otelcol.service -p MainPID --value")
    assert h.check_output(f"ps -o user= -p {pid}") == "otelcol"
    config = h.file(COLLECTOR_CONFIG)
    assert (config.user, config.group, config.mode) == ("root", "otelcol", 0o640)
    assert not h.file(f"{COLLECTOR_BINARY}.staged").exists


@pytest.mark.parametrize("name", APP_HOSTS)
def test_service_exports_to_its_local_collector(name):
    env = host(name).file("/etc/goshop/tracing.env").content_string
    assert "OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318\n" in env
    assert "OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf\n" in env


@pytest.mark.parametrize("name, color", APP_HOSTS.items())
def test_a_request_to_the_service_reaches_jaeger_through_the_collector(name, color):
    trace_id, parent_id = secrets.token_hex(16), secrets.token_hex(8)
    host(name).check_output(
        f"curl -fsS -o /dev/null -H 'traceparent: 00-{trace_id}-{parent_id}-01' http://127.0.0.1:8080/api/quote")
    resources = [resource for resource, span in jaeger_trace(trace_id) if resource.get("service.name") == "goshop"]
    assert resources, "no span of goshop in the trace"
    for resource in resources:
        assert resource["deployment.color"] == color
        assert resource["deployment.environment.name"] == "molecule"
        assert resource["service.version"] == "1.0.0"


@pytest.mark.parametrize("name, color", APP_HOSTS.items())
def test_collector_sets_the_color_and_redacts_whatever_the_sender_reports(name, color):
    """A sender that misreports its color and environment and records a user's e-mail: the
    Collector's resource processor puts the host's color and environment on the resource,
    its attributes processor deletes the e-mail."""
    trace_id, span_id = secrets.token_hex(16), secrets.token_hex(8)
    now = time.time_ns()
    wrong_color = "green" if color == "blue" else "blue"
    body = {"resourceSpans": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "svc-misreporting-sender"}},
            {"key": "deployment.color", "value": {"stringValue": wrong_color}},
            {"key": "deployment.environment.name", "value": {"stringValue": "elsewhere"}},
        ]},
        "scopeSpans": [{"scope": {"name": "molecule"}, "spans": [{
            "traceId": trace_id, "spanId": span_id, "name": "GET /misreported", "kind": 2,
            "startTimeUnixNano": str(now - 5_000_000), "endTimeUnixNano": str(now),
            "attributes": [
                {"key": "user.email", "value": {"stringValue": "someone@example.com"}},
                {"key": "http.route", "value": {"stringValue": "/misreported"}},
            ],
        }]}],
    }]}
    host(name).check_output(
        "curl -fsS -o /dev/null -H 'Content-Type: application/json' --data "
        f"{shlex.quote(json.dumps(body))} http://127.0.0.1:4318/v1/traces")
    [(resource, span)] = jaeger_trace(trace_id)
    assert resource["deployment.color"] == color
    assert resource["deployment.environment.name"] == "molecule"
    span_attributes = attributes(span.get("attributes"))
    assert "user.email" not in span_attributes
    assert span_attributes["http.route"] == "/misreported"


def test_check_mode_changes_nothing():
    before = collector_state("svc-blue-1")
    result = run_converge("--check")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    recap = next(line for line in result.stdout.splitlines() if line.startswith("svc-blue-1 "))
    assert "changed=0" in recap, recap
    assert collector_state("svc-blue-1") == before


def test_a_configuration_the_collector_refuses_changes_nothing():
    before = collector_state("svc-blue-1")
    result = run_converge("-e", "tracing_agent_collector_memory_limit_mib=0")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert "Render the Collector configuration, checked by the Collector, and its unit failed on svc-blue-1" in output, output[-3000:]
    assert "'limit_mib' or 'limit_percentage' must be greater than zero" in output, output[-3000:]
    assert collector_state("svc-blue-1") == before


def test_a_binary_with_the_wrong_checksum_replaces_nothing():
    before = collector_state("svc-blue-1")
    wrong = "0" * 64
    result = run_converge("-e", f"tracing_agent_collector_sha256={wrong}")
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert f"expected {wrong}" in output, output[-3000:]
    assert collector_state("svc-blue-1") == before
