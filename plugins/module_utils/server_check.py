# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Whether the servers a traffic change is about to send requests to answer, asked from the
load balancer's own host: the network path the load balancer itself uses. A load balancer's
own health checks take several failed intervals to mark a server down; this asks once, now,
before anything changes."""

from __future__ import annotations

import http.client
import socket
from concurrent.futures import ThreadPoolExecutor


def split_address(address):
    """('host', port) from 'host:port' or '[v6]:port'."""
    host, _sep, port = address.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"{address!r} is not host:port")
    return host.strip("[]"), int(port)


def ask(address, path="/healthz", timeout=2.0):
    """None when the server answers (a TCP connection without `path`, else 2xx or 3xx to
    GET `path`); otherwise why not."""
    try:
        host, port = split_address(address)
        if not path:
            socket.create_connection((host, port), timeout=timeout).close()
            return None
        connection = http.client.HTTPConnection(host, port, timeout=timeout)
        try:
            connection.request("GET", path, headers={"Connection": "close"})
            status = connection.getresponse().status
        finally:
            connection.close()
        return None if 200 <= status < 400 else f"GET {path} answered {status}"
    except (OSError, http.client.HTTPException, ValueError) as exc:
        return str(exc) or type(exc).__name__


def unanswering(servers, path="/healthz", timeout=2.0, ask_one=ask):
    """{name: reason} for every server of `servers` ({name: 'host:port'}) that does not
    answer; all are asked at once, so a dead server costs one `timeout`, not one each."""
    if not servers:
        return {}
    names = sorted(servers)
    with ThreadPoolExecutor(max_workers=min(16, len(names))) as pool:
        reasons = list(pool.map(lambda name: ask_one(servers[name], path, timeout), names))
    return {name: f"{servers[name]}: {reason}" for name, reason in zip(names, reasons) if reason}


def refusal(bad):
    return ("refusing to send traffic to servers that do not answer from this load balancer's host: "
            + "; ".join(f"{name} ({reason})" for name, reason in sorted(bad.items())) + "; nothing was changed")
