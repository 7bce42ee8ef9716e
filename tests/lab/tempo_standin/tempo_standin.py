"""LAB STAND-IN trace store. Not Jaeger, not Tempo, not Zipkin, not an OpenTelemetry Collector.

Those backends cannot be installed on the machines this project is built on, so the lab
runs this small store instead: it receives OTLP/HTTP (protobuf and JSON) from the real
OpenTelemetry SDK in the demo app, keeps the spans in memory, and answers the query APIs
of Jaeger (v1 and api_v3), Tempo (search with a TraceQL subset, trace by id v1 and v2) and
Zipkin v2 in their documented response shapes, plus span metrics in the shape of the
Collector's spanmetrics connector for Prometheus to scrape. It exists so that every client
of tracegate.bluegreen runs end to end in the lab; it is never presented as the real thing.

Ports (each API on its own, as the real services have them):
  4318 OTLP/HTTP in    16686 Jaeger query    3200 Tempo    9411 Zipkin    9464 span metrics
"""

import argparse
import base64
import bisect
import collections
import datetime
import json
import re
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

KIND_NAMES = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
KIND_ENUM = {0: "SPAN_KIND_UNSPECIFIED", 1: "SPAN_KIND_INTERNAL", 2: "SPAN_KIND_SERVER", 3: "SPAN_KIND_CLIENT",
             4: "SPAN_KIND_PRODUCER", 5: "SPAN_KIND_CONSUMER"}
STATUS_ENUM = {0: "STATUS_CODE_UNSET", 1: "STATUS_CODE_OK", 2: "STATUS_CODE_ERROR"}
# Default buckets of the spanmetrics connector, in ms.
BUCKETS_MS = [2, 4, 6, 8, 10, 50, 100, 200, 400, 800, 1000, 1400, 2000, 5000, 10000, 15000]
MAX_SPANS = 400000


class Store:
    """Spans in memory, oldest dropped past MAX_SPANS, plus span-metric counters."""

    def __init__(self):
        self.lock = threading.Lock()
        self.spans = collections.deque()
        self.traces = collections.defaultdict(list)
        self.calls = collections.Counter()
        self.buckets = collections.Counter()
        self.sums = collections.Counter()

    def add(self, spans):
        with self.lock:
            for span in spans:
                self.spans.append(span)
                self.traces[span["trace_id"]].append(span)
                self._count(span)
            while len(self.spans) > MAX_SPANS:
                old = self.spans.popleft()
                trace = self.traces[old["trace_id"]]
                trace.remove(old)
                if not trace:
                    del self.traces[old["trace_id"]]

    def _count(self, span):
        labels = (
            span["resource"].get("service.name", ""), span["name"], KIND_ENUM.get(span["kind"], "SPAN_KIND_UNSPECIFIED"),
            STATUS_ENUM.get(span["status"], "STATUS_CODE_UNSET"), str(span["resource"].get("deployment.color", "unknown")),
            str(span["resource"].get("service.version", "")),
        )
        duration_ms = (span["end"] - span["start"]) / 1e6
        self.calls[labels] += 1
        self.sums[labels] += duration_ms
        index = bisect.bisect_left(BUCKETS_MS, duration_ms)
        self.buckets[labels + (index,)] += 1

    def trace(self, trace_id):
        with self.lock:
            return list(self.traces.get(trace_id.lower().rjust(32, "0"), []))

    def find_traces(self, match, start_ns, end_ns, limit):
        """Trace ids (newest first) that hold a span for which match(span) is true, started
        in [start_ns, end_ns]."""
        found = []
        seen = set()
        with self.lock:
            for span in reversed(self.spans):
                if span["trace_id"] in seen or not start_ns <= span["start"] <= end_ns or not match(span):
                    continue
                seen.add(span["trace_id"])
                found.append(span["trace_id"])
                if len(found) >= limit:
                    break
        return found

    def services(self):
        with self.lock:
            return sorted({s["resource"].get("service.name", "") for s in self.spans})


# --- OTLP in -------------------------------------------------------------------------------

def _proto_value(value):
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [_proto_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _proto_value(kv.value) for kv in value.kvlist_value.values}
    return getattr(value, kind)


def spans_from_protobuf(body):
    request = ExportTraceServiceRequest()
    request.ParseFromString(body)
    spans = []
    for resource_spans in request.resource_spans:
        resource = {a.key: _proto_value(a.value) for a in resource_spans.resource.attributes}
        for scope_spans in resource_spans.scope_spans:
            for s in scope_spans.spans:
                spans.append({
                    "trace_id": s.trace_id.hex(), "span_id": s.span_id.hex(), "parent_id": s.parent_span_id.hex() or None,
                    "name": s.name, "kind": int(s.kind), "start": int(s.start_time_unix_nano), "end": int(s.end_time_unix_nano),
                    "status": int(s.status.code), "status_message": s.status.message,
                    "attributes": {a.key: _proto_value(a.value) for a in s.attributes}, "resource": resource,
                    "scope": (scope_spans.scope.name, scope_spans.scope.version),
                })
    return spans


def _json_value(value):
    for key in ("stringValue", "boolValue", "doubleValue"):
        if key in value:
            return value[key]
    if "intValue" in value:
        return int(value["intValue"])
    if "arrayValue" in value:
        return [_json_value(v) for v in value["arrayValue"].get("values", [])]
    return None


def spans_from_json(body):
    """OTLP/JSON as the specification writes it: hex ids, integer enums."""
    document = json.loads(body)
    spans = []
    for resource_spans in document.get("resourceSpans", []):
        resource = {a["key"]: _json_value(a["value"]) for a in resource_spans.get("resource", {}).get("attributes", [])}
        for scope_spans in resource_spans.get("scopeSpans", []):
            scope = scope_spans.get("scope", {})
            for s in scope_spans.get("spans", []):
                spans.append({
                    "trace_id": s["traceId"].lower(), "span_id": s["spanId"].lower(), "parent_id": s.get("parentSpanId") or None,
                    "name": s.get("name", ""), "kind": int(s.get("kind", 0)), "start": int(s["startTimeUnixNano"]),
                    "end": int(s["endTimeUnixNano"]), "status": int(s.get("status", {}).get("code", 0)),
                    "status_message": s.get("status", {}).get("message", ""),
                    "attributes": {a["key"]: _json_value(a["value"]) for a in s.get("attributes", [])},
                    "resource": resource, "scope": (scope.get("name", ""), scope.get("version", "")),
                })
    return spans


# --- shared output helpers ----------------------------------------------------------------

def otlp_value(value, spec=True):
    """OTLP JSON AnyValue; 64-bit integers as strings in both encodings."""
    if isinstance(value, bool):
        return {"boolValue": value}
    if isinstance(value, int):
        return {"intValue": str(value)}
    if isinstance(value, float):
        return {"doubleValue": value}
    if isinstance(value, list):
        return {"arrayValue": {"values": [otlp_value(v, spec) for v in value]}}
    return {"stringValue": str(value)}


def otlp_attributes(attributes, spec=True):
    return [{"key": k, "value": otlp_value(v, spec)} for k, v in attributes.items()]


def resource_spans(spans, jsonpb):
    """Group spans by resource and scope. `jsonpb=False`: spec OTLP-JSON as Jaeger api_v3
    writes it (hex ids, integer enums). `jsonpb=True`: as Tempo's gogo jsonpb writes it
    (base64 ids, enum names, empty status omitted)."""
    def span_id(hex_id):
        return base64.b64encode(bytes.fromhex(hex_id)).decode() if jsonpb else hex_id

    groups = collections.OrderedDict()
    for s in spans:
        key = (json.dumps(s["resource"], sort_keys=True), s["scope"])
        groups.setdefault(key, (s["resource"], s["scope"], []))[2].append(s)
    out = []
    for resource, scope, members in groups.values():
        rendered = []
        for s in members:
            item = {"traceId": span_id(s["trace_id"]), "spanId": span_id(s["span_id"]), "name": s["name"],
                    "kind": KIND_ENUM[s["kind"]] if jsonpb else s["kind"],
                    "startTimeUnixNano": str(s["start"]), "endTimeUnixNano": str(s["end"]),
                    "attributes": otlp_attributes(s["attributes"])}
            if s["parent_id"]:
                item["parentSpanId"] = span_id(s["parent_id"])
            elif not jsonpb:
                item["parentSpanId"] = ""
            if s["status"]:
                item["status"] = {"code": STATUS_ENUM[s["status"]] if jsonpb else s["status"]}
                if s["status_message"]:
                    item["status"]["message"] = s["status_message"]
            else:
                item["status"] = {}
            rendered.append(item)
        scope_json = {"name": scope[0], "version": scope[1]} if scope[0] else {}
        out.append({"resource": {"attributes": otlp_attributes(resource)},
                    "scopeSpans": [{"scope": scope_json, "spans": rendered}]})
    return out


def rfc3339_ns(text):
    """RFC 3339 (nanosecond fractions allowed) to epoch nanoseconds."""
    match = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d:\d\d)$", text or "")
    if not match:
        raise ValueError(f"not RFC 3339: {text!r}")
    base = datetime.datetime.fromisoformat(match.group(1) + (match.group(3).replace("Z", "+00:00")))
    return int(base.timestamp()) * 10**9 + int((match.group(2) or "0").ljust(9, "0"))


# --- Jaeger ---------------------------------------------------------------------------------

def jaeger_tag(key, value):
    if isinstance(value, bool):
        return {"key": key, "type": "bool", "value": value}
    if isinstance(value, int):
        return {"key": key, "type": "int64", "value": value}
    if isinstance(value, float):
        return {"key": key, "type": "float64", "value": value}
    return {"key": key, "type": "string", "value": str(value) if not isinstance(value, list) else json.dumps(value)}


def jaeger_v1_trace(spans):
    processes, process_ids, out = {}, {}, []
    for s in spans:
        key = json.dumps(s["resource"], sort_keys=True)
        if key not in process_ids:
            pid = f"p{len(process_ids) + 1}"
            process_ids[key] = pid
            processes[pid] = {"serviceName": s["resource"].get("service.name", ""),
                              "tags": [jaeger_tag(k, v) for k, v in s["resource"].items() if k != "service.name"]}
        tags = [jaeger_tag(k, v) for k, v in s["attributes"].items()]
        tags.append(jaeger_tag("span.kind", KIND_NAMES[s["kind"]]))
        if s["status"] == 2:
            tags.append(jaeger_tag("error", True))
            tags.append(jaeger_tag("otel.status_code", "ERROR"))
        references = [{"refType": "CHILD_OF", "traceID": s["trace_id"], "spanID": s["parent_id"]}] if s["parent_id"] else []
        out.append({"traceID": s["trace_id"], "spanID": s["span_id"], "flags": 1, "operationName": s["name"],
                    "references": references, "startTime": s["start"] // 1000, "duration": (s["end"] - s["start"]) // 1000,
                    "tags": tags, "logs": [], "processID": process_ids[key], "warnings": None})
    return {"traceID": spans[0]["trace_id"], "spans": out, "processes": processes, "warnings": None}


def jaeger_envelope(data, errors=None):
    return {"data": data, "total": 0, "limit": 0, "offset": 0, "errors": errors}


def matches_tags(span, tags):
    for key, expected in tags.items():
        value = span["attributes"].get(key, span["resource"].get(key))
        if value is None or str(value).lower() != str(expected).lower():
            return False
    return True


# --- Tempo TraceQL subset -----------------------------------------------------------------

CONDITION = re.compile(r'^\s*([\w.:]+)\s*(=|!=)\s*("(?:[^"\\]|\\.)*"|[\w.]+)\s*$')


def parse_traceql(text):
    """`{ a = "x" && b = y } [| select(...)]` -> (conditions, selected). Anything else is
    outside what the lab store understands and is refused with a 400, like a parse error."""
    match = re.match(r"^\s*\{(.*)\}\s*(?:\|\s*select\((.*)\))?\s*$", text or "", re.S)
    if not match:
        raise ValueError("the lab store understands only { cond && ... } | select(...)")
    conditions = []
    body = match.group(1).strip()
    for part in body.split("&&") if body else []:
        cond = CONDITION.match(part)
        if not cond:
            raise ValueError(f"unsupported TraceQL condition: {part.strip()!r}")
        value = cond.group(3)
        value = json.loads(value) if value.startswith('"') else value
        conditions.append((cond.group(1), cond.group(2), value))
    selected = [s.strip() for s in (match.group(2) or "").split(",") if s.strip()]
    return conditions, selected


def traceql_field(span, field):
    if field in ("kind", "span:kind"):
        return KIND_NAMES[span["kind"]]
    if field in ("status", "span:status"):
        return {0: "unset", 1: "ok", 2: "error"}[span["status"]]
    if field in ("name", "span:name"):
        return span["name"]
    if field.startswith("resource."):
        return span["resource"].get(field[9:])
    if field.startswith("span."):
        return span["attributes"].get(field[5:])
    if field.startswith("."):
        return span["attributes"].get(field[1:], span["resource"].get(field[1:]))
    return None


def traceql_match(span, conditions):
    for field, op, expected in conditions:
        value = traceql_field(span, field)
        equal = value is not None and str(value) == str(expected)
        if (op == "=") != equal:
            return False
    return True


def tempo_attribute_key(field):
    for prefix in ("span:", "resource.", "span."):
        if field.startswith(prefix):
            return field[len(prefix):]
    return field


# --- HTTP ---------------------------------------------------------------------------------

class Handler(BaseHTTPRequestHandler):
    store = None
    api = None
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, body, content_type="application/json"):
        data = body if isinstance(body, bytes) else (json.dumps(body) if not isinstance(body, str) else body).encode()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.api != "otlp" or self.path != "/v1/traces":
            return self.reply(404, {"error": "not found"})
        try:
            if self.headers.get("Content-Type", "").startswith("application/json"):
                spans = spans_from_json(body)
                answer, ctype = b"{}", "application/json"
            else:
                spans = spans_from_protobuf(body)
                answer, ctype = b"", "application/x-protobuf"
        except (ValueError, KeyError, TypeError) as exc:
            return self.reply(400, {"error": f"bad OTLP payload: {exc}"})
        self.store.add(spans)
        return self.reply(200, answer, ctype)

    def do_GET(self):
        url = urllib.parse.urlsplit(self.path)
        params = urllib.parse.parse_qs(url.query)
        one = {k: v[-1] for k, v in params.items()}
        try:
            route = getattr(self, f"get_{self.api}")
            return route(url.path, one, params)
        except ValueError as exc:
            return self.reply(400, {"error": str(exc)})

    # Jaeger query service: v1 and api_v3
    def get_jaeger(self, path, one, params):
        if path == "/api/services":
            services = self.store.services()
            return self.reply(200, dict(jaeger_envelope(services), total=len(services)))
        if path == "/api/v3/services":
            return self.reply(200, {"services": self.store.services()})
        if path.startswith("/api/v3/traces/"):
            spans = self.store.trace(path.rsplit("/", 1)[1])
            if not spans:
                return self.reply(404, {"error": {"httpCode": 404, "message": "No traces found"}})
            return self.reply(200, {"result": {"resourceSpans": resource_spans(spans, jsonpb=False)}})
        if path == "/api/v3/traces":
            service = one.get("query.service_name", "")
            try:
                start, end = rfc3339_ns(one.get("query.start_time_min")), rfc3339_ns(one.get("query.start_time_max"))
            except ValueError as exc:
                return self.reply(400, {"error": {"httpCode": 400, "message": str(exc)}})
            ids = self.store.find_traces(lambda s: s["resource"].get("service.name") == service, start, end,
                                         int(one.get("query.num_traces", 20)))
            spans = [s for trace_id in ids for s in self.store.trace(trace_id)]
            if not spans:
                return self.reply(404, {"error": {"httpCode": 404, "message": "No traces found"}})
            return self.reply(200, {"result": {"resourceSpans": resource_spans(spans, jsonpb=False)}})
        if path.startswith("/api/traces/"):
            spans = self.store.trace(path.rsplit("/", 1)[1])
            if not spans:
                return self.reply(404, jaeger_envelope(None, [{"code": 404, "msg": "trace not found"}]))
            return self.reply(200, jaeger_envelope([jaeger_v1_trace(spans)]))
        if path == "/api/traces":
            service = one.get("service")
            if not service:
                return self.reply(400, jaeger_envelope(None, [{"code": 400, "msg": "parameter 'service' is required"}]))
            tags = {}
            if "tags" in one:
                tags.update(json.loads(one["tags"]))
            for pair in params.get("tag", []):
                key, _sep, value = pair.partition(":")
                tags[key] = value
            end = int(one.get("end", 0)) * 1000 or 2**63
            start = int(one.get("start", 0)) * 1000

            def match(span):
                return span["resource"].get("service.name") == service and matches_tags(span, tags)

            ids = self.store.find_traces(match, start, end, int(one.get("limit", 100)))
            return self.reply(200, jaeger_envelope([jaeger_v1_trace(self.store.trace(t)) for t in ids]))
        return self.reply(404, {"error": "not found"})

    # Tempo
    def get_tempo(self, path, one, params):
        if path == "/ready":
            return self.reply(200, "ready", "text/plain")
        if path.startswith("/api/v2/traces/"):
            spans = self.store.trace(path.rsplit("/", 1)[1])
            if not spans:
                return self.reply(404, "trace not found", "text/plain")
            return self.reply(200, {"trace": {"resourceSpans": resource_spans(spans, jsonpb=True)}})
        if path.startswith("/api/traces/"):
            spans = self.store.trace(path.rsplit("/", 1)[1])
            if not spans:
                return self.reply(404, "trace not found", "text/plain")
            return self.reply(200, {"batches": resource_spans(spans, jsonpb=True)})
        if path == "/api/search":
            conditions, selected = parse_traceql(one.get("q", "{}"))
            start = int(one.get("start", 0)) * 10**9
            end = int(one.get("end", 0)) * 10**9 or 2**63
            limit, per_set = int(one.get("limit", 20)), int(one.get("spss", 3))
            ids = self.store.find_traces(lambda s: traceql_match(s, conditions), start, end, limit)
            traces = []
            for trace_id in ids:
                spans = self.store.trace(trace_id)
                matched = [s for s in spans if traceql_match(s, conditions) and start <= s["start"] <= end]
                root = next((s for s in spans if not s["parent_id"]), None)
                rendered = []
                for s in matched[:per_set]:
                    attributes = {}
                    for field, _op, _value in conditions:
                        if field not in ("kind", "name", "span:kind", "span:name"):
                            attributes[tempo_attribute_key(field)] = traceql_field(s, field)
                    for field in selected:
                        value = traceql_field(s, field)
                        if value is not None:
                            attributes[tempo_attribute_key(field)] = value
                    rendered.append({"spanID": s["span_id"], "name": s["name"], "startTimeUnixNano": str(s["start"]),
                                     "durationNanos": str(s["end"] - s["start"]),
                                     "attributes": otlp_attributes({k: v for k, v in attributes.items() if v is not None})})
                first = min(s["start"] for s in spans)
                item = {"traceID": trace_id.lstrip("0") or "0", "startTimeUnixNano": str(first),
                        "durationMs": max(s["end"] for s in spans) // 10**6 - first // 10**6,
                        "spanSets": [{"spans": rendered, "matched": len(matched)}],
                        "spanSet": {"spans": rendered, "matched": len(matched)}}
                if root:
                    item["rootServiceName"] = root["resource"].get("service.name", "")
                    item["rootTraceName"] = root["name"]
                traces.append(item)
            metrics = {"inspectedBytes": "0", "totalBlocks": 1, "completedJobs": 1, "totalJobs": 1}
            return self.reply(200, {"traces": traces, "metrics": metrics})
        return self.reply(404, "not found", "text/plain")

    # Zipkin v2
    def get_zipkin(self, path, one, params):
        if path in ("/health", "/actuator/health"):
            return self.reply(200, {"status": "UP", "zipkin": {"status": "UP", "details": {"InMemoryStorage{}": {"status": "UP"}}}})
        if path == "/api/v2/services":
            return self.reply(200, self.store.services())
        if path.startswith("/api/v2/trace/"):
            spans = self.store.trace(path.rsplit("/", 1)[1])
            if not spans:
                return self.reply(404, f"{path.rsplit('/', 1)[1]} not found", "text/plain")
            return self.reply(200, [zipkin_span(s) for s in spans])
        if path == "/api/v2/traces":
            service = one.get("serviceName")
            end_ms = int(one.get("endTs", 0)) or 2**62
            lookback = int(one.get("lookback", 86400000))
            terms = [t.strip() for t in one.get("annotationQuery", "").split(" and ") if t.strip()]

            def match(span):
                if service and span["resource"].get("service.name") != service:
                    return False
                tags = zipkin_span(span)["tags"]
                for term in terms:
                    key, sep, value = term.partition("=")
                    if (sep and tags.get(key) != value) or (not sep and key not in tags):
                        return False
                return True

            ids = self.store.find_traces(match, (end_ms - lookback) * 10**6, end_ms * 10**6, int(one.get("limit", 10)))
            return self.reply(200, [[zipkin_span(s) for s in self.store.trace(t)] for t in ids])
        return self.reply(404, "not found", "text/plain")

    # span metrics, as the spanmetrics connector exports them through Prometheus
    def get_metrics(self, path, one, params):
        if path != "/metrics":
            return self.reply(404, "not found", "text/plain")
        return self.reply(200, span_metrics_text(self.store), "text/plain; version=0.0.4")


def zipkin_span(s):
    """Zipkin's view of an OTel span: resource attributes become tags, all values strings."""
    tags = {k: (json.dumps(v) if isinstance(v, (list, dict)) else str(v).lower() if isinstance(v, bool) else str(v))
            for k, v in list(s["resource"].items()) + list(s["attributes"].items()) if k != "service.name"}
    if s["status"] == 2:
        tags["otel.status_code"] = "ERROR"
        tags["error"] = s["status_message"] or ""
    span = {"traceId": s["trace_id"], "id": s["span_id"], "name": s["name"].lower(), "timestamp": s["start"] // 1000,
            "duration": (s["end"] - s["start"]) // 1000, "localEndpoint": {"serviceName": s["resource"].get("service.name", "")},
            "tags": tags}
    if s["parent_id"]:
        span["parentId"] = s["parent_id"]
    kind = {2: "SERVER", 3: "CLIENT", 4: "PRODUCER", 5: "CONSUMER"}.get(s["kind"])
    if kind:
        span["kind"] = kind
    if s["kind"] == 3 and s["attributes"].get("peer.service"):
        span["remoteEndpoint"] = {"serviceName": s["attributes"]["peer.service"]}
    return span


def span_metrics_text(store):
    def labels(key, extra=""):
        service, name, kind, status, color, version = key
        text = (f'service_name="{service}",span_name="{name}",span_kind="{kind}",status_code="{status}",'
                f'deployment_color="{color}",service_version="{version}"')
        return "{" + text + extra + "}"

    lines = ["# TYPE traces_span_metrics_calls_total counter"]
    with store.lock:
        calls, buckets, sums = dict(store.calls), dict(store.buckets), dict(store.sums)
    for key, value in sorted(calls.items()):
        lines.append(f"traces_span_metrics_calls_total{labels(key)} {value}")
    lines.append("# TYPE traces_span_metrics_duration_milliseconds histogram")
    for key, total in sorted(calls.items()):
        cumulative = 0
        for index, bound in enumerate(BUCKETS_MS):
            cumulative += buckets.get(key + (index,), 0)
            le = ',le="%s"' % bound
            lines.append(f"traces_span_metrics_duration_milliseconds_bucket{labels(key, le)} {cumulative}")
        le = ',le="+Inf"'
        lines.append(f"traces_span_metrics_duration_milliseconds_bucket{labels(key, le)} {total}")
        lines.append(f"traces_span_metrics_duration_milliseconds_sum{labels(key)} {sums[key]:.3f}")
        lines.append(f"traces_span_metrics_duration_milliseconds_count{labels(key)} {total}")
    return "\n".join(lines) + "\n"


def serve(store, address, ports):
    servers = []
    for api, port in ports.items():
        handler = type(f"{api}Handler", (Handler,), {"store": store, "api": api})
        server = ThreadingHTTPServer((address, port), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
    return servers


def main(argv=None):
    parser = argparse.ArgumentParser(description="LAB STAND-IN trace store (see the module docstring)")
    parser.add_argument("--address", default="0.0.0.0")
    parser.add_argument("--otlp-port", type=int, default=4318)
    parser.add_argument("--jaeger-port", type=int, default=16686)
    parser.add_argument("--tempo-port", type=int, default=3200)
    parser.add_argument("--zipkin-port", type=int, default=9411)
    parser.add_argument("--metrics-port", type=int, default=9464)
    args = parser.parse_args(argv)
    ports = {"otlp": args.otlp_port, "jaeger": args.jaeger_port, "tempo": args.tempo_port,
             "zipkin": args.zipkin_port, "metrics": args.metrics_port}
    serve(Store(), args.address, ports)
    threading.Event().wait()


if __name__ == "__main__":
    main()
