#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: haproxy_backend
short_description: Move traffic between blue and green servers of HAProxy backends, verified
version_added: 0.1.0
description:
  - Sets the weights and administrative states of the servers of one or more HAProxy backends
    through the Runtime API (stats socket), by color or by server, in one connection.
  - Reads every touched server back and compares it with the request. Any error, mismatch or
    failed health check puts every touched server back to its previous weight and state and
    fails with a message naming the server; the switch never stays half applied.
  - A server leaving maintenance is not trusted when HAProxy reports it C(UP) (it does so before
    the first check); the module waits for a passed health check or fails and reverts at
    O(health_timeout).
  - Writes the runtime state to HAProxy's server-state file so that a later reload keeps it.
  - Servers are given colors by their names, C(<color>_<host>), as the C(tracegate.bluegreen.haproxy)
    role renders them.
  - Every backend and server name is checked before anything is sent; a name HAProxy cannot
    hold (with C(;), white space or a newline, for instance) is refused and nothing is sent.
  - C(changed) depends only on weights and states, never on live session counts.
author: tracegate.bluegreen developers (@tracegate)
extends_documentation_fragment:
  - tracegate.bluegreen.require_up
attributes:
  check_mode:
    support: full
    description: Reads the current state and predicts the change; sends no change.
  diff_mode:
    support: full
    description: Before and after weight and state of every server in scope.
  idempotent:
    support: full
    description: Nothing is sent when every server already has the requested weight and state.
options:
  socket:
    description:
      - Runtime API address, admin level. A path (or C(unix:<path>)) is a unix socket,
        C(<host>:<port>) (or C(tcp:<host>:<port>)) a TCP socket.
    type: str
    default: /run/haproxy/admin.sock
  backends:
    description: Backends whose servers are set.
    type: list
    elements: str
    required: true
    aliases: [backend]
  weights:
    description:
      - "Weight (0 to 256) for every server of a color, for example C({blue: 75, green: 25}).
        A string of ASCII digits (as C(-e) and templating give it) is read as a number; other
        digits are refused."
      - With none of O(weights), O(server_weights), O(states) and O(server_states), the
        module only reads the servers and the split.
    type: dict
  server_weights:
    description: Weight per server name; wins over O(weights).
    type: dict
  states:
    description: Administrative state C(ready), C(drain) or C(maint) for every server of a color.
    type: dict
  server_states:
    description: Administrative state per server name; wins over O(states).
    type: dict
  wait_healthy:
    description: Wait for a passed health check on servers that leave maintenance.
    type: bool
    default: true
  health_timeout:
    description: Seconds to wait for those checks before reverting.
    type: float
    default: 30
  wait_drained:
    description:
      - After the switch, wait until servers set to C(drain) or C(maint) or to weight 0 hold no
        session and no queued request.
      - Not reaching that by O(drain_timeout) fails the task but keeps the switch, which was
        applied and verified.
    type: bool
    default: false
  drain_timeout:
    description: Seconds to wait for draining.
    type: float
    default: 60
  shutdown_sessions:
    description: At O(drain_timeout), shut the remaining sessions of those servers down instead of failing.
    type: bool
    default: false
  state_file:
    description:
      - HAProxy's C(server-state-file), written after a change. Empty to skip.
      - When it cannot be written, the switch, applied and verified, is kept (a rollback is
        never undone for want of a file) and the task fails with C(changed=true), the
        before and after, and a message that says the switch holds and the state file was
        not written.
    type: path
    default: /var/lib/haproxy/server-state
  timeout:
    description:
      - Deadline in seconds of each Runtime API call as a whole (connecting with the first
        prompt, each command with its complete answer), however slowly the peer sends it.
    type: float
    default: 5
notes:
  - With a static load-balancing algorithm HAProxy only accepts the weights 0 and 100%.
  - A server in C(drain) or at weight 0 still accepts persistent (cookie or stick-table)
    sessions; use O(shutdown_sessions) to end them at the drain deadline.
seealso:
  - name: HAProxy 2.6 management guide, Runtime API
    description: The commands this module sends and the answers it reads.
    link: https://docs.haproxy.org/2.6/management.html#9.3
"""

EXAMPLES = r"""
- name: Send a quarter of the traffic to green
  tracegate.bluegreen.haproxy_backend:
    backend: app
    weights:
      blue: 75
      green: 25

- name: Read which color serves, changing nothing
  tracegate.bluegreen.haproxy_backend:
    backend: app
  register: live

- name: All traffic on green, blue drained and its leftover sessions ended
  tracegate.bluegreen.haproxy_backend:
    backend: app
    weights:
      blue: 0
      green: 100
    states:
      blue: drain
    wait_drained: true
    drain_timeout: 30
    shutdown_sessions: true

- name: Take one server out for maintenance
  tracegate.bluegreen.haproxy_backend:
    backend: app
    server_states:
      green_app-g2: maint
"""

RETURN = r"""
before:
  description: Weight and state of every server in scope before the call.
  returned: always
  type: list
  elements: dict
  sample: [{"backend": "app", "server": "blue_app-b1", "color": "blue", "weight": 100, "state": "ready"}]
after:
  description: The same after the call, as read back from HAProxy (predicted in check mode).
  returned: always
  type: list
  elements: dict
split_before:
  description: Share of new requests in percent per backend, per color and per server, before the call.
  returned: always
  type: dict
  sample: {"app": {"colors": {"blue": 100.0, "green": 0.0}, "servers": {"blue_app-b1": 100.0, "green_app-g1": 0.0}}}
split_after:
  description: The same after the call.
  returned: always
  type: dict
undrained:
  description: Servers that still held sessions at the drain deadline, with their session count.
  returned: when O(wait_drained=true)
  type: dict
  sample: {}
"""

import time

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.tracegate.bluegreen.plugins.module_utils import server_check
from ansible_collections.tracegate.bluegreen.plugins.module_utils.lb_input import seconds
from ansible_collections.tracegate.bluegreen.plugins.module_utils.haproxy_runtime import (
    BackendSwitch,
    RuntimeApiError,
    StateFileNotWritten,
    SwitchFailed,
    traffic_split,
    wait_drained,
)


def _listing(states):
    return [s.as_dict() for s in sorted(states.values(), key=lambda s: s.key)]


def _result(module, before, after, changed):
    result = {
        "changed": changed,
        "before": _listing(before),
        "after": _listing(after),
        "split_before": traffic_split(list(before.values())),
        "split_after": traffic_split(list(after.values())),
    }
    if module._diff:
        result["diff"] = {
            "before": {f"{s.backend}/{s.server}": {"weight": s.weight, "state": s.state} for s in before.values()},
            "after": {f"{s.backend}/{s.server}": {"weight": s.weight, "state": s.state} for s in after.values()},
        }
    return result


def main():
    module = AnsibleModule(
        argument_spec={
            "socket": {"type": "str", "default": "/run/haproxy/admin.sock"},
            "backends": {"type": "list", "elements": "str", "required": True, "aliases": ["backend"]},
            "weights": {"type": "dict"},
            "server_weights": {"type": "dict"},
            "states": {"type": "dict"},
            "server_states": {"type": "dict"},
            "wait_healthy": {"type": "bool", "default": True},
            "health_timeout": {"type": "float", "default": 30.0},
            "wait_drained": {"type": "bool", "default": False},
            "drain_timeout": {"type": "float", "default": 60.0},
            "shutdown_sessions": {"type": "bool", "default": False},
            "state_file": {"type": "path", "default": "/var/lib/haproxy/server-state"},
            "timeout": {"type": "float", "default": 5.0},
            "require_up": {"type": "list", "elements": "str", "default": [], "choices": ["blue", "green"]},
            "health_path": {"type": "str", "default": "/healthz"},
        },
        supports_check_mode=True,
    )
    params = module.params
    try:
        # Checked before anything is sent: the drain is waited for after the switch.
        drain_timeout = seconds("drain_timeout", params["drain_timeout"], RuntimeApiError, allow_zero=True)
        server_check.check_health_path(params["health_path"])
        switch = BackendSwitch(params["socket"], params["backends"], params["timeout"])
        before, after, changed = switch.run(
            weights=params["weights"],
            server_weights=params["server_weights"],
            states=params["states"],
            server_states=params["server_states"],
            check_mode=module.check_mode,
            wait_healthy=params["wait_healthy"],
            health_timeout=params["health_timeout"],
            state_file=params["state_file"] or None,
            require_up=params["require_up"],
            ask=lambda servers: server_check.unanswering(servers, params["health_path"]),
        )
    except SwitchFailed as exc:
        module.fail_json(msg=str(exc), restored=exc.restored, before=_listing(exc.before))
    except StateFileNotWritten as exc:
        module.fail_json(msg=str(exc), **_result(module, exc.before, exc.after, True))
    except (RuntimeApiError, ValueError) as exc:
        module.fail_json(msg=str(exc))

    result = _result(module, before, after, changed)
    if params["wait_drained"] and not module.check_mode:
        leaving = [key for key, s in after.items() if s.state != "ready" or s.weight == 0]
        try:
            undrained = wait_drained(
                params["socket"], leaving, time.monotonic() + drain_timeout, params["shutdown_sessions"], params["timeout"]
            )
        except RuntimeApiError as exc:
            module.fail_json(msg=f"the switch holds, but waiting for drained servers failed: {exc}", **result)
        result["undrained"] = undrained
        if undrained:
            module.fail_json(
                msg=f"the switch holds, but sessions remain at the drain deadline: {undrained}", **result
            )
    module.exit_json(**result)


if __name__ == "__main__":
    main()
