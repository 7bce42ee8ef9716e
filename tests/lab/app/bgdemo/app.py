"""The demo app's WSGI application, served by gunicorn on the lab hosts.

Routes:
  GET /api/quote   business route; calls the downstream dependency (BG_DEPENDENCY_URL)
  GET /api/basket  business route without a dependency call, so a fault of the release's own
                   code on one endpoint is told apart from a fault of the dependency
  GET /stock       the dependency the lab points BG_DEPENDENCY_URL at
  GET /api/orders  the orders in the database at BG_DATABASE_URL (postgresql://user:password@host:port/db),
                   read with the release's own query (migrations/queries.sql holds it too); 503
                   without a database
  GET /healthz     200 while the process serves
  GET /version     JSON with service, version and color
  GET /metrics     Prometheus RED metrics labelled by color and version
Every response carries X-App-Color, X-App-Version and X-App-Host; traced responses carry X-Trace-Id.

Error and latency faults (BG_ERROR_RATE, BG_ADDED_LATENCY_MS and the release's defects, see
settings.py) hit the business routes, dependency_latency_ms the quote's call to the dependency;
/stock, /healthz, /version and /metrics answer as a healthy release would.
"""
import collections
import json
import os
import random
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from opentelemetry import propagate
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from .settings import BUSINESS_ROUTES, Settings
from .telemetry import setup_tracing

STATUS_TEXT = {200: "200 OK", 404: "404 Not Found", 500: "500 Internal Server Error", 502: "502 Bad Gateway",
               503: "503 Service Unavailable"}
# The release's one query; migrations/queries.sql carries it so that a migration is checked
# against it before it can break this release.
ORDERS_QUERY = "SELECT id, item, quantity FROM orders ORDER BY id LIMIT 20"


class RequestRate:
    """Business requests this process started in the last second, over all of gunicorn's threads."""

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.lock = threading.Lock()
        self.started = collections.deque()

    def count_in(self):
        """Counts a request in; returns how many started in the second up to now, this one included."""
        now = self.clock()
        with self.lock:
            self.started.append(now)
            while self.started[0] <= now - 1.0:
                self.started.popleft()
            return len(self.started)


class DemoApp:
    def __init__(self, settings, tracer, dependency_timeout=2.0):
        self.settings = settings
        self.tracer = tracer
        self.dependency_timeout = dependency_timeout
        self.hostname = socket.gethostname()
        self.registry = CollectorRegistry()
        labels = ["route", "method", "code", "color", "version"]
        self.requests = Counter("bgdemo_requests", "Requests served", labels, registry=self.registry)
        self.duration = Histogram(
            "bgdemo_request_duration_seconds", "Request duration", labels, registry=self.registry
        )
        self.request_rate = RequestRate()
        self.routes = {
            "/api/quote": self.quote,
            "/api/basket": self.basket,
            "/stock": self.stock,
            "/api/orders": self.orders,
            "/healthz": self.healthz,
            "/version": self.version,
            "/metrics": self.metrics,
        }

    def __call__(self, environ, start_response):
        started = time.perf_counter()
        path = environ.get("PATH_INFO", "/")
        method = environ.get("REQUEST_METHOD", "GET")
        handler = self.routes.get(path)
        route = path if handler else "unmatched"
        # Only user requests count as load: the /stock calls a quote makes to its own host are
        # part of that quote, not more load.
        business = route in BUSINESS_ROUTES
        rate = self.request_rate.count_in() if business else 0
        parent = propagate.extract({k[5:].replace("_", "-").lower(): v for k, v in environ.items() if k.startswith("HTTP_")})
        with self.tracer.start_as_current_span(
            f"{method} {route}",
            context=parent,
            kind=SpanKind.SERVER,
            attributes={"http.request.method": method, "url.path": path, "http.route": route},
        ) as span:
            if handler is None:
                code, body, ctype = 404, b"not found\n", "text/plain"
            else:
                if self.settings.latency_under_load_ms and rate > self.settings.load_threshold_rps:
                    # A release that runs short of something (a pool, a cache) above a request
                    # rate: healthy at a light load, slower at a heavy one. A rate, not the
                    # requests in flight: at the lab's load a request rarely meets another.
                    time.sleep(self.settings.latency_under_load_ms / 1000.0)
                code, body, ctype = handler(environ, span)
            span.set_attribute("http.response.status_code", code)
            if code >= 500:
                span.set_status(Status(StatusCode.ERROR))
            trace_id = span.get_span_context().trace_id if span.is_recording() else 0
        headers = [
            ("Content-Type", ctype),
            ("Content-Length", str(len(body))),
            ("X-App-Color", self.settings.color),
            ("X-App-Version", self.settings.version),
            ("X-App-Host", self.hostname),
        ]
        if trace_id:
            headers.append(("X-Trace-Id", f"{trace_id:032x}"))
        start_response(STATUS_TEXT.get(code, f"{code} Unknown"), headers)
        if path != "/metrics":
            labels = (route, method, str(code), self.settings.color, self.settings.version)
            self.requests.labels(*labels).inc()
            self.duration.labels(*labels).observe(time.perf_counter() - started)
        return [body]

    def _json(self, code, payload):
        return code, (json.dumps(payload, sort_keys=True) + "\n").encode(), "application/json"

    def _fails(self, route):
        """Whether this request of a business route answers 500: the release-wide error rate,
        then the failing route's own."""
        if random.random() < self.settings.error_rate:
            return True
        return route == self.settings.failing_route and random.random() < self.settings.failing_route_error_rate

    def _added_latency(self):
        if self.settings.added_latency_ms:
            time.sleep(self.settings.added_latency_ms / 1000.0)

    def quote(self, environ, span):
        self._added_latency()
        dependency = self.call_dependency() if self.settings.dependency_url else "not configured"
        if self._fails("/api/quote"):
            return self._json(500, {"error": "injected fault", "color": self.settings.color})
        if dependency not in ("ok", "not configured"):
            return self._json(502, {"error": f"dependency: {dependency}", "color": self.settings.color})
        return self._json(
            200,
            {
                "quote": "The map is not the territory.",
                "color": self.settings.color,
                "version": self.settings.version,
                "dependency": dependency,
            },
        )

    def basket(self, environ, span):
        self._added_latency()
        if self._fails("/api/basket"):
            return self._json(500, {"error": "injected fault", "color": self.settings.color})
        return self._json(
            200,
            {
                "items": [{"sku": "map-001", "quantity": 1}, {"sku": "territory-002", "quantity": 2}],
                "color": self.settings.color,
                "version": self.settings.version,
            },
        )

    def call_dependency(self):
        url = self.settings.dependency_url
        with self.tracer.start_as_current_span(
            "GET stock", kind=SpanKind.CLIENT, attributes={"http.request.method": "GET", "url.full": url, "peer.service": "stock"}
        ) as span:
            headers = {}
            propagate.inject(headers)
            if self.settings.dependency_latency_ms:
                # Inside the client span, before the call: the dependency's own server span stays
                # fast, so traces show the call slow only from the color running this release.
                time.sleep(self.settings.dependency_latency_ms / 1000.0)
            try:
                with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=self.dependency_timeout) as response:
                    span.set_attribute("http.response.status_code", response.status)
                    return "ok"
            except urllib.error.HTTPError as exc:
                span.set_attribute("http.response.status_code", exc.code)
                span.set_status(Status(StatusCode.ERROR))
                return f"HTTP {exc.code}"
            except (urllib.error.URLError, OSError) as exc:
                span.set_status(Status(StatusCode.ERROR, str(exc)))
                return f"unreachable ({exc})"

    def orders(self, environ, span):
        if not self.settings.database_url:
            return self._json(503, {"error": "no database configured (BG_DATABASE_URL)"})
        url = urllib.parse.urlsplit(self.settings.database_url)
        with self.tracer.start_as_current_span(
            "SELECT orders", kind=SpanKind.CLIENT,
            attributes={"db.system": "postgresql", "db.query.text": ORDERS_QUERY, "peer.service": "postgresql"},
        ) as client_span:
            try:
                # Imported only when a database is configured.
                import pg8000.native  # pylint: disable=import-outside-toplevel
                connection = pg8000.native.Connection(
                    urllib.parse.unquote(url.username or ""), host=url.hostname, port=url.port or 5432,
                    database=url.path.lstrip("/"), password=urllib.parse.unquote(url.password or ""), timeout=2)
                try:
                    rows = connection.run(ORDERS_QUERY)
                finally:
                    connection.close()
            # Every database error is a 500 here.
            except Exception as exc:  # pylint: disable=broad-except
                client_span.set_status(Status(StatusCode.ERROR, str(exc)))
                return self._json(500, {"error": f"orders: {exc}"})
        return self._json(200, {"orders": [{"id": r[0], "item": r[1], "quantity": r[2]} for r in rows],
                                "color": self.settings.color, "version": self.settings.version})

    def stock(self, environ, span):
        return self._json(200, {"in_stock": True})

    def healthz(self, environ, span):
        return 200, b"ok\n", "text/plain"

    def version(self, environ, span):
        s = self.settings
        return self._json(200, {"service": s.service_name, "version": s.version, "color": s.color, "environment": s.environment})

    def metrics(self, environ, span):
        return 200, generate_latest(self.registry), CONTENT_TYPE_LATEST


def create_app(environ=None):
    environ = os.environ if environ is None else environ
    settings = Settings.from_environ(environ)
    return DemoApp(settings, setup_tracing(settings, environ))
