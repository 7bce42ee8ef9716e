"""The lab's Tempo stand-in (tests/lab/tempo_standin/tempo_standin.py) answers as the Tempo
release it follows does: each test feeds it real OTLP protobuf built with the
opentelemetry-proto classes and reads Tempo's HTTP API back, version by version where
Tempo's behaviour changed."""
import base64
import gzip
import importlib.util
import json
import re
import select
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
import zlib
from pathlib import Path

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import TracesData

STANDIN_PATH = Path(__file__).resolve().parents[3] / "tests" / "lab" / "tempo_standin" / "tempo_standin.py"
_spec = importlib.util.spec_from_file_location("tempo_standin_under_test", STANDIN_PATH)
ts = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(ts)

NOW = 1_800_000_000.0  # the stand-ins' clock in these tests (2027-01-15), fixed
T0 = int(NOW) - 3600  # traces start an hour before "now" unless a test says otherwise
SEC = 10 ** 9
TRACE = "000000000000000000a1b2c3d4e5f601"  # leading zeros: search trims them


# --- helpers ------------------------------------------------------------------------------

class Client:
    def __init__(self, standin, servers):
        self.standin = standin
        self.otlp_url = "http://127.0.0.1:%d" % servers["otlp"].server_address[1]
        self.tempo_url = "http://127.0.0.1:%d" % servers["tempo"].server_address[1]

    def push(self, request, headers=None, body=None, content_type="application/x-protobuf", encoding=None):
        data = body if body is not None else request.SerializeToString()
        all_headers = {"Content-Type": content_type, **(headers or {})}
        if encoding:
            all_headers["Content-Encoding"] = encoding
        return call(urllib.request.Request(self.otlp_url + "/v1/traces", data=data, headers=all_headers,
                                           method="POST"))

    def get(self, path, params=None, headers=None):
        url = self.tempo_url + path + ("?" + urllib.parse.urlencode(params) if params else "")
        return call(urllib.request.Request(url, headers=headers or {}))

    def search(self, q=None, headers=None, **params):
        if q is not None:
            params["q"] = q
        return self.get("/api/search", params, headers)

    def found(self, q, start=T0 - 60, end=T0 + 600, **params):
        status, _headers, body = self.search(q, start=start, end=end, **params)
        assert status == 200, body
        return json.loads(body)["traces"]


def call(request):
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.fixture
def standin():
    servers = []

    def start(version="3.0", multitenant=False, clock=lambda: NOW):
        instance = ts.StandIn(version, multitenant, clock=clock)
        started = ts.serve(instance, poll_interval=0.01)
        servers.extend(started.values())
        return Client(instance, started)

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


def attr(target, key, value):
    kv = target.add()
    kv.key = key
    if isinstance(value, bool):
        kv.value.bool_value = value
    elif isinstance(value, int):
        kv.value.int_value = value
    elif isinstance(value, float):
        kv.value.double_value = value
    elif isinstance(value, list):
        for item in value:
            kv.value.array_value.values.add().string_value = item
    else:
        kv.value.string_value = value


def otlp(*batches):
    """batches: (resource attributes, [span dicts])"""
    request = ExportTraceServiceRequest()
    for resource, spans in batches:
        resource_spans = request.resource_spans.add()
        for key, value in resource.items():
            attr(resource_spans.resource.attributes, key, value)
        scope_spans = resource_spans.scope_spans.add()
        scope_spans.scope.name = "bgdemo"
        scope_spans.scope.version = "1.0"
        for s in spans:
            span = scope_spans.spans.add()
            span.trace_id = bytes.fromhex(s.get("trace", TRACE))
            span.span_id = bytes.fromhex(s["id"])
            if s.get("parent"):
                span.parent_span_id = bytes.fromhex(s["parent"])
            span.name = s.get("name", "op")
            span.kind = s.get("kind", 2)
            span.start_time_unix_nano = s.get("start", T0 * SEC)
            span.end_time_unix_nano = s.get("end", span.start_time_unix_nano + s.get("ms", 10) * 10 ** 6)
            span.flags = 0x101
            if s.get("status"):
                span.status.code = s["status"]
                span.status.message = s.get("message", "")
            for key, value in s.get("attrs", {}).items():
                attr(span.attributes, key, value)
    return request


def checkout(color="green", version="1.4.2", service="checkout"):
    return {"service.name": service, "deployment.color": color, "service.version": version}


def sample_trace(trace=TRACE, start=T0):
    """A server root span, two client children (one failing), all in one trace."""
    return otlp((checkout(), [
        {"trace": trace, "id": "00000000000000a1", "name": "GET /checkout", "kind": 2, "start": start * SEC,
         "ms": 250, "attrs": {"http.status_code": 500, "http.route": "/checkout"}},
        {"trace": trace, "id": "00000000000000a2", "parent": "00000000000000a1", "name": "SELECT", "kind": 3,
         "start": start * SEC + 10 ** 6, "ms": 150, "attrs": {"db.system": "postgres"}},
        {"trace": trace, "id": "00000000000000a3", "parent": "00000000000000a1", "name": "POST /pay", "kind": 3,
         "start": start * SEC + 2 * 10 ** 6, "ms": 50, "status": 2, "message": "boom",
         "attrs": {"http.status_code": 503, "retry": True, "ratio": 0.75}},
    ]))


def b64(hex_id):
    return base64.b64encode(bytes.fromhex(hex_id)).decode()


# --- OTLP in and trace by id --------------------------------------------------------------

def test_standin_trace_by_id_v2_is_gogo_jsonpb(standin):
    tempo = standin("3.0")
    assert tempo.push(sample_trace())[0] == 200
    status, headers, body = tempo.get("/api/v2/traces/" + TRACE)
    assert status == 200 and headers["Content-Type"] == "application/json"
    document = json.loads(body)
    assert document["metrics"]["inspectedBytes"].isdigit()  # uint64 as a string (>= 2.8)
    (batch,) = document["trace"]["resourceSpans"]
    assert {"key": "deployment.color", "value": {"stringValue": "green"}} in batch["resource"]["attributes"]
    (scope,) = batch["scopeSpans"]
    assert scope["scope"] == {"name": "bgdemo", "version": "1.0"}
    root, select, pay = scope["spans"]  # sorted by start time
    assert root["traceId"] == b64(TRACE) and root["spanId"] == b64("00000000000000a1")
    assert "parentSpanId" not in root and select["parentSpanId"] == b64("00000000000000a1")
    assert root["kind"] == "SPAN_KIND_SERVER" and select["kind"] == "SPAN_KIND_CLIENT"
    assert root["startTimeUnixNano"] == str(T0 * SEC) and root["endTimeUnixNano"] == str(T0 * SEC + 250 * 10 ** 6)
    assert {"key": "http.status_code", "value": {"intValue": "500"}} in root["attributes"]
    assert root["status"] == {} and select["status"] == {}
    assert pay["status"] == {"code": "STATUS_CODE_ERROR", "message": "boom"}
    assert {"key": "retry", "value": {"boolValue": True}} in pay["attributes"]
    assert "flags" not in root  # Tempo's blocks do not keep span flags


def test_standin_trace_by_id_v1_has_batches_and_404_with_no_body_when_unknown(standin):
    tempo = standin("2.9")
    tempo.push(sample_trace())
    status, _headers, body = tempo.get("/api/traces/" + TRACE)
    document = json.loads(body)
    assert status == 200 and list(document) == ["batches"]
    assert len(document["batches"][0]["scopeSpans"][0]["spans"]) == 3
    # a short id is left-padded with zeros (pkg/util/traceid.go)
    assert tempo.get("/api/traces/a1b2c3d4e5f601")[0] == 200
    status, headers, body = tempo.get("/api/traces/" + "f" * 32)
    assert (status, body) == (404, b"")
    assert standin("2.4").get("/api/traces/" + "f" * 32)[::2] == (404, b"trace not found")


@pytest.mark.parametrize("version, expected", [
    ("3.0", {"trace": {}, "metrics": {}}),  # always 200 (grafana/tempo#5105); metrics from 2.8
    ("2.8", {"trace": {}, "metrics": {}}),
    ("2.7", {"trace": {}}),
    ("2.6", {"trace": {}}),
])
def test_standin_trace_by_id_v2_unknown_trace_is_an_empty_trace(standin, version, expected):
    status, _headers, body = standin(version).get("/api/v2/traces/" + "f" * 32)
    assert (status, json.loads(body)) == (200, expected)


def test_standin_trace_by_id_v2_needs_2_6(standin):
    tempo = standin("2.5")
    tempo.push(sample_trace())
    assert tempo.get("/api/v2/traces/" + TRACE)[::2] == (404, b"404 page not found\n")
    assert tempo.get("/api/traces/" + TRACE)[0] == 200


def test_standin_trace_id_and_range_are_validated(standin):
    tempo = standin("3.0")
    assert tempo.get("/api/traces/xyz")[::2] == (
        400, b"trace IDs can only contain hex characters: invalid character 'x' at position 1")
    assert tempo.get("/api/v2/traces/" + "a" * 33)[::2] == (400, b"trace IDs can't be larger than 128 bits")
    assert tempo.get("/api/v2/traces/" + TRACE, {"start": "20", "end": "10"})[::2] == (
        400, b"http parameter start must be before end. received start=20 end=10")


def test_standin_trace_by_id_in_protobuf_on_request(standin):
    tempo = standin("3.0")
    tempo.push(sample_trace())
    status, headers, body = tempo.get("/api/traces/" + TRACE, headers={"Accept": "application/protobuf"})
    assert status == 200 and headers["Content-Type"] == "application/protobuf"
    trace = TracesData()
    trace.ParseFromString(body)  # tempopb.Trace and TracesData share their wire format
    assert len(trace.resource_spans[0].scope_spans[0].spans) == 3
    status, _headers, body = tempo.get("/api/v2/traces/" + TRACE, headers={"Accept": "application/protobuf"})
    assert status == 200 and body[0] == 0x0A  # TraceByIDResponse field 1: the trace


def test_standin_otlp_json_gzip_and_deflate_are_accepted(standin):
    tempo = standin("3.0")
    first = sample_trace(trace="0" * 31 + "1")
    as_json = json.loads(json.dumps(ts.json_format.MessageToDict(first)))
    for span in as_json["resourceSpans"][0]["scopeSpans"][0]["spans"]:  # OTLP/JSON ids are hex
        for key in ("traceId", "spanId", "parentSpanId"):
            if key in span:
                span[key] = base64.b64decode(span[key]).hex()
    status, headers, body = tempo.push(None, body=json.dumps(as_json).encode(), content_type="application/json")
    assert (status, headers["Content-Type"], body) == (200, "application/json", b"{}")
    assert tempo.push(sample_trace(trace="0" * 31 + "2"), encoding="gzip",
                      body=gzip.compress(sample_trace(trace="0" * 31 + "2").SerializeToString()))[0] == 200
    assert tempo.push(None, encoding="deflate",
                      body=zlib.compress(sample_trace(trace="0" * 31 + "3").SerializeToString()))[0] == 200
    for trace in ("1", "2", "3"):
        status, _headers, body = tempo.get("/api/v2/traces/" + trace)
        assert len(json.loads(body)["trace"]["resourceSpans"][0]["scopeSpans"][0]["spans"]) == 3, trace


def test_standin_otlp_refusals(standin):
    tempo = standin("3.0")
    status, headers, body = tempo.push(sample_trace(), content_type="text/plain")
    assert status == 415 and b"unsupported media type" in body
    status, _headers, body = tempo.push(None, body=b"\x28\xb5\x2f\xfd", encoding="zstd")
    assert status == 400 and b"zstd" in body
    status, _headers, body = tempo.push(None, body=b"\xff\xff not protobuf")
    assert status == 400 and body[:2] == b"\x08\x03"  # google.rpc.Status{code: InvalidArgument}
    assert call(urllib.request.Request(tempo.otlp_url + "/v1/traces"))[0] == 405


def test_standin_spans_sent_twice_are_kept_once(standin):
    tempo = standin("3.0")
    tempo.push(sample_trace())
    tempo.push(sample_trace())  # an exporter's retry
    status, _headers, body = tempo.get("/api/v2/traces/" + TRACE)
    assert len(json.loads(body)["trace"]["resourceSpans"][0]["scopeSpans"][0]["spans"]) == 3
    (trace,) = tempo.found("{ }")
    assert trace["spanSets"][0]["matched"] == 3


# --- search: shape ------------------------------------------------------------------------

def test_standin_search_result_shape(standin):
    tempo = standin("3.0")
    tempo.push(sample_trace())
    status, headers, body = tempo.search('{ resource.service.name = "checkout" && span.http.status_code >= 500 }',
                                         start=T0 - 60, end=T0 + 60)
    assert status == 200 and headers["Content-Type"] == "application/json"
    document = json.loads(body)
    assert set(document) == {"traces", "metrics"} and document["metrics"]["completedJobs"] == 1
    (trace,) = document["traces"]
    assert trace["traceID"] == "a1b2c3d4e5f601"  # leading zeros trimmed
    assert trace["rootServiceName"] == "checkout" and trace["rootTraceName"] == "GET /checkout"
    assert trace["startTimeUnixNano"] == str(T0 * SEC) and trace["durationMs"] == 250
    assert trace["serviceStats"] == {"checkout": {"spanCount": 3, "errorCount": 1}}
    (span_set,) = trace["spanSets"]
    assert trace["spanSet"] == span_set  # the deprecated copy
    assert span_set["matched"] == 2
    root, pay = span_set["spans"]
    assert root == {
        "spanID": "00000000000000a1", "startTimeUnixNano": str(T0 * SEC), "durationNanos": str(250 * 10 ** 6),
        "attributes": [{"key": "service.name", "value": {"stringValue": "checkout"}},
                       {"key": "http.status_code", "value": {"intValue": "500"}}]}
    assert pay["spanID"] == "00000000000000a3" and "name" not in pay  # no name unless selected


def test_standin_search_names_only_when_the_query_selects_or_filters_them(standin):
    tempo = standin("3.0")
    tempo.push(sample_trace())
    spans = tempo.found("{ status = error } | select(name, span.retry)")[0]["spanSets"][0]["spans"]
    assert spans[0]["name"] == "POST /pay"
    assert spans[0]["attributes"] == [{"key": "status", "value": {"stringValue": "error"}},
                                      {"key": "retry", "value": {"boolValue": True}}]
    spans = tempo.found("{ span:kind = client } | select(span:name)")[0]["spanSets"][0]["spans"]
    assert [s["name"] for s in spans] == ["SELECT", "POST /pay"]
    assert spans[0]["attributes"] == [{"key": "kind", "value": {"stringValue": "client"}}]
    spans = tempo.found('{ name = "SELECT" }')[0]["spanSets"][0]["spans"]
    assert spans[0]["name"] == "SELECT" and "attributes" not in spans[0]


@pytest.mark.parametrize("version", ["2.4", "2.5", "2.9", "3.0"])
def test_standin_scoped_intrinsics_need_2_5(standin, version):
    tempo = standin(version)
    tempo.push(sample_trace())
    assert tempo.found("{ kind = client } | select(name)")[0]["spanSets"][0]["spans"][0]["name"] == "SELECT"
    status, _headers, body = tempo.search("{ span:kind = client } | select(span:name)", start=T0 - 60, end=T0 + 60)
    if version == "2.4":
        assert status == 400 and body.startswith(b"invalid TraceQL query: parse error at line 1, col ")
    else:
        assert status == 200 and json.loads(body)["traces"][0]["spanSets"][0]["spans"][0]["name"] == "SELECT"


@pytest.mark.parametrize("version, has_stats", [("2.5", False), ("2.6", True), ("3.0", True)])
def test_standin_service_stats_from_2_6(standin, version, has_stats):
    tempo = standin(version)
    tempo.push(sample_trace())
    assert ("serviceStats" in tempo.found("{ }")[0]) == has_stats


def test_standin_root_not_yet_received(standin):
    tempo = standin("3.0")
    tempo.push(otlp((checkout(), [{"id": "00000000000000b2", "parent": "00000000000000b1", "name": "child"}])))
    (trace,) = tempo.found("{ }")
    assert trace["rootServiceName"] == "<root span not yet received>" and "rootTraceName" not in trace


def test_standin_search_without_q_lists_traces_without_span_sets(standin):
    tempo = standin("3.0")
    tempo.push(sample_trace())
    status, _headers, body = tempo.search(start=T0 - 60, end=T0 + 60)
    (trace,) = json.loads(body)["traces"]
    assert set(trace) == {"traceID", "rootServiceName", "rootTraceName", "startTimeUnixNano", "durationMs"}
    status, _headers, body = tempo.search(tags="service.name=checkout", start=T0 - 60, end=T0 + 60)
    assert status == 400 and b"lab Tempo stand-in" in body


# --- search: limits -----------------------------------------------------------------------

def many_traces(count, spans_each):
    batches = []
    for t in range(count):
        trace = "%032x" % (0xABC000 + t)
        spans = [{"trace": trace, "id": "%016x" % (t * 100 + s + 1), "start": (T0 + t) * SEC + s,
                  "attrs": {"http.status_code": 500}} for s in range(spans_each)]
        batches.append((checkout(), spans))
    return otlp(*batches)


def test_standin_search_defaults_limit_20_and_3_spans_per_set(standin):
    tempo = standin("3.0")
    tempo.push(many_traces(25, 5))
    traces = tempo.found("{ span.http.status_code = 500 }")
    assert len(traces) == 20
    starts = [int(t["startTimeUnixNano"]) for t in traces]
    assert starts == sorted(starts, reverse=True) and starts[0] == (T0 + 24) * SEC  # newest first
    assert {len(t["spanSets"][0]["spans"]) for t in traces} == {3}
    assert {t["spanSets"][0]["matched"] for t in traces} == {5}
    assert len(tempo.found("{ }", limit=25, spss=5)[0]["spanSets"][0]["spans"]) == 5


@pytest.mark.parametrize("version, over_100", [("2.6", 200), ("2.7.0", 400), ("2.9", 400), ("3.0", 400)])
def test_standin_spss_above_100_is_refused_from_2_7(standin, version, over_100):
    tempo = standin(version)
    tempo.push(many_traces(1, 120))
    assert len(tempo.found("{ }", spss=100)[0]["spanSets"][0]["spans"]) == 100
    status, _headers, body = tempo.search("{ }", start=T0 - 60, end=T0 + 60, spss=101)
    assert status == over_100
    if over_100 == 400:
        assert body == b"spans per span set exceeds 100. received 101"
    else:
        assert len(json.loads(body)["traces"][0]["spanSets"][0]["spans"]) == 101


@pytest.mark.parametrize("version, zero, negative", [
    ("2.9", (400, b"invalid spss: must be a positive number"), b"invalid spss: must be a positive number"),
    ("2.10", (200, 3), b"invalid spss: must be a non-negative number"),
    ("3.0", (200, 3), b'invalid spss: strconv.ParseUint: parsing "-1": invalid syntax'),
])
def test_standin_spss_zero_is_accepted_from_2_10(standin, version, zero, negative):
    tempo = standin(version)
    tempo.push(many_traces(1, 5))
    status, _headers, body = tempo.search("{ }", start=T0 - 60, end=T0 + 60, spss=0)
    if zero[0] == 400:
        assert (status, body) == zero
    else:  # accepted; the engine reads 0 as its default of 3 (pkg/traceql/engine.go)
        assert (status, len(json.loads(body)["traces"][0]["spanSets"][0]["spans"])) == zero
    assert tempo.search("{ }", start=T0 - 60, end=T0 + 60, spss=-1)[::2] == (400, negative)


@pytest.mark.parametrize("version, refused", [("2.9.1", False), ("2.9.5", True), ("2.10.1", False),
                                              ("2.10.2", True), ("3.0", True)])
def test_standin_limit_maximum_follows_the_patch_release(standin, version, refused):
    tempo = standin(version)
    status, _headers, body = tempo.search("{ }", start=T0 - 60, end=T0 + 60, limit=300000)
    assert (status, body) == ((400, b"limit 300000 exceeds max limit 262144") if refused else (200, body))
    assert tempo.search("{ }", limit=0)[::2] == (400, b"invalid limit: must be a positive number")


# --- search: time window ------------------------------------------------------------------

def long_trace():
    """One trace from T0 to T0+20s whose only failing span starts at T0+15s."""
    return otlp((checkout(), [
        {"id": "00000000000000c1", "name": "batch", "start": T0 * SEC, "end": (T0 + 20) * SEC},
        {"id": "00000000000000c2", "parent": "00000000000000c1", "start": (T0 + 15) * SEC, "status": 2},
    ]))


def test_standin_window_selects_traces_by_overlap_not_spans_by_start(standin):
    tempo = standin("2.9")
    tempo.push(long_trace())
    (trace,) = tempo.found("{ status = error }", start=T0 + 5, end=T0 + 10)
    assert trace["spanSets"][0]["spans"][0]["spanID"] == "00000000000000c2"  # started after `end`
    assert tempo.found("{ status = error }", start=T0 + 19, end=T0 + 30)  # overlaps at the trace's end
    assert tempo.found("{ }", start=T0 + 21, end=T0 + 30) == []
    assert tempo.found("{ }", start=T0 - 30, end=T0 - 1) == []


def recent_traces():
    """Traces that started 20 minutes, 60 seconds and 5 seconds before NOW."""
    return otlp(*[(checkout(), [{"trace": "%032x" % age, "id": "%016x" % age, "start": int(NOW - age) * SEC}])
                  for age in (1200, 60, 5)])


@pytest.mark.parametrize("version, without_range, with_range_to_the_future", [
    ("2.9", {1200, 60, 5}, {60, 5}),  # no range: all recent data; end in the future is fine
    ("2.10", {60, 5}, {60, 5}),  # no range: the last 15 minutes; end clamped to now
    ("3.0", {60}, {60}),  # ... and to now - 30s (query_end_cutoff)
])
def test_standin_recent_search_window_by_version(standin, version, without_range, with_range_to_the_future):
    tempo = standin(version)
    tempo.push(recent_traces())

    def ages(traces):
        return {int(t["traceID"], 16) for t in traces}

    status, _headers, body = tempo.search("{ }")
    assert status == 200 and ages(json.loads(body)["traces"]) == without_range
    assert ages(tempo.found("{ }", start=int(NOW) - 300, end=int(NOW) + 60)) == with_range_to_the_future


def test_standin_since_from_2_10(standin):
    tempo = standin("3.0")
    tempo.push(recent_traces())
    status, _headers, body = tempo.search("{ }", since="30m")
    assert status == 200 and len(json.loads(body)["traces"]) == 2
    assert tempo.search("{ }", since="soon")[0] == 400


def test_standin_search_parameter_checks(standin):
    tempo = standin("2.9")
    assert tempo.search("{ }", start=T0)[::2] == (
        400, b"http parameter start must be before end. received start=%d end=0" % T0)
    assert tempo.search("{ }", start="abc", end=T0)[::2] == (
        400, b'invalid start: strconv.ParseInt: parsing "abc": invalid syntax')
    assert standin("3.0").search("{ }", start=-5, end=T0)[::2] == (
        400, b'invalid start: strconv.ParseUint: parsing "-5": invalid syntax')
    assert tempo.search("{ }", start=T0 - 8 * 86400, end=T0)[::2] == (
        400, b"range specified by start and end exceeds 168h0m0s. received start=%d end=%d" % (T0 - 8 * 86400, T0))
    assert tempo.search("{ }", tags="a=b")[::2] == (
        400, b"invalid request: can't specify tags and q in the same query")


# --- search: TraceQL ----------------------------------------------------------------------

@pytest.mark.parametrize("query, span_ids", [
    ('{ resource.deployment.color = "green" }', {"a1", "a2", "a3"}),
    ('{ resource.deployment.color != "green" }', set()),
    ("{ .http.status_code = 500 }", {"a1"}),  # unscoped: the span's attribute
    ('{ .deployment.color = "green" && kind = server }', {"a1"}),  # unscoped: then the resource's
    ('{ span.http.status_code = "500" }', set()),  # an int is never equal to a string
    ('{ span.http.route != "/elsewhere" }', {"a1"}),  # != needs the attribute to exist
    ("{ span.http.status_code != nil }", {"a1", "a3"}),
    ("{ status = error }", {"a3"}),
    ("{ span:status != error }", {"a1", "a2"}),
    ("{ kind = client && duration > 100ms }", {"a2"}),
    ("{ span:duration >= 150ms }", {"a1", "a2"}),
    ("{ duration < 0.1s }", {"a3"}),
    ('{ name = "GET /checkout" }', {"a1"}),
    ('{ span:name != "SELECT" && span.retry = true }', {"a3"}),
    ("{ span.ratio > 0.5 && span.ratio <= 1 }", {"a3"}),
    ('{ statusMessage = "boom" }', {"a3"}),
    ('{ span.http.route >= "/c" }', {"a1"}),
    ("{ }", {"a1", "a2", "a3"}),
])
def test_standin_traceql_subset(standin, query, span_ids):
    tempo = standin("3.0")
    tempo.push(sample_trace())
    traces = tempo.found(query, spss=10)
    assert {s["spanID"][-2:] for t in traces for s in t["spanSets"][0]["spans"]} == span_ids


@pytest.mark.parametrize("version, matches", [("2.9", {"b1", "b2"}), ("3.0", {"b2"})])
def test_standin_not_equal_on_arrays_changed_in_3_0(standin, version, matches):
    tempo = standin(version)
    tempo.push(otlp((checkout(), [{"id": "00000000000000b1", "attrs": {"tags": ["a", "b"]}},
                                  {"id": "00000000000000b2", "attrs": {"tags": ["c"]}}])))
    traces = tempo.found('{ span.tags != "a" }', spss=10)
    assert {s["spanID"][-2:] for t in traces for s in t["spanSets"][0]["spans"]} == matches
    assert len(tempo.found('{ span.tags = "b" }')) == 1


@pytest.mark.parametrize("query", [
    "{ .a = 1 } && { .b = 2 }",
    "{ .a = 1 || .b = 2 }",
    '{ .a =~ "x.*" }',
    "{ .a = 1 } | count() > 2",
    "{ .a = 1 } >> { .b = 2 }",
    "{ .a = 1 } | by(.b)",
    "{ trace:duration > 1s }",
    "{ parent.a = 1 }",
    "({ .a = 1 })",
    "{ .a = .b }",
    "{ .a }",
    "{ .a = 1 } with(most_recent=true)",
    "{ .a = }",
    "{ .a = 1",
    "not traceql",
])
def test_standin_unsupported_or_broken_traceql_is_a_400_parse_error(standin, query):
    tempo = standin("3.0")
    tempo.push(sample_trace())
    status, _headers, body = tempo.search(query, start=T0 - 60, end=T0 + 60)
    assert status == 400 and body.startswith(b"invalid TraceQL query: parse error at line 1, col "), body


@pytest.mark.parametrize("query, message", [
    ('{ status = "error" }', "binary operations must operate on the same type: status = `error`"),
    ("{ name = 5 }", "binary operations must operate on the same type: name = 5"),
    ("{ kind > server }", "illegal operation for the given types: kind > server"),
    ("{ .a = nil }", "{.a = nil} not yet supported"),
])
def test_standin_invalid_traceql_by_version(standin, query, message):
    status, _headers, body = standin("3.0").search(query, start=T0 - 60, end=T0 + 60)
    assert (status, body.decode()) == (400, "invalid TraceQL query: " + message)
    # <= 2.6 the frontend only parses; the querier's engine validates and answers 500
    status, _headers, body = standin("2.6").search(query, start=T0 - 60, end=T0 + 60)
    assert (status, body.decode()) == (500, message)


@pytest.mark.parametrize("version, status", [("2.6", 200), ("2.7", 400), ("3.0", 400)])
def test_standin_query_size_limit_from_2_7(standin, version, status):
    query = "{ " + " && ".join(['span.k%d != "x"' % i for i in range(9000)]) + " }"  # ~150 KB
    answer = standin(version).search(query, start=T0 - 60, end=T0 + 60)
    assert answer[0] == status
    if status == 400:
        assert answer[2].startswith(b"TraceQL expression exceeds the configured maximum size of 131072 bytes")


# --- tenants ------------------------------------------------------------------------------

def test_standin_multitenant_needs_x_scope_orgid(standin):
    tempo = standin("3.0", multitenant=True)
    for path in ("/api/search", "/api/traces/" + TRACE, "/api/v2/traces/" + TRACE):
        status, headers, body = tempo.get(path)
        assert (status, body, headers["Content-Type"]) == (401, b"no org id\n", "text/plain; charset=utf-8"), path
    assert tempo.get("/api/echo")[0] == tempo.get("/ready")[0] == tempo.get("/api/status/buildinfo")[0] == 200

    status, _headers, body = tempo.push(sample_trace())  # no tenant: the receiver's retryable Unavailable
    assert status == 503 and body[:2] == b"\x08\x0e" and body.endswith(b"no org id")
    assert tempo.push(ExportTraceServiceRequest())[0] == 200  # no spans, no tenant check
    assert tempo.push(sample_trace(), headers={"X-Scope-OrgID": "team-a"})[0] == 200

    def visible(tenant):
        return tempo.found("{ }", headers={"X-Scope-OrgID": tenant})

    assert len(visible("team-a")) == 1 and visible("team-b") == [] and len(visible("team-b|team-a")) == 1
    assert tempo.get("/api/traces/" + TRACE, headers={"X-Scope-OrgID": "team-b"})[0] == 404
    assert tempo.get("/api/traces/" + TRACE, headers={"X-Scope-OrgID": "team-a"})[0] == 200


def test_standin_multitenant_push_without_tenant_was_a_500_in_2_4(standin):
    status, _headers, body = standin("2.4", multitenant=True).push(sample_trace())
    assert status == 500 and body.endswith(b"no org id")


def test_standin_single_tenant_ignores_x_scope_orgid(standin):
    tempo = standin("3.0")
    tempo.push(sample_trace(), headers={"X-Scope-OrgID": "team-a"})
    assert len(tempo.found("{ }", headers={"X-Scope-OrgID": "team-b"})) == 1
    assert len(tempo.found("{ }")) == 1
    assert list(tempo.standin.store.traces) == ["single-tenant"]


# --- plumbing -----------------------------------------------------------------------------

def test_standin_ready_echo_buildinfo(standin):
    tempo = standin("3.0")
    assert tempo.get("/ready")[::2] == (200, b"ready\n")
    assert tempo.get("/api/echo")[::2] == (200, b"echo\n")
    status, headers, body = tempo.get("/api/status/buildinfo")
    info = json.loads(body)
    assert set(info) == {"version", "revision", "branch", "buildUser", "buildDate", "goVersion"}
    assert info["version"] == "v3.0.3" and "LAB-STAND-IN" in info["branch"] and "LAB-STAND-IN" in info["revision"]
    assert json.loads(standin("2.9.1").get("/api/status/buildinfo")[2])["version"] == "v2.9.1"
    assert tempo.get("/api/nothing")[::2] == (404, b"404 page not found\n")


@pytest.mark.parametrize("text", ["2.3", "2.9.9", "4.0", "latest"])
def test_standin_refuses_versions_it_did_not_follow(text):
    with pytest.raises(ValueError):
        ts.parse_version(text)


def test_standin_labelled_as_a_lab_standin():
    assert ts.__doc__.startswith("LAB STAND-IN for Grafana Tempo. It is NOT Tempo.")


def test_standin_command_line():
    # port 0 and the ports read from the startup line: ports picked here and handed over could be
    # taken by another test's server in between, which then answers in the stand-in's place
    process = subprocess.Popen(
        [sys.executable, str(STANDIN_PATH), "--address", "127.0.0.1", "--otlp-port", "0",
         "--tempo-port", "0", "--tempo-version", "2.9", "--multitenant"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        readable = select.select([process.stdout], [], [], 20)[0]
        assert readable, "the stand-in printed no startup line in time"
        line = process.stdout.readline()
        ports = re.search(r"OTLP/HTTP :(\d+), Tempo API :(\d+) \(multitenant\)", line)
        assert ports, line + process.stdout.read()
        otlp_port, tempo_port = (int(port) for port in ports.groups())
        assert call(urllib.request.Request(f"http://127.0.0.1:{tempo_port}/ready"))[0] == 200
        base = f"http://127.0.0.1:{tempo_port}"
        info = json.loads(call(urllib.request.Request(base + "/api/status/buildinfo"))[2])
        assert info["version"] == "v2.9.5"
        assert call(urllib.request.Request(base + "/api/search"))[0] == 401
        request = urllib.request.Request(f"http://127.0.0.1:{otlp_port}/v1/traces",
                                         data=sample_trace().SerializeToString(), method="POST",
                                         headers={"Content-Type": "application/x-protobuf", "X-Scope-OrgID": "lab"})
        assert call(request)[0] == 200
        assert call(urllib.request.Request(base + "/api/traces/" + TRACE, headers={"X-Scope-OrgID": "lab"}))[0] == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
    bad = subprocess.run([sys.executable, str(STANDIN_PATH), "--tempo-version", "1.5"], capture_output=True,
                         text=True, timeout=30, check=False)
    assert bad.returncode == 2 and "was not read for this stand-in" in bad.stderr


def test_standin_store_drops_the_oldest_spans_past_its_bound():
    store = ts.Store(max_spans=2)
    store.add("single-tenant", otlp((checkout(), [{"id": "00000000000000d1", "start": T0 * SEC},
                                                  {"id": "00000000000000d2", "start": (T0 + 5) * SEC}])))
    store.add("single-tenant", otlp((checkout(), [{"id": "00000000000000d3", "start": (T0 + 9) * SEC}])))
    spans = store.trace(["single-tenant"], bytes.fromhex(TRACE))
    assert [s.span_id.hex()[-2:] for s in spans] == ["d2", "d3"]
    assert store.all_traces(["single-tenant"], T0 * SEC, (T0 + 1) * SEC) == []  # bounds follow the eviction
