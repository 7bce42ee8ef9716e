# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""HTTP access shared by the backend clients: timeouts and a deadline for each answer, a cap
on its size, bounded retries with backoff, TLS with a CA bundle and client certificates,
bearer or basic auth, tenant header. Every request is recorded (without credentials) as
evidence of what a gate asked."""

from __future__ import annotations

import json
import time

from .model import BackendError
from .userinfo import without_userinfo

try:
    import requests
    from urllib3.exceptions import HTTPError as Urllib3Error

    # What a failed connection or an answer broken off raises, while connecting or reading.
    TRANSPORT_ERRORS = (requests.exceptions.RequestException, Urllib3Error)
except ImportError:  # reported by the module through missing_required_lib
    requests = None
    TRANSPORT_ERRORS = ()

RETRIED_STATUSES = (429, 502, 503, 504)
# requests' timeout bounds each wait (for the connection, for the next bytes); a backend that
# sends a byte now and then never trips it. The whole answer, from the request on, must have
# arrived within this many times request_timeout: one for the backend to search, the rest to
# send the answer (a 58 MB answer takes a second on a LAN).
ANSWER_DEADLINE_FACTOR = 3
# The judge reads 58 MB of JSON for 100,000 spans from the real Jaeger (benchmarks/bench_judge.py);
# 256 MiB leaves four times that room and still bounds the memory one answer can take (its
# parsed spans take several times its size).
DEFAULT_MAX_ANSWER_BYTES = 256 * 1024 * 1024
# At most this much per read; a read returns what has arrived, so the deadline is looked at
# between reads whatever the backend's pace.
READ_SIZE = 1024 * 1024


class HttpClient:
    """`label` names the backend in every error (each client sets it, see TraceBackend);
    `tenant_header` is the header the backend reads the tenant from."""

    def __init__(self, base_url, timeout=10.0, retries=2, backoff=0.5, validate_certs=True, ca_bundle=None,
                 client_cert=None, client_key=None, bearer_token=None, username=None, password=None,
                 tenant=None, tenant_header="X-Scope-OrgID", headers=None, session=None,
                 max_answer_bytes=DEFAULT_MAX_ANSWER_BYTES):
        if requests is None and session is None:
            raise BackendError("the Python library 'requests' is required on the controller")
        if not base_url or not base_url.startswith(("http://", "https://")):
            raise BackendError(f"url {without_userinfo(str(base_url))!r} must start with http:// or https://")
        if timeout <= 0:
            raise BackendError(f"request_timeout must be positive, got {timeout}")
        if max_answer_bytes < 1:
            raise BackendError(f"max_answer_bytes must be positive, got {max_answer_bytes}")
        self.base_url = base_url.rstrip("/")
        self.shown_url = without_userinfo(self.base_url)
        self.label = "trace backend"
        self.timeout = timeout
        self.deadline = timeout * ANSWER_DEADLINE_FACTOR
        self.max_answer_bytes = max_answer_bytes
        self.retries = retries
        self.backoff = backoff
        self.session = session or requests.Session()
        # Every answer is read as a stream, so that its deadline and size cap hold while it arrives.
        self.session.stream = True
        self.session.verify = ca_bundle or validate_certs
        if client_cert:
            self.session.cert = (client_cert, client_key) if client_key else client_cert
        self.session.headers.update(headers or {})
        if bearer_token:
            self.session.headers["Authorization"] = f"Bearer {bearer_token}"
        elif username:
            self.session.auth = (username, password or "")
        if tenant:
            self.session.headers[tenant_header] = tenant
        self.queries = []

    def source(self, path):
        """The backend and URL an answer came from, as errors name them (without credentials)."""
        return f"{self.label} at {self.shown_url}{path}"

    def get_json(self, path, params=None, not_found=None):
        """GET base_url+path and decode JSON. A 404 returns `not_found` when it is given
        (some backends answer an empty result with 404), and is an error otherwise; an
        error's BackendError carries the status and the start of the body. An answer larger
        than max_answer_bytes, or not whole within the deadline, is an error (not retried:
        it would be as large, or as slow, again)."""
        url = self.base_url + path
        source = self.source(path)
        attempt = 0
        while True:
            attempt += 1
            try:
                status, body = self._get(url, params, source)
            except TRANSPORT_ERRORS as exc:
                if attempt <= self.retries:
                    time.sleep(self.backoff * 2 ** (attempt - 1))
                    continue
                raise BackendError(f"cannot reach {source}: {without_userinfo(str(exc))}") from exc
            if status in RETRIED_STATUSES and attempt <= self.retries:
                time.sleep(self.backoff * 2 ** (attempt - 1))
                continue
            break
        if status == 404 and not_found is not None:
            return not_found
        if status >= 400:
            text = body[:300].decode("utf-8", "replace")
            raise BackendError(f"{source} answered HTTP {status}: {text}", status=status, body=text)
        try:
            return json.loads(body)
        # ValueError: not JSON, or not UTF-8; RecursionError: a JSON nesting deeper than the
        # decoder's recursion limit.
        except (ValueError, RecursionError) as exc:
            raise BackendError(f"{source} answered something that is not JSON: "
                               f"{body[:200].decode('utf-8', 'replace')!r}") from exc

    def _get(self, url, params, source):
        """(status, body) of one GET, read within the deadline and the size cap; recorded."""
        give_up_at = time.monotonic() + self.deadline
        try:
            response = self.session.get(url, params=params, timeout=self.timeout)
        except TRANSPORT_ERRORS:
            self._record(url, params, None)
            raise
        self._record(url, params, response.status_code)
        try:
            declared = response.headers.get("Content-Length", "")
            if declared.isdigit() and int(declared) > self.max_answer_bytes:
                raise self._too_large(source, f" (it announced {declared})")
            # Content-Encoding (gzip) is undone as the body is read; the cap counts decoded bytes.
            response.raw.decode_content = True
            chunks, size = [], 0
            while True:
                if time.monotonic() > give_up_at:
                    raise BackendError(
                        f"{source} did not finish its answer within {self.deadline:g} s ({ANSWER_DEADLINE_FACTOR} times "
                        f"request_timeout {self.timeout:g} s), {size} bytes in; raise request_timeout for a slower backend")
                chunk = response.raw.read1(READ_SIZE)
                if not chunk:
                    return response.status_code, b"".join(chunks)
                size += len(chunk)
                if size > self.max_answer_bytes:
                    raise self._too_large(source, "")
                chunks.append(chunk)
        finally:
            response.close()

    def _too_large(self, source, announced):
        return BackendError(f"{source}: the answer is larger than max_answer_bytes, {self.max_answer_bytes} bytes"
                            f"{announced}; narrow the window or lower limit, or raise max_answer_bytes")

    def _record(self, url, params, status):
        self.queries.append({"url": without_userinfo(url), "params": dict(params or {}), "status": status})
