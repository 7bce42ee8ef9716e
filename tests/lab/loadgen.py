"""Bounded HTTP load that counts every response, for the lab's switch and cutover checks.

Two kinds of clients, as real ones behave:
- keep-alive clients reuse one connection; when a reused connection is closed before any
  byte of the response arrives, they retry the (idempotent) GET once on a new connection,
  as RFC 9112 section 9.3.1 allows and browsers and proxies do. Such retries are counted.
- new-connection clients open a connection per request.

Every request ends in exactly one bucket: `ok` (2xx), `non_2xx`, or `errors` (connection
refused, reset, timeout, or a retry that failed too). The load stops by itself after
`max_requests` requests or `max_seconds`, whichever comes first. It only targets the
addresses it is given: 127.0.0.1 ports the lab publishes.

The load goes to the path of its url, or to several paths by weight:
`LoadGenerator("http://127.0.0.1:8081", paths={"/api/quote": 3, "/api/basket": 1})` sends
about three quotes per basket, each request's path drawn at random (a fixed order could line
up with a load balancer's round robin and send every basket to the same color). The report
counts each path's requests under `by_route`.
"""

import collections
import collections.abc
import http.client
import math
import random
import threading
import time
import urllib.parse


def path_weights(url_path, paths):
    """The {path: weight} a load sends to: `paths` ({path: weight}, or paths of equal weight),
    or else the url's own path. Raises ValueError for a path given both ways, a path that is
    not absolute or a weight that is not a positive number."""
    if paths is None:
        return {url_path or "/": 1.0}
    if url_path not in ("", "/"):
        raise ValueError(f"the url already names the path {url_path!r}: give the paths in the url or in paths, not both")
    if isinstance(paths, str):
        paths = [paths]
    weights = dict(paths) if isinstance(paths, collections.abc.Mapping) else dict.fromkeys(paths, 1.0)
    if not weights:
        raise ValueError("paths is empty")
    for path, weight in weights.items():
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError(f"path {path!r} does not start with /")
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight) or weight <= 0:
            raise ValueError(f"path {path!r} has weight {weight!r}, not a positive number")
    return {path: float(weight) for path, weight in weights.items()}


class LoadGenerator:
    def __init__(self, url, keepalive_clients=4, new_connection_clients=2, max_requests=20000, max_seconds=120.0,
                 timeout=5.0, rate=None, paths=None, seed=None):
        parsed = urllib.parse.urlsplit(url)
        if parsed.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"load goes to loopback only, not {parsed.hostname}")
        self.host, self.port = parsed.hostname, parsed.port or 80
        self.paths = path_weights(parsed.path, paths)
        # Drawn under the lock in claim order, so one seed gives the same mix of paths however
        # the clients' threads interleave.
        self.random = random.Random(seed)
        self.keepalive_clients = keepalive_clients
        self.new_connection_clients = new_connection_clients
        self.max_requests = max_requests
        self.max_seconds = max_seconds
        self.timeout = timeout
        # Requests per second over all clients; None sends as fast as the clients can.
        self.rate = rate
        self.lock = threading.Lock()
        self.sent = 0
        self.counts = collections.Counter()
        self.colors = collections.Counter()
        self.error_kinds = collections.Counter()
        self.routes = collections.Counter()
        # Wall-clock times of the first and last response per (color, bucket), to line the
        # load up with the audit log (when green's first error came, when its last answer did).
        self.first_seen = {}
        self.last_seen = {}
        self.stop_event = threading.Event()
        self.threads = []
        self.started = None
        self.elapsed = None

    def _claim(self):
        """The path of the next request, or None when the load is over."""
        with self.lock:
            if self.stop_event.is_set() or self.sent >= self.max_requests or time.monotonic() - self.started > self.max_seconds:
                return None
            self.sent += 1
            due = self.started + (self.sent - 1) / self.rate if self.rate else 0.0
            path = self.random.choices(list(self.paths), weights=list(self.paths.values()))[0]
        # Pacing, not synchronisation: the request's slot in a steady rate.
        delay = due - time.monotonic()
        if delay > 0:
            self.stop_event.wait(delay)
        return None if self.stop_event.is_set() else path

    def _record(self, bucket, color=None, error=None, path=None):
        now = time.time()
        with self.lock:
            self.counts[bucket] += 1
            if path and bucket in ("ok", "non_2xx", "errors"):
                self.routes[(path, bucket)] += 1
            if color:
                self.colors[color] += 1
                self.first_seen.setdefault((color, bucket), now)
                self.last_seen[(color, bucket)] = now
            if error:
                self.error_kinds[error] += 1

    def _request(self, connection, path):
        connection.request("GET", path, headers={"Connection": "keep-alive"})
        response = connection.getresponse()
        response.read()
        return response.status, response.getheader("X-App-Color")

    def _keepalive_client(self):
        connection = None
        while (path := self._claim()) is not None:
            reused = connection is not None
            if connection is None:
                connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                status, color = self._request(connection, path)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                connection.close()
                connection = None
                if not reused:
                    self._record("errors", error=type(exc).__name__, path=path)
                    continue
                # The server closed an idle reused connection before answering: retry once.
                self._record("retried_on_closed_keepalive")
                connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                try:
                    status, color = self._request(connection, path)
                except (OSError, http.client.HTTPException) as retry_exc:
                    connection.close()
                    connection = None
                    self._record("errors", error=type(retry_exc).__name__, path=path)
                    continue
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                connection = None
                self._record("errors", error=type(exc).__name__, path=path)
                continue
            self._record("ok" if 200 <= status < 300 else "non_2xx", color, None if status < 300 else f"HTTP {status}", path)
        if connection is not None:
            connection.close()

    def _new_connection_client(self):
        while (path := self._claim()) is not None:
            connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                connection.request("GET", path, headers={"Connection": "close"})
                response = connection.getresponse()
                response.read()
                status, color = response.status, response.getheader("X-App-Color")
            except (OSError, http.client.HTTPException) as exc:
                self._record("errors", error=type(exc).__name__, path=path)
                continue
            finally:
                connection.close()
            self._record("ok" if 200 <= status < 300 else "non_2xx", color, None if status < 300 else f"HTTP {status}", path)

    def start(self):
        self.started = time.monotonic()
        targets = [self._keepalive_client] * self.keepalive_clients + [self._new_connection_client] * self.new_connection_clients
        self.threads = [threading.Thread(target=t, daemon=True) for t in targets]
        for thread in self.threads:
            thread.start()
        return self

    def stop(self):
        self.stop_event.set()
        return self.wait()

    def wait(self):
        for thread in self.threads:
            thread.join()
        self.elapsed = time.monotonic() - self.started
        return self.report()

    def snapshot(self):
        with self.lock:
            return dict(self.counts), dict(self.colors)

    def report(self):
        with self.lock:
            completed = self.counts["ok"] + self.counts["non_2xx"] + self.counts["errors"]
            return {
                "requests": completed,
                "ok": self.counts["ok"],
                "non_2xx": self.counts["non_2xx"],
                "errors": self.counts["errors"],
                "failed": self.counts["non_2xx"] + self.counts["errors"],
                "retried_on_closed_keepalive": self.counts["retried_on_closed_keepalive"],
                "by_color": dict(self.colors),
                "error_kinds": dict(self.error_kinds),
                "seconds": round(self.elapsed or time.monotonic() - self.started, 2),
                "first_seen": {f"{color}/{bucket}": at for (color, bucket), at in self.first_seen.items()},
                "last_seen": {f"{color}/{bucket}": at for (color, bucket), at in self.last_seen.items()},
                "by_route": {
                    path: {
                        "requests": sum(self.routes[(path, bucket)] for bucket in ("ok", "non_2xx", "errors")),
                        **{bucket: self.routes[(path, bucket)] for bucket in ("ok", "non_2xx", "errors")},
                    }
                    for path in self.paths
                },
            }
