# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One HTTP request as the probing modules see it: any answer, error statuses included, is an
answer; no answer at all (refused, timed out, a certificate that does not verify, something
that is not HTTP) is an OSError, which the probes' own logic counts as a failure."""

from __future__ import annotations

import ssl
import urllib.request
from http.client import HTTPException
from urllib.error import HTTPError

from ansible.module_utils.urls import ConnectionError as UrlConnectionError, open_url


def answer(url, timeout, validate_certs, headers=None, follow_redirects="urllib2", max_body=0):
    """(status, headers, body): body holds at most max_body bytes (none by default); the
    connection is closed before returning."""
    try:
        response = open_url(url, headers=headers, timeout=timeout, validate_certs=validate_certs,
                            follow_redirects=follow_redirects)
    except HTTPError as exc:
        try:
            return exc.code, dict(exc.headers.items()), (exc.read(max_body) or b"") if max_body else b""
        finally:
            exc.close()
    except (UrlConnectionError, HTTPException) as exc:
        raise OSError(str(exc)) from exc
    with response:
        return response.status, dict(response.headers.items()), response.read(max_body) if max_body else b""


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def status_prober(timeout, validate_certs):
    """A function url -> HTTP status for requests that are timed: one TLS context and one
    opener (proxies from the environment, redirects not followed) made here and reused by
    every call. open_url builds its TLS context and loads the CA bundle at every request,
    80 to 150 ms of CPU on a busy host, which a timed probe would measure instead of the
    peer. Any answer is a status; no answer is an OSError."""
    context = ssl.create_default_context()
    if not validate_certs:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    opener = urllib.request.build_opener(_NoRedirect, urllib.request.HTTPSHandler(context=context))

    def status(url):
        try:
            with opener.open(url, timeout=timeout) as response:
                return response.status
        except HTTPError as exc:
            exc.close()
            return exc.code
        except HTTPException as exc:
            raise OSError(str(exc) or type(exc).__name__) from exc

    return status
