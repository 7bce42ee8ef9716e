# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One cutover per service at a time: a lock file on a load-balancer host, and the cutover
state file next to it.

The file is created with O_EXCL, so of two runs that reach a host together exactly one
gets it. The holder's run id, actor, controller and times are in the file, so a refusal can
name who holds it. A run refreshes its heartbeat while it works; a lock whose heartbeat is
older than `stale_after` is reported as stale but still refused: only an explicit
`break_lock` takes it over, because a run that looks dead may only be slow.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import re

from .files import write_atomically

SERVICE_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


class LockError(Exception):
    pass


class LockHeld(LockError):
    def __init__(self, message, holder, stale):
        super().__init__(message)
        self.holder = holder
        self.stale = stale


def check_service(service):
    if not isinstance(service, str) or not SERVICE_PATTERN.match(service):
        raise LockError(f"service: {service!r} is not a service name (letters, digits, '_', '.', '-')")
    return service


def describe(holder, now):
    age = now - float(holder.get("heartbeat_at", holder.get("acquired_at", now)))
    who = holder.get("actor") or "an unknown actor"
    where = holder.get("controller") or "an unknown controller"
    return (f"run {holder.get('run_id', '?')} of {who} on {where}, acquired at {holder.get('acquired_at_text', '?')}, "
            f"last heartbeat {age:.0f} s ago")


class DeploymentLock:
    def __init__(self, directory, service):
        self.directory = directory
        self.service = check_service(service)
        self.path = os.path.join(directory, f"{service}.lock")

    def read(self):
        try:
            with open(self.path, encoding="utf-8") as handle:
                text = handle.read()
        except FileNotFoundError:
            return None
        try:
            holder = json.loads(text)
        except ValueError:
            holder = None
        if not isinstance(holder, dict):
            # An unreadable lock is still a lock: a half-written file means someone was here.
            return {"run_id": "?", "unreadable": True}
        return holder

    def acquire(self, run_id, details, now, now_text, stale_after, break_lock=False, check_mode=False, state=None):
        """Returns (changed, record, broken): the lock now held and, when one was broken,
        the holder it had. `state` is the service's cutover state on this host: a lock whose
        run the load balancer's watchdog stopped (phase watchdog_restored, that run's id) is
        taken over without break_lock, since traffic is already back where that run began."""
        if not run_id:
            raise LockError("run_id: a run id is required")
        current = self.read()
        if current is not None and current.get("run_id") == run_id:
            record = dict(current, heartbeat_at=now)
            if not check_mode:
                self._replace(record)
            return False, record, None
        record = dict(details, run_id=run_id, service=self.service, acquired_at=now, acquired_at_text=now_text,
                      heartbeat_at=now)
        if current is not None:
            heartbeat = float(current.get("heartbeat_at", 0) or 0)
            stale = now - heartbeat > stale_after
            stopped_by_watchdog = (isinstance(state, dict) and state.get("phase") == "watchdog_restored"
                                   and (state.get("watchdog") or {}).get("run_id") == current.get("run_id"))
            if not break_lock and not stopped_by_watchdog:
                state = "stale (its holder may have died) and " if stale else ""
                raise LockHeld(f"the deployment lock of {self.service} is {state}held by {describe(current, now)}; "
                               f"{'break_lock=true takes it over' if stale else 'wait for that run to end'}",
                               current, stale)
            if not check_mode:
                self._replace(record)
            return True, record, current
        if check_mode:
            return True, record, None
        os.makedirs(self.directory, mode=0o750, exist_ok=True)
        try:
            descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        except OSError as exc:
            if exc.errno != errno.EEXIST:
                raise
            # Another run created it between our read and our create.
            holder = self.read() or {}
            raise LockHeld(f"the deployment lock of {self.service} is held by {describe(holder, now)}", holder, False) from None
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(json.dumps(record, sort_keys=True))
            handle.flush()
            os.fsync(handle.fileno())
        return True, record, None

    def heartbeat(self, run_id, now, check_mode=False):
        """Refreshes the heartbeat of the lock `run_id` holds and returns it; a lock that is
        gone or held by another run is an error, so that a run which lost its lock stops."""
        current = self.read()
        if current is None:
            raise LockError(f"the deployment lock of {self.service} is gone: run {run_id} no longer holds it")
        if current.get("run_id") != run_id:
            raise LockHeld(f"the deployment lock of {self.service} is now held by {describe(current, now)}, "
                           f"not by run {run_id}", current, False)
        record = dict(current, heartbeat_at=now)
        if not check_mode:
            self._replace(record)
        return record

    def release(self, run_id, force=False, check_mode=False):
        """Returns (changed, the holder that was removed or None)."""
        current = self.read()
        if current is None:
            return False, None
        if current.get("run_id") != run_id and not force:
            raise LockError(f"the deployment lock of {self.service} belongs to run {current.get('run_id')}, not {run_id}: "
                            "not released")
        if not check_mode:
            os.unlink(self.path)
        return True, current

    def _replace(self, record):
        write_atomically(self.path, json.dumps(record, sort_keys=True), mode=0o640)


def state_path(directory, service):
    return os.path.join(directory, f"{check_service(service)}.state.json")


@contextlib.contextmanager
def state_lock(path):
    """Holds an exclusive lock on a state file's companion `.lock` file: the run writing its
    state and the load balancer's watchdog restoring traffic each read and write it whole."""
    os.makedirs(os.path.dirname(path), mode=0o750, exist_ok=True)
    descriptor = os.open(path + ".lock", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
    with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def read_state(path):
    """The state a run left, {} when none; a state that cannot be read is reported as such,
    never guessed at."""
    try:
        with open(path, encoding="utf-8") as handle:
            state = json.load(handle)
    except FileNotFoundError:
        return {}
    except ValueError:
        return {"phase": "unreadable"}
    return state if isinstance(state, dict) else {"phase": "unreadable"}


def write_state(path, record):
    os.makedirs(os.path.dirname(path), mode=0o750, exist_ok=True)
    write_atomically(path, json.dumps(record, sort_keys=True, indent=1) + "\n", mode=0o640)
