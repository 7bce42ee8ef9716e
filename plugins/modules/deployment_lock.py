#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: deployment_lock
short_description: Hold or release the one-cutover-per-service lock on a load-balancer host
version_added: 0.1.0
description:
  - Creates a lock file for a service, exclusively, holding the run id, the actor and the
    controller of the run, so that a second cutover of the same service is refused with the
    holder named.
  - Acquiring again with the same O(run_id) refreshes the heartbeat and changes nothing else.
  - A lock whose heartbeat is older than O(stale_after) is reported as stale, and still
    refused; only O(break_lock=true) takes it over, and the broken holder is returned.
  - A lock held by a run that the load balancer's watchdog stopped (the service's cutover
    state next to the lock says so, with that run's id) is taken over without
    O(break_lock), as the watchdog has already returned all traffic to where that run began.
    The holder is returned in RV(broken) and the watchdog's record in RV(watchdog).
author: tracegate.bluegreen developers (@tracegate)
attributes:
  check_mode:
    support: full
    description: Reports whether the lock would be taken, refused or released; writes nothing.
  diff_mode:
    support: none
    description: The returned RV(lock) and RV(broken) say what the file holds.
  idempotent:
    support: full
    description: Holding a lock already held by the same run, or releasing an absent one, changes nothing.
options:
  service:
    description: Service whose deployments the lock serializes.
    type: str
    required: true
  run_id:
    description: Id of the run that takes or gives up the lock.
    type: str
    required: true
  state:
    description: V(present) takes (or refreshes) the lock, V(absent) releases it.
    type: str
    default: present
    choices: [present, absent]
  details:
    description: What the lock records about its holder, for example actor, controller and change ticket.
    type: dict
    default: {}
  stale_after:
    description: Seconds without a heartbeat after which a held lock is reported as stale.
    type: float
    default: 3600
  break_lock:
    description:
      - Take the lock over from another run. Meant for the lock of a run that is known to
        have died; the holder it had is returned in RV(broken).
    type: bool
    default: false
  force:
    description: With O(state=absent), release a lock that another run holds.
    type: bool
    default: false
  directory:
    description: Directory of the lock files.
    type: path
    default: /var/lib/tracegate-bluegreen
"""

EXAMPLES = r"""
- name: Take the deployment lock of checkout on every load balancer
  tracegate.bluegreen.deployment_lock:
    service: checkout
    run_id: "{{ bluegreen_run_id }}"
    details:
      actor: "{{ bluegreen_actor }}"
      change_ticket: CHG-1234

- name: Release it at the end of the run
  tracegate.bluegreen.deployment_lock:
    service: checkout
    run_id: "{{ bluegreen_run_id }}"
    state: absent
"""

RETURN = r"""
lock:
  description: The lock as held after the call (absent after a release).
  returned: when O(state=present)
  type: dict
  sample: {"run_id": "20261125T150102Z-4f2a", "actor": "alice", "controller": "ops-1", "acquired_at": 1764082862.1}
broken:
  description: The holder of a lock that O(break_lock) took over, or of the lock that was released.
  returned: when a lock was broken or released
  type: dict
watchdog:
  description: What the load balancer's watchdog did to the run whose lock was taken over.
  returned: when the lock of a run the watchdog stopped was taken over
  type: dict
  sample: {"run_id": "20261125T150102Z-4f2a", "acted_at": "2026-11-25T15:04:10Z", "host": "lb-1"}
holder:
  description: The holder of the lock that refused this run.
  returned: on failure because the lock is held
  type: dict
stale:
  description: Whether the refusing lock is stale.
  returned: on failure because the lock is held
  type: bool
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.tracegate.bluegreen.plugins.module_utils.deployment_lock import (
    DeploymentLock,
    LockError,
    LockHeld,
    read_state,
    state_path,
)


def main():
    module = AnsibleModule(
        argument_spec={
            "service": {"type": "str", "required": True},
            "run_id": {"type": "str", "required": True},
            "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
            "details": {"type": "dict", "default": {}},
            "stale_after": {"type": "float", "default": 3600.0},
            "break_lock": {"type": "bool", "default": False},
            "force": {"type": "bool", "default": False},
            "directory": {"type": "path", "default": "/var/lib/tracegate-bluegreen"},
        },
        supports_check_mode=True,
    )
    p = module.params
    now = time.time()
    try:
        lock = DeploymentLock(p["directory"], p["service"])
        if p["state"] == "absent":
            changed, removed = lock.release(p["run_id"], force=p["force"], check_mode=module.check_mode)
            module.exit_json(changed=changed, **({"broken": removed} if removed else {}))
        state = read_state(state_path(p["directory"], p["service"]))
        changed, record, broken = lock.acquire(
            p["run_id"], p["details"], now, time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)), p["stale_after"],
            break_lock=p["break_lock"], check_mode=module.check_mode, state=state,
        )
    except LockHeld as exc:
        module.fail_json(msg=str(exc), holder=exc.holder, stale=exc.stale)
    except LockError as exc:
        module.fail_json(msg=str(exc))
    except OSError as exc:
        module.fail_json(msg=f"lock file in {p['directory']}: {exc}")
    extra = {"broken": broken} if broken else {}
    if broken and state.get("phase") == "watchdog_restored" and (state.get("watchdog") or {}).get("run_id") == broken.get("run_id"):
        extra["watchdog"] = state["watchdog"]
    module.exit_json(changed=changed, lock=record, **extra)


if __name__ == "__main__":
    main()
