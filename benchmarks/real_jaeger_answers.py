"""Search answers produced by the real Jaeger, for the judge benchmark (P4).

The real Jaeger v2 (tests/lab/jaeger/build.sh) runs on loopback with in-memory storage; a
window of one-span traces per color is sent to it over OTLP/HTTP (protobuf, as the SDKs send
it), and its answers to the searches trace_health makes are recorded byte for byte: api_v3
(the service's traces: this Jaeger filters no attributes server side) and the v1 API (one
search per color, filtered by the color tag).
"""

import random
import sys
from datetime import datetime, timezone
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "lab"))

# pylint: disable=wrong-import-position
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest  # noqa: E402
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue  # noqa: E402
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status  # noqa: E402
from trace_servers import RealJaeger, wait_until  # noqa: E402

SERVICE = "bgdemo"
BATCH = 5000


def _attribute(key, value):
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def _export(otlp_url, color, spans, window_start_ns, rng):
    """One-span traces of `color`, 1 % errors, lognormal latencies around 20 ms."""
    resource = [_attribute("service.name", SERVICE), _attribute("service.version", "1.0.0"),
                _attribute("deployment.color", color)]
    for first in range(0, spans, BATCH):
        batch = []
        for index in range(first, min(spans, first + BATCH)):
            error = rng.random() < 0.01
            start = window_start_ns + index * 1000
            batch.append(Span(
                trace_id=rng.getrandbits(128).to_bytes(16, "big"), span_id=rng.getrandbits(64).to_bytes(8, "big"),
                name="GET /api/quote", kind=Span.SPAN_KIND_SERVER, start_time_unix_nano=start,
                end_time_unix_nano=start + int(rng.lognormvariate(3, 0.4) * 1_000_000),
                attributes=[_attribute("http.request.method", "GET"),
                            _attribute("http.response.status_code", 500 if error else 200)],
                status=Status(code=Status.STATUS_CODE_ERROR if error else Status.STATUS_CODE_UNSET)))
        request = ExportTraceServiceRequest(resource_spans=[ResourceSpans(
            resource={"attributes": resource}, scope_spans=[ScopeSpans(spans=batch)])])
        post = urllib.request.Request(f"{otlp_url}/v1/traces", data=request.SerializeToString(),
                                      headers={"Content-Type": "application/x-protobuf"})
        with urllib.request.urlopen(post, timeout=60) as response:
            response.read()


def stamp(epoch):
    """RFC 3339 with nanosecond-capable precision, as api_v3 takes its times."""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _stored_spans(jaeger):
    """Spans Jaeger's storage exporter has written, from Jaeger's own metrics: the OTLP
    receiver answers before the batch processor hands the spans on."""
    with urllib.request.urlopen(f"http://127.0.0.1:{jaeger.ports['telemetry']}/metrics", timeout=5) as response:
        for line in response.read().decode().splitlines():
            if line.startswith("otelcol_exporter_sent_spans") and 'exporter="jaeger_storage_exporter"' in line:
                return int(float(line.rsplit(" ", 1)[1]))
    return 0


def _get(url, params):
    with urllib.request.urlopen(f"{url}?{urllib.parse.urlencode(params)}", timeout=300) as response:
        return response.read()


def record(spans, workdir, window_start, window_end):
    """{"v3": bytes, "v1": {color: bytes}}: the real Jaeger's answers for a window holding
    `spans` spans, half of each color."""
    jaeger = RealJaeger(workdir)
    try:
        rng = random.Random(7)
        per_color = {"blue": spans // 2, "green": spans - spans // 2}
        for color, count in per_color.items():
            _export(jaeger.otlp, color, count, int(window_start * 1e9) + 1_000_000, rng)
        wait_until(lambda: _stored_spans(jaeger) >= spans, 60, f"Jaeger to store {spans} spans")
        v3 = _get(f"{jaeger.url}/api/v3/traces", {
            "query.service_name": SERVICE, "query.start_time_min": stamp(window_start),
            "query.start_time_max": stamp(window_end), "query.num_traces": spans + 1})
        v1 = {color: _get(f"{jaeger.url}/api/traces", {
            "service": SERVICE, "start": int(window_start * 1e6), "end": int(window_end * 1e6),
            "limit": spans + 1, "tags": f'{{"deployment.color":"{color}"}}'}) for color in per_color}
        return {"v3": v3, "v1": v1}
    finally:
        jaeger.stop()
