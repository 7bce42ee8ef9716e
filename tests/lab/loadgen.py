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
"""

import collections
import http.client
import threading
import time
import urllib.parse


class LoadGenerator:
    def __init__(self, url, keepalive_clients=4, new_connection_clients=2, max_requests=20000, max_seconds=120.0,
                 timeout=5.0, rate=None):
        parsed = urllib.parse.urlsplit(url)
        if parsed.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError(f"load goes to loopback only, not {parsed.hostname}")
        self.host, self.port, self.path = parsed.hostname, parsed.port or 80, parsed.path or "/"
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
        # Wall-clock times of the first and last response per (color, bucket), to line the
        # load up with the audit log (when green's first error came, when its last answer did).
        self.first_seen = {}
        self.last_seen = {}
        self.stop_event = threading.Event()
        self.threads = []
        self.started = None
        self.elapsed = None

    def _claim(self):
        with self.lock:
            if self.stop_event.is_set() or self.sent >= self.max_requests or time.monotonic() - self.started > self.max_seconds:
                return False
            self.sent += 1
            due = self.started + (self.sent - 1) / self.rate if self.rate else 0.0
        # Pacing, not synchronisation: the request's slot in a steady rate.
        delay = due - time.monotonic()
        if delay > 0:
            self.stop_event.wait(delay)
        return not self.stop_event.is_set()

    def _record(self, bucket, color=None, error=None):
        now = time.time()
        with self.lock:
            self.counts[bucket] += 1
            if color:
                self.colors[color] += 1
                self.first_seen.setdefault((color, bucket), now)
                self.last_seen[(color, bucket)] = now
            if error:
                self.error_kinds[error] += 1

    def _request(self, connection):
        connection.request("GET", self.path, headers={"Connection": "keep-alive"})
        response = connection.getresponse()
        response.read()
        return response.status, response.getheader("X-App-Color")

    def _keepalive_client(self):
        connection = None
        while self._claim():
            reused = connection is not None
            if connection is None:
                connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                status, color = self._request(connection)
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                connection.close()
                connection = None
                if not reused:
                    self._record("errors", error=type(exc).__name__)
                    continue
                # The server closed an idle reused connection before answering: retry once.
                self._record("retried_on_closed_keepalive")
                connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
                try:
                    status, color = self._request(connection)
                except (OSError, http.client.HTTPException) as retry_exc:
                    connection.close()
                    connection = None
                    self._record("errors", error=type(retry_exc).__name__)
                    continue
            except (OSError, http.client.HTTPException) as exc:
                connection.close()
                connection = None
                self._record("errors", error=type(exc).__name__)
                continue
            self._record("ok" if 200 <= status < 300 else "non_2xx", color, None if status < 300 else f"HTTP {status}")
        if connection is not None:
            connection.close()

    def _new_connection_client(self):
        while self._claim():
            connection = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
            try:
                connection.request("GET", self.path, headers={"Connection": "close"})
                response = connection.getresponse()
                response.read()
                status, color = response.status, response.getheader("X-App-Color")
            except (OSError, http.client.HTTPException) as exc:
                self._record("errors", error=type(exc).__name__)
                continue
            finally:
                connection.close()
            self._record("ok" if 200 <= status < 300 else "non_2xx", color, None if status < 300 else f"HTTP {status}")

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
            }
