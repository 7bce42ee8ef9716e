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
import ipaddress
import os
import re
import shutil
import tempfile
import time

from . import lb_input
from .files import write_atomically

COLORS = ("blue", "green")
MAX_WEIGHT = lb_input.MAX_WEIGHT
# NGINX sets aside a cache slot per kept-alive connection and worker when it loads the
# configuration: far more than any upstream keeps, and far less than exhausts the host.
MAX_KEEPALIVE = 65535
UPSTREAM_NAME = re.compile(r"[A-Za-z0-9_]{1,100}")
# The tracegate.bluegreen.nginx role's nginx_control_port default.
CONTROL_PORT = 18079
# Words NGINX reads as blocks or directives around an upstream and in this include (and
# `default`, `hostnames` and `volatile`, which a map reads): an upstream named so reads as
# one of them to whoever reads the configuration.
NGINX_KEYWORDS = frozenset((
    "http", "server", "upstream", "location", "if", "map", "events", "stream", "mail", "include", "types", "geo",
    "split_clients", "limit_except", "default", "hostnames", "volatile", "keepalive", "zone", "hash", "ip_hash",
    "least_conn", "random", "backup", "down", "weight", "return", "rewrite", "set", "break",
))
# host, IPv4, or bracketed IPv6, then a port
ADDRESS = re.compile(r"^([A-Za-z0-9][A-Za-z0-9.-]*|\[[0-9A-Fa-f:.]+\]):[0-9]{1,5}$")
SERVER_LINE = re.compile(r"^\s*(?:#\s*)?server\s+(?P<address>\S+)(?P<params>[^;#]*);\s*#\s*color=(?P<color>\w+)\s*$")
GENERATION_LINE = re.compile(r'^\s*default\s+"(?P<generation>[0-9a-f]+)";')
# What NGINX counts as white space between the words of a directive.
NGINX_WHITESPACE = re.compile(r"[ \t\r\n]+")
# Largest whole number and number of seconds NGINX reads on every platform it builds on
# (ngx_atoi() and ngx_parse_time() stop at the largest ngx_int_t, 32 bits on some).
MAX_NGINX_INTEGER = 2 ** 31 - 1
# ngx_parse_time() in seconds: numbers with the units y M w d h m s, in this order and each
# once; a number without a unit counts seconds.
TIME_UNITS = {"y": 365 * 86400, "M": 30 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}
TIME_VALUE = re.compile(r"(?:[0-9]+[yMwdhms])*[0-9]*")
# One message of NGINX, as `nginx: [level] text` or, once the configuration named an error
# log, `2026/11/30 08:01:19 [level] 123#123: text`; with ` in file:line` when it is about a
# place in a configuration file. A quoted word of the configuration may span lines.
NGINX_MESSAGE_PREFIX = r"(?:nginx: |[0-9]{4}/[0-9]{2}/[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2} )\[(?P<level>[a-z]+)\] (?:[0-9]+#[0-9]+: )?"
# The place is the last ` in /file:line`: the quoted words before it may hold ` in /` too.
NGINX_MESSAGE_AT = re.compile(NGINX_MESSAGE_PREFIX + r"(?P<text>.*) in (?P<file>/[^\n]*?):(?P<line>[0-9]+)", re.DOTALL)
NGINX_MESSAGE = re.compile(NGINX_MESSAGE_PREFIX + r"(?P<text>.*)", re.DOTALL)
NGINX_LINE_START = re.compile(r"^(?=nginx: |[0-9]{4}/[0-9]{2}/[0-9]{2} )", re.MULTILINE)
QUOTED_PATH = re.compile(r'"/[^"\s]*"')


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


def _bounded(digits):
    """The value of a run of ASCII digits, or None above MAX_NGINX_INTEGER (without reading
    a huge run into an int)."""
    significant = digits.lstrip("0")
    return int(significant or "0") if len(significant) <= 10 and int(significant or "0") <= MAX_NGINX_INTEGER else None


def _integer(text):
    return text if re.fullmatch(r"[0-9]+", text) and _bounded(text) is not None else None


def _seconds(text):
    """`text` if NGINX reads it as a time in seconds (fail_timeout, slow_start), else None."""
    if not text or not TIME_VALUE.fullmatch(text):
        return None
    total, last_rank = 0, -1
    for number, unit in re.findall(r"([0-9]+)([yMwdhms]?)", text):
        if unit:
            rank = list(TIME_UNITS).index(unit)
            if rank <= last_rank:
                return None
            last_rank = rank
        value = _bounded(number)
        if value is None:
            return None
        total += value * TIME_UNITS.get(unit, 1)
    return text if total <= MAX_NGINX_INTEGER else None


# The parameters of NGINX 1.22's `server` directive (ngx_http_upstream_server()) that
# server_params may set on every server with traffic, with the syntax NGINX reads them in.
SERVER_PARAMETERS = {
    "max_conns": (_integer, f"a whole number from 0 to {MAX_NGINX_INTEGER}"),
    "max_fails": (_integer, f"a whole number from 0 to {MAX_NGINX_INTEGER}"),
    "fail_timeout": (_seconds, "a time such as 10s, 1m30s or 1h (no ms)"),
}
# Parameters of NGINX Plus; open-source NGINX 1.22 refuses all of them. None: kept on Plus;
# otherwise why this include cannot carry it even there.
PLUS_SERVER_PARAMETERS = {
    "slow_start": None,
    "resolve": "needs a shared-memory zone and a resolver, which this include does not define",
    "service": "needs resolve, which needs a shared-memory zone and a resolver this include does not define",
    "route": "names one server, and server_params go to every server with traffic",
    "drain": "would drain every server with traffic",
}
SLOW_START = (_seconds, "a time such as 30s or 1m (no ms)")
# Parameters the module writes itself, or that would break the upstream on every server.
REFUSED_SERVER_PARAMETERS = {
    "weight": "is set by this module, from weights and server_weights",
    "down": "is set by this module: a server with weight 0 is left out",
    "backup": "would make every server with traffic a backup server, and NGINX needs one that is not",
}


class ServerParameters:
    """The `server` parameters of server_params, checked: only a closed set of parameters,
    each with a value in the syntax NGINX reads (a word of its own, nothing to escape).
    Constructing one is the check; render() writes nothing else.

    `nginx_build()` returns (`nginx -v` version, whether it is NGINX Plus); it is asked only
    when a parameter of NGINX Plus is given."""

    __slots__ = ("tokens",)

    def __init__(self, text, nginx_build):
        if not isinstance(text, str):
            raise UpstreamError(f"server_params must be a string, got {type(text).__name__}")
        tokens, seen = [], set()
        for token in (word for word in NGINX_WHITESPACE.split(text) if word):
            name, has_value, value = token.partition("=")
            if name in REFUSED_SERVER_PARAMETERS:
                raise UpstreamError(f"server_params: {name} {REFUSED_SERVER_PARAMETERS[name]}")
            if name in PLUS_SERVER_PARAMETERS:
                version, plus = nginx_build()
                if not plus:
                    raise UpstreamError(f"server_params: {name} is an NGINX Plus parameter; {version} is open source")
                if PLUS_SERVER_PARAMETERS[name]:
                    raise UpstreamError(f"server_params: {name} {PLUS_SERVER_PARAMETERS[name]}")
                check, syntax = SLOW_START
            elif name in SERVER_PARAMETERS:
                check, syntax = SERVER_PARAMETERS[name]
            else:
                raise UpstreamError(
                    f"server_params: unknown parameter {lb_input.shown(name)}; known are "
                    f"{', '.join(sorted(SERVER_PARAMETERS))} (and slow_start on NGINX Plus)"
                )
            if not has_value or check(value) is None:
                raise UpstreamError(f"server_params: {lb_input.shown(token)} is not {name}=<{syntax}>")
            if name in seen:
                raise UpstreamError(f"server_params: {name} is given twice")
            seen.add(name)
            tokens.append(token)
        self.tokens = tuple(tokens)


DEFAULT_SERVER_PARAMETERS = ServerParameters("max_fails=1 fail_timeout=5s", nginx_build=None)


def nginx_build(runner, nginx):
    """(version, is NGINX Plus) from `nginx -v`, which prints e.g. `nginx version:
    nginx/1.25.3 (nginx-plus-r31)`."""
    _rc, out, err = run(runner, [nginx, "-v"], "nginx -v")
    version = (err or out).strip().rpartition("version: ")[2]
    return version, "nginx-plus" in version


def nginx_message(output, own_file=None):
    """NGINX's output for a task message. NGINX quotes the words of the configuration it
    read, and that may be a file nobody running the task may read: only messages about
    `own_file` (the include this module writes) keep their text; a message about another
    file keeps only its place, and one about no place only the paths it quotes. Lines that
    are not NGINX's (systemctl's) are kept."""
    shown = []
    for record in NGINX_LINE_START.split(output.strip()):
        record = record.strip()
        if not record:
            continue
        located = NGINX_MESSAGE_AT.fullmatch(record)
        message = located or NGINX_MESSAGE.fullmatch(record)
        if not message:
            shown.append(record)
            continue
        level, text = message.group("level", "text")
        if located:
            place = f"{located.group('file')}:{located.group('line')}"
            if located.group("file") == own_file:
                shown.append(f"nginx: [{level}] {text} in {place}")
            else:
                shown.append(f"nginx: [{level}] (text withheld: it quotes that file) in {place}")
        elif '"' in QUOTED_PATH.sub("", text) or "\n" in text:
            shown.append(f"nginx: [{level}] (text withheld: it may quote a configuration file)")
        else:
            shown.append(f"nginx: [{level}] {text}")
    return "\n".join(shown)


def check_upstream_name(name):
    if not isinstance(name, str) or not UPSTREAM_NAME.fullmatch(name):
        raise UpstreamError(f"invalid upstream name {lb_input.shown(name)}: use letters, digits and _ (at most 100)")
    if name.lower() in NGINX_KEYWORDS:
        raise UpstreamError(f"upstream: {name!r} is an NGINX keyword; name the upstream otherwise")
    return name


def upstream_name_for(service):
    """The upstream a service gets unless it names one: its name in NGINX's variable characters,
    prefixed so that no service name ("if", "server") turns into a keyword."""
    return "bluegreen_" + re.sub(r"[^A-Za-z0-9_]", "_", str(service))[:90]


def default_generation_url(name, control_port=CONTROL_PORT):
    """Where the tracegate.bluegreen.nginx role serves an upstream's generation: the loopback-only
    control server that nginx.conf holds for every service on the load balancer."""
    return f"http://127.0.0.1:{int(control_port)}/.bluegreen/generation/{name}"


def check_include_path(path, conf_path):
    """`path`, normalised, when it names a file inside the directory of `conf_path` (the
    only files the staged `nginx -t` can check, and the only ones this module reads or
    writes) other than `conf_path` itself, also once symbolic links are followed."""
    for field, value in (("path", path), ("conf_path", conf_path)):
        if not isinstance(value, str) or "\0" in value or not os.path.isabs(value):
            raise UpstreamError(f"{field} {lb_input.shown(value)} must be an absolute path")
    path, conf_path = os.path.normpath(path), os.path.normpath(conf_path)
    conf_dir = os.path.dirname(conf_path)
    if path == conf_path:
        raise UpstreamError(f"path {path} is the main configuration file, not an include")
    if os.path.commonpath([path, conf_dir]) != conf_dir or path == conf_dir:
        raise UpstreamError(f"path {path} is outside the configuration directory {conf_dir}")
    real_dir = os.path.realpath(conf_dir)
    if os.path.commonpath([os.path.realpath(path), real_dir]) != real_dir:
        raise UpstreamError(f"path {path} leads outside the configuration directory {conf_dir} through a symbolic link")
    return path


def check_address(address):
    """True for a `host:port` NGINX reads as one server: a host name or IPv4 address, or an
    IPv6 address in brackets, and a port from 1 to 65535."""
    if not isinstance(address, str) or len(address) > 261 or not ADDRESS.fullmatch(address):
        return False
    host, _sep, port = address.rpartition(":")
    if host.startswith("["):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return False
    return 1 <= int(port) <= 65535


def check_keepalive(keepalive):
    if not isinstance(keepalive, int) or isinstance(keepalive, bool) or not 0 <= keepalive <= MAX_KEEPALIVE:
        raise UpstreamError(f"keepalive must be a whole number from 0 to {MAX_KEEPALIVE}, got {lb_input.shown(keepalive)}")
    return keepalive


def check_servers(servers):
    """Validates a servers list [{address, color}] and returns it normalised."""
    if not servers:
        raise UpstreamError("servers: at least one server is needed")
    seen = set()
    checked = []
    for index, server in enumerate(servers):
        address, color = server.get("address"), server.get("color")
        if not check_address(address):
            raise UpstreamError(f"servers[{index}].address {lb_input.shown(address)} must be host:port (port 1 to 65535)")
        if color not in COLORS:
            raise UpstreamError(f"servers[{index}].color {lb_input.shown(color)} must be one of {', '.join(COLORS)}")
        if address in seen:
            raise UpstreamError(f"servers[{index}].address {address!r} is listed twice")
        seen.add(address)
        checked.append((address, color))
    return checked


def plan_weights(servers, weights, server_weights=None, current=None):
    """Weight per server: server_weights[address], else weights[color], else the current
    weight. Refuses weights outside 0..256 and a split that leaves no server with weight."""
    current = {s.address: s.weight for s in (current or [])}
    for color in weights or {}:
        if color not in COLORS:
            raise UpstreamError(f"weights: unknown color {lb_input.shown(color)}: colors are {', '.join(COLORS)}")
    weights = lb_input.weights("weights", weights, UpstreamError)
    server_weights = lb_input.weights("server_weights", server_weights, UpstreamError)
    for color in weights:
        if not any(c == color for _address, c in servers):
            raise UpstreamError(f"weights: no {color} server in the upstream")
    addresses = {address for address, _color in servers}
    for address in server_weights:
        if address not in addresses:
            raise UpstreamError(f"server_weights: unknown server {lb_input.shown(address)}")
    planned = []
    for address, color in servers:
        if address in server_weights:
            weight = server_weights[address]
        elif color in weights:
            weight = weights[color]
        elif address in current:
            weight = current[address]
        else:
            raise UpstreamError(f"weights: no weight given for {address} ({color}) and none in the current upstream")
        planned.append(UpstreamServer(address, color, weight))
    if not any(s.weight > 0 for s in planned):
        raise UpstreamError("refusing a split in which no server has a weight above 0")
    return planned


def planned_include(name, before, servers=None, weights=None, server_weights=None, server_params=None, keepalive=32,
                    nginx_build=None):
    """Everything a call asks for, checked, as (servers after the call, include text,
    generation): `servers` ([{address, color}]) replaces those of the include read as
    `before`; `server_params` is text (None for the default). Raises UpstreamError naming the
    first bad field; nothing here reads or writes a file or runs a program but `nginx_build`."""
    name = check_upstream_name(name)
    if servers:
        checked = check_servers(servers)
    elif before:
        checked = [(s.address, s.color) for s in before]
    else:
        raise UpstreamError("servers: none given and none found in the include")
    after = plan_weights(checked, weights, server_weights, before)
    params = DEFAULT_SERVER_PARAMETERS if server_params is None else ServerParameters(server_params, nginx_build)
    content, generation = render(name, after, params, keepalive)
    return after, content, generation


def generation_of(name, servers):
    text = name + "\n" + "\n".join(f"{s.address} {s.color} {s.weight}" for s in servers)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def render(name, servers, server_params=None, keepalive=32):
    """The include: the upstream, and a map that serves its generation marker.
    `server_params` is a ServerParameters (checked), None for the default. NGINX has no
    weight 0, and resolves every `server` name at load, even a `down` one: a server without
    traffic is kept as a comment, so that a host that died (and whose name no longer
    resolves) cannot stop the rollback that takes its traffic away."""
    check_upstream_name(name)
    check_keepalive(keepalive)
    if server_params is None:
        server_params = DEFAULT_SERVER_PARAMETERS
    if not isinstance(server_params, ServerParameters):
        raise TypeError("server_params must be ServerParameters: render() writes only checked parameters")
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
            params = " ".join((f"weight={server.weight}",) + server_params.tokens)
            lines.append(f"    server {server.address} {params};  # color={server.color}")
        else:
            lines.append(f"    # server {server.address} down;  # color={server.color}")
    if keepalive:
        lines.append(f"    keepalive {keepalive};")
    lines.append("}")
    return "\n".join(lines) + "\n", generation


def parse(text):
    """Reads servers, colors and weights back from an include this module (or the nginx
    role) wrote. Returns (servers, generation). A server line it cannot read is refused by
    its number, without its text (the file may be any the task names)."""
    servers, generation = [], None
    for number, line in enumerate(text.split("\n"), 1):
        match = SERVER_LINE.match(line)
        if match:
            if match.group("color") not in COLORS:
                raise UpstreamError(f"line {number}: the color must be {' or '.join(COLORS)}")
            if not check_address(match.group("address")):
                raise UpstreamError(f"line {number}: the server address is not host:port (port 1 to 65535)")
            params = match.group("params").split()
            weights = [p[len("weight="):] for p in params if p.startswith("weight=")]
            if "down" in params:
                weight = 0
            elif weights and not (len(weights) == 1 and re.fullmatch(r"[1-9][0-9]{0,9}", weights[0])
                                  and int(weights[0]) <= MAX_NGINX_INTEGER):
                raise UpstreamError(f"line {number}: weight= must be a whole number from 1 to {MAX_NGINX_INTEGER}, once")
            else:
                weight = int(weights[0]) if weights else 1
            servers.append(UpstreamServer(match.group("address"), match.group("color"), weight))
            continue
        match = GENERATION_LINE.match(line)
        if match:
            generation = match.group("generation")
    return servers, generation


def server_params_in(text):
    """The `server` parameters the include's servers with traffic carry besides their weight,
    as text (the module writes the same ones on every such server), or None when it has no
    server with traffic. They are checked again (ServerParameters) before they are written."""
    for line in (text or "").split("\n"):
        match = SERVER_LINE.match(line)
        if match and not line.lstrip().startswith("#"):
            return " ".join(token for token in match.group("params").split() if not token.startswith("weight="))
    return None


def traffic_split(servers):
    total = sum(s.weight for s in servers)
    by_server = {s.address: round(100.0 * s.weight / total, 2) if total else 0.0 for s in servers}
    by_color = {}
    for s in servers:
        by_color[s.color] = round(by_color.get(s.color, 0.0) + by_server[s.address], 2)
    return {"colors": by_color, "servers": by_server}


def run(runner, command, what, own_file=None, staged=None):
    """`runner(argv)` returns (rc, stdout, stderr), as AnsibleModule.run_command does, and
    raises when the program cannot be started (OSError; ValueError for a NUL in argv).
    NGINX's messages are shown through nginx_message(); `staged` is (copy, original) of a
    configuration tree checked as a copy, whose paths are shown as the original's."""
    try:
        rc, out, err = runner(command)
    except (OSError, ValueError) as exc:
        raise UpstreamError(f"{what} failed ({' '.join(command)}): {exc}") from exc
    if rc != 0:
        output = err or out
        if staged:
            output = output.replace(staged[0], staged[1])
        raise UpstreamError(f"{what} failed ({' '.join(command)}): {nginx_message(output, own_file)}")
    return rc, out, err


def check_candidate(runner, nginx, conf_path, include_path, content):
    """`nginx -t` of the whole configuration with the candidate include in place, on a copy
    of the configuration tree, before anything live is touched. Works when nginx.conf
    includes its parts by relative paths (as the nginx role renders it)."""
    include_path = check_include_path(include_path, conf_path)
    conf_dir = os.path.dirname(os.path.normpath(conf_path))
    relative = os.path.relpath(include_path, conf_dir)
    staging = tempfile.mkdtemp(prefix="bluegreen-nginx-")
    try:
        tree = os.path.join(staging, "nginx")
        shutil.copytree(conf_dir, tree, symlinks=True)
        with open(os.path.join(tree, relative), "w", encoding="utf-8") as handle:
            handle.write(content)
        run(runner, [nginx, "-t", "-q", "-c", os.path.join(tree, os.path.basename(conf_path))], "nginx -t of the new upstream",
            own_file=include_path, staged=(tree, conf_dir))
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
        self.path = check_include_path(path, conf_path)
        self.conf_path = conf_path
        self.nginx = nginx
        self.reload_command = reload_command or [nginx, "-s", "reload"]
        self.generation_url = generation_url
        self.reload_timeout = lb_input.seconds("reload_timeout", reload_timeout, UpstreamError)

    def current(self):
        if not os.path.exists(self.path):
            return None, [], None
        try:
            with open(self.path, encoding="utf-8") as handle:
                text = handle.read()
            servers, generation = parse(text)
        except UnicodeDecodeError as exc:
            raise UpstreamError(f"cannot read {self.path}: it is not UTF-8 text") from exc
        except OSError as exc:
            raise UpstreamError(f"cannot read {self.path}: {exc.strerror or exc}") from exc
        except UpstreamError as exc:
            raise UpstreamError(f"cannot read {self.path}: {exc}") from exc
        return text, servers, generation

    def write_checked(self, content, previous_text):
        """Check and write without reloading; restores `previous_text` if the live check fails."""
        check_candidate(self.runner, self.nginx, self.conf_path, self.path, content)
        write_atomically(self.path, content)
        try:
            # The staged check cannot see absolute includes; the live check can.
            run(self.runner, [self.nginx, "-t", "-q", "-c", self.conf_path], "nginx -t of the live configuration",
                own_file=self.path)
        except UpstreamError as exc:
            raise UpstreamError(f"{exc}; {self._restore(previous_text, reload=False)}") from exc
        except BaseException:
            # Whatever else ends the module here ends it with the previous include.
            self._restore(previous_text, reload=False)
            raise

    def apply(self, content, generation, previous_text):
        """Check, write, reload, confirm. Restores `previous_text` on any failure."""
        self.write_checked(content, previous_text)
        try:
            run(self.runner, self.reload_command, "reload", own_file=self.path)
            if self.generation_url and not wait_for_generation(
                self.fetch, self.generation_url, generation, time.monotonic() + self.reload_timeout
            ):
                raise UpstreamError(
                    f"NGINX did not serve generation {generation} at {self.generation_url} within "
                    f"{self.reload_timeout:g}s after the reload (rejected configuration?)"
                )
        except UpstreamError as exc:
            raise UpstreamError(f"{exc}; {self._restore(previous_text)}") from exc
        except BaseException:
            self._restore(previous_text)
            raise

    def _restore(self, previous_text, reload=True):
        """Puts the previous include back (and reloads NGINX with it); says what it did."""
        try:
            if previous_text is None:
                os.unlink(self.path)
            else:
                write_atomically(self.path, previous_text)
        except OSError as exc:
            return f"putting the previous upstream back in {self.path} failed too ({exc}): the file holds the new split"
        if not reload:
            return "the previous upstream was restored"
        try:
            run(self.runner, self.reload_command, "reload", own_file=self.path)
        except UpstreamError as exc:
            return (f"the previous upstream was restored in {self.path}, but reloading NGINX with it failed too: {exc}; "
                    "NGINX serves the split it last loaded")
        return "the previous upstream was restored and NGINX reloaded with it"
