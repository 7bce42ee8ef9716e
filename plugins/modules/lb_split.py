# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: lb_split
short_description: Read or set the blue/green split on a load balancer of either kind
version_added: 0.1.0
description:
  - Runs M(tracegate.bluegreen.haproxy_backend) or M(tracegate.bluegreen.nginx_upstream),
    as O(kind) says, with O(weights) and that kind's own options, so that one task moves
    (or reads) every load balancer of a mixed fleet at the same time instead of one kind
    after the other.
  - The result is the chosen module's, plus RV(kind); its verification and revert rules
    apply unchanged.
author: tracegate.bluegreen developers (@tracegate)
attributes:
  action:
    support: full
    description: An action that picks the module on the controller and runs it on the host.
  check_mode:
    support: full
    description: As the chosen module.
  diff_mode:
    support: full
    description: As the chosen module.
  idempotent:
    support: full
    description: As the chosen module.
options:
  kind:
    description: The load balancer's kind.
    type: str
    required: true
    choices: [haproxy, nginx]
  weights:
    description:
      - "Weight for every server of a color, for example C({blue: 75, green: 25}). Omitted,
        the split is only read."
    type: dict
  require_up:
    description:
      - Colors whose servers must answer from the load balancer's host before the change
        gives them traffic; one that does not fails the task and nothing is changed. See
        O(tracegate.bluegreen.haproxy_backend#module:require_up).
    type: list
    elements: str
    default: []
  health_path:
    description: Path asked on those servers; empty asks for a TCP connection only.
    type: str
    default: /healthz
  haproxy:
    description: Options of M(tracegate.bluegreen.haproxy_backend) (for example C(backend), C(socket)), used when O(kind=haproxy).
    type: dict
    default: {}
  nginx:
    description: Options of M(tracegate.bluegreen.nginx_upstream) (for example C(upstream)), used when O(kind=nginx).
    type: dict
    default: {}
seealso:
  - module: tracegate.bluegreen.haproxy_backend
  - module: tracegate.bluegreen.nginx_upstream
"""

EXAMPLES = r"""
- name: 25 % to green on every load balancer at once
  tracegate.bluegreen.lb_split:
    kind: "{{ lb_kind }}"
    weights: {blue: 75, green: 25}
    haproxy:
      backend: app
      socket: /run/haproxy/admin.sock
    nginx:
      upstream: bluegreen_app

- name: Read what each load balancer serves
  tracegate.bluegreen.lb_split:
    kind: "{{ lb_kind }}"
  register: split
"""

RETURN = r"""
kind:
  description: The kind of load balancer, that is which module ran.
  returned: always
  type: str
  sample: haproxy
split_after:
  description: The split after the call, as the chosen module returns it.
  returned: success
  type: dict
"""
