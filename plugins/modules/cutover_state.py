#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: cutover_state
short_description: Read or write the cutover state file of a service on a load-balancer host
version_added: 0.1.0
description:
  - The cutover playbooks keep, next to the deployment lock on each load balancer, where a
    run is going (run id, from and to color, phase, share), written before every traffic
    change, so that a run started after a crash knows what the killed run was doing.
  - Without O(record), reads the state; with it, replaces the state atomically.
  - A run whose traffic the load balancer's watchdog returned (the state's phase is
    C(watchdog_restored) with this run's id) may write only a state that ends it, never
    one that shifts or watches again; such a write fails naming what the watchdog did.
  - With O(lock_run_id), on the host that keeps the service's deployment lock, the lock's
    heartbeat is refreshed first, in the same call; a lock that is gone or held by another
    run fails the task before anything is written. O(release_lock) then releases it after
    the state is written (the end of a run).
author: tracegate.bluegreen developers (@tracegate)
attributes:
  check_mode:
    support: full
    description: Reports whether the state would change; writes nothing.
  diff_mode:
    support: full
    description: The state before and after.
  idempotent:
    support: full
    description: Writing the state the file already holds changes nothing.
options:
  service:
    description: The service whose state this is.
    type: str
    required: true
  record:
    description: The state to write. Omitted, the state is only read.
    type: dict
  directory:
    description: Directory of the state files (created when missing, mode 0750).
    type: path
    default: /var/lib/tracegate-bluegreen
  lock_run_id:
    description:
      - The run that must hold the deployment lock of O(service) in O(directory)
        (see M(tracegate.bluegreen.deployment_lock)); its heartbeat is refreshed before the
        state is written. Omitted on hosts that do not keep the lock.
    type: str
  release_lock:
    description: After writing the state, release the lock O(lock_run_id) holds.
    type: bool
    default: false
seealso:
  - module: tracegate.bluegreen.deployment_lock
"""

EXAMPLES = r"""
- name: Announce the 25 % step
  tracegate.bluegreen.cutover_state:
    service: checkout
    record:
      run_id: "{{ bluegreen_run_id }}"
      phase: shifting
      from_color: blue
      to_color: green
      share: 25

- name: Announce the full switch and refresh the lock this run holds
  tracegate.bluegreen.cutover_state:
    service: checkout
    record:
      run_id: "{{ bluegreen_run_id }}"
      phase: watching
      from_color: blue
      to_color: green
      share: 100
    lock_run_id: "{{ bluegreen_run_id }}"

- name: Read what the last run left
  tracegate.bluegreen.cutover_state:
    service: checkout
  register: last_run
"""

RETURN = r"""
record:
  description: The state after the call; empty when there is none.
  returned: always
  type: dict
  sample: {"run_id": "cutover-20261125T150102Z-4f2a1c", "phase": "shifting", "from_color": "blue", "to_color": "green", "share": 25}
previous:
  description: The state before the call.
  returned: always
  type: dict
state_file:
  description: The state file.
  returned: always
  type: str
lock:
  description: The deployment lock after its heartbeat was refreshed.
  returned: when O(lock_run_id) is given and O(release_lock) is not
  type: dict
holder:
  description: The run that holds the lock instead of O(lock_run_id).
  returned: on failure because another run holds the lock
  type: dict
"""

import contextlib
import json
import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.tracegate.bluegreen.plugins.module_utils.deployment_lock import (
    DeploymentLock,
    LockError,
    LockHeld,
    read_state,
    state_lock,
    state_path,
    write_state,
)
from ansible_collections.tracegate.bluegreen.plugins.module_utils import watchdog


def main():
    module = AnsibleModule(
        argument_spec={
            "service": {"type": "str", "required": True},
            "record": {"type": "dict"},
            "directory": {"type": "path", "default": "/var/lib/tracegate-bluegreen"},
            "lock_run_id": {"type": "str"},
            "release_lock": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    p = module.params
    if p["release_lock"] and not p["lock_run_id"]:
        module.fail_json(msg="release_lock needs lock_run_id: the run whose lock is released")
    result = {}
    try:
        path = state_path(p["directory"], p["service"])
        lock = DeploymentLock(p["directory"], p["service"]) if p["lock_run_id"] else None
        if lock:
            result["lock"] = lock.heartbeat(p["lock_run_id"], time.time(), check_mode=module.check_mode)
    except LockHeld as exc:
        module.fail_json(msg=str(exc), holder=exc.holder)
    except LockError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg=f"lock file in {p['directory']}: {exc}")
    if p["record"] is None:
        previous = read_state(path)
        module.exit_json(changed=False, record=previous, previous=previous, state_file=path, **result)
    record = json.loads(json.dumps(p["record"], sort_keys=True))
    try:
        # Under the state's lock: the load balancer's watchdog reads and writes it whole too.
        # A check run writes nothing, so it takes no lock and creates no lock file; the state
        # is replaced atomically, so reading it unlocked never sees half a record.
        with contextlib.nullcontext() if module.check_mode else state_lock(path):
            previous = read_state(path)
            refusal = watchdog.refuses_write(previous, record)
            if refusal:
                module.fail_json(msg=refusal, previous=previous, watchdog=previous.get("watchdog"), **result)
            changed = record != previous
            if changed and not module.check_mode:
                write_state(path, record)
        if p["release_lock"]:
            lock.release(p["lock_run_id"], check_mode=module.check_mode)
            result.pop("lock")
            changed = True
    except LockError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg=f"writing {path} failed: {exc}")
    # Not "state" and "path": AnsibleModule fills those keys with file attributes.
    result.update(changed=changed, record=record, previous=previous, state_file=path)
    if module._diff:
        result["diff"] = {"before": previous, "after": record, "before_header": path, "after_header": path}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
