#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: dependency_probe
short_description: Probe the service's dependencies from one app host
version_added: 0.1.0
description:
  - Asks every declared dependency from the host it runs on, O(count) rounds of one probe
    each, a round every O(interval) seconds; an HTTP dependency answers when its status is
    below 400, a TCP one when a connection opens. Run on every host of both colors in one
    task, so that both colors probe at the same time, and judge the results with
    M(tracegate.bluegreen.dependency_parity).
  - Reports each probe; it fails only on bad input.
author: tracegate.bluegreen developers (@tracegate)
attributes:
  check_mode:
    support: full
    description: Only asks; the probes are sent in check mode too.
  diff_mode:
    support: none
    description: Changes nothing.
  idempotent:
    support: full
    description: Never changes anything.
options:
  dependencies:
    description: "Each C({name, url}) or C({name, tcp: host:port})."
    type: list
    elements: dict
    required: true
  count:
    description: Rounds of probes.
    type: int
    default: 20
  interval:
    description: Seconds from the start of one round to the next.
    type: float
    default: 0.25
  timeout:
    description: Seconds a probe may take before it counts as failed.
    type: float
    default: 2.0
  validate_certs:
    description: Verify the certificates of HTTPS dependencies.
    type: bool
    default: true
seealso:
  - module: tracegate.bluegreen.dependency_parity
"""

EXAMPLES = r"""
- name: Probe the dependencies from every host of both colors at once
  tracegate.bluegreen.dependency_probe:
    dependencies:
      - {name: payments, url: "https://payments.example.com/health"}
      - {name: database, tcp: "db.internal:5432"}
  register: bluegreen_dependency_probes
"""

RETURN = r"""
probes:
  description: Per dependency, each probe's C(ok), C(ms) and, when it failed, C(error).
  type: dict
  returned: success
"""

import socket

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.tracegate.bluegreen.plugins.module_utils import http_answer, parity


def main():
    module = AnsibleModule(
        argument_spec={
            "dependencies": {"type": "list", "elements": "dict", "required": True},
            "count": {"type": "int", "default": 20},
            "interval": {"type": "float", "default": 0.25},
            "timeout": {"type": "float", "default": 2.0},
            "validate_certs": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    p = module.params
    for name in ("count", "timeout"):
        if p[name] <= 0:
            module.fail_json(msg=f"{name} must be positive, got {p[name]}")
    if p["interval"] < 0:
        module.fail_json(msg=f"interval must not be negative, got {p['interval']}")
    try:
        dependencies = parity.dependencies_of(p["dependencies"])
    except parity.ParityError as exc:
        module.fail_json(msg=str(exc))

    get_status = http_answer.status_prober(p["timeout"], p["validate_certs"])

    def connect(host, port):
        socket.create_connection((host, port), timeout=p["timeout"]).close()

    module.exit_json(changed=False, probes=parity.probe(dependencies, p["count"], p["interval"], get_status, connect))


if __name__ == "__main__":
    main()
