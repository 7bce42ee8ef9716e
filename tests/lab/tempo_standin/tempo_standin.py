"""LAB STAND-IN for Grafana Tempo. It is NOT Tempo.

Tempo's licence (AGPL) rules the real server out of this lab, so this small program plays its
part: it receives OTLP/HTTP (in the lab, from the real Jaeger v2's `otlphttp` exporter) and
answers Tempo's HTTP query API the way the Tempo release named by --tempo-version does, as far
as that behaviour was read from Tempo's own sources (github.com/grafana/tempo, at the tags cited
next to each behaviour below; facts only, no code copied). Whatever it cannot answer the way
Tempo would, it refuses (HTTP 400 saying "lab Tempo stand-in"), never answering wrongly.

Served (Tempo's default HTTP port 3200):
  GET /ready, /api/echo, /api/status/buildinfo (branch and revision say LAB-STAND-IN)
  GET /api/search           q (TraceQL, the subset below), start, end, limit, spss, since (>= 2.10)
  GET /api/traces/<id>      v1 trace by id, gogo-jsonpb {"batches": [...]}
  GET /api/v2/traces/<id>   v2 trace by id, {"trace": {"resourceSpans": [...]}, ...} (>= 2.6)
OTLP/HTTP in (--otlp-port): POST /v1/traces, protobuf or JSON, Content-Encoding gzip/zlib/deflate.

TraceQL understood (anything else is a 400 "invalid TraceQL query: parse error ..."):
  { }                                      every span
  { COND && COND && ... } [ | select(FIELD, FIELD, ...) ]
  COND  := FIELD OP LITERAL                 OP: = != > >= < <=
  FIELD := resource.KEY | span.KEY | .KEY | name | status | kind | duration | statusMessage
           | span:name | span:status | span:kind | span:duration | span:statusMessage  (>= 2.5)
  LITERAL := "string" | `raw string` | 42 | 4.2 | 150ms (durations) | true | false | nil (only != nil)
           | ok | error | unset | unspecified | internal | server | client | producer | consumer

Multi-tenancy (--multitenant): like Tempo with multitenancy_enabled, queries without
X-Scope-OrgID get 401 "no org id"; spans are stored under the OTLP request's X-Scope-OrgID.
Without it every span and every query belongs to the tenant "single-tenant" (pkg/util/auth.go
FakeTenantID) whatever the headers say.

It runs with Python 3.11 and the opentelemetry-proto wheel (and its protobuf) only.
"""

import argparse
import base64
import collections
import datetime
import gzip
import json
import math
import re
import sys
import threading
import time
import urllib.parse
import zlib
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from google.protobuf import json_format
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, TracesData

# --- Tempo releases -------------------------------------------------------------------------
# Each release line and the newest patch of it whose behaviour was read for this stand-in.
# A bare "2.9" means that patch. Patches matter: max_result_limit's default changed in 2.8.4,
# 2.9.2 and 2.10.2 (modules/frontend/config.go at those tags).
RELEASES = {(2, 4): 2, (2, 5): 0, (2, 6): 1, (2, 7): 2, (2, 8): 4, (2, 9): 5, (2, 10): 8, (3, 0): 3}
DEFAULT_VERSION = "3.0"  # v3.0.3 was the newest Tempo tag read (2026-08-13)
FAKE_TENANT = "single-tenant"  # pkg/util/auth.go FakeTenantID, every version
MAX_SPANS = 400000
SEC = 10 ** 9
MAX_HEADER_BYTES = 1 << 20  # Go net/http DefaultMaxHeaderBytes
MAX_BODY = 20 * 1024 * 1024  # confighttp's default max_request_body_size (20 MiB)


def parse_version(text):
    match = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.(\d+))?", (text or "").strip())
    if not match:
        raise ValueError(f"not a Tempo version: {text!r} (want e.g. 2.9 or 2.9.5)")
    line = (int(match.group(1)), int(match.group(2)))
    if line not in RELEASES:
        known = ", ".join(f"{a}.{b}" for a, b in sorted(RELEASES))
        raise ValueError(f"Tempo {line[0]}.{line[1]} was not read for this stand-in (known: {known})")
    patch = RELEASES[line] if match.group(3) is None else int(match.group(3))
    if patch > RELEASES[line]:
        raise ValueError(f"Tempo {line[0]}.{line[1]}.{patch} is newer than the {line[0]}.{line[1]}.{RELEASES[line]} "
                         "that was read for this stand-in")
    return line + (patch,)


class Behaviour:
    """What the followed Tempo release does, each switch with the upstream file it comes from."""

    def __init__(self, version):
        self.version = version
        v = version
        # pkg/traceql/expr.y + lexer.go v2.5.0: scoped intrinsics `span:name`, `span:status`, ...
        self.scoped_intrinsics = v >= (2, 5, 0)
        # tempodb/encoding/versioned.go v2.6.0: vParquet4 by default, whose traces carry ServiceStats
        # that pkg/traceql/engine.go asTraceSearchMetadata copies into `serviceStats`.
        self.service_stats = v >= (2, 6, 0)
        # pkg/api/http.go v2.6.0: PathTracesV2 = "/api/v2/traces/{traceID}" appears.
        self.trace_v2 = v >= (2, 6, 0)
        # pkg/tempopb/tempo.proto v2.8.0: TraceByIDMetrics gets inspectedBytes; the v2 combiner
        # (modules/frontend/combiner/trace_by_id_v2.go) sets resp.Metrics from then on.
        self.trace_v2_metrics = v >= (2, 8, 0)
        # modules/frontend/search_sharder.go v2.7.0: spss above max_spans_per_span_set (100) is a 400.
        self.max_spss = 100 if v >= (2, 7, 0) else 0
        # pkg/api/http.go v2.10.0 (PR #5858): spss=0 is accepted (before: "must be a positive number").
        self.spss_zero_ok = v >= (2, 10, 0)
        # pkg/api/http.go v3.0.0: start, end, limit, spss parsed with strconv.ParseUint (was ParseInt/Atoi).
        self.uint_params = v >= (3, 0, 0)
        # modules/frontend/config.go: max_result_limit default 0 (none) until 256*1024 in 2.8.4, 2.9.2,
        # 2.10.2 and 3.0.0.
        self.max_limit = 262144 if (v >= (3, 0, 0) or (2, 10, 2) <= v or (2, 9, 2) <= v < (2, 10, 0)
                                    or (2, 8, 4) <= v < (2, 9, 0)) else 0
        # pkg/api/http.go ParseSearchRequest <= v2.6.x parses q itself; from v2.7.0 the handler's
        # newCombiner (search_handlers.go) and the pipeline's queryValidatorWare
        # (pipeline/async_query_validator_middleware.go) parse and validate it instead.
        self.parse_q_in_request = v < (2, 7, 0)
        self.validate_in_frontend = v >= (2, 7, 0)
        # modules/frontend/config.go v2.7.0: max_query_expression_size_bytes 128 KiB, enforced by
        # the same queryValidatorWare.
        self.max_query_bytes = 128 * 1024 if v >= (2, 7, 0) else 0
        # modules/frontend/pipeline/async_adjust_start_end.go + frontend.go v2.10.0: the search
        # pipeline clamps end to now - query_end_cutoff and, without start/end, searches
        # [now - query_backend_after (15m), now - cutoff]. query_end_cutoff: 0 in 2.10,
        # 30s from 3.0.0 (modules/frontend/config.go).
        self.adjust_start_end = v >= (2, 10, 0)
        self.query_end_cutoff = 30 if v >= (3, 0, 0) else 0
        self.query_backend_after = 15 * 60
        # modules/frontend/config.go (every version read): search max_duration 168h.
        self.max_search_duration = 168 * 3600
        # Collector otlpreceiver vendored by Tempo: from v2.5.0 a consumer error without a gRPC
        # status becomes codes.Unavailable -> HTTP 503 (internal/errors/errors.go); in v2.4 it
        # was written as HTTP 500 (otlphttp.go writeError).
        self.otlp_consumer_error = (503, 14) if v >= (2, 5, 0) else (500, 2)
        # modules/frontend/traceid_handlers.go: up to v2.9 Accept must equal application/protobuf;
        # from v2.10.0 api.MarshalingFormatFromAcceptHeader looks for it anywhere in Accept.
        self.accept_contains = v >= (2, 10, 0)
        # v1 trace by id, nothing found: 404 "trace not found" in v2.4 (frontend/tracebyidsharding.go),
        # 404 with an empty body from v2.5.0 (frontend/combiner/trace_by_id.go).
        self.v1_not_found_body = b"trace not found" if v < (2, 5, 0) else b""
        # Tempo 3.0 release notes (TraceQL array matching changes, PR 6353): `!=` on an array
        # means NOT IN; before it meant "some element differs".
        self.array_not_in = v >= (3, 0, 0)

    @property
    def text(self):
        return "%d.%d.%d" % self.version


# --- spans in memory ------------------------------------------------------------------------

class Span:
    """One stored span with the proto pieces needed to give it back and the values TraceQL reads."""

    __slots__ = ("seq", "proto", "resource", "scope", "trace_id", "span_id", "parent_id", "name", "kind",
                 "status", "status_message", "start", "end", "attrs", "res_attrs", "service", "size")

    def __init__(self, seq, proto, resource, scope):
        self.seq = seq
        self.proto = proto
        self.resource = resource
        self.scope = scope
        self.trace_id = bytes(proto.trace_id)
        self.span_id = bytes(proto.span_id)
        self.parent_id = bytes(proto.parent_span_id)
        self.name = proto.name
        self.kind = int(proto.kind)
        self.status = int(proto.status.code)
        self.status_message = proto.status.message
        self.start = int(proto.start_time_unix_nano)
        self.end = int(proto.end_time_unix_nano)
        self.attrs = {kv.key: any_value(kv.value) for kv in proto.attributes}
        self.res_attrs = {kv.key: any_value(kv.value) for kv in resource.attributes}
        service = self.res_attrs.get("service.name")
        self.service = service[1] if service and service[0] == "string" else ""
        self.size = proto.ByteSize()


def any_value(value):
    """OTLP AnyValue -> (TraceQL type, value), or None where TraceQL cannot read it."""
    kind = value.WhichOneof("value")
    if kind == "string_value":
        return ("string", value.string_value)
    if kind == "bool_value":
        return ("bool", value.bool_value)
    if kind == "int_value":
        return ("int", value.int_value)
    if kind == "double_value":
        return ("float", value.double_value)
    if kind == "array_value":
        items = [any_value(v) for v in value.array_value.values]
        if items and all(i is not None and i[0] == items[0][0] for i in items):
            return ("array", items)
    return None


class Store:
    """Spans per tenant, grouped by trace; the oldest dropped past MAX_SPANS."""

    def __init__(self, max_spans=MAX_SPANS):
        self.lock = threading.Lock()
        self.max_spans = max_spans
        self.order = collections.deque()  # (tenant, span) in arrival order
        self.traces = collections.defaultdict(dict)  # tenant -> trace_id -> [Span]
        self.bounds = collections.defaultdict(dict)  # tenant -> trace_id -> (earliest start, latest end)
        self.seen = set()  # (tenant, trace_id, span_id, kind)
        self.seq = 0

    def add(self, tenant, request):
        with self.lock:
            for resource_spans in request.resource_spans:
                resource = resource_spans.resource
                for scope_spans in resource_spans.scope_spans:
                    for proto in scope_spans.spans:
                        # The trace combiner (pkg/model/trace/combine.go) keeps one copy of a span
                        # sent twice (e.g. an exporter's retry).
                        key = (tenant, bytes(proto.trace_id), bytes(proto.span_id), int(proto.kind))
                        if key in self.seen:
                            continue
                        self.seen.add(key)
                        self.seq += 1
                        span = Span(self.seq, proto, resource, scope_spans.scope)
                        self.traces[tenant].setdefault(span.trace_id, []).append(span)
                        start, end = self.bounds[tenant].get(span.trace_id, (span.start, span.end))
                        self.bounds[tenant][span.trace_id] = (min(start, span.start), max(end, span.end))
                        self.order.append((tenant, span))
            while len(self.order) > self.max_spans:
                tenant, old = self.order.popleft()
                self.seen.discard((tenant, old.trace_id, old.span_id, old.kind))
                spans = self.traces[tenant].get(old.trace_id, [])
                if old in spans:
                    spans.remove(old)
                if spans:
                    self.bounds[tenant][old.trace_id] = (min(s.start for s in spans), max(s.end for s in spans))
                else:
                    self.traces[tenant].pop(old.trace_id, None)
                    self.bounds[tenant].pop(old.trace_id, None)

    def trace(self, tenants, trace_id):
        with self.lock:
            return [s for t in tenants for s in self.traces.get(t, {}).get(trace_id, [])]

    def all_traces(self, tenants, start_ns=0, end_ns=0):
        """(trace id, spans) of every trace that overlaps [start_ns, end_ns] (every trace when
        the window is 0, 0), the tenants' spans of one trace id merged."""
        with self.lock:
            merged = collections.OrderedDict()
            for tenant in tenants:
                bounds = self.bounds.get(tenant, {})
                for trace_id, spans in self.traces.get(tenant, {}).items():
                    first, last = bounds[trace_id]
                    if start_ns and end_ns and (first > end_ns or last < start_ns):
                        continue
                    merged.setdefault(trace_id, []).extend(spans)
            return list(merged.items())


# --- OTLP in --------------------------------------------------------------------------------

HEX_ID_KEYS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


def _hex_ids_to_base64(node):
    """OTLP/JSON writes ids in hex where protobuf's JSON mapping wants base64."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key in HEX_ID_KEYS and isinstance(value, str):
                try:
                    node[key] = base64.b64encode(bytes.fromhex(value)).decode()
                except ValueError:
                    raise ValueError(f"invalid {key} {value!r}: not hex") from None
            else:
                _hex_ids_to_base64(value)
    elif isinstance(node, list):
        for item in node:
            _hex_ids_to_base64(item)


def decode_otlp(body, content_type):
    request = ExportTraceServiceRequest()
    if content_type == "application/json":
        document = json.loads(body)
        _hex_ids_to_base64(document)
        json_format.ParseDict(document, request, ignore_unknown_fields=True)
    else:
        request.ParseFromString(body)
    return request


def rpc_status(code, message, as_json):
    """google.rpc.Status, as the collector's otlpreceiver writes errors (otlphttp.go writeError)."""
    if as_json:
        return json.dumps({"code": code, "message": message}).encode()
    text = message.encode()
    return b"\x08" + _varint(code) + b"\x12" + _varint(len(text)) + text


def _varint(n):
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


# --- Go formats -----------------------------------------------------------------------------

def go_quote(s):
    return json.dumps(s, ensure_ascii=False)


def go_parse_int(name, text, bits, unsigned, atoi=False):
    """strconv.ParseInt / ParseUint / Atoi with Go's error texts, wrapped as Tempo wraps them."""
    func = "Atoi" if atoi else ("ParseUint" if unsigned else "ParseInt")
    pattern = r"[0-9]+" if unsigned else r"[+-]?[0-9]+"
    if not re.fullmatch(pattern, text):
        raise ParamError(f"invalid {name}: strconv.{func}: parsing {go_quote(text)}: invalid syntax")
    value = int(text)
    low, high = (0, 2 ** bits - 1) if unsigned else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    if not low <= value <= high:
        raise ParamError(f"invalid {name}: strconv.{func}: parsing {go_quote(text)}: value out of range")
    return value


GO_UNITS = {"ns": 1, "us": 10 ** 3, "µs": 10 ** 3, "μs": 10 ** 3, "ms": 10 ** 6, "s": 10 ** 9, "m": 60 * 10 ** 9,
            "h": 3600 * 10 ** 9}
PROM_DURATION = re.compile(r"(?:(\d+)y)?(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?(?:(\d+)ms)?")


def parse_duration_ns(text):
    """TraceQL durations (pkg/traceql/lexer.go parseDuration): Prometheus style first
    (y w d h m s ms), then Go's time.ParseDuration. None when neither reads it."""
    match = PROM_DURATION.fullmatch(text)
    if text and match and (text == "0" or any(match.groups())):
        y, w, d, h, m, s, ms = (int(g or 0) for g in match.groups())
        seconds = ((y * 365 + w * 7 + d) * 24 + h) * 3600 + m * 60 + s
        return seconds * 10 ** 9 + ms * 10 ** 6
    return go_duration_ns(text)


def go_duration_ns(text):
    if text in ("0", "+0", "-0"):
        return 0
    body = text.lstrip("+-")
    sign = -1 if text.startswith("-") else 1
    total, rest = 0.0, body
    if not rest:
        return None
    while rest:
        match = re.match(r"([0-9]*(?:\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)", rest)
        if not match or match.group(1) in ("", "."):
            return None
        total += float(match.group(1)) * GO_UNITS[match.group(2)]
        rest = rest[match.end():]
    return sign * int(round(total))


def go_duration_text(ns):
    """time.Duration.String(), as TraceQL prints durations in error messages."""
    if ns == 0:
        return "0s"
    sign, ns = ("-", -ns) if ns < 0 else ("", ns)
    if ns < 10 ** 3:
        return f"{sign}{ns}ns"
    if ns < 10 ** 6:
        return f"{sign}{_trim(ns / 10 ** 3)}µs"
    if ns < 10 ** 9:
        return f"{sign}{_trim(ns / 10 ** 6)}ms"
    hours, rem = divmod(ns, 3600 * 10 ** 9)
    minutes, rem = divmod(rem, 60 * 10 ** 9)
    text = f"{_trim(rem / 10 ** 9)}s"
    if hours or minutes:
        text = f"{minutes}m" + text
    if hours:
        text = f"{hours}h" + text
    return sign + text


def _trim(number):
    return ("%.9f" % number).rstrip("0").rstrip(".")


# --- TraceQL subset -------------------------------------------------------------------------

class TraceQLError(Exception):
    """`stage` says where Tempo would have caught it: "parse" (a ParseError) or "validate"."""

    def __init__(self, message, stage="parse"):
        super().__init__(message)
        self.stage = stage


class ParamError(Exception):
    pass


SUPPORTED = "the lab Tempo stand-in understands only { cond && ... } and | select(...)"
STATUS_LITERALS = {"unset": 0, "ok": 1, "error": 2}
KIND_LITERALS = {"unspecified": 0, "internal": 1, "server": 2, "client": 3, "producer": 4, "consumer": 5}
STATUS_NAMES = {0: "unset", 1: "ok", 2: "error"}
KIND_NAMES = {0: "unspecified", 1: "internal", 2: "server", 3: "client", 4: "producer", 5: "consumer"}
# Span intrinsics the stand-in evaluates, with the type TraceQL gives them (pkg/traceql/ast.go impliedType).
INTRINSICS = {"name": "string", "status": "status", "kind": "kind", "duration": "duration",
              "statusMessage": "string"}
# Other words TraceQL knows (pkg/traceql/lexer.go tokens): refused as outside the subset.
OTHER_KEYWORDS = {"childCount", "rootName", "rootServiceName", "rootService", "traceDuration", "nestedSetLeft",
                  "nestedSetRight", "nestedSetParent", "id", "traceID", "spanID", "parentID", "timeSinceStart",
                  "version", "parent", "count", "avg", "max", "min", "sum", "by", "coalesce", "rate",
                  "count_over_time", "min_over_time", "max_over_time", "avg_over_time", "sum_over_time",
                  "quantile_over_time", "histogram_over_time", "compare", "topk", "bottomk", "with"}
KEYWORDS = set(INTRINSICS) | OTHER_KEYWORDS | set(STATUS_LITERALS) | set(KIND_LITERALS) | {
    "true", "false", "nil", "select", "statusMessage"}
SCOPE_DOTS = ("resource", "span", "parent", "event", "link", "instrumentation")
SCOPE_COLONS = ("span", "trace", "event", "link", "instrumentation")
OPERATORS = ["!>>", "!<<", "&>>", "&<<", "&&", "||", "!=", "=~", "!~", ">=", "<=", ">>", "<<", "!>", "!<", "&~",
             "&>", "&<", "=", ">", "<", "!", "~", "|", "{", "}", "(", ")", ",", "+", "-", "*", "/", "%", "^"]
ATTRIBUTE_STOP = set("{}()=~!<>&|^,")


class Token:
    __slots__ = ("kind", "value", "col")

    def __init__(self, kind, value, col):
        self.kind, self.value, self.col = kind, value, col

    def shown(self):
        """How goyacc names the token in "syntax error: unexpected ..." (pkg/traceql/parse.go)."""
        if self.kind == "IDENT" and self.value in KEYWORDS:
            return self.value
        return {"STRING": "STRING", "INT": "INTEGER", "FLOAT": "FLOAT", "DURATION": "DURATION", "IDENT": "IDENTIFIER",
                "ATTR": "IDENTIFIER", "END": "$end"}.get(self.kind, str(self.value))


def _error(col, message):
    return TraceQLError(f"parse error at line 1, col {col}: {message}")


def tokenize(text, behaviour):
    tokens, pos, n = [], 0, len(text)
    while pos < n:
        c = text[pos]
        col = pos + 1
        if c.isspace():
            pos += 1
            continue
        if c in "\"`":
            pos, value = _string(text, pos)
            tokens.append(Token("STRING", value, col))
            continue
        if c.isdigit() or (c == "." and pos + 1 < n and text[pos + 1].isdigit()):
            pos = _number(text, pos, tokens)
            continue
        if c.isalpha() or c == "_":
            end = pos
            while end < n and (text[end].isalnum() or text[end] == "_"):
                end += 1
            word, nxt = text[pos:end], text[end:end + 1]
            if nxt == "." and word in SCOPE_DOTS:
                if word != "resource" and word != "span":
                    raise _error(col, f"`{word}.` attributes: not supported ({SUPPORTED})")
                pos, name = _attribute(text, end + 1, col)
                tokens.append(Token("ATTR", (word, name), col))
                continue
            # `span:`, `trace:` ... scopes arrive in v2.5.0 (lexer.go tokens); before they lex as words
            if nxt == ":" and word in SCOPE_COLONS and behaviour.scoped_intrinsics:
                if word != "span":
                    raise _error(col, f"`{word}:` intrinsics: not supported ({SUPPORTED})")
                tokens.append(Token("SPAN_COLON", "span:", col))
                pos = end + 1
                continue
            tokens.append(Token("IDENT", word, col))
            pos = end
            continue
        if c == ".":
            pos, name = _attribute(text, pos + 1, col)
            tokens.append(Token("ATTR", ("", name), col))
            continue
        for op in OPERATORS:
            if text.startswith(op, pos):
                tokens.append(Token("OP", op, col))
                pos += len(op)
                break
        else:
            # text/scanner hands an unknown rune to the parser as an IDENTIFIER (lexer.go Lex)
            tokens.append(Token("IDENT", c, col))
            pos += 1
    tokens.append(Token("END", None, n + 1))
    return tokens


def _string(text, pos):
    quote, col = text[pos], pos + 1
    if quote == "`":
        end = text.find("`", pos + 1)
        if end < 0:
            raise _error(col, "literal not terminated")
        return end + 1, text[pos + 1:end]
    out, i = [], pos + 1
    escapes = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", '"': '"', "'": "'", "a": "\a", "b": "\b", "f": "\f",
               "v": "\v"}
    while i < len(text):
        ch = text[i]
        if ch == '"':
            return i + 1, "".join(out)
        if ch == "\n":
            break
        if ch == "\\" and i + 1 < len(text):
            esc = text[i + 1]
            if esc in escapes:
                out.append(escapes[esc])
                i += 2
                continue
            if esc in "uU":
                width = 4 if esc == "u" else 8
                digits = text[i + 2:i + 2 + width]
                if len(digits) == width and all(d in "0123456789abcdefABCDEF" for d in digits):
                    out.append(chr(int(digits, 16)))
                    i += 2 + width
                    continue
            raise _error(col, "invalid char escape")
        out.append(ch)
        i += 1
    raise _error(col, "literal not terminated")


def _number(text, pos, tokens):
    col = pos + 1
    match = re.compile(r"[0-9]*\.?[0-9]*(?:[eE][+-]?[0-9]+)?").match(text, pos)
    number = match.group(0)
    end = match.end()
    # pkg/traceql/lexer.go tryScanDuration: the number and what follows up to a space, as long
    # as it is digits, '.' or duration letters, is a duration if parseDuration reads it.
    scan = end
    while scan < len(text) and not text[scan].isspace() and (text[scan].isdigit() or text[scan] == "."
                                                             or text[scan] in "nsumhµdwy"):
        scan += 1
    if scan > end:
        ns = parse_duration_ns(text[pos:scan])
        if ns is not None:
            tokens.append(Token("DURATION", ns, col))
            return scan
    if re.fullmatch(r"[0-9]+", number):
        tokens.append(Token("INT", int(number), col))
    else:
        try:
            tokens.append(Token("FLOAT", float(number), col))
        except ValueError:
            raise _error(col, f"invalid number {number!r}") from None
    return end


def _attribute(text, pos, col):
    """An attribute name runs to the first space or TraceQL operator rune; quoted parts may hold
    anything (pkg/traceql/lexer.go parseAttribute, isAttributeRune)."""
    out = []
    while pos < len(text):
        ch = text[pos]
        if ch == '"':
            pos, part = _string(text, pos)
            out.append(part)
            continue
        if ch.isspace() or ch in ATTRIBUTE_STOP:
            break
        out.append(ch)
        pos += 1
    if not out:
        raise _error(col, "syntax error: unexpected END_ATTRIBUTE, expecting IDENTIFIER")
    return pos, "".join(out)


class Field:
    """resource.X / span.X / .X (kind "attr") or a span intrinsic (kind "intr")."""

    __slots__ = ("kind", "scope", "name")

    def __init__(self, kind, scope, name):
        self.kind, self.scope, self.name = kind, scope, name

    @property
    def key(self):
        return (self.kind, self.scope, self.name)

    def type(self):
        return "attribute" if self.kind == "attr" else INTRINSICS[self.name]

    def text(self):
        """pkg/traceql/ast_stringer.go Attribute.String()"""
        if self.kind == "intr":
            return self.name
        return f"{self.scope}.{self.name}" if self.scope else f".{self.name}"

    def value(self, span):
        if self.kind == "intr":
            if self.name == "name":
                return ("string", span.name)
            if self.name == "status":
                return ("status", span.status)
            if self.name == "kind":
                return ("kind", span.kind)
            if self.name == "duration":
                return ("duration", span.end - span.start)
            return ("string", span.status_message)
        if self.scope == "resource":
            return span.res_attrs.get(self.name)
        if self.scope == "span":
            return span.attrs.get(self.name)
        # unscoped: the span's attribute wins over the resource's (vparquet4 block_traceql.go AttributeFor)
        found = span.attrs.get(self.name)
        return found if found is not None else span.res_attrs.get(self.name)


class Query:
    def __init__(self, conditions, selected):
        self.conditions = conditions  # [(Field, op, (type, value))]
        self.selected = selected  # [Field]

    def matches(self, span, behaviour):
        return all(compare(field.value(span), op, literal, behaviour) for field, op, literal in self.conditions)

    def fetched(self):
        """Fields whose values Tempo has read for a matching span: those of the filter and of
        select() (engine.go asTraceSearchMetadata turns what was read into the result)."""
        seen, out = set(), []
        for field in [c[0] for c in self.conditions] + self.selected:
            if field.key not in seen:
                seen.add(field.key)
                out.append(field)
        return out


class Parser:
    def __init__(self, text, behaviour):
        self.behaviour = behaviour
        self.tokens = tokenize(text, behaviour)
        self.i = 0

    def peek(self):
        return self.tokens[self.i]

    def take(self):
        token = self.tokens[self.i]
        self.i += 1
        return token

    def unexpected(self, token, expecting=None):
        text = f"syntax error: unexpected {token.shown()}"
        if expecting:
            text += f", expecting {expecting}"
        return _error(token.col, text)

    def unsupported(self, token, what):
        return _error(token.col, f"{what}: not supported ({SUPPORTED})")

    def expect_op(self, op):
        token = self.take()
        if token.kind != "OP" or token.value != op:
            raise self.unexpected(token, op)
        return token

    def parse(self):
        token = self.peek()
        if token.kind == "OP" and token.value == "(":
            raise self.unsupported(token, "parenthesised spanset expressions")
        self.expect_op("{")
        conditions = []
        if not (self.peek().kind == "OP" and self.peek().value == "}"):
            conditions.append(self.condition())
            while self.peek().kind == "OP" and self.peek().value == "&&":
                self.take()
                conditions.append(self.condition())
        closing = self.peek()
        if closing.kind == "OP" and closing.value in ("||", "+", "-", "*", "/", "%", "^"):
            raise self.unsupported(closing, f"`{closing.value}` in a spanset filter")
        self.expect_op("}")
        selected = []
        token = self.take()
        if token.kind == "OP" and token.value == "|":
            word = self.take()
            if word.kind != "IDENT" or word.value != "select":
                if word.kind == "IDENT" and word.value in OTHER_KEYWORDS:
                    raise self.unsupported(word, f"`{word.value}` in a pipeline")
                if word.kind == "OP" and word.value == "{":
                    raise self.unsupported(word, "a second spanset filter in a pipeline")
                raise self.unexpected(word)
            self.expect_op("(")
            selected.append(self.field(in_select=True))
            while self.peek().kind == "OP" and self.peek().value == ",":
                self.take()
                selected.append(self.field(in_select=True))
            self.expect_op(")")
            token = self.take()
        if token.kind != "END":
            if token.kind == "OP" and token.value in ("&&", "||", ">", "<", ">>", "<<", "~", "!>", "!<", "!>>",
                                                      "!<<", "&>", "&<", "&>>", "&<<", "&~", "|"):
                raise self.unsupported(token, f"`{token.value}` between spansets or pipeline stages")
            if token.kind == "IDENT" and token.value == "with":
                raise self.unsupported(token, "query hints (`with`)")
            raise self.unexpected(token)
        for field, op, literal in conditions:
            validate(field, op, literal)
        return Query(conditions, selected)

    def field(self, in_select=False):
        token = self.take()
        if token.kind == "ATTR":
            return Field("attr", token.value[0], token.value[1])
        if token.kind == "SPAN_COLON":
            name = self.take()
            if name.kind == "IDENT" and name.value in INTRINSICS:
                return Field("intr", "", name.value)
            if name.kind == "IDENT" and name.value in ("id", "parentID"):
                raise self.unsupported(name, f"span:{name.value}")
            raise self.unexpected(name)
        if token.kind == "IDENT" and token.value in INTRINSICS:
            return Field("intr", "", token.value)
        if token.kind == "IDENT" and token.value in OTHER_KEYWORDS:
            raise self.unsupported(token, f"`{token.value}`")
        if not in_select and (token.kind in ("STRING", "INT", "FLOAT", "DURATION")
                              or (token.kind == "IDENT" and token.value in ("true", "false", "nil"))):
            raise self.unsupported(token, "a literal on the left of a comparison")
        if not in_select and token.kind == "OP" and token.value in ("(", "!", "-"):
            raise self.unsupported(token, f"`{token.value}` in a condition")
        raise self.unexpected(token)

    def condition(self):
        field = self.field()
        token = self.take()
        if token.kind != "OP" or token.value not in ("=", "!=", ">", ">=", "<", "<="):
            if token.kind == "OP" and token.value in ("=~", "!~"):
                raise self.unsupported(token, "regular expressions (`=~`, `!~`)")
            if token.kind == "OP" and token.value in ("&&", "||", "}"):
                raise self.unsupported(token, "a field alone as a condition")
            if token.kind == "OP" and token.value in ("+", "-", "*", "/", "%", "^"):
                raise self.unsupported(token, "arithmetic")
            raise self.unexpected(token)
        value = self.take()
        if value.kind == "STRING":
            literal = ("string", value.value)
        elif value.kind == "INT":
            literal = ("int", value.value)
        elif value.kind == "FLOAT":
            literal = ("float", value.value)
        elif value.kind == "DURATION":
            literal = ("duration", value.value)
        elif value.kind == "IDENT" and value.value in ("true", "false"):
            literal = ("bool", value.value == "true")
        elif value.kind == "IDENT" and value.value == "nil":
            literal = ("nil", None)
        elif value.kind == "IDENT" and value.value in STATUS_LITERALS:
            literal = ("status", STATUS_LITERALS[value.value])
        elif value.kind == "IDENT" and value.value in KIND_LITERALS:
            literal = ("kind", KIND_LITERALS[value.value])
        elif value.kind in ("ATTR", "SPAN_COLON") or (value.kind == "IDENT" and value.value in INTRINSICS):
            raise self.unsupported(value, "comparing two fields")
        elif value.kind == "OP" and value.value in ("-", "("):
            raise self.unsupported(value, f"`{value.value}` in a condition")
        else:
            raise self.unexpected(value)
        return field, token.value, literal


def literal_text(literal):
    """pkg/traceql/ast_stringer.go Static.EncodeToString(true)"""
    kind, value = literal
    if kind == "string":
        return f"`{value}`"
    if kind == "bool":
        return "true" if value else "false"
    if kind == "nil":
        return "nil"
    if kind == "status":
        return STATUS_NAMES[value]
    if kind == "kind":
        return KIND_NAMES[value]
    if kind == "duration":
        return go_duration_text(value)
    if kind == "float":
        text = repr(value)
        return text if ("e" in text or "." in text) else text + ".0"
    return str(value)


NUMERIC = ("int", "float", "duration")


def _matching(a, b):
    """pkg/traceql/enum_statics.go isMatchingOperand"""
    return "attribute" in (a, b) or a == b or (a in NUMERIC and b in NUMERIC) or "nil" in (a, b)


def _op_valid(op, kind):
    """pkg/traceql/enum_operators.go binaryTypeValid"""
    if kind == "attribute":
        return True
    if kind == "bool":
        return op in ("=", "!=")
    if kind in NUMERIC:
        return op in ("=", "!=", ">", ">=", "<", "<=")
    if kind == "string":
        return op in ("=", "!=", "=~", "!~", ">", ">=", "<", "<=")
    return op in ("=", "!=")  # nil, status, kind


def validate(field, op, literal):
    """pkg/traceql/ast_validate.go BinaryOperation.validate, for one condition."""
    expr = f"{field.text()} {op} {literal_text(literal)}"
    left, right = field.type(), literal[0]
    if not _matching(left, right):
        raise TraceQLError(f"binary operations must operate on the same type: {expr}", "validate")
    if right == "nil" and op == "=":
        unsupported = "{.a = nil} not yet supported"  # Tempo's own text, braces and all
        raise TraceQLError(unsupported, "validate")
    if not (_op_valid(op, left) and _op_valid(op, right)):
        raise TraceQLError(f"illegal operation for the given types: {expr}", "validate")


def _scalar(kind, value):
    return float(value) if kind in NUMERIC else value


def compare(found, op, literal, behaviour):
    """One condition on one span's value (pkg/traceql/ast_execute.go BinaryOperation.execute,
    ast.go Static.Equals/NotEquals): a missing value matches nothing, `!= nil` means "exists",
    values of different types never match, numbers compare across int, float and duration."""
    kind, expected = literal
    if kind == "nil":
        return found is not None if op == "!=" else False
    if found is None:
        return False
    if found[0] == "array":
        elements = found[1]
        if op == "!=":
            if behaviour.array_not_in:
                return not any(compare(e, "=", literal, behaviour) for e in elements)
            return any(compare(e, "!=", literal, behaviour) for e in elements)
        return any(compare(e, op, literal, behaviour) for e in elements)
    have, value = found
    if have in NUMERIC and kind in NUMERIC:
        a, b = _scalar(have, value), _scalar(kind, expected)
    elif have == kind:
        a, b = value, expected
    else:
        return False
    if op == "=":
        return a == b
    if op == "!=":
        return a != b
    if have in ("bool", "status", "kind"):
        return False
    return {">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}[op]


def parse_traceql(text, behaviour):
    return Parser(text, behaviour).parse()


# --- output shapes --------------------------------------------------------------------------

def any_value_json(found):
    """A TraceQL value as the search API writes it (engine.go Static.AsAnyValue, then jsonpb:
    int64 as a string, statuses and kinds as their TraceQL words)."""
    kind, value = found
    if kind == "string":
        return {"stringValue": value}
    if kind == "int":
        return {"intValue": str(value)}
    if kind == "float":
        return {"doubleValue": value}
    if kind == "bool":
        return {"boolValue": value}
    if kind == "status":
        return {"stringValue": STATUS_NAMES.get(value, f"status({value})")}
    if kind == "kind":
        return {"stringValue": KIND_NAMES.get(value, f"kind({value})")}
    if kind == "duration":
        return {"stringValue": go_duration_text(value)}
    return {"arrayValue": {"values": [any_value_json(v) for v in value]}}


def trace_proto(spans):
    """The stored spans of one trace as Tempo gives them back: one ResourceSpans per resource
    holding one ScopeSpans per scope (vparquet4 schema.go rebatchTrace), spans sorted by start
    time then span id, scopes and resources by their first span (pkg/model/trace/sort.go
    SortTrace), flags and schema URLs dropped (vParquet4 stores neither), and a status on every
    span (an unset one comes back as `status: {}`)."""
    resources = collections.OrderedDict()
    for span in spans:
        resource_key = span.resource.SerializeToString(deterministic=True)
        scope_key = span.scope.SerializeToString(deterministic=True)
        scopes = resources.setdefault(resource_key, (span.resource, collections.OrderedDict()))[1]
        scopes.setdefault(scope_key, (span.scope, []))[1].append(span)

    def first_span(members):
        return min((s.start, s.span_id) for s in members)

    built = []
    for resource, scopes in resources.values():
        resource_spans = ResourceSpans()
        resource_spans.resource.CopyFrom(resource)
        for scope, members in sorted(scopes.values(), key=lambda item: first_span(item[1])):
            scope_spans = resource_spans.scope_spans.add()
            scope_spans.scope.CopyFrom(scope)
            for span in sorted(members, key=lambda s: (s.start, s.span_id)):
                copy = scope_spans.spans.add()
                copy.CopyFrom(span.proto)
                copy.ClearField("flags")
                for link in copy.links:
                    link.ClearField("flags")
                copy.status.SetInParent()
        built.append((min(first_span(m) for _scope, m in scopes.values()), resource_spans))
    data = TracesData()
    for _first, resource_spans in sorted(built, key=lambda item: item[0]):
        data.resource_spans.append(resource_spans)
    return data


def jsonpb(message):
    """gogo/protobuf jsonpb as Tempo uses it: camelCase names, bytes in base64, enums by name,
    64-bit integers as strings, zero values left out."""
    return json_format.MessageToDict(message)


def trace_id_from_path(text):
    """pkg/util/traceid.go HexStringToTraceID, with its error texts."""
    for index, char in enumerate(text):
        if char not in "0123456789abcdefABCDEF":
            raise ParamError("trace IDs can only contain hex characters: "
                             f"invalid character '{char}' at position {index + 1}")
    if len(text) % 2:
        text = "0" + text
    raw = bytes.fromhex(text)
    if len(raw) > 16:
        raise ParamError("trace IDs can't be larger than 128 bits")
    return raw.rjust(16, b"\x00")


def trace_id_text(raw):
    """pkg/util/traceid.go TraceIDToHexString: hex, leading zeros removed."""
    return raw.hex().lstrip("0")


def span_id_text(raw):
    """pkg/util/traceid.go SpanIDToHexString: 16 hex characters."""
    return raw.hex().lstrip("0").rjust(16, "0")


def compact(document):
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


def trace_meta(trace_id, spans, behaviour):
    """Trace-level search fields (vparquet4 schema.go traceToParquet: start = earliest span
    start, duration = latest end - earliest start, root = the span without a parent)."""
    start = min(s.start for s in spans)
    end = max(s.end for s in spans)
    root = None
    for span in sorted(spans, key=lambda s: s.seq):
        if not span.parent_id.strip(b"\x00"):
            root = span
    item = {"traceID": trace_id_text(trace_id)}
    if root is not None and root.service:
        item["rootServiceName"] = root.service
    else:
        # modules/frontend/combiner/search.go addRootSpanNotReceivedText (pkg/search/util.go)
        item["rootServiceName"] = "<root span not yet received>"
    if root is not None and root.name:
        item["rootTraceName"] = root.name
    item["startTimeUnixNano"] = str(start)
    duration_ms = (end - start) // 10 ** 6
    if duration_ms:
        item["durationMs"] = duration_ms
    return item


def search_span(span, query):
    item = {"spanID": span_id_text(span.span_id)}
    attributes = []
    for field in query.fetched():
        if field.kind == "intr" and field.name == "duration":
            continue  # engine.go asTraceSearchMetadata skips the duration intrinsic
        found = field.value(span)
        if found is None:
            continue
        if field.kind == "intr" and field.name == "name":
            if found[1]:
                item["name"] = found[1]
            continue
        attributes.append({"key": field.name, "value": any_value_json(found)})
    item["startTimeUnixNano"] = str(span.start)
    if span.end - span.start:
        item["durationNanos"] = str(span.end - span.start)
    if attributes:
        item["attributes"] = attributes
    return item


def service_stats(spans):
    stats = collections.OrderedDict()
    for span in sorted(spans, key=lambda s: s.seq):
        entry = stats.setdefault(span.service, {"spanCount": 0, "errorCount": 0})
        entry["spanCount"] += 1
        if span.status == 2:
            entry["errorCount"] += 1
    return {name: {k: v for k, v in entry.items() if v} for name, entry in stats.items()}


# --- HTTP -----------------------------------------------------------------------------------

class Reply(Exception):
    """An answer decided before the end of a handler (an error, usually)."""

    def __init__(self, status, body=b"", content_type="text/plain; charset=utf-8", headers=None):
        super().__init__(status)
        self.status = status
        self.body = body if isinstance(body, bytes) else body.encode()
        self.content_type = content_type
        self.headers = headers or {}


def text_error(status, message):
    """http.Error and the frontend's bad-request responses: the message as text/plain."""
    return Reply(status, message)


class StandIn:
    """The stand-in's state and its answers, independent of the HTTP plumbing."""

    def __init__(self, version_text=DEFAULT_VERSION, multitenant=False, clock=time.time):
        self.behaviour = Behaviour(parse_version(version_text))
        self.multitenant = multitenant
        self.store = Store()
        self.clock = clock
        self.started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    # tenants ---------------------------------------------------------------------------------
    def query_tenants(self, headers):
        if not self.multitenant:
            return [FAKE_TENANT]  # cmd/tempo/app/fake_auth.go fakeHTTPAuthMiddleware
        org = (headers.get("X-Scope-OrgID") or "").strip()
        if not org:
            # dskit middleware.AuthenticateUser: http.Error(w, "no org id", 401) (user/id.go ErrNoOrgID)
            raise text_error(401, "no org id\n")
        # modules/frontend multi_tenant_queries_enabled (default true): "a|b" queries both tenants
        return list(dict.fromkeys(t for t in org.split("|") if t))

    # OTLP in ---------------------------------------------------------------------------------
    def otlp(self, method, path, headers, body):
        if path != "/v1/traces":
            raise text_error(404, "404 page not found\n")
        if method != "POST":
            raise Reply(405, "405 method not allowed, supported: [POST]", "text/plain")
        mime = (headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if mime not in ("application/x-protobuf", "application/json"):
            raise Reply(415, "415 unsupported media type, supported: [application/json, application/x-protobuf]",
                        "text/plain")
        as_json = mime == "application/json"
        ctype = "application/json" if as_json else "application/x-protobuf"

        def status_reply(status, code, message):
            return Reply(status, rpc_status(code, message, as_json), ctype)

        encoding = (headers.get("Content-Encoding") or "").strip().lower()
        try:
            # collector confighttp compression.go: "", gzip, zlib and deflate (zlib) are read here;
            # zstd, snappy and lz4, which Tempo also reads, are not in Python's standard library.
            if encoding == "gzip":
                body = gzip.decompress(body)
            elif encoding in ("zlib", "deflate"):
                body = zlib.decompress(body)
            elif encoding:
                raise status_reply(400, 3, f"unsupported Content-Encoding: {encoding} (zstd, snappy and lz4 "
                                           "are not read by the lab Tempo stand-in)")
        except (OSError, EOFError, zlib.error) as exc:
            raise status_reply(400, 3, str(exc)) from None
        try:
            request = decode_otlp(body, mime)
        except Exception as exc:  # a bad payload, whatever the decoder's complaint
            raise status_reply(400, 3, f"failed to unmarshal request: {exc}") from None
        count = sum(len(ss.spans) for rs in request.resource_spans for ss in rs.scope_spans)
        if count:  # otlpreceiver trace.Receiver.Export: an empty request never reaches the consumer
            if self.multitenant:
                tenant = (headers.get("X-Scope-OrgID") or "").strip()
                if not tenant:
                    # modules/distributor/receiver/middleware.go multiTenancyMiddleware returns
                    # dskit's ErrNoOrgID; the receiver maps a plain error to Unavailable (503) from
                    # v2.5, to HTTP 500 in v2.4.
                    status, code = self.behaviour.otlp_consumer_error
                    raise status_reply(status, code, "no org id")
            else:
                tenant = FAKE_TENANT  # modules/distributor/receiver/middleware.go FakeTenantMiddleware
            self.store.add(tenant, request)
        answer = ExportTraceServiceResponse()
        return Reply(200, compact(jsonpb(answer)) if as_json else answer.SerializeToString(), ctype)

    # Tempo API -------------------------------------------------------------------------------
    def tempo(self, method, path, query, headers):
        b = self.behaviour
        if path == "/ready":
            return Reply(200, "ready\n")  # cmd/tempo/app/app.go readyHandler: http.Error(w, "ready", 200)
        if path == "/api/echo":
            return Reply(200, "echo\n")  # cmd/tempo/app/modules.go echoHandler
        if path == "/api/status/buildinfo":
            if method != "GET":  # registered with .Methods("GET") in cmd/tempo/app/app.go
                raise Reply(405, b"")
            return Reply(200, compact(self.buildinfo()) + b"\n", "application/json")  # json.Encoder: compact + newline
        if path == "/api/search":
            return self.search(query, headers)
        match = re.fullmatch(r"/api/(v2/)?traces/([^/]+)", path)
        if match and (not match.group(1) or b.trace_v2):
            return self.trace_by_id(match.group(2), bool(match.group(1)), query, headers)
        raise text_error(404, "404 page not found\n")  # gorilla/mux NotFound

    def buildinfo(self):
        # cmd/tempo/app/app.go buildinfoHandler -> cmd/tempo/build GetVersion (prometheus
        # PrometheusVersion JSON keys); the version as `make exe` stamps it (tools/version-tag.sh: the tag).
        return {"version": "v" + self.behaviour.text, "revision": "LAB-STAND-IN-not-tempo",
                "branch": "LAB-STAND-IN", "buildUser": "tracegate-lab-tempo-standin", "buildDate": self.started,
                "goVersion": "none (Python %d.%d lab stand-in)" % sys.version_info[:2]}

    def trace_by_id(self, raw_id, v2, query, headers):
        b = self.behaviour
        tenants = self.query_tenants(headers)
        try:
            trace_id = trace_id_from_path(raw_id)  # pkg/api/http.go ParseTraceID
        except ParamError as exc:
            raise text_error(400, str(exc)) from None
        self.check_trace_params(query)
        accept = headers.get("Accept") or ""
        protobuf = ("application/protobuf" in accept) if b.accept_contains else accept == "application/protobuf"
        spans = self.store.trace(tenants, trace_id)
        data = trace_proto(spans) if spans else TracesData()
        inspected = sum(s.size for s in spans)
        if not v2:
            # modules/frontend/combiner/trace_by_id.go: 404 and no body when nothing was found;
            # otherwise tempopb.MarshalToJSONV1 (jsonpb, "resourceSpans" renamed "batches").
            if not spans:
                raise Reply(404, b.v1_not_found_body, "text/plain; charset=utf-8" if b.v1_not_found_body else None)
            if protobuf:
                return Reply(200, data.SerializeToString(), "application/protobuf")
            body = jsonpb(data)
            return Reply(200, compact({"batches": body.get("resourceSpans", [])}), "application/json")
        # modules/frontend/combiner/trace_by_id_v2.go: always 200; an unknown trace is an empty
        # trace {} (grafana/tempo#5105), metrics from v2.8 on.
        if protobuf:
            trace_bytes = data.SerializeToString()
            out = b"\x0a" + _varint(len(trace_bytes)) + trace_bytes
            if b.trace_v2_metrics:
                metrics = (b"\x08" + _varint(inspected)) if inspected else b""
                out += b"\x12" + _varint(len(metrics)) + metrics
            return Reply(200, out, "application/protobuf")
        document = {"trace": jsonpb(data)}
        if b.trace_v2_metrics:
            document["metrics"] = {"inspectedBytes": str(inspected)} if inspected else {}
        return Reply(200, compact(document), "application/json")

    def check_trace_params(self, query):
        """pkg/api/http.go ValidateAndSanitizeRequest: mode, start, end (seconds)."""
        mode = first(query, "mode")
        if mode and mode not in ("all", "ingesters", "blocks"):
            raise text_error(400, f"invalid value for mode {mode}")
        if mode == "ingesters":
            return
        values = {}
        for name in ("start", "end"):
            text = first(query, name)
            try:
                values[name] = go_parse_int(name, text, 64, False) if text else 0
            except ParamError as exc:
                raise text_error(400, str(exc)) from None
        if values["start"] and values["end"] and values["end"] <= values["start"]:
            raise text_error(400, "http parameter start must be before end. received start=%d end=%d"
                             % (values["start"], values["end"]))

    # search ----------------------------------------------------------------------------------
    def search(self, query, headers):
        """Checks in the order Tempo makes them: the handler parses the request
        (search_handlers.go api.ParseSearchRequest, then newCombiner: limit and, from 2.7, the
        query), then the pipeline (frontend.go): start/end clamped (>= 2.10), TraceQL validated
        (>= 2.7), then the sharder (search_sharder.go): range and spans-per-spanset limits."""
        b = self.behaviour
        tenants = self.query_tenants(headers)
        request = self.parse_search_request(query)
        limit = self.adjust_limit(request["limit"])
        parsed, invalid = None, None
        if request["q"]:
            try:
                parsed = parse_traceql(request["q"], b)
            except TraceQLError as exc:
                if exc.stage == "parse":
                    # newCombiner (>= 2.7): "invalid TraceQL query: %s"; <= 2.6 ParseSearchRequest already said so
                    raise text_error(400, f"invalid TraceQL query: {exc}") from None
                invalid = exc
        start, end = request["start"], request["end"]
        if b.adjust_start_end:
            start, end = self.clamp_range(query, start, end)
        if b.max_query_bytes and len(request["q"].encode()) > b.max_query_bytes:
            raise text_error(400, "TraceQL expression exceeds the configured maximum size of %d bytes, reduce the "
                                  "query expression size or contact your system administrator" % b.max_query_bytes)
        if invalid is not None and b.validate_in_frontend:
            # pipeline/async_query_validator_middleware.go: Parse + Validate -> 400
            raise text_error(400, f"invalid TraceQL query: {invalid}")
        if start and end and end - start > b.max_search_duration:
            raise text_error(400, "range specified by start and end exceeds %s. received start=%d end=%d"
                             % (go_duration_text(b.max_search_duration * 10 ** 9), start, end))
        spss = request["spss"]
        if b.max_spss and spss > b.max_spss:
            raise text_error(400, "spans per span set exceeds %d. received %d" % (b.max_spss, spss))
        if invalid is not None:
            # <= 2.6: only the querier's engine validates (engine.go parseQuery) and its error
            # comes back through querier/http.go handleError as a 500.
            raise text_error(500, str(invalid))
        if request["tags"] or request["min_duration"] is not None or request["max_duration"] is not None:
            raise text_error(400, "the lab Tempo stand-in answers TraceQL searches (q=...) only: tags, "
                                  "minDuration and maxDuration are not supported")
        if spss == 0:
            spss = 3  # pkg/traceql/engine.go: 0 -> DefaultSpansPerSpanSet (3), whatever the changelog says
        return Reply(200, compact(self.run_search(tenants, parsed, start, end, limit, spss)), "application/json")

    def parse_search_request(self, query):
        """pkg/api/http.go ParseSearchRequest, check by check in upstream order."""
        b = self.behaviour
        out = {"start": 0, "end": 0, "q": "", "tags": {}, "min_duration": None, "max_duration": None, "limit": 0,
               "spss": 3}

        def number(name, bits=32, atoi=False):
            text = first(query, name)
            if not text:
                return None
            try:
                if b.uint_params:
                    return go_parse_int(name, text, bits, True)
                return go_parse_int(name, text, 64 if atoi else bits, False, atoi=atoi)
            except ParamError as exc:
                raise text_error(400, str(exc)) from None

        start = number("start")
        if start is not None:
            out["start"] = start & 0xFFFFFFFF  # uint32(start)
        end = number("end")
        if end is not None:
            out["end"] = end & 0xFFFFFFFF
        out["q"] = first(query, "q")
        if out["q"] and b.parse_q_in_request and out["q"] != "{}":
            try:
                parse_traceql(out["q"], b)
            except TraceQLError as exc:
                if exc.stage == "parse":
                    raise text_error(400, f"invalid TraceQL query: {exc}") from None
        tags = first(query, "tags")
        if tags:
            if out["q"]:
                raise text_error(400, "invalid request: can't specify tags and q in the same query")
            out["tags"] = {"tags": tags}
        if not out["q"] and not tags and not out["start"] and not out["end"] and not b.adjust_start_end:
            reserved = {"q", "tags", "minDuration", "maxDuration", "limit", "spss", "start", "end"}
            legacy = {k: v[0] for k, v in query.items() if k not in reserved and v and v[0]}
            if legacy:  # "old style" search: every other parameter is a tag (from 2.10 the
                # pipeline always sets start and end, so the sharder never sees one)
                out["tags"] = legacy
        for name, key in (("minDuration", "min_duration"), ("maxDuration", "max_duration")):
            text = first(query, name)
            if text:
                ns = go_duration_ns(text)
                if ns is None:
                    raise text_error(400, f"invalid {name}: time: invalid duration {go_quote(text)}")
                out[key] = ns // 10 ** 6
        if out["max_duration"] is not None and out["min_duration"] and out["min_duration"] > out["max_duration"]:
            raise text_error(400, "invalid maxDuration: must be greater than minDuration")
        limit = number("limit", atoi=True)
        if limit is not None:
            if limit <= 0:
                raise text_error(400, "invalid limit: must be a positive number")
            out["limit"] = limit
        spss = number("spss", atoi=True)
        if spss is not None:
            if not b.uint_params:
                if b.spss_zero_ok and spss < 0:
                    raise text_error(400, "invalid spss: must be a non-negative number")
                if not b.spss_zero_ok and spss <= 0:
                    raise text_error(400, "invalid spss: must be a positive number")
            out["spss"] = spss & 0xFFFFFFFF
        if (out["start"] or out["end"]) and out["end"] <= out["start"]:
            raise text_error(400, "http parameter start must be before end. received start=%d end=%d"
                             % (out["start"], out["end"]))
        return out

    def adjust_limit(self, limit):
        """modules/frontend/search_handlers.go adjustLimit: default 20, max max_result_limit."""
        if not limit:
            return 20
        if self.behaviour.max_limit and limit > self.behaviour.max_limit:
            raise text_error(400, "limit %d exceeds max limit %d" % (limit, self.behaviour.max_limit))
        return limit

    def clamp_range(self, query, start, end):
        """pkg/api/http.go ClampDateRangeReq (>= 2.10), then start/end re-read as seconds."""
        b = self.behaviour
        now = self.clock()
        since = first(query, "since")
        if since:
            ns = parse_duration_ns(since) if PROM_DURATION.fullmatch(since) else None
            if ns is None:
                raise text_error(400, "error parsing date range: could not parse 'since' parameter: "
                                      f"not a valid duration string: {go_quote(since)}")
            end_t = now - b.query_end_cutoff
            start_t = end_t - ns / 10 ** 9
        elif not first(query, "start") and not first(query, "end"):
            end_t, start_t = now - b.query_end_cutoff, now - b.query_backend_after
        else:
            start_t, end_t = float(start), float(end)
            max_end = now - b.query_end_cutoff
            if max_end < end_t:
                end_t = max_end
                if start_t > end_t:
                    start_t = now - b.query_backend_after
        start, end = int(math.floor(start_t)), int(math.floor(end_t))
        if (start or end) and end <= start:
            raise text_error(400, "http parameter start must be before end. received start=%d end=%d" % (start, end))
        return start, end

    def run_search(self, tenants, parsed, start, end, limit, spss):
        b = self.behaviour
        found, inspected_traces, inspected_bytes = [], 0, 0
        # vparquet4 block_traceql.go createTraceIterator: with start and end, a trace is searched
        # when it overlaps the window (trace start <= end and trace end >= start); its spans are
        # then matched whatever their own times.
        window = (start * SEC, end * SEC) if start and end else (0, 0)
        for trace_id, spans in self.store.all_traces(tenants, *window):
            inspected_traces += 1
            inspected_bytes += sum(s.size for s in spans)
            item = trace_meta(trace_id, spans, b)
            if parsed is not None:
                ordered = sorted(spans, key=lambda s: s.seq)
                matched = [s for s in ordered if parsed.matches(s, b)]
                if not matched:
                    continue
                span_set = {"spans": [search_span(s, parsed) for s in matched[:spss]], "matched": len(matched)}
                # engine.go asTraceSearchMetadata: spanSet (deprecated) and spanSets[0] are the same set
                item["spanSet"] = span_set
                item["spanSets"] = [span_set]
                if b.service_stats:
                    item["serviceStats"] = service_stats(spans)
            found.append(item)
        # pkg/traceql/combine.go Metadata(): newest trace start first. Where more than `limit`
        # traces match, Tempo keeps the first ones its jobs find; the stand-in keeps the newest.
        found.sort(key=lambda t: int(t["startTimeUnixNano"]), reverse=True)
        metrics = {"inspectedTraces": inspected_traces, "inspectedBytes": str(inspected_bytes),
                   "completedJobs": 1, "totalJobs": 1}
        return {"traces": found[:limit], "metrics": {k: v for k, v in metrics.items() if v not in (0, "0")}}


def first(query, name):
    """url.Values.Get: the first value, "" when absent (pkg/api/http.go extractQueryParam)."""
    values = query.get(name)
    return values[0] if values else ""


class Handler(BaseHTTPRequestHandler):
    standin = None
    api = None
    protocol_version = "HTTP/1.1"
    server_version = "lab-tempo-standin"

    def log_message(self, *args):
        pass

    def handle_one_request(self):
        """BaseHTTPRequestHandler's, with Go's request size limit (net/http DefaultMaxHeaderBytes,
        1 MiB) instead of Python's 64 KiB request line: Tempo reads TraceQL up to 128 KiB."""
        try:
            self.raw_requestline = self.rfile.readline(MAX_HEADER_BYTES + 1)
            if len(self.raw_requestline) > MAX_HEADER_BYTES:
                self.requestline, self.request_version, self.command = "", "", ""
                self.send_error(431, "Request Header Fields Too Large")
                return
            if not self.raw_requestline:
                self.close_connection = True
                return
            if not self.parse_request():
                return
            method = getattr(self, "do_" + self.command, None)
            if method is None:
                self.send_error(405, "Method Not Allowed")
                return
            method()
            self.wfile.flush()
        except TimeoutError:
            self.close_connection = True

    def send(self, reply):
        self.send_response(reply.status)
        if reply.content_type:
            self.send_header("Content-Type", reply.content_type)
            if reply.content_type.startswith("text/plain; charset"):
                self.send_header("X-Content-Type-Options", "nosniff")
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
                if sum(len(c) for c in chunks) > MAX_BODY:
                    raise Reply(413, "request body too large\n")
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            raise Reply(413, "request body too large\n")
        return self.rfile.read(length) if length else b""

    def handle_any(self, method):
        try:
            url = urllib.parse.urlsplit(self.path)
            if self.api == "otlp":
                body = self.read_body() if method == "POST" else b""
                reply = self.standin.otlp(method, url.path, self.headers, body)
            else:
                if method == "POST":
                    self.read_body()
                query = urllib.parse.parse_qs(url.query, keep_blank_values=True)
                reply = self.standin.tempo(method, url.path, query, self.headers)
        except Reply as answer:
            reply = answer
        self.send(reply)

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")

    def do_DELETE(self):
        self.handle_any("DELETE")


def serve(standin, address="127.0.0.1", otlp_port=0, tempo_port=0, poll_interval=0.5):
    """Start both listeners in daemon threads; returns {"otlp": server, "tempo": server} (port 0
    picks a free port: read it from server.server_address; shutdown() takes up to poll_interval)."""
    servers = {}
    for api, port in (("otlp", otlp_port), ("tempo", tempo_port)):
        handler = type(f"{api}Handler", (Handler,), {"standin": standin, "api": api})
        server = ThreadingHTTPServer((address, port), handler)
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, args=(poll_interval,), name=f"tempo-standin-{api}",
                         daemon=True).start()
        servers[api] = server
    return servers


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="LAB STAND-IN for Grafana Tempo (not Tempo): OTLP/HTTP in, Tempo's query API out.")
    parser.add_argument("--address", default="0.0.0.0")
    parser.add_argument("--otlp-port", type=int, default=4328)
    parser.add_argument("--tempo-port", type=int, default=3200)
    parser.add_argument("--tempo-version", default=DEFAULT_VERSION,
                        help="the Tempo release whose behaviour to follow, e.g. 2.9 or 2.9.5 "
                             f"(default {DEFAULT_VERSION}, i.e. 3.0.{RELEASES[(3, 0)]})")
    parser.add_argument("--multitenant", action="store_true",
                        help="like multitenancy_enabled: queries need X-Scope-OrgID, spans are stored per tenant")
    args = parser.parse_args(argv)
    try:
        standin = StandIn(args.tempo_version, args.multitenant)
    except ValueError as exc:
        parser.error(str(exc))
    servers = serve(standin, args.address, args.otlp_port, args.tempo_port)
    # the bound ports, not the asked ones: port 0 lets a caller take a free port without a race
    otlp_port, tempo_port = (servers[api].server_address[1] for api in ("otlp", "tempo"))
    print(f"LAB STAND-IN for Tempo {standin.behaviour.text} on {args.address}: OTLP/HTTP :{otlp_port}, "
          f"Tempo API :{tempo_port}{' (multitenant)' if args.multitenant else ''}", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
