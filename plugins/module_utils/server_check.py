# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Whether the servers a traffic change is about to send requests to answer, asked from the
load balancer's own host: the network path the load balancer itself uses. A load balancer's
own health checks take several failed intervals to mark a server down; this asks once, now,
before anything changes."""

from __future__ import annotations

import re
import socket
import threading
import time

from . import lb_input

# A host name, IPv4 or IPv6 address: the characters that can go into a Host header as they are.
HOST = re.compile(r"[A-Za-z0-9._:-]+")
# An absolute path in printable ASCII, no spaces: the characters a request line holds as they are.
HEALTH_PATH = re.compile(r"/[!-~]*")
STATUS_LINE = re.compile(rb"HTTP/[0-9]\.[0-9] ([0-9]{3})(?: [^\r\n]*)?\r?\n")
MAX_STATUS_LINE = 8192


def split_address(address):
    """('host', port) from 'host:port' or '[v6]:port'; ValueError naming the address when it
    is not one (ports 1 to 65535, ASCII digits only)."""
    host, _sep, port = address.rpartition(":") if isinstance(address, str) else ("", "", "")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not HOST.fullmatch(host) or not re.fullmatch(r"[0-9]{1,5}", port) or not 1 <= int(port) <= 65535:
        raise ValueError(f"{lb_input.shown(address)} is not host:port (port 1 to 65535)")
    return host, int(port)


def check_health_path(path):
    """`path` as given when it is empty (a TCP connection only) or an absolute path that can
    go into a request line as it is; ValueError naming health_path otherwise."""
    if path and not (isinstance(path, str) and HEALTH_PATH.fullmatch(path)):
        raise ValueError(f"health_path {lb_input.shown(path)} must be empty or an absolute path of printable ASCII without spaces")
    return path


def _remaining(deadline, timeout):
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise TimeoutError(f"no answer within {timeout:g}s")
    return remaining


def ask(address, path="/healthz", timeout=2.0):
    """None when the server answers (a TCP connection without `path`, else 2xx or 3xx to
    GET `path`); otherwise why not. `timeout` is the deadline of the whole question, however
    slowly the server answers."""
    deadline = time.monotonic() + timeout
    try:
        host, port = split_address(address)
        check_health_path(path)
        with socket.create_connection((host, port), timeout=timeout) as connection:
            if not path:
                return None
            host_header = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            connection.settimeout(_remaining(deadline, timeout))
            connection.sendall(f"GET {path} HTTP/1.1\r\nHost: {host_header}\r\nConnection: close\r\n\r\n".encode("ascii"))
            answer = b""
            while b"\n" not in answer and len(answer) < MAX_STATUS_LINE:
                connection.settimeout(_remaining(deadline, timeout))
                try:
                    chunk = connection.recv(MAX_STATUS_LINE)
                except socket.timeout as exc:
                    raise TimeoutError(f"no answer within {timeout:g}s") from exc
                if not chunk:
                    break
                answer += chunk
        status = STATUS_LINE.match(answer)
        if not status:
            return f"GET {path} got no HTTP status line"
        code = int(status.group(1))
        return None if 200 <= code < 400 else f"GET {path} answered {code}"
    except (OSError, ValueError) as exc:
        return str(exc) or type(exc).__name__


def unanswering(servers, path="/healthz", timeout=2.0, ask_one=ask):
    """{name: reason} for every server of `servers` ({name: 'host:port'}) that does not
    answer. All are asked at once, each in a thread of its own that nobody waits for beyond
    the deadline (a name the resolver takes long over included), so the whole question
    costs one `timeout`, not one each."""
    reasons = {}

    def ask_and_keep(name):
        reasons[name] = ask_one(servers[name], path, timeout)

    askers = [threading.Thread(target=ask_and_keep, args=(name,), daemon=True) for name in sorted(servers)]
    for asker in askers:
        asker.start()
    # ask() keeps its own deadline; the grace is for the thread to hand its answer over.
    deadline = time.monotonic() + timeout + 0.5
    for asker in askers:
        asker.join(max(0.0, deadline - time.monotonic()))
    answered = dict(reasons)
    late = f"no answer within {timeout:g}s"
    return {name: f"{servers[name]}: {answered[name] if name in answered else late}"
            for name in sorted(servers) if name not in answered or answered[name]}


def refusal(bad):
    return ("refusing to send traffic to servers that do not answer from this load balancer's host: "
            + "; ".join(f"{name} ({reason})" for name, reason in sorted(bad.items())) + "; nothing was changed")
