# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""HTTP access shared by the backend clients: timeouts, bounded retries with backoff, TLS
with a CA bundle and client certificates, bearer or basic auth, tenant header. Every
request is recorded (without credentials) as evidence of what a gate asked."""

from __future__ import annotations

import time

from .model import BackendError

try:
    import requests
except ImportError:  # reported by the module through missing_required_lib
    requests = None

RETRIED_STATUSES = (429, 502, 503, 504)


class HttpClient:
    """`label` names the backend in every error (each client sets it, see TraceBackend);
    `tenant_header` is the header the backend reads the tenant from."""

    def __init__(self, base_url, timeout=10.0, retries=2, backoff=0.5, validate_certs=True, ca_bundle=None,
                 client_cert=None, client_key=None, bearer_token=None, username=None, password=None,
                 tenant=None, tenant_header="X-Scope-OrgID", headers=None, session=None):
        if requests is None and session is None:
            raise BackendError("the Python library 'requests' is required on the controller")
        if not base_url or not base_url.startswith(("http://", "https://")):
            raise BackendError(f"url {base_url!r} must start with http:// or https://")
        self.base_url = base_url.rstrip("/")
        self.label = "trace backend"
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.session = session or requests.Session()
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
        """The backend and URL an answer came from, as errors name them."""
        return f"{self.label} at {self.base_url}{path}"

    def get_json(self, path, params=None, not_found=None):
        """GET base_url+path and decode JSON. A 404 returns `not_found` when it is given
        (some backends answer an empty result with 404), and is an error otherwise; an
        error's BackendError carries the status and the start of the body."""
        url = self.base_url + path
        source = self.source(path)
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self.session.get(url, params=params, timeout=self.timeout)
            except (requests.exceptions.RequestException if requests else OSError) as exc:
                self._record(url, params, None)
                if attempt <= self.retries:
                    time.sleep(self.backoff * 2 ** (attempt - 1))
                    continue
                raise BackendError(f"cannot reach {source}: {exc}") from exc
            self._record(url, params, response.status_code)
            if response.status_code in RETRIED_STATUSES and attempt <= self.retries:
                time.sleep(self.backoff * 2 ** (attempt - 1))
                continue
            break
        if response.status_code == 404 and not_found is not None:
            return not_found
        if response.status_code >= 400:
            body = response.text[:300]
            raise BackendError(f"{source} answered HTTP {response.status_code}: {body}", status=response.status_code,
                               body=body)
        try:
            return response.json()
        # RecursionError: a JSON nesting deeper than the decoder's recursion limit.
        except (ValueError, RecursionError) as exc:
            raise BackendError(f"{source} answered something that is not JSON: {response.text[:200]!r}") from exc

    def _record(self, url, params, status):
        self.queries.append({"url": url, "params": dict(params or {}), "status": status})
