# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Tamper-evident audit log: one JSON record per line, hash-chained, with Ed25519-signed
checkpoints and a mandatory signed terminal seal.

Record format (schema version 1), every line is the record in RFC 8785 canonical JSON:
  v          schema version (1)
  run_id     the run the record belongs to
  seq        0, 1, 2, ... without gaps
  ts         UTC time, RFC 3339 with microseconds
  type       one of EVENT_TYPES
  prev       SHA-256 (hex) of the previous line's bytes; 64 zeros for seq 0
  ...        the event's own fields (actor, ticket, hosts, colors, split, evidence, outcome)
  key_id, sig  on `checkpoint` and `run_sealed` only: Ed25519 signature (hex) over the
             canonical record without `sig`

The chain covers every byte of every line, so an edited, deleted, reordered or replayed
record breaks it; the signed checkpoints and the seal bind the chain to a key holder; a
missing seal (a truncated tail) is a failure, never a pass. Verification needs only the
log and the public keys; tools/audit_verify.py is its command line.
"""

from __future__ import annotations

import datetime
import fcntl
import hashlib
import json
import os
import stat

try:
    import rfc8785
except ImportError:  # reported by the modules through missing_required_lib
    rfc8785 = None

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
    from cryptography.hazmat.primitives.serialization import (
        Encoding, PublicFormat, load_pem_private_key, load_pem_public_key,
    )
except ImportError:
    InvalidSignature = Ed25519PrivateKey = Ed25519PublicKey = None

SCHEMA_VERSION = 1
GENESIS = "0" * 64
GENESIS_POSITION = (0, GENESIS)
EVENT_TYPES = (
    "run_start", "approval_verified", "gate_result", "traffic_change", "rollback", "task_result",
    "checkpoint", "run_sealed",
)
SIGNED_TYPES = ("checkpoint", "run_sealed")
RESERVED = ("v", "run_id", "seq", "ts", "type", "prev", "key_id", "sig")


class AuditError(Exception):
    pass


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
            key = load_pem_public_key(handle.read())
        if not isinstance(key, Ed25519PublicKey):
            raise AuditError(f"{path} is not an Ed25519 public key")
        keys[key_id_of(key)] = key
    return keys


class AuditWriter:
    """Appends records of one run to a log file; each line is written and fsynced before
    `append` returns, so a record that precedes a traffic change is on disk before it.

    Several writers may append to the same log (the audit_trail callback and the playbook's
    own records): each append takes an exclusive lock and continues the chain from the last
    line on disk, which is read from the end of the file, not from its start."""

    def __init__(self, path, run_id, private_key=None, clock=utc_now, sync=True):
        self.path = path
        self.sync = sync
        self.run_id = run_id
        self.private_key = private_key
        self.key_id = key_id_of(private_key.public_key()) if private_key else None
        self.clock = clock
        self.seq, self.prev = GENESIS_POSITION
        if os.path.exists(path):
            with open(path, "rb") as handle:
                self.seq, self.prev = self._resume(handle)

    def _resume(self, handle):
        """Where the run's chain goes on: (next seq, hash of the last line). A file of
        another run, or a sealed one, is refused."""
        last = last_line(handle)
        if last is None:
            return GENESIS_POSITION
        record = json.loads(last)
        if record.get("run_id") != self.run_id:
            raise AuditError(f"{self.path} holds run {record.get('run_id')}, not {self.run_id}: one log file per run")
        if record.get("type") == "run_sealed":
            raise AuditError(f"run {self.run_id} is sealed in {self.path}; nothing can be appended")
        return record["seq"] + 1, hashlib.sha256(last).hexdigest()

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
            self.seq, self.prev = self._resume(handle)
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
        self.prev = hashlib.sha256(line).hexdigest()
        self.seq += 1
        return record

    def checkpoint(self, phase):
        return self.append("checkpoint", phase=phase)

    def seal(self, outcome):
        return self.append("run_sealed", outcome=outcome)


def last_line(handle, block=4096):
    """The last non-empty line of a binary file, read backwards from its end."""
    handle.seek(0, os.SEEK_END)
    position = handle.tell()
    tail = b""
    while position > 0:
        step = min(block, position)
        position -= step
        handle.seek(position)
        tail = handle.read(step) + tail
        lines = [line for line in tail.split(b"\n") if line.strip()]
        # The first piece may be cut; it is a whole line only at the start of the file.
        if len(lines) > 1 or (lines and position == 0):
            return lines[-1]
    return None


TASK_STATUSES = ("ok", "changed", "failed", "skipped", "unreachable")


def task_record(host, task, action, status, result, delegated_to=None):
    """The audit fields of one task result: an allow-list of what happened, never the
    result's content (which may hold secrets); a `no_log` task says only that it was censored."""
    if status not in TASK_STATUSES:
        raise AuditError(f"unknown task status {status!r}")
    record = {"host": str(host), "task": str(task), "action": str(action), "status": status}
    if delegated_to and delegated_to != host:
        record["delegated_to"] = str(delegated_to)
    if result.get("_ansible_no_log"):
        record["censored"] = True
    return record


def verify_lines(lines, public_keys, run_id=None):
    """Checks a log given as an iterable of lines (bytes). Returns a report dict: `ok`, and
    for a failure `first_bad` (line number and problem) and every problem found."""
    problems = []
    expected_prev, expected_seq, last_ts, sealed, count, run = GENESIS, 0, "", False, 0, run_id
    signed, previous_number = 0, 0

    def bad(number, message, **extra):
        problems.append(dict({"line": number, "problem": message}, **extra))

    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip(b"\n")
        if not line.strip():
            continue
        count += 1
        try:
            record = json.loads(line)
        except ValueError:
            bad(number, "not JSON")
            expected_prev = hashlib.sha256(line).hexdigest()
            continue
        if not isinstance(record, dict) or record.get("v") != SCHEMA_VERSION:
            bad(number, f"unknown schema version {record.get('v') if isinstance(record, dict) else None!r}")
            continue
        if sealed:
            bad(number, "record after the terminal seal")
        if run is None:
            run = record.get("run_id")
        elif record.get("run_id") != run:
            bad(number, f"record of run {record.get('run_id')} in the log of run {run} (replayed?)")
        if record.get("seq") != expected_seq:
            bad(number, f"sequence {record.get('seq')} where {expected_seq} was due (record missing, reordered or inserted)")
        if record.get("prev") != expected_prev:
            bad(number, f"hash chain broken: line {previous_number} is not the record this one follows "
                        "(it was edited, or records were removed or reordered)", suspect_line=previous_number)
        ts = record.get("ts", "")
        if ts < last_ts:
            bad(number, f"time goes backwards: {ts} after {last_ts}")
        if record.get("type") not in EVENT_TYPES:
            bad(number, f"unknown event type {record.get('type')!r}")
        if record.get("type") in SIGNED_TYPES:
            signed += 1
            _check_signature(record, public_keys, number, bad)
            if record.get("head") != record.get("prev"):
                bad(number, "signed head differs from the chain")
        if record.get("type") == "approval_verified" and record.get("approver") and record.get("approver") == record.get("actor"):
            bad(number, f"approver {record.get('approver')} is also the executor")
        if record.get("type") == "run_sealed":
            sealed = True
            if record.get("records") != record.get("seq"):
                bad(number, f"seal counts {record.get('records')} records before it, the log has {record.get('seq')}")
        last_ts = max(last_ts, ts)
        previous_number = number
        expected_prev = hashlib.sha256(line).hexdigest()
        expected_seq = (record.get("seq") if isinstance(record.get("seq"), int) else expected_seq) + 1
    if count == 0:
        bad(0, "empty log")
    elif not sealed:
        bad(count, "no terminal seal: the log is truncated or the run never ended")
    report = {"ok": not problems, "records": count, "run_id": run, "signed_records": signed, "head": expected_prev,
              "problems": problems}
    if problems:
        report["first_bad"] = problems[0]
    return report


def _check_signature(record, public_keys, number, bad):
    key = public_keys.get(record.get("key_id"))
    if key is None:
        bad(number, f"signed with unknown key {record.get('key_id')!r}")
        return
    unsigned = {k: v for k, v in record.items() if k != "sig"}
    try:
        key.verify(bytes.fromhex(record.get("sig", "")), canonical(unsigned))
    except (InvalidSignature, ValueError):
        bad(number, f"signature does not verify with key {record.get('key_id')}")


def verify_file(path, public_keys, run_id=None):
    with open(path, "rb") as handle:
        return verify_lines(handle, public_keys, run_id)
