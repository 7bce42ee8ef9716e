# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tamper-evident audit log: one JSON record per line, hash-chained, with Ed25519-signed
checkpoints and a mandatory signed terminal seal.

Record format (schema version 1), every line is the record in RFC 8785 canonical JSON
followed by a line feed, and nothing else:
  v          schema version (1)
  run_id     the run the record belongs to
  seq        0, 1, 2, ... without gaps
  ts         UTC time, RFC 3339 with microseconds
  type       one of EVENT_TYPES
  prev       SHA-256 (lowercase hex) of the previous line's bytes; 64 zeros for seq 0
  ...        the event's own fields (actor, ticket, hosts, colors, split, evidence, outcome)
  key_id, sig  on `checkpoint` and `run_sealed` only: Ed25519 signature (lowercase hex) over
             the canonical record without `sig`

The chain covers every byte of every line, so an edited, deleted, reordered or replayed
record breaks it; the signed checkpoints and the seal bind the chain to a key holder; a
missing seal (a truncated tail) is a failure, never a pass. No later line hashes the seal's
bytes, and its signature covers its content only, so the verifier also refuses any line
that is not exactly the canonical encoding of what it parses to (spaces, key order, 5.0 for
5, escaped letters, a key given twice), a blank line, and a line without its line feed.
Verification needs only the log and the public keys; tools/audit_verify.py is its command
line.
"""

from __future__ import annotations

import datetime
import fcntl
import hashlib
import json
import os
import re
import stat

try:
    import rfc8785
except ImportError:  # reported by the modules through missing_required_lib
    rfc8785 = None

try:
    from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding, PublicFormat, load_pem_private_key, load_pem_public_key,
    )
except ImportError:
    InvalidSignature = UnsupportedAlgorithm = Ed25519PrivateKey = Ed25519PublicKey = None

SCHEMA_VERSION = 1
GENESIS = "0" * 64
GENESIS_POSITION = (0, GENESIS)
EVENT_TYPES = (
    "run_start", "approval_verified", "gate_result", "traffic_change", "rollback", "task_result",
    "checkpoint", "run_sealed", "watchdog_intervention",
)
SIGNED_TYPES = ("checkpoint", "run_sealed")
RESERVED = ("v", "run_id", "seq", "ts", "type", "prev", "key_id", "sig")
RECORD_TIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{6}Z\Z")
SHA256_HEX = re.compile(r"[0-9a-f]{64}\Z")
SIGNATURE_HEX = re.compile(r"[0-9a-f]{128}\Z")
# RFC 8785 sorts keys by UTF-16 units, Python by code points: they differ only between
# characters beyond U+FFFF, which UTF-8 starts with these bytes.
BEYOND_BMP = re.compile(rb"[\xf0-\xf4]")
# RFC 8785 refuses an integer beyond 2**53, which takes 16 digits; with every digit made a 0,
# a line holding 16 digits in a row holds sixteen 0s in a row.
DIGITS_AS_ZERO = bytes.maketrans(b"123456789", b"000000000")
SIXTEEN_DIGITS = b"0" * 16
COMPACT_SORTED = json.JSONEncoder(ensure_ascii=False, allow_nan=False, sort_keys=True, separators=(",", ":")).encode
# A record's values are unbounded (gate evidence); a report line shows this much of one.
SHOWN_LENGTH = 80


class AuditError(Exception):
    pass


def is_integer(value):
    """An int and not a bool: JSON's true is no number, though Python's True == 1."""
    return isinstance(value, int) and not isinstance(value, bool)


class RunSealed(AuditError):
    """The run's seal is the log's last record: nothing more can be appended."""


def missing_library():
    """Name of a required library that is not installed, or None."""
    if rfc8785 is None:
        return "rfc8785"
    if Ed25519PrivateKey is None:
        return "cryptography"
    return None


def canonical(record):
    if rfc8785 is None:
        raise AuditError("the Python library rfc8785 is required on the controller")
    return rfc8785.dumps(record)


def utc_now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def key_id_of(public_key):
    """First 16 hex digits of SHA-256 over the raw public key."""
    raw = public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def check_key_file(path):
    """A signing key must be a regular file only its owner can read."""
    try:
        status = os.stat(path)
    except OSError as exc:
        raise AuditError(f"signing_key: {path}: {exc.strerror}") from None
    if not stat.S_ISREG(status.st_mode):
        raise AuditError(f"signing_key: {path} is not a regular file")
    if status.st_mode & 0o077:
        raise AuditError(f"signing_key: {path} has mode {stat.S_IMODE(status.st_mode):04o}; "
                         "it must be readable by its owner only (0600 or stricter)")


def load_private_key(path):
    with open(path, "rb") as handle:
        key = load_pem_private_key(handle.read(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise AuditError(f"{path} is not an Ed25519 private key")
    return key


def load_public_keys(paths):
    keys = {}
    for path in paths:
        with open(path, "rb") as handle:
            try:
                key = load_pem_public_key(handle.read())
            except (ValueError, UnsupportedAlgorithm) as exc:
                raise AuditError(f"{path} is not a PEM public key: {exc}") from None
        if not isinstance(key, Ed25519PublicKey):
            raise AuditError(f"{path} is not an Ed25519 public key")
        keys[key_id_of(key)] = key
    return keys


class AuditWriter:
    """Appends records of one run to a log file; each line is written and fsynced before
    `append` returns, so a record that precedes a traffic change is on disk before it.

    Several writers may append to the same log (the audit_trail callback and the playbook's
    own records): each append takes an exclusive lock and continues the chain from the last
    line on disk. A writer whose own append left the file as it is now reads nothing; after
    another writer's append it reads the last line only, from the end of the file."""

    def __init__(self, path, run_id, private_key=None, clock=utc_now, sync=True):
        self.path = path
        self.sync = sync
        self.run_id = run_id
        self.private_key = private_key
        self.key_id = key_id_of(private_key.public_key()) if private_key else None
        self.clock = clock
        self.seq, self.prev = GENESIS_POSITION
        self.known_state = None
        if os.path.exists(path):
            with open(path, "rb") as handle:
                self._catch_up(handle)

    def _catch_up(self, handle):
        """Takes the chain's position from the log's last line unless the log is as this
        writer last read or wrote it."""
        state = file_state(handle)
        if state != self.known_state:
            self.seq, self.prev = self._resume(handle)
            self.known_state = state

    def _resume(self, handle):
        """Where the run's chain goes on: (next seq, hash of the last line). A file of
        another run, or a sealed one, is refused."""
        last = last_line(handle)
        if last is None:
            return GENESIS_POSITION
        run_id, seq, event_type = chain_position(last)
        if run_id is None:
            raise AuditError(f"the last line of {self.path} is not a complete audit record; nothing is appended")
        if run_id != self.run_id:
            raise AuditError(f"{self.path} holds run {run_id}, not {self.run_id}: one log file per run")
        if event_type == "run_sealed":
            raise RunSealed(f"run {self.run_id} is sealed in {self.path}; nothing can be appended")
        return seq + 1, hashlib.sha256(last).hexdigest()

    def append(self, event_type, **fields):
        if event_type not in EVENT_TYPES:
            raise AuditError(f"unknown audit event type {event_type!r}")
        clash = [key for key in fields if key in RESERVED]
        if clash:
            raise AuditError(f"audit fields {clash} are reserved")
        if event_type in SIGNED_TYPES and self.private_key is None:
            raise AuditError(f"a {event_type} record must be signed: no signing key given")
        with open(self.path, "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            self._catch_up(handle)
            if event_type == "checkpoint":
                fields["head"] = self.prev
            elif event_type == "run_sealed":
                fields.update(head=self.prev, records=self.seq)
            record = dict(fields, v=SCHEMA_VERSION, run_id=self.run_id, seq=self.seq, ts=self.clock(),
                          type=event_type, prev=self.prev)
            if event_type in SIGNED_TYPES:
                record["key_id"] = self.key_id
                record["sig"] = self.private_key.sign(canonical(record)).hex()
            line = canonical(record)
            handle.write(line + b"\n")
            handle.flush()
            if self.sync:
                os.fsync(handle.fileno())
            self.known_state = file_state(handle)
        self.prev = hashlib.sha256(line).hexdigest()
        self.seq += 1
        return record

    def checkpoint(self, phase):
        return self.append("checkpoint", phase=phase)

    def seal(self, outcome):
        return self.append("run_sealed", outcome=outcome)


def file_state(handle):
    """What changes whenever a file is written or replaced."""
    status = os.fstat(handle.fileno())
    return status.st_dev, status.st_ino, status.st_size, status.st_mtime_ns, status.st_ctime_ns


def last_line(handle, block=1 << 16):
    """The last non-empty line of a binary file, read backwards from its end. Every block is
    read and searched once and the line joined once: the work grows with the last line's
    length, never with its square (a 10 MB record took 28 s to step over block by block)."""
    handle.seek(0, os.SEEK_END)
    position = handle.tell()
    blocks = []
    content_seen = False
    start = None
    while position > 0 and start is None:
        step = min(block, position)
        position -= step
        handle.seek(position)
        chunk = handle.read(step)
        blocks.append(chunk)
        if not content_seen:
            # Trailing blank lines are stepped over; the line ends at its last non-blank byte.
            chunk = chunk.rstrip()
            content_seen = bool(chunk)
            if not content_seen:
                continue
        cut = chunk.rfind(b"\n")
        if cut >= 0:
            start = cut + 1
    if not content_seen:
        return None
    tail = b"".join(reversed(blocks))[start or 0:]
    return [line for line in tail.split(b"\n") if line.strip()][0]


PREV_MEMBER = b'"prev":"'


def chain_position(line):
    """(run_id, seq, type) of the record on a log line, or (None, None, None) when the line
    is not one. Canonical JSON sorts keys and run_id, seq and type sort after prev, so they are
    decoded from the record's members from "prev" on: a large field sorting before it (colors,
    evidence, hosts) is not. `"prev":"` after `{` or `,` is always a key (a quote inside a
    string is escaped); the one of the record itself is the one whose members run to the end
    of the line, a nested one leaves the rest of the line over."""
    found = len(line)
    members = None
    while members is None:
        found = line.rfind(PREV_MEMBER, 0, found)
        if found < 1:
            break
        if line[found - 1:found] in (b"{", b","):
            try:
                members = json.loads(b"{" + line[found:])
            except (ValueError, RecursionError):
                members = None
    if members is None:
        try:
            members = json.loads(line)
        except (ValueError, RecursionError):
            return None, None, None
    if not isinstance(members, dict):
        return None, None, None
    run_id, seq, event_type = members.get("run_id"), members.get("seq"), members.get("type")
    if not isinstance(run_id, str) or not is_integer(seq) or not isinstance(event_type, str):
        return None, None, None
    return run_id, seq, event_type


TASK_STATUSES = ("ok", "changed", "failed", "skipped", "unreachable")


def task_record(host, task, action, status, result, delegated_to=None):
    """The audit fields of one task result: an allow-list of what happened, never the
    result's content (which may hold secrets). A `no_log` task says only that it was
    censored: not even its name, which may hold a secret once templated."""
    if status not in TASK_STATUSES:
        raise AuditError(f"unknown task status {status!r}")
    record = {"host": str(host), "action": str(action), "status": status}
    if result.get("_ansible_no_log"):
        record["censored"] = True
    else:
        record["task"] = str(task)
    if delegated_to and delegated_to != host:
        record["delegated_to"] = str(delegated_to)
    return record


def printable(text):
    """`text` with what UTF-8 cannot encode (lone surrogates, which JSON escapes can hold)
    escaped: Ansible refuses a result holding them, and a report file could not be written."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def shown(value):
    """A value as a report line shows it: JSON, cut short."""
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str) and len(value) > SHOWN_LENGTH:
        return json.dumps(value[:SHOWN_LENGTH], ensure_ascii=False) + "..."
    return json.dumps(value, ensure_ascii=False)[:SHOWN_LENGTH]


def canonical_problem(line, record, exact_in_python):
    """None when `line` is the RFC 8785 encoding of `record`, what it parsed to; else why not.
    `exact_in_python`: the record holds no float, no integer of 16 digits or more and no
    character beyond U+FFFF, so Python's compact sorted JSON (its C encoder, several times
    faster than rfc8785) gives the same bytes as RFC 8785."""
    try:
        encoded = COMPACT_SORTED(record).encode("utf-8") if exact_in_python else canonical(record)
    except (ValueError, RecursionError) as exc:  # rfc8785's CanonicalizationError is a ValueError
        return f"not canonical JSON (RFC 8785): {str(exc)[:SHOWN_LENGTH]}"
    if encoded == line:
        return None
    twice = duplicate_key(line)
    if twice is not None:
        return f"not canonical JSON: key {shown(twice)} given twice (JSON parsers differ on which value counts)"
    return ("not canonical JSON (RFC 8785): the line is not the canonical encoding of its record "
            "(spaces, key order, number or string forms differ)")


def duplicate_key(line):
    """The first key an object of the line gives twice, or None."""
    twice = []

    def pairs(items):
        seen = set()
        for key, _value in items:
            if key in seen and not twice:
                twice.append(key)
            seen.add(key)

    try:
        json.loads(line, object_pairs_hook=pairs)
    except (ValueError, RecursionError):
        return None
    return twice[0] if twice else None


class LogCheck:
    """One pass over a log, line by line: what is due next and every problem found."""

    def __init__(self, public_keys, run_id=None):
        self.public_keys = public_keys
        self.run = run_id
        self.problems = []
        self.records = self.signed = self.last_number = self.previous_number = 0
        self.expected_seq, self.expected_prev = GENESIS_POSITION
        self.last_ts = ""
        self.sealed = False
        self.floats_seen = False
        self.decoder = json.JSONDecoder(parse_float=self._float, parse_constant=self._constant)

    def _float(self, text):
        self.floats_seen = True
        return float(text)

    @staticmethod
    def _constant(name):
        raise ValueError(f"{name} is not JSON")

    def parse(self, line):
        """(record, None) for a line that is JSON, else (None, why not)."""
        self.floats_seen = False
        try:
            text = line.decode("utf-8")
        except UnicodeDecodeError:
            return None, "not UTF-8"
        try:
            # raw_decode spares decode's two whitespace scans, needless for a canonical line.
            record, end = self.decoder.raw_decode(text)
        except (ValueError, RecursionError):
            end = None
        if end == len(text):
            return record, None
        # Whitespace around the value (JSON, though not canonical), or not JSON: decode tells.
        try:
            return self.decoder.decode(text), None
        except RecursionError:
            return None, "not JSON: nested too deep"
        except ValueError as exc:
            return None, f"not JSON: {str(exc)[:SHOWN_LENGTH]}"

    def bad(self, number, message, **extra):
        self.problems.append(dict({"line": number, "problem": printable(message)}, **extra))

    def add(self, number, raw):
        self.last_number = number
        if raw.endswith(b"\n"):
            line = raw[:-1]
        else:
            line = raw
            self.bad(number, "the line does not end with a line feed (a write was cut short, or the file was edited)")
        if not line or line.isspace():
            self.bad(number, "blank line")
            return
        self.records += 1
        digest = hashlib.sha256(line).hexdigest()
        record, problem = self.parse(line)
        if problem is None and not isinstance(record, dict):
            problem = "not a JSON object"
        if problem is None:
            exact_in_python = (not self.floats_seen and SIXTEEN_DIGITS not in line.translate(DIGITS_AS_ZERO)
                               and (line.isascii() or not BEYOND_BMP.search(line)))
            problem = canonical_problem(line, record, exact_in_python)
            if problem is not None:
                self.bad(number, problem)
            self._check_record(number, record)
        else:
            self.bad(number, problem)
        self.previous_number, self.expected_prev = number, digest
        seq = record.get("seq") if isinstance(record, dict) else None
        self.expected_seq = (seq if is_integer(seq) else self.expected_seq) + 1

    def _check_record(self, number, record):
        version = record.get("v")
        if not is_integer(version) or version != SCHEMA_VERSION:
            self.bad(number, f"unknown schema version {shown(version)}")
            return
        if self.sealed:
            self.bad(number, "record after the terminal seal")
        run_id, seq, ts, prev = record.get("run_id"), record.get("seq"), record.get("ts"), record.get("prev")
        event_type = record.get("type")
        if not isinstance(run_id, str):
            self.bad(number, f"run_id is not a string: {shown(run_id)}")
        elif self.run is None:
            self.run = run_id
        elif run_id != self.run:
            self.bad(number, f"record of run {shown(run_id)} in the log of run {shown(self.run)} (replayed?)")
        if not is_integer(seq):
            self.bad(number, f"seq is not an integer: {shown(seq)}")
        elif seq != self.expected_seq:
            self.bad(number, f"sequence {seq} where {self.expected_seq} was due (record missing, reordered or inserted)")
        if not isinstance(prev, str) or not SHA256_HEX.match(prev):
            self.bad(number, f"prev is not a SHA-256 in lowercase hex: {shown(prev)}")
        elif prev != self.expected_prev:
            self.bad(number, f"hash chain broken: line {self.previous_number} is not the record this one follows "
                             "(it was edited, or records were removed or reordered)", suspect_line=self.previous_number)
        if not isinstance(ts, str) or not RECORD_TIME.match(ts):
            self.bad(number, f"ts is not a UTC time with microseconds (2026-11-25T12:00:00.000000Z): {shown(ts)}")
        else:
            if ts < self.last_ts:
                self.bad(number, f"time goes backwards: {ts} after {self.last_ts}")
            self.last_ts = max(self.last_ts, ts)
        if event_type not in EVENT_TYPES:
            self.bad(number, f"unknown event type {shown(event_type)}")
        if event_type in SIGNED_TYPES:
            self.signed += 1
            self._check_signature(number, record)
            if record.get("head") != prev:
                self.bad(number, "signed head differs from the chain")
        approver = record.get("approver")
        if event_type == "approval_verified" and approver and approver == record.get("actor"):
            self.bad(number, f"approver {shown(approver)} is also the executor")
        if event_type == "run_sealed":
            self.sealed = True
            counted = record.get("records")
            if not is_integer(counted) or counted != seq:
                self.bad(number, f"seal counts {shown(counted)} records before it, the log has {shown(seq)}")

    def _check_signature(self, number, record):
        key_id, sig = record.get("key_id"), record.get("sig")
        if not isinstance(key_id, str):
            self.bad(number, f"key_id is not a string: {shown(key_id)}")
            return
        if key_id not in self.public_keys:
            self.bad(number, f"signed with unknown key {shown(key_id)}")
            return
        if not isinstance(sig, str) or not SIGNATURE_HEX.match(sig):
            self.bad(number, f"sig is not an Ed25519 signature in lowercase hex: {shown(sig)}")
            return
        unsigned = {k: v for k, v in record.items() if k != "sig"}
        try:
            self.public_keys[key_id].verify(bytes.fromhex(sig), canonical(unsigned))
        except (InvalidSignature, ValueError, RecursionError):
            self.bad(number, f"signature does not verify with key {key_id}")

    def report(self):
        if self.records == 0:
            self.bad(self.last_number, "empty log")
        elif not self.sealed:
            self.bad(self.last_number, "no terminal seal: the log is truncated or the run never ended")
        report = {"ok": not self.problems, "records": self.records, "signed_records": self.signed,
                  "run_id": None if self.run is None else printable(self.run), "head": self.expected_prev,
                  "problems": self.problems}
        if self.problems:
            report["first_bad"] = self.problems[0]
        return report


def verify_lines(lines, public_keys, run_id=None):
    """Checks a log given as the lines a binary file yields (each with its line feed).
    Returns a report dict: `ok`, and for a failure `first_bad` (line number and problem) and
    every problem found. Whatever the lines hold, it reports; it does not raise."""
    check = LogCheck(public_keys, run_id)
    for number, raw in enumerate(lines, start=1):
        check.add(number, raw)
    return check.report()


def verify_file(path, public_keys, run_id=None):
    """verify_lines over a file; a binary file's lines end at line feeds only."""
    with open(path, "rb") as handle:
        return verify_lines(handle, public_keys, run_id)
