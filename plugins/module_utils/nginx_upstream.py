# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The weighted upstream include of NGINX: render, parse, check, write, reload, confirm.

NGINX OSS has no runtime API: the traffic split lives in one include file, and a change
goes live by a graceful reload. A reload signal succeeds even when NGINX rejects the new
configuration, so every include carries a generation marker (a hash of its servers) that
NGINX serves on a loopback-only location; the switch holds only once NGINX serves the new
generation. Plain Python, standard library only; running commands and fetching the marker
are passed in (the module passes AnsibleModule.run_command and open_url).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import time

from .files import write_atomically

COLORS = ("blue", "green")
MAX_WEIGHT = 256
UPSTREAM_NAME = re.compile(r"^[A-Za-z0-9_]+$")
# host, IPv4, or bracketed IPv6, then a port
ADDRESS = re.compile(r"^([A-Za-z0-9][A-Za-z0-9.-]*|\[[0-9A-Fa-f:.]+\]):[0-9]{1,5}$")
SERVER_LINE = re.compile(r"^\s*(?:#\s*)?server\s+(?P<address>\S+)(?P<params>[^;#]*);\s*#\s*color=(?P<color>\w+)\s*$")
GENERATION_LINE = re.compile(r'^\s*default\s+"(?P<generation>[0-9a-f]+)";')


class UpstreamError(Exception):
    """A refused input or a failed step; the message names the field or the step."""


class UpstreamServer:
    __slots__ = ("address", "color", "weight")

    def __init__(self, address, color, weight):
        self.address = address
        self.color = color
        self.weight = weight

    def as_dict(self):
        return {"address": self.address, "color": self.color, "weight": self.weight}

    def __eq__(self, other):
        return (self.address, self.color, self.weight) == (other.address, other.color, other.weight)

    def __repr__(self):
        return f"UpstreamServer({self.address} {self.color} weight={self.weight})"


def check_upstream_name(name):
    if not isinstance(name, str) or not UPSTREAM_NAME.fullmatch(name):
        raise UpstreamError(f"invalid upstream name {name!r}: use letters, digits and _")
    return name


def check_servers(servers):
    """Validates a servers list [{address, color}] and returns it normalised."""
    if not servers:
        raise UpstreamError("servers: at least one server is needed")
    seen = set()
    checked = []
    for index, server in enumerate(servers):
        address, color = server.get("address"), server.get("color")
        if not isinstance(address, str) or not ADDRESS.fullmatch(address):
            raise UpstreamError(f"servers[{index}].address {address!r} must be host:port")
        if color not in COLORS:
            raise UpstreamError(f"servers[{index}].color {color!r} must be one of {', '.join(COLORS)}")
        if address in seen:
            raise UpstreamError(f"servers[{index}].address {address!r} is listed twice")
        seen.add(address)
        checked.append((address, color))
    return checked


def plan_weights(servers, weights, server_weights=None, current=None):
    """Weight per server: server_weights[address], else weights[color], else the current
    weight. Refuses weights outside 0..256 and a split that leaves no server with weight."""
    server_weights = server_weights or {}
    current = {s.address: s.weight for s in (current or [])}
    for key, value in list(weights.items()) + list(server_weights.items()):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_WEIGHT:
            raise UpstreamError(f"weight of {key!r} must be an integer from 0 to {MAX_WEIGHT}, got {value!r}")
    for color in weights:
        if color not in COLORS:
            raise UpstreamError(f"unknown color {color!r}: colors are {', '.join(COLORS)}")
        if not any(c == color for _address, c in servers):
            raise UpstreamError(f"weights: no {color} server in the upstream")
    addresses = {address for address, _color in servers}
    for address in server_weights:
        if address not in addresses:
            raise UpstreamError(f"server_weights: unknown server {address!r}")
    planned = []
    for address, color in servers:
        if address in server_weights:
            weight = server_weights[address]
        elif color in weights:
            weight = weights[color]
        elif address in current:
            weight = current[address]
        else:
            raise UpstreamError(f"no weight given for {address} ({color}) and none in the current upstream")
        planned.append(UpstreamServer(address, color, weight))
    if not any(s.weight > 0 for s in planned):
        raise UpstreamError("refusing a split in which no server has a weight above 0")
    return planned


def generation_of(name, servers):
    text = name + "\n" + "\n".join(f"{s.address} {s.color} {s.weight}" for s in servers)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def render(name, servers, server_params="max_fails=1 fail_timeout=5s", keepalive=32):
    """The include: the upstream, and a map that serves its generation marker. NGINX has no
    weight 0, and resolves every `server` name at load, even a `down` one: a server without
    traffic is kept as a comment, so that a host that died (and whose name no longer
    resolves) cannot stop the rollback that takes its traffic away."""
    generation = generation_of(name, servers)
    lines = [
        "# Managed by tracegate.bluegreen (nginx_upstream): the traffic split of this upstream.",
        "# Edits by hand are overwritten at the next switch.",
        f"map $host $bluegreen_generation_{name} {{",
        f'    default "{generation}";',
        "}",
        f"upstream {name} {{",
    ]
    for server in servers:
        if server.weight > 0:
            params = f" weight={server.weight}" + (f" {server_params}" if server_params else "")
            lines.append(f"    server {server.address}{params};  # color={server.color}")
        else:
            lines.append(f"    # server {server.address} down;  # color={server.color}")
    if keepalive:
        lines.append(f"    keepalive {keepalive};")
    lines.append("}")
    return "\n".join(lines) + "\n", generation


def parse(text):
    """Reads servers, colors and weights back from an include this module (or the nginx
    role) wrote. Returns (servers, generation)."""
    servers, generation = [], None
    for line in text.splitlines():
        match = SERVER_LINE.match(line)
        if match:
            params = match.group("params").split()
            if "down" in params:
                weight = 0
            else:
                weight = next((int(p.split("=", 1)[1]) for p in params if p.startswith("weight=")), 1)
            servers.append(UpstreamServer(match.group("address"), match.group("color"), weight))
            continue
        match = GENERATION_LINE.match(line)
        if match:
            generation = match.group("generation")
    return servers, generation


def traffic_split(servers):
    total = sum(s.weight for s in servers)
    by_server = {s.address: round(100.0 * s.weight / total, 2) if total else 0.0 for s in servers}
    by_color = {}
    for s in servers:
        by_color[s.color] = round(by_color.get(s.color, 0.0) + by_server[s.address], 2)
    return {"colors": by_color, "servers": by_server}


def run(runner, command, what):
    """`runner(argv)` returns (rc, stdout, stderr), as AnsibleModule.run_command does."""
    rc, out, err = runner(command)
    if rc != 0:
        raise UpstreamError(f"{what} failed ({' '.join(command)}): {(err or out).strip()}")


def check_candidate(runner, nginx, conf_path, include_path, content):
    """`nginx -t` of the whole configuration with the candidate include in place, on a copy
    of the configuration tree, before anything live is touched. Works when nginx.conf
    includes its parts by relative paths (as the nginx role renders it)."""
    conf_dir = os.path.dirname(conf_path)
    relative = os.path.relpath(include_path, conf_dir)
    if relative.startswith(".."):
        raise UpstreamError(f"path {include_path} is outside the configuration directory {conf_dir}")
    staging = tempfile.mkdtemp(prefix="bluegreen-nginx-")
    try:
        tree = os.path.join(staging, "nginx")
        shutil.copytree(conf_dir, tree, symlinks=True)
        with open(os.path.join(tree, relative), "w", encoding="utf-8") as handle:
            handle.write(content)
        run(runner, [nginx, "-t", "-q", "-c", os.path.join(tree, os.path.basename(conf_path))], "nginx -t of the new upstream")
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def wait_for_generation(fetch, url, generation, deadline):
    """`fetch(url)` returns the body NGINX serves there, or None."""
    while True:
        if fetch(url) == generation:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


class UpstreamSwitch:
    """Writes a new split and makes NGINX serve it, or restores the previous file and fails."""

    def __init__(self, name, path, runner, fetch, conf_path="/etc/nginx/nginx.conf", nginx="nginx",
                 reload_command=None, generation_url=None, reload_timeout=10.0):
        self.name = check_upstream_name(name)
        self.runner = runner
        self.fetch = fetch
        self.path = path
        self.conf_path = conf_path
        self.nginx = nginx
        self.reload_command = reload_command or [nginx, "-s", "reload"]
        self.generation_url = generation_url
        self.reload_timeout = reload_timeout

    def current(self):
        if not os.path.exists(self.path):
            return None, [], None
        with open(self.path, encoding="utf-8") as handle:
            text = handle.read()
        servers, generation = parse(text)
        return text, servers, generation

    def write_checked(self, content, previous_text):
        """Check and write without reloading; restores `previous_text` if the live check fails."""
        check_candidate(self.runner, self.nginx, self.conf_path, self.path, content)
        write_atomically(self.path, content)
        try:
            # The staged check cannot see absolute includes; the live check can.
            run(self.runner, [self.nginx, "-t", "-q", "-c", self.conf_path], "nginx -t of the live configuration")
        except UpstreamError as exc:
            raise UpstreamError(f"{exc}; {self._restore(previous_text, reload=False)}") from exc

    def apply(self, content, generation, previous_text):
        """Check, write, reload, confirm. Restores `previous_text` on any failure."""
        self.write_checked(content, previous_text)
        try:
            run(self.runner, self.reload_command, "reload")
            if self.generation_url and not wait_for_generation(
                self.fetch, self.generation_url, generation, time.monotonic() + self.reload_timeout
            ):
                raise UpstreamError(
                    f"NGINX did not serve generation {generation} at {self.generation_url} within "
                    f"{self.reload_timeout:g}s after the reload (rejected configuration?)"
                )
        except UpstreamError as exc:
            raise UpstreamError(f"{exc}; {self._restore(previous_text)}") from exc

    def _restore(self, previous_text, reload=True):
        try:
            if previous_text is None:
                os.unlink(self.path)
            else:
                write_atomically(self.path, previous_text)
            if reload:
                run(self.runner, self.reload_command, "reload")
        except (OSError, UpstreamError) as exc:
            return f"restoring the previous upstream failed too: {exc}"
        return "the previous upstream was restored" + (" and NGINX reloaded with it" if reload else "")
