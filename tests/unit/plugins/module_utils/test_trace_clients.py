"""Backend clients on responses recorded in the upstream shapes (fixtures/traces). The
subject is our parsing: the HTTP session is a stand-in that answers from the fixtures."""
import io
import json
import time
from pathlib import Path

import pytest

from ansible_collections.tracegate.bluegreen.plugins.module_utils import analysis, probe
from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces import model, search
from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces.backends import (
    BACKEND_ARGUMENT_SPEC,
    backend_from_params,
    deprecated_backend,
)
from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces.http import HttpClient
from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces.jaeger import JaegerV1, JaegerV3
from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces.prometheus import PrometheusRedMetrics, PrometheusSpanMetrics
from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces.tempo import MAX_WHOLE_TRACES, Tempo
from ansible_collections.tracegate.bluegreen.plugins.module_utils.traces.zipkin import Zipkin

FIXTURES = Path(__file__).parent / "fixtures" / "traces"
START, END = 1764071940.0, 1764072060.0
BASE = "http://backend:1234"


class Response:
    def __init__(self, status, body):
        self.status_code = status
        self.text = body if isinstance(body, str) else json.dumps(body)
        # The client reads every answer as a stream (HttpClient._get).
        self.headers = {}
        self.raw = io.BytesIO(self.text.encode())

    def close(self):
        pass

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
    return HttpClient(BASE + "/", session=session, retries=0, **kwargs), session


def query(color="green", limit=100, service="bgdemo"):
    return model.TraceQuery(service, START, END, color=color, limit=limit)


def spans_of(backend, q):
    return backend.spans(q, model.SkippedSpans())


def fixture(name):
    return json.loads((FIXTURES / name).read_text())


def params_with(**overrides):
    params = {key: spec.get("default") for key, spec in BACKEND_ARGUMENT_SPEC.items()}
    params.update(overrides)
    return params


# --- Jaeger ------------------------------------------------------------------------------

def test_jaeger_v1_spans_times_in_microseconds_and_process_tags_as_resource():
    http, session = client([("/api/traces", 200, "jaeger_v1_search.json")])
    spans = spans_of(JaegerV1(http), query())
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
    with pytest.raises(model.BackendError, match=f"Jaeger \\(v1 API\\) at {BASE}/api/traces answered HTTP 400"):
        spans_of(JaegerV1(http), query())
    http, _session = client([("/api/traces", 200, "jaeger_v1_errors.json")])
    with pytest.raises(model.BackendError, match="parameter 'service' is required"):
        spans_of(JaegerV1(http), query())


def test_jaeger_v1_trace_not_found_is_empty():
    http, _session = client([("/api/traces/abc", 404, '{"data":null,"errors":[{"code":404,"msg":"trace not found"}]}')])
    assert JaegerV1(http).trace("abc") == []


def test_jaeger_without_the_v1_search_says_to_use_api_v3():
    # Jaeger main removed GET /api/traces (commit 639eefe, #9260): Go's mux answers 404.
    http, _session = client([("/api/traces", 404, "404 page not found\n")])
    with pytest.raises(model.BackendError, match="no v1 query API.*jaeger_api_version: v3"):
        spans_of(JaegerV1(http), query())


def test_full_search_is_split_into_halves_of_the_window():
    full = fixture("jaeger_v1_search.json")
    first_half, second_half = dict(full, data=full["data"][:1]), dict(full, data=full["data"][1:])
    http, session = client([("/api/traces", 200, full), ("/api/traces", 200, first_half), ("/api/traces", 200, second_half)])
    spans = spans_of(JaegerV1(http), query(limit=4))
    assert len(session.requests) == 3
    first, second = session.requests[1][1], session.requests[2][1]
    assert first["end"] == second["start"] == int((START + END) / 2 * 1e6)
    assert len({s.trace_id for s in spans}) == 2  # the same traces seen twice count once


def test_jaeger_answer_at_half_the_limit_counts_as_full():
    # Cassandra reads 3 index rows per asked-for trace (jaeger v1.76.0 cassandra/spanstore/reader.go
    # limitMultiple): an answer short of the limit may still be cut.
    full = fixture("jaeger_v1_search.json")
    answers = [("/api/traces", 200, full)] + [("/api/traces", 200, {"data": [], "errors": None})] * 2
    http, session = client(answers)
    spans_of(JaegerV1(http), query(limit=3))
    assert len(session.requests) == 3


def test_a_window_still_full_after_every_split_is_reported_not_judged():
    full = fixture("jaeger_v1_search.json")
    answers = [("/api/traces", 200, full)] * (2 ** (search.MAX_SPLIT_DEPTH + 1) - 1)
    http, session = client(answers)
    with pytest.raises(model.BackendError, match=f"Jaeger \\(v1 API\\) at {BASE}: 64 slices .*truncated.*not judged.*1/64 of the window"):
        JaegerV1(http).sample(query(limit=2))
    assert len(session.requests) == 2 ** (search.MAX_SPLIT_DEPTH + 1) - 1


def test_an_answer_that_may_be_cut_short_is_split_further_than_a_full_one():
    # Three traces against a limit of 4: at Jaeger's share of the limit, never at the limit.
    half_full = fixture("jaeger_v1_search.json")
    answers = [("/api/traces", 200, half_full)] * (2 ** (search.MAX_SHORT_SPLIT_DEPTH + 1) - 1)
    http, session = client(answers)
    with pytest.raises(model.BackendError, match="1/1024 of the window"):
        JaegerV1(http).sample(query(limit=len(half_full["data"]) + 1))
    assert len(session.requests) == 2 ** (search.MAX_SHORT_SPLIT_DEPTH + 1) - 1


@pytest.mark.parametrize("fixture_name", ["jaeger_v3_traces.json", "jaeger_v3_traces_unwrapped.json"])
def test_jaeger_v3_otlp_json_with_and_without_result_wrapper(fixture_name):
    http, session = client([("/api/v3/traces", 200, fixture_name)])
    spans = spans_of(JaegerV3(http), query(color=None))
    params = session.requests[0][1]
    assert params["query.start_time_min"] == params["query.startTimeMin"] == "2025-11-25T11:59:00.000000Z"
    server, dependency = spans
    assert (server.kind, server.duration_us, server.http_status, server.color, server.error) == ("server", 4500, 200, "blue", False)
    assert (dependency.kind, dependency.error, dependency.parent_id) == ("client", True, "eee19b7ec3c1b174")


def test_jaeger_v3_sends_camel_case_and_snake_case_names_and_the_color_attribute():
    # camelCase is canonical from 2.19 (query_parser.go), snake_case is all 2.13 reads
    # (v1.76.0 apiv3/http_gateway.go); each release reads the names it knows.
    http, session = client([("/api/v3/traces", 200, "jaeger_v3_traces.json")])
    spans_of(JaegerV3(http), query(limit=500))
    params = session.requests[0][1]
    assert params["query.serviceName"] == params["query.service_name"] == "bgdemo"
    assert params["query.startTimeMax"] == params["query.start_time_max"] == "2025-11-25T12:01:00.000000Z"
    assert params["query.searchDepth"] == params["query.num_traces"] == 500
    assert json.loads(params["query.attributes"]) == {"deployment.color": "green"}


def test_jaeger_v3_color_is_filtered_here_whatever_the_server_did():
    # A server before 2.19 ignores query.attributes and answers blue spans to a green query.
    http, _session = client([("/api/v3/traces", 200, "jaeger_v3_traces.json")])
    sample = JaegerV3(http).sample(query(color="green"))
    assert (sample.requests, sample.dependencies) == (0, {})


def test_jaeger_v3_no_traces_404_is_empty():
    http, _session = client([("/api/v3/traces", 404, "jaeger_v3_not_found.json")])
    assert spans_of(JaegerV3(http), query()) == []
    http, _session = client([("/api/v3/traces/abc", 404, "jaeger_v3_not_found.json")])
    assert JaegerV3(http).trace("abc") == []


def test_jaeger_without_api_v3_says_to_use_v1():
    http, _session = client([("/api/v3/traces", 404, "404 page not found\n")])
    with pytest.raises(model.BackendError, match="no Jaeger api_v3 answers at this URL.*jaeger_api_version: v1"):
        spans_of(JaegerV3(http), query())


@pytest.mark.parametrize("body", [
    '{"message":"no Route matched with those values"}',  # an API gateway's 404
    '{"error":{"httpCode":503,"message":"storage unavailable"}}',
    '{"error":"not found"}',
    "[]",
])
def test_a_404_that_is_not_api_v3_s_own_is_an_error_not_an_empty_result(body):
    http, _session = client([("/api/v3/traces", 404, body)])
    with pytest.raises(model.BackendError, match="answered 404 without api_v3's error body"):
        spans_of(JaegerV3(http), query())


@pytest.mark.parametrize("document", [{"error": {"httpCode": 500, "message": "storage unavailable"}},
                                      {"result": {"error": "x"}}, {"message": "upstream timed out"}])
def test_an_api_v3_answer_without_resource_spans_is_an_error_not_an_empty_result(document):
    http, _session = client([("/api/v3/traces", 200, document)])
    with pytest.raises(model.BackendError, match="an object without resourceSpans"):
        spans_of(JaegerV3(http), query())


@pytest.mark.parametrize("document", [{}, {"result": {}}])
def test_an_empty_protojson_answer_is_no_traces(document):
    http, _session = client([("/api/v3/traces", 200, document)])
    assert spans_of(JaegerV3(http), query()) == []


def test_jaeger_v3_spans_protojson_left_without_start_or_with_bad_ids_are_skipped_and_counted():
    http, _session = client([("/api/v3/traces", 200, "jaeger_v3_protojson_zero_fields.json")])
    sample = JaegerV3(http).sample(query())
    assert (sample.requests, sample.errors) == (2, 1)
    assert sample.skipped_spans == 2
    reasons = " | ".join(sample.skipped_reasons)
    assert "no 'startTimeUnixNano'" in reasons and "'zz-not-an-id' is neither hex nor base64" in reasons
    assert f"Jaeger (api_v3) at {BASE}/api/v3/traces" in reasons
    summary = analysis.summarize(sample)
    assert summary["skipped_spans"] == 2 and summary["skipped_span_reasons"] == sample.skipped_reasons


# --- the window and duplicates, the same for every span backend --------------------------

def jaeger_v1_answer(spans):
    return {"data": [{"traceID": s["trace"], "processes": {"p1": {"serviceName": s.get("service", "bgdemo"), "tags": [
        {"key": "deployment.color", "type": "string", "value": "green"}]}}, "spans": [{
            "traceID": s["trace"], "spanID": s["span"], "operationName": "GET /api/quote", "references": [],
            "startTime": s["start_us"], "duration": 1000, "processID": "p1",
            "tags": [{"key": "span.kind", "type": "string", "value": s.get("kind", "server")}]}]} for s in spans],
        "errors": None}


def jaeger_v3_answer(spans):
    return {"result": {"resourceSpans": [{"resource": {"attributes": [
        {"key": "service.name", "value": {"stringValue": s.get("service", "bgdemo")}},
        {"key": "deployment.color", "value": {"stringValue": "green"}}]}, "scopeSpans": [{"spans": [{
            "traceId": s["trace"], "spanId": s["span"], "name": "GET /api/quote",
            "kind": {"server": 2, "client": 3}[s.get("kind", "server")],
            "startTimeUnixNano": str(s["start_us"] * 1000), "endTimeUnixNano": str(s["start_us"] * 1000 + 10 ** 6)}]}]}
        for s in spans]}}


def zipkin_answer(spans):
    return [[{"traceId": s["trace"], "id": s["span"], "kind": s.get("kind", "server").upper(), "name": "get /api/quote",
              "timestamp": s["start_us"], "duration": 1000, "localEndpoint": {"serviceName": s.get("service", "bgdemo")},
              "tags": {"deployment.color": "green"}}] for s in spans]


def tempo_answer(spans):
    return {"traces": [{"traceID": s["trace"], "spanSets": [{"matched": 1, "spans": [{
        "spanID": s["span"], "name": "GET /api/quote", "startTimeUnixNano": str(s["start_us"] * 1000),
        "durationNanos": "1000000", "attributes": [{"key": "deployment.color", "value": {"stringValue": "green"}}]}]}]}
        for s in spans if s.get("kind", "server") == "server"]}


SPAN_BACKENDS = {
    "jaeger_v1": (JaegerV1, "/api/traces", jaeger_v1_answer, []),
    "jaeger_v3": (JaegerV3, "/api/v3/traces", jaeger_v3_answer, []),
    "zipkin": (Zipkin, "/api/v2/traces", zipkin_answer, []),
    "tempo": (Tempo, "/api/search", tempo_answer, [("/api/search", 200, {"traces": []})]),
}
INSIDE = {"trace": "4bf92f3577b34da6a3ce929d0e0e4736", "span": "00f067aa0ba902b7", "start_us": int(START * 1e6) + 5}
BEFORE = {"trace": "4bf92f3577b34da6a3ce929d0e0e4737", "span": "00f067aa0ba902b8", "start_us": int(START * 1e6) - 5}
AFTER = {"trace": "4bf92f3577b34da6a3ce929d0e0e4738", "span": "00f067aa0ba902b9", "start_us": int(END * 1e6) + 5}


@pytest.mark.parametrize("backend", sorted(SPAN_BACKENDS))
def test_spans_outside_the_window_are_dropped_by_every_backend(backend):
    cls, path, answer, more = SPAN_BACKENDS[backend]
    http, _session = client([(path, 200, answer([BEFORE, INSIDE, AFTER]))] + more)
    assert [s.span_id for s in spans_of(cls(http), query())] == [INSIDE["span"]]


@pytest.mark.parametrize("backend", sorted(SPAN_BACKENDS))
def test_a_span_answered_twice_counts_once(backend):
    cls, path, answer, more = SPAN_BACKENDS[backend]
    http, _session = client([(path, 200, answer([INSIDE, INSIDE]))] + more)
    sample = cls(http).sample(query())
    assert sample.requests == 1


def test_zipkin_shared_client_and_server_halves_are_not_duplicates():
    shared = dict(INSIDE, kind="client")
    http, _session = client([("/api/v2/traces", 200, zipkin_answer([INSIDE, shared]))])
    assert sorted(s.kind for s in spans_of(Zipkin(http), query())) == ["client", "server"]


# --- Tempo -------------------------------------------------------------------------------

def test_tempo_search_traceql_window_in_seconds_and_trimmed_trace_ids():
    http, session = client([("/api/search", 200, "tempo_search.json"), ("/api/search", 200, {"traces": []})])
    spans = spans_of(Tempo(http), query())
    params = session.requests[0][1]
    assert params["start"] == 1764071940 and params["end"] == 1764072061
    assert 'resource.deployment.color = "green"' in params["q"] and "kind = server" in params["q"]
    assert "kind = client" in session.requests[1][1]["q"]
    by_trace = {s.trace_id: s for s in spans}
    assert set(by_trace) == {"2f3e0cee77ae5dc9c17ade3689eb2e54", "00003e0cee77ae5dc9c17ade3689eb2e54"[-32:]}
    failed = by_trace["2f3e0cee77ae5dc9c17ade3689eb2e54"]
    assert (failed.error, failed.http_status, failed.duration_us, failed.color, failed.kind) == (True, 500, 12000, "green", "server")
    assert failed.name == "GET /api/quote"


def test_tempo_search_stays_within_the_servers_limits_and_selects_span_names():
    # modules/frontend/config.go: max_spans_per_span_set 100 (400 above), max_limit 256 * 1024;
    # SearchMetaConditions fetches no span name unless selected.
    http, session = client([("/api/search", 200, {"traces": []}), ("/api/search", 200, {"traces": []})])
    spans_of(Tempo(http), query(limit=10 ** 7))
    params = session.requests[0][1]
    assert params["spss"] == 100 and params["limit"] == 256 * 1024
    assert params["q"].endswith("| select(name, status, span.http.response.status_code, span.http.status_code, "
                                "span.peer.service, span.server.address, resource.service.version, "
                                "resource.deployment.color)")


@pytest.mark.parametrize("document, empty", [
    ({"metrics": {"inspectedTraces": 12}}, True),  # jsonpb leaves the empty list out
    ({"traces": [], "metrics": {}}, True),
    ({"message": "no Route matched with those values"}, False),
    ({"error": "query frontend unavailable"}, False),
])
def test_tempo_reads_an_empty_search_as_no_traces_and_another_object_as_an_error(document, empty):
    http, _session = client([("/api/search", 200, document), ("/api/search", 200, document)])
    if empty:
        assert spans_of(Tempo(http), query()) == []
    else:
        with pytest.raises(model.BackendError, match="answered no 'traces' list"):
            spans_of(Tempo(http), query())


def test_tempo_traceql_strings_are_escaped():
    http, _session = client([])
    tempo = Tempo(http)
    q = model.TraceQuery('bg"demo', START, END, color="gr\\een")
    assert 'resource.service.name = "bg\\"demo"' in tempo.traceql(q, "server")
    assert 'resource.deployment.color = "gr\\\\een"' in tempo.traceql(q, "server")


def truncated_search(trace_ids):
    """A search answer whose traces matched more spans than spss returned."""
    return {"traces": [{"traceID": trace_id, "spanSets": [{"matched": 101, "spans": [{
        "spanID": f"{index:016x}", "name": "GET stock", "startTimeUnixNano": "1764072000001000000", "durationNanos": "1000000"}
        for index in range(100)]}]} for trace_id in trace_ids]}


def test_tempo_trace_that_matched_more_spans_than_spss_is_fetched_whole():
    http, session = client([("/api/search", 200, {"traces": []}),
                            ("/api/search", 200, truncated_search(["5b8efff798038103d269b633813fc700"])),
                            ("/api/v2/traces/5b8efff798038103d269b633813fc700", 200, "tempo_trace_v2.json")])
    sample = Tempo(http).sample(query())
    assert session.requests[2][1] == {"start": 1764071940, "end": 1764072061}
    assert sample.dependencies == {"GET stock": [1, 1, [1.0]]}  # from the whole trace, not the 100 search spans


def test_tempo_too_many_cut_traces_are_reported_not_judged():
    ids = [f"{index:032x}" for index in range(1, MAX_WHOLE_TRACES + 2)]
    http, _session = client([("/api/search", 200, {"traces": []}), ("/api/search", 200, truncated_search(ids))])
    with pytest.raises(model.BackendError, match=f"Tempo at {BASE}/api/search: 51 traces matched more than 100 client spans"):
        Tempo(http).sample(query())


@pytest.mark.parametrize(
    "fixture_name, path, version",
    [("tempo_trace_v2.json", "/api/v2/traces/abc", "v2"), ("tempo_trace_v1.json", "/api/traces/abc", "v1")],
)
def test_tempo_trace_base64_ids_and_enum_strings(fixture_name, path, version):
    http, _session = client([(path, 200, fixture_name)])
    server, dependency = Tempo(http, api_version=version).trace("abc")
    assert server.trace_id == "5b8efff798038103d269b633813fc700"
    assert server.span_id == "eee19b7ec3c1b100"
    assert (server.kind, server.error, server.color) == ("server", False, "green")
    assert (dependency.kind, dependency.error, dependency.parent_id) == ("client", True, "eee19b7ec3c1b100")


# --- Zipkin ------------------------------------------------------------------------------

def test_zipkin_list_of_lists_string_tags_and_window_reaching_back_to_the_roots():
    http, session = client([("/api/v2/traces", 200, "zipkin_traces.json")])
    spans = spans_of(Zipkin(http), query())
    params = session.requests[0][1]
    # Zipkin selects a trace by its root's timestamp (QueryRequest.test): 60 s more lookback.
    assert (params["endTs"], params["lookback"], params["annotationQuery"]) == (1764072060000, 180000, "deployment.color=green")
    failed = next(s for s in spans if s.kind == "server" and s.error)
    assert (failed.http_status, failed.duration_us, failed.color, failed.version) == (500, 150000, "green", "1.1.0")
    dependency = next(s for s in spans if s.kind == "client")
    assert dependency.dependency == "stock" and not dependency.error
    assert next(s for s in spans if s.trace_id.endswith("ffdc9bb9a6453df4")).trace_id == "0000000000000000ffdc9bb9a6453df4"


def test_zipkin_lowercased_service_names_match_the_service_asked_for():
    # zipkin2 Endpoint and QueryRequest lowercase service names (3.5.1).
    http, session = client([("/api/v2/traces", 200, "zipkin_traces.json")])
    sample = Zipkin(http).sample(query(service="BGDemo"))
    assert session.requests[0][1]["serviceName"] == "BGDemo"
    assert (sample.requests, sample.errors) == (2, 1)
    http, _session = client([("/api/v2/trace/abc", 200, fixture("zipkin_traces.json")[0])])
    assert probe.inspect_trace(Zipkin(http).trace("abc"), "BGDemo", "green", "1.1.0") is None


def test_zipkin_query_values_stay_above_zero():
    http, session = client([("/api/v2/traces", 200, [])])
    spans_of(Zipkin(http), model.TraceQuery("bgdemo", 0.0, 0.0005, limit=1))
    params = session.requests[0][1]
    assert params["endTs"] >= 1 and params["lookback"] >= 1 and params["limit"] >= 1


def test_zipkin_span_without_timestamp_is_skipped_and_counted():
    answer = fixture("zipkin_traces.json")
    del answer[1][0]["timestamp"]
    http, _session = client([("/api/v2/traces", 200, answer)])
    sample = Zipkin(http).sample(query())
    assert (sample.requests, sample.skipped_spans) == (1, 1)
    assert "no 'timestamp'" in sample.skipped_reasons[0]


def test_an_answer_counts_as_full_by_its_traces_even_when_their_spans_are_skipped():
    unreadable = zipkin_answer([dict(INSIDE, span="not-an-id"), dict(BEFORE, span="not-an-id")])
    empty = ("/api/v2/traces", 200, [])
    http, session = client([("/api/v2/traces", 200, unreadable), empty, empty])
    sample = Zipkin(http).sample(query(limit=2))
    # Split into its halves, the full answer itself is not read: its skipped spans are those
    # of the halves (none here).
    assert len(session.requests) == 3 and sample.skipped_spans == 0


@pytest.mark.parametrize("backend, path, answer", [
    (JaegerV1, "/api/traces", jaeger_v1_answer), (JaegerV3, "/api/v3/traces", jaeger_v3_answer),
    (Zipkin, "/api/v2/traces", zipkin_answer)])
def test_a_full_answer_is_split_and_only_its_halves_are_parsed(backend, path, answer):
    """A busy window's full answer would otherwise be parsed once per level of the split."""
    second = dict(INSIDE, trace="4bf92f3577b34da6a3ce929d0e0e4739", span="00f067aa0ba902ba", start_us=INSIDE["start_us"] + 10)
    full = (path, 200, answer([INSIDE, second]))
    halves = [(path, 200, answer([INSIDE])), (path, 200, answer([second]))]
    http, session = client([full] + halves)
    parsed = []
    client_backend = backend(http)
    original = client_backend.search

    def search(*args):
        answered, read = original(*args)
        return answered, lambda: parsed.append(answered) or read()

    client_backend.search = search
    # Two traces fill the answer, one does not (Jaeger counts an answer at half its limit as full).
    spans = spans_of(client_backend, query(limit=2 if client_backend.full_share == 1 else 3))
    assert len(session.requests) == 3 and parsed == [1, 1], parsed
    assert sorted(span.trace_id for span in spans) == sorted([INSIDE["trace"], second["trace"]])


def test_sample_from_spans_counts_requests_errors_and_dependencies():
    http, _session = client([("/api/v2/traces", 200, "zipkin_traces.json")])
    sample = Zipkin(http).sample(query())
    assert (sample.requests, sample.errors, sorted(sample.latencies_ms)) == (2, 1, [1.2, 150.0])
    assert sample.dependencies == {"stock": [1, 0, [2.0]]}
    assert sample.queries[0]["url"] == f"{BASE}/api/v2/traces"
    assert (sample.skipped_spans, sample.skipped_reasons, sample.warnings) == (0, [], [])
    first, last = sorted(sample.request_starts)
    assert (sample.requests_started_before(last), sample.requests_started_before(last + 1e-3)) == (1, 2)
    assert first < last


def test_excluded_operations_are_not_counted():
    http, _session = client([("/api/v2/traces", 200, "zipkin_traces.json")])
    q = model.TraceQuery("bgdemo", START, END, color="green", exclude_operations=["GET /api/quote"])
    sample = Zipkin(http).sample(q)
    assert sample.requests == 0 and sample.dependencies == {"stock": [1, 0, [2.0]]}


# --- Prometheus --------------------------------------------------------------------------

def prometheus_answers(names="prometheus_names.json", calls="prometheus_calls_server.json"):
    return [
        ("/api/v1/query", 200, names),
        ("/api/v1/query", 200, calls),
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


def test_prometheus_warnings_are_kept_in_the_evidence():
    http, _session = client(prometheus_answers(calls="prometheus_calls_server_warnings.json"))
    sample = PrometheusSpanMetrics(http).sample(query())
    assert sample.warnings == ["remote read endpoint store-b: context deadline exceeded (partial result)"]
    assert analysis.summarize(sample)["backend_warnings"] == sample.warnings


def test_prometheus_legacy_names_use_the_operation_label():
    http, session = client(prometheus_answers("prometheus_names_legacy.json"))
    PrometheusSpanMetrics(http).sample(query())
    assert session.requests[1][1]["query"].startswith("sum by (operation) (increase(calls_total{")
    assert "latency_bucket" in session.requests[5][1]["query"]


def test_prometheus_without_span_metrics_is_an_error():
    http, _session = client([("/api/v1/query", 200, "prometheus_empty.json")])
    with pytest.raises(model.BackendError, match=f"Prometheus at {BASE}/api/v1/query: no span metrics found"):
        PrometheusSpanMetrics(http).sample(query())


def test_prometheus_series_without_the_color_label_name_the_connector_setting():
    answers = [("/api/v1/query", 200, "prometheus_names.json")] + [("/api/v1/query", 200, "prometheus_empty.json")] * 4
    answers.append(("/api/v1/query", 200, "prometheus_no_color_label.json"))
    http, session = client(answers)
    with pytest.raises(model.BackendError, match=r"none with the label deployment_color.*dimensions: \[\{name: deployment.color\}\]"):
        PrometheusSpanMetrics(http).sample(query())
    assert session.requests[5][1]["query"] == ('count by (deployment_color) '
                                               '(traces_span_metrics_calls_total{service_name="bgdemo"})')


def test_prometheus_color_without_traffic_is_no_error_when_the_label_exists():
    answers = [("/api/v1/query", 200, "prometheus_names.json")] + [("/api/v1/query", 200, "prometheus_empty.json")] * 4
    answers += [("/api/v1/query", 200, {"status": "success", "data": {"resultType": "vector", "result": [
        {"metric": {"deployment_color": "blue"}, "value": [1, "3"]}]}}), ("/api/v1/query", 200, "prometheus_empty.json")]
    http, _session = client(answers)
    assert PrometheusSpanMetrics(http).sample(query()).requests == 0


@pytest.mark.parametrize("status, body, message", [
    (400, "prometheus_error.json", "answered HTTP 400.*bad_data"),
    (200, {"status": "error", "errorType": "timeout", "error": "query timed out"}, "query failed, status 'error', timeout: query timed out"),
    (200, {"data": {}}, "query failed, status None"),
])
def test_prometheus_query_errors_name_the_backend_and_url(status, body, message):
    http, _session = client([("/api/v1/query", status, body)])
    with pytest.raises(model.BackendError, match=f"Prometheus at {BASE}/api/v1/query.*{message}"):
        PrometheusSpanMetrics(http).sample(query())


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


# --- HTTP, options -----------------------------------------------------------------------

@pytest.mark.parametrize("body", ["<html>proxy error</html>", '{"unexpected": true}', "[" * 100000])
def test_garbage_answers_are_errors_not_empty_results(body):
    http, _session = client([("/api/traces", 200, body)])
    with pytest.raises(model.BackendError, match=f"Jaeger \\(v1 API\\) at {BASE}/api/traces"):
        spans_of(JaegerV1(http), query())


def test_auth_tenant_and_tls_settings_reach_the_session():
    http, session = client([], bearer_token="s3cret", tenant="team-a", ca_bundle="/etc/ca.pem",
                           client_cert="/c.pem", client_key="/k.pem")
    assert session.headers["Authorization"] == "Bearer s3cret"
    assert session.headers["X-Scope-OrgID"] == "team-a"
    assert session.verify == "/etc/ca.pem" and session.cert == ("/c.pem", "/k.pem")
    http, session = client([], username="u", password="p")
    assert session.auth == ("u", "p") and "Authorization" not in session.headers


@pytest.mark.parametrize("backend, header", [("jaeger", "x-tenant"), ("jaeger_v3", "x-tenant"), ("tempo", "X-Scope-OrgID"),
                                             ("prometheus", "X-Scope-OrgID")])
def test_the_tenant_goes_in_the_header_each_backend_reads(backend, header):
    # Jaeger: --multi-tenancy.header default x-tenant (v1.76.0 internal/tenancy/flags.go).
    session = RecordedSession([])
    backend_from_params(params_with(backend=backend, url=BASE, tenant="team-a"), session=session)
    assert session.headers == {header: "team-a"}


@pytest.mark.parametrize("backend, version, expected", [
    ("jaeger", "v3", JaegerV3), ("jaeger", "v1", JaegerV1), ("jaeger_v3", "v3", JaegerV3)])
def test_jaeger_uses_api_v3_unless_told_v1(backend, version, expected):
    params = params_with(backend=backend, url=BASE, jaeger_api_version=version)
    assert backend_from_params(params, session=RecordedSession([])).__class__ is expected
    assert (deprecated_backend(params) is not None) == (backend == "jaeger_v3")


def test_retries_are_bounded():
    session = RecordedSession([("/api/traces", 503, "busy")] * 3)
    http = HttpClient(BASE, session=session, retries=2, backoff=0)
    with pytest.raises(model.BackendError, match="HTTP 503"):
        spans_of(JaegerV1(http), query())
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


def test_a_limit_below_one_is_refused():
    with pytest.raises(model.BackendError, match="limit"):
        model.TraceQuery("bgdemo", START, END, limit=0)


@pytest.mark.parametrize("version, warned", [("v3.0.3", True), ("2.9.1", False)])
def test_tempo_3_window_ending_now_warns_that_its_newest_seconds_were_not_searched(version, warned):
    empty = {"traces": []}
    answers = [("/api/search", 200, empty)] * 2 + [("/api/status/buildinfo", 200, {"version": version})]
    http, _session = client(answers)
    now = time.time()
    sample = Tempo(http).sample(model.TraceQuery("checkout", now - 60, now, color="green"))
    assert any("last 30 s of the window were not searched" in w for w in sample.warnings) is warned


@pytest.mark.parametrize("urls, message", [
    (["http://lb1/api", "https://lb2:8443/api"], None),
    (["http://lb1/api", "file:///etc/shadow"], "urls[1]: 'file:///etc/shadow' is not an http:// or https:// URL naming a host"),
    (["ftp://user:pw@lb1/x"], "urls[0]: 'ftp://***@lb1/x' is not an http:// or https:// URL naming a host"),
    (["lb1:80/api"], "urls[0]: 'lb1:80/api' is not"),
    (["http://[::1/api"], "urls[0]: 'http://[::1/api' is not"),
    (["http://lb1:0/"], "urls[0]: 'http://lb1:0/' is not"),
    (["http://lb\n1/api"], "urls[0]: 'http://lb\\n1/api' is not"),
    (["http://lb1/a pi"], "urls[0]: 'http://lb1/a pi' is not"),
])
def test_probes_go_to_http_and_https_urls_only(urls, message):
    found = probe.unfit_url(urls)
    assert found == message if message is None else found.startswith(message)


def test_probe_records_show_no_credentials():
    def refused(_url, _headers):
        raise OSError("connection to http://probe:pw@lb1/api refused")

    record = probe.send_probes(refused, ["http://probe:pw@lb1/api"], 1)[0]
    assert record["url"] == "http://***@lb1/api" and "pw" not in record["error"]
