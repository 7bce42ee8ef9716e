#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: preview_load
short_description: A bounded load through the load balancers' preview route to the idle color
version_added: 0.1.0
description:
  - Sends O(rate) GET requests per second for O(duration) seconds, on a fixed schedule and
    the URLs in turn, from O(clients) keep-alive clients, with O(routing_headers) that send
    them to the idle color; then stops by itself.
  - Returns when the load ran (C(started_at), C(ended_at), epoch seconds), so that
    M(tracegate.bluegreen.trace_health) can judge that window of the idle color against
    the live color's users in the same window.
  - Runs with C(async) and C(poll=0) too, so that other tasks run while it loads
    (M(ansible.builtin.async_status) collects its result; the names C(started_at) and
    C(ended_at) keep clear of the job status keys C(started) and C(finished)).
  - A request that left late because every client was busy waiting for a slow answer is
    counted in C(late); none leaves after O(duration), and what could not be sent in it is
    counted in C(not_sent).
  - Bounded; O(rate) at most 2000 per second, O(duration) at most 600 seconds, 64 clients.
author: tracegate.bluegreen developers (@tracegate)
attributes:
  check_mode:
    support: full
    description: Sends the load in check mode too; it changes nothing but the traces.
  diff_mode:
    support: none
    description: Changes nothing.
  idempotent:
    support: full
    description: Changes nothing on the hosts.
options:
  urls:
    description: The URLs to request, in turn.
    type: list
    elements: str
    required: true
  routing_headers:
    description: Headers that send each request to the idle color.
    type: dict
    default: {}
  rate:
    description: Requests per second, in all.
    type: float
    required: true
  duration:
    description: Seconds of load.
    type: float
    default: 30
  clients:
    description: Concurrent keep-alive clients.
    type: int
    default: 8
  timeout:
    description: Seconds to wait for one answer.
    type: float
    default: 5.0
  validate_certs:
    description: Verify the load balancers' TLS certificates.
    type: bool
    default: true
seealso:
  - module: tracegate.bluegreen.trace_health
"""

EXAMPLES = r"""
- name: Load green through the preview route at the live color's rate per host
  tracegate.bluegreen.preview_load:
    urls: [https://shop.example.com/api/quote]
    routing_headers: {X-Bluegreen-Preview: green}
    rate: 120
    duration: 30
  register: load
"""

RETURN = r"""
started_at:
  description: When the load began (epoch seconds).
  type: float
  returned: success
ended_at:
  description: When the last answer came (epoch seconds).
  type: float
  returned: success
sent:
  description: Requests sent.
  type: int
  returned: success
not_sent:
  description: Requests whose turn came while every client was busy and that the duration left no time for.
  type: int
  returned: success
ok:
  description: Answers 2xx.
  type: int
  returned: success
non_2xx:
  description: Other answers.
  type: int
  returned: success
errors:
  description: Requests without an answer (refused, reset, timed out).
  type: int
  returned: success
late:
  description: Requests that left more than 0.1 s after their turn.
  type: int
  returned: success
error_samples:
  description: Up to five of the errors.
  type: list
  elements: str
  returned: success
latency_ms:
  description: C(p50), C(p95) and C(max) of the answers as the clients saw them.
  type: dict
  returned: success
"""

import ssl

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.tracegate.bluegreen.plugins.module_utils import preview_load


def main():
    module = AnsibleModule(
        argument_spec={
            "urls": {"type": "list", "elements": "str", "required": True},
            "routing_headers": {"type": "dict", "default": {}},
            "rate": {"type": "float", "required": True},
            "duration": {"type": "float", "default": 30.0},
            "clients": {"type": "int", "default": 8},
            "timeout": {"type": "float", "default": 5.0},
            "validate_certs": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    p = module.params
    context = ssl.create_default_context()
    if not p["validate_certs"]:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        result = preview_load.run(p["urls"], p["rate"], p["duration"], headers=p["routing_headers"], clients=p["clients"],
                                  timeout=p["timeout"], context=context)
    except preview_load.LoadError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
