# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""HAProxy Runtime API client and the weight/state switch built on it.

Plain Python (standard library only): it runs on the load-balancer host inside the
haproxy_backend module and is unit-tested without Ansible.
"""

from __future__ import annotations

import csv
import io
import re
import socket
import time

from . import lb_input, server_check
from .files import write_atomically

COLORS = ("blue", "green")
ADMIN_STATES = ("ready", "drain", "maint")
# Characters HAProxy accepts in proxy and server names (cfgparse invalid_char()), and no
# more than fit on one line of its configuration (2048 characters in 2.6).
NAME_PATTERN = re.compile(r"[A-Za-z0-9_.:-]{1,2000}")

# srv_admin_state flags of `show servers state` (include/haproxy/server-t.h).
ADMF_FMAINT = 0x01
ADMF_MAINT = 0x23  # forced, inherited or resolution maintenance
ADMF_FDRAIN = 0x08
ADMF_DRAIN = 0x18
# srv_op_state values.
OP_STATES = {0: "stopped", 1: "starting", 2: "running", 3: "stopping"}
PASSING_CHECKS = ("L4OK", "L6OK", "L7OK", "L7OKC")
# Columns of `show servers state` this client reads.
SERVERS_STATE_COLUMNS = ("be_name", "srv_name", "srv_uweight", "srv_admin_state", "srv_op_state")
PROMPT = b"\n> "
# Far above any answer HAProxy gives (`show stat` of ten thousand servers is a few MiB): a
# peer that sends more is not HAProxy, and the answer is not kept in memory.
MAX_ANSWER_BYTES = 64 * 1024 * 1024


class RuntimeApiError(Exception):
    """Anything the Runtime API refused or could not answer; the message names the object."""


def check_name(field, kind, name):
    """Refuses names HAProxy cannot hold, before anything is sent: a name with `;`, a space or
    a newline would otherwise smuggle a second command into the socket."""
    if not isinstance(name, str) or not NAME_PATTERN.fullmatch(name):
        raise RuntimeApiError(
            f"{field}: invalid {kind} name {lb_input.shown(name)}: HAProxy names hold only letters, digits and _ . : - "
            "(at most 2000)"
        )
    return name


def server_color(server_name):
    """Our roles name servers `<color>_<host>`; anything else has no color."""
    prefix = server_name.split("_", 1)[0]
    return prefix if prefix in COLORS and "_" in server_name else None


def parse_servers_state(text):
    """Parses `show servers state` (format version 1) by column name into
    {(backend, server): {column: value}}."""
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        raise RuntimeApiError("empty answer to 'show servers state'")
    if lines[0].strip() != "1":
        raise RuntimeApiError(f"unsupported servers state format {lb_input.shown(lines[0].strip())} (expected 1)")
    if len(lines) < 2 or not lines[1].startswith("# "):
        raise RuntimeApiError("'show servers state' answer has no column header")
    columns = lines[1][2:].split()
    missing = [column for column in SERVERS_STATE_COLUMNS if column not in columns]
    if missing:
        raise RuntimeApiError(f"'show servers state' answer has no column {', '.join(missing)}")
    servers = {}
    for line in lines[2:]:
        values = line.split()
        if len(values) < len(columns):
            # Older formats omit trailing columns; the ones we read are all early.
            values += [""] * (len(columns) - len(values))
        row = dict(zip(columns, values))
        servers[(row["be_name"], row["srv_name"])] = row
    return servers


def parse_show_stat(text):
    """Parses `show stat` CSV by column name into {(pxname, svname): {column: value}}."""
    text = text.strip()
    if not text.startswith("# "):
        raise RuntimeApiError("'show stat' answer has no CSV header")
    try:
        return {(row.get("pxname"), row["svname"]): row for row in csv.DictReader(io.StringIO(text[2:])) if row.get("svname")}
    except csv.Error as exc:
        raise RuntimeApiError(f"unreadable 'show stat' answer: {exc}") from exc


def stat_number(row, column):
    """A count of a `show stat` row (empty is 0)."""
    value = row.get(column) or "0"
    if not re.fullmatch(r"[0-9]{1,18}", value):
        raise RuntimeApiError(f"unreadable {column} {lb_input.shown(value)} in 'show stat' for {row.get('pxname')}/{row.get('svname')}")
    return int(value)


def admin_state(flags):
    flags = int(flags)
    if flags & ADMF_MAINT:
        return "maint"
    if flags & ADMF_DRAIN:
        return "drain"
    return "ready"


class ServerState:
    """The part of a server's runtime state this module manages and reports."""

    __slots__ = ("backend", "server", "weight", "state", "operational", "address")

    def __init__(self, backend, server, weight, state, operational="running", address=None):
        self.backend = backend
        self.server = server
        self.weight = weight
        self.state = state
        self.operational = operational
        self.address = address

    @classmethod
    def from_row(cls, row):
        numbers = {column: row[column] for column in ("srv_uweight", "srv_admin_state", "srv_op_state")}
        unreadable = [column for column, value in numbers.items() if not re.fullmatch(r"[0-9]{1,9}", value)]
        if unreadable:
            raise RuntimeApiError(f"unreadable {', '.join(unreadable)} in 'show servers state' for "
                                  f"{lb_input.shown(row['be_name'])}/{lb_input.shown(row['srv_name'])}")
        return cls(
            row["be_name"],
            row["srv_name"],
            int(row["srv_uweight"]),
            admin_state(row["srv_admin_state"]),
            OP_STATES.get(int(row["srv_op_state"]), "unknown"),
            f"{row['srv_addr']}:{row['srv_port']}" if row.get("srv_addr") and row.get("srv_port") else None,
        )

    @property
    def key(self):
        return (self.backend, self.server)

    @property
    def color(self):
        return server_color(self.server)

    def as_dict(self):
        return {"backend": self.backend, "server": self.server, "color": self.color,
                "weight": self.weight, "state": self.state}

    def __eq__(self, other):
        return (self.key, self.weight, self.state) == (other.key, other.weight, other.state)

    def __repr__(self):
        return f"ServerState({self.backend}/{self.server} weight={self.weight} state={self.state})"


def traffic_split(states):
    """Share of new requests per color and per server: weight over the backend's total weight
    of servers that take traffic (ready and not stopped). Percentages, rounded to 0.01."""
    split = {}
    for backend in sorted({s.backend for s in states}):
        members = [s for s in states if s.backend == backend]
        serving = [s for s in members if s.state == "ready" and s.operational != "stopped" and s.weight > 0]
        total = sum(s.weight for s in serving)
        by_server = {s.server: round(100.0 * s.weight / total, 2) if total and s in serving else 0.0 for s in members}
        by_color = {}
        for s in members:
            if s.color:
                by_color[s.color] = round(by_color.get(s.color, 0.0) + by_server[s.server], 2)
        split[backend] = {"colors": by_color, "servers": by_server}
    return split


def parse_address(address):
    """`/path/to.sock` or `unix:/path` is a unix socket; `host:port` or `tcp:host:port` is TCP."""
    if not isinstance(address, str) or "\0" in address:
        raise RuntimeApiError(f"invalid socket address {lb_input.shown(address)}: use a unix socket path or host:port")
    if address.startswith("unix:/"):
        return socket.AF_UNIX, address[5:]
    if address.startswith("/"):
        return socket.AF_UNIX, address
    try:
        host, port = server_check.split_address(address[4:] if address.startswith("tcp:") else address)
    except ValueError as exc:
        raise RuntimeApiError(
            f"invalid socket address {lb_input.shown(address)}: use a unix socket path or host:port (port 1 to 65535)"
        ) from exc
    return socket.AF_INET6 if ":" in host else socket.AF_INET, (host, port)


class RuntimeSession:
    """One connection to the Runtime API in interactive (prompt) mode, so that several
    commands share it and each answer is read on its own. `timeout` is the deadline of each
    call as a whole (connecting with its first prompt, each command with its answer), not of
    each read: a peer that trickles bytes cannot hold a call longer."""

    def __init__(self, address, timeout=5.0):
        self.address = address
        self.timeout = timeout
        self.sock = None
        self.buffer = bytearray()

    def __enter__(self):
        family, target = parse_address(self.address)
        deadline = time.monotonic() + self.timeout
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            self.sock.settimeout(self.timeout)
            self.sock.connect(target)
            self._send(b"prompt\n", deadline)
            self._read_answer("prompt", deadline)
        except (OSError, RuntimeApiError) as exc:
            self.close()
            raise RuntimeApiError(f"cannot use the HAProxy Runtime API at {self.address}: {exc}") from exc
        return self

    def __exit__(self, *exc_info):
        if self.sock is not None:
            try:
                self._send(b"quit\n", time.monotonic() + self.timeout)
            except OSError:
                pass
        self.close()

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def _remaining(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError(f"no complete answer within {self.timeout:g}s")
        return remaining

    def _send(self, data, deadline):
        self.sock.settimeout(self._remaining(deadline))
        self.sock.sendall(data)

    def _read_answer(self, line, deadline):
        while not self.buffer.endswith(PROMPT) and self.buffer != PROMPT[1:]:
            self.sock.settimeout(self._remaining(deadline))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout as exc:
                raise TimeoutError(f"no complete answer within {self.timeout:g}s") from exc
            if not chunk:
                raise RuntimeApiError(f"HAProxy closed the Runtime API connection at {self.address}")
            self.buffer += chunk
            if len(self.buffer) > MAX_ANSWER_BYTES:
                raise RuntimeApiError(f"the answer to {line!r} is larger than {MAX_ANSWER_BYTES} bytes: not HAProxy?")
        answer = bytes(self.buffer[: -len(PROMPT)]) if self.buffer.endswith(PROMPT) else b""
        self.buffer = bytearray()
        return answer.decode("utf-8", "replace")

    def command(self, line):
        if "\n" in line or ";" in line:
            raise RuntimeApiError(f"refusing to send a command holding ';' or a newline: {line!r}")
        deadline = time.monotonic() + self.timeout
        try:
            self._send(line.encode() + b"\n", deadline)
            return self._read_answer(line, deadline)
        except OSError as exc:
            raise RuntimeApiError(f"Runtime API connection failed during {line!r}: {exc}") from exc

    def set_command(self, line):
        """A `set ...` command answers nothing on success and its error text otherwise."""
        answer = self.command(line).strip()
        if answer:
            raise RuntimeApiError(f"HAProxy refused {line!r}: {answer}")

    def servers_state(self, backend=None):
        answer = self.command(f"show servers state {backend}" if backend else "show servers state")
        if answer.strip().startswith("Can't find backend"):
            raise RuntimeApiError(f"unknown backend {backend!r}")
        return {key: ServerState.from_row(row) for key, row in parse_servers_state(answer).items()}

    def stats(self, backend):
        answer = self.command(f"show stat {backend} 4 -1")
        return parse_show_stat(answer)


def plan_changes(current, weights=None, server_weights=None, states=None, server_states=None):
    """Returns {key: ServerState wanted} for every server of `current` the request touches.

    `current` maps (backend, server) to ServerState for the backends in scope. Raises
    RuntimeApiError naming the first bad input: unknown server, color without servers,
    weight out of range, or a backend left with no weight on any ready server.
    """
    states, server_states = states or {}, server_states or {}
    for field, colors in (("weights", weights or {}), ("states", states)):
        for color in colors:
            if color not in COLORS:
                raise RuntimeApiError(f"{field}: unknown color {lb_input.shown(color)}: colors are {', '.join(COLORS)}")
    weights = lb_input.weights("weights", weights, RuntimeApiError)
    server_weights = lb_input.weights("server_weights", server_weights, RuntimeApiError)
    for field, values in (("states", states), ("server_states", server_states)):
        for name, value in values.items():
            if not isinstance(value, str) or value not in ADMIN_STATES:
                raise RuntimeApiError(f"{field}: the state of {lb_input.shown(name)} must be one of "
                                      f"{', '.join(ADMIN_STATES)}, got {lb_input.shown(value)}")
    backends = sorted({key[0] for key in current})
    servers = {state.server for state in current.values()}
    for field, values in (("server_weights", server_weights), ("server_states", server_states)):
        for server in values:
            check_name(field, "server", server)
            if server not in servers:
                raise RuntimeApiError(f"{field}: unknown server {server!r} in backend(s) {', '.join(backends)}")
    for field, colors in (("weights", weights), ("states", states)):
        for color in colors:
            for backend in backends:
                if not any(s.color == color for s in current.values() if s.backend == backend):
                    raise RuntimeApiError(f"{field}: backend {backend!r} has no {color} servers (named {color}_<host>)")

    wanted = {}
    for key, state in current.items():
        weight = server_weights.get(state.server, weights.get(state.color, state.weight))
        admin = server_states.get(state.server, states.get(state.color, state.state))
        target = ServerState(state.backend, state.server, weight, admin, state.operational, state.address)
        if target != state:
            wanted[key] = target

    for backend in backends:
        after = [wanted.get(key, state) for key, state in current.items() if key[0] == backend]
        if not any(s.weight > 0 and s.state == "ready" for s in after):
            raise RuntimeApiError(
                f"refusing to leave backend {backend!r} with no ready server of weight above 0"
            )
    return wanted


def apply_commands(previous, target):
    """Commands that move one server from `previous` to `target`: the weight first when
    traffic is added, last when it is taken away, so the server never takes traffic in a
    state it is leaving."""
    name = f"{target.backend}/{target.server}"
    commands = []
    if target.state != previous.state:
        commands.append(f"set server {name} state {target.state}")
    if target.weight != previous.weight:
        weight_command = f"set server {name} weight {target.weight}"
        if target.weight > previous.weight:
            commands.insert(0, weight_command)
        else:
            commands.append(weight_command)
    return commands


def save_state_file(session, path):
    """Writes `show servers state` atomically to HAProxy's server-state file."""
    answer = session.command("show servers state")
    parse_servers_state(answer)  # refuse to persist something HAProxy could not load
    write_atomically(path, answer if answer.endswith("\n") else answer + "\n")


def passed_check_since_ready(stat_row):
    """True once a health check has passed after the server left maintenance.

    Leaving maintenance sets the check's health to `rise`, so HAProxy shows the server UP
    before any check ran. Health only climbs above `rise` through a passed check. With
    `fall 1` there is no room above `rise`, and a passing last check is all there is to see.
    """
    status = stat_row.get("check_status", "")
    if status.startswith("* ") or status not in PASSING_CHECKS:
        return False
    if not stat_row.get("status", "").startswith("UP"):
        return False
    rise, fall = stat_number(stat_row, "check_rise") or 1, stat_number(stat_row, "check_fall") or 1
    health = stat_number(stat_row, "check_health")
    return health > rise if fall > 1 else health >= rise


def poll(predicate, deadline, interval=0.1):
    while True:
        result = predicate()
        if result or time.monotonic() >= deadline:
            return result
        time.sleep(interval)


class SwitchFailed(RuntimeApiError):
    """The switch did not hold and was reverted (or the revert failed: see the message)."""

    def __init__(self, message, before, restored):
        super().__init__(message)
        self.before = before
        self.restored = restored


class StateFileNotWritten(RuntimeApiError):
    """The switch holds (applied and verified), but HAProxy's server-state file was not written."""

    def __init__(self, message, before, after):
        super().__init__(message)
        self.before = before
        self.after = after


class BackendSwitch:
    """Moves weights and admin states of servers in one or more backends, verifies the
    result, and restores the previous state on any error."""

    def __init__(self, address, backends, timeout=5.0):
        parse_address(address)
        self.address = address
        self.backends = [check_name("backends", "backend", b) for b in backends]
        if not self.backends:
            raise RuntimeApiError("no backend given")
        self.timeout = lb_input.seconds("timeout", timeout, RuntimeApiError)

    def read(self, session):
        current = {}
        for backend in self.backends:
            current.update(session.servers_state(backend))
        return current

    def run(self, weights=None, server_weights=None, states=None, server_states=None, check_mode=False,
            wait_healthy=True, health_timeout=30.0, state_file=None, require_up=(), ask=None):
        """Returns (before, after, changed). `after` is what HAProxy reports once the switch
        holds (or the prediction in check mode). Servers of a `require_up` color that the
        change leaves with weight must answer `ask` ({name: address} -> {name: reason})
        first, or nothing is changed."""
        for field, values in (("server_weights", server_weights or {}), ("server_states", server_states or {})):
            for server in values:
                check_name(field, "server", server)
        health_timeout = lb_input.seconds("health_timeout", health_timeout, RuntimeApiError, allow_zero=True)
        with RuntimeSession(self.address, self.timeout) as session:
            before = self.read(session)
            wanted = plan_changes(before, weights, server_weights, states, server_states)
            if wanted and require_up:
                receiving = {f"{s.backend}/{s.server}": before[key].address
                             for key, s in {**before, **wanted}.items()
                             if s.color in require_up and s.weight > 0 and s.state != "maint"}
                unknown = sorted(name for name, address in receiving.items() if not address)
                if unknown:
                    raise RuntimeApiError(f"require_up: no address known for {', '.join(unknown)}; nothing was changed")
                bad = ask(receiving)
                if bad:
                    raise RuntimeApiError(server_check.refusal(bad))
            if not wanted or check_mode:
                return before, {**before, **wanted}, bool(wanted)
            try:
                after = self._apply(session, before, wanted, wait_healthy, health_timeout)
            except RuntimeApiError as exc:
                raise self._revert(before, wanted, exc) from exc
            if state_file:
                try:
                    save_state_file(session, state_file)
                except (OSError, RuntimeApiError) as exc:
                    raise StateFileNotWritten(
                        f"the switch holds; the state file was not written ({state_file}: {exc}), so a reload of "
                        "HAProxy would not keep it", before, after
                    ) from exc
            return before, after, True

    def _apply(self, session, before, wanted, wait_healthy, health_timeout):
        for key, target in wanted.items():
            for line in apply_commands(before[key], target):
                session.set_command(line)
        after = self.read(session)
        for key, target in wanted.items():
            got = after.get(key)
            if got is None or got != target:
                raise RuntimeApiError(
                    f"server {target.backend}/{target.server} reads back "
                    f"{'nothing' if got is None else f'weight {got.weight} state {got.state}'}, "
                    f"expected weight {target.weight} state {target.state}"
                )
        leaving_maint = [key for key, target in wanted.items() if before[key].state == "maint" and target.state != "maint"]
        if wait_healthy and leaving_maint:
            self._wait_healthy(session, leaving_maint, time.monotonic() + health_timeout)
        return after

    def _wait_healthy(self, session, keys, deadline):
        pending = set(keys)

        def all_passed():
            rows = {}
            for backend in {key[0] for key in pending}:
                rows.update(session.stats(backend))
            for key in list(pending):
                if key in rows and passed_check_since_ready(rows[key]):
                    pending.discard(key)
            return not pending

        if not poll(all_passed, deadline, interval=0.2):
            names = ", ".join(f"{b}/{s}" for b, s in sorted(pending))
            raise RuntimeApiError(f"no passed health check after leaving maintenance for {names}")

    def _revert(self, before, wanted, cause):
        """Puts every touched server back as it was, on a fresh connection (the old one may be
        what failed), and verifies it."""
        try:
            with RuntimeSession(self.address, self.timeout) as session:
                for key in wanted:
                    previous = before[key]
                    name = f"{previous.backend}/{previous.server}"
                    session.set_command(f"set server {name} state {previous.state}")
                    session.set_command(f"set server {name} weight {previous.weight}")
                now = self.read(session)
            wrong = [f"{b}/{s}" for (b, s) in wanted if now.get((b, s)) != before[(b, s)]]
            if wrong:
                return SwitchFailed(f"{cause}; reverting left {', '.join(wrong)} in a different state", before, False)
            return SwitchFailed(f"{cause}; the previous weights and states were restored", before, True)
        except RuntimeApiError as exc:
            previous = ", ".join(f"{s.backend}/{s.server} weight {s.weight} state {s.state}" for s in (before[k] for k in wanted))
            return SwitchFailed(f"{cause}; reverting failed too ({exc}); previous state was: {previous}", before, False)


def wait_drained(address, keys, deadline, shutdown_sessions=False, timeout=5.0):
    """Waits until the servers `keys` hold no session (scur) and no queue (qcur). At the
    deadline, optionally shuts their remaining sessions down. Returns {"backend/server":
    remaining sessions}; empty when all drained."""
    with RuntimeSession(address, timeout) as session:
        remaining = {}

        def drained():
            remaining.clear()
            for backend in {key[0] for key in keys}:
                rows = session.stats(backend)
                for key in keys:
                    if key[0] == backend and key in rows:
                        busy = stat_number(rows[key], "scur") + stat_number(rows[key], "qcur")
                        if busy:
                            remaining[f"{key[0]}/{key[1]}"] = busy
            return not remaining

        if not poll(drained, deadline, interval=0.2) and shutdown_sessions:
            for name in list(remaining):
                session.set_command(f"shutdown sessions server {name}")
            poll(drained, time.monotonic() + 5.0, interval=0.1)
        return dict(remaining)
