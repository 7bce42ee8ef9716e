# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: live_traffic
short_description: Decide the live color from every load balancer's split and cutover state
version_added: 0.1.0
description:
  - Takes one report per load balancer and returns which color is live, whether the service
    is settled on one color, and the color to recover to when a run was interrupted.
  - A split that no unfinished run explains is returned as RV(_value.problem), never guessed at.
author: tracegate.bluegreen developers (@tracegate)
options:
  _input:
    description: One dict per load balancer with C(host), C(colors) (percent per color), C(nginx_stale) and C(state).
    type: list
    elements: dict
    required: true
"""

EXAMPLES = r"""
- name: Decide the live color
  ansible.builtin.set_fact:
    traffic: "{{ reports | tracegate.bluegreen.live_traffic }}"
"""

RETURN = r"""
_value:
  description: Which color is live, and what a run must recover first.
  type: dict
  contains:
    settled:
      description: Whether every load balancer serves one and the same color (and every NGINX serves its file).
      type: bool
    live:
      description: The color every load balancer serves; V(null) unless RV(_value.settled).
      type: str
    colors_by_lb:
      description: The split of each load balancer, percent per color, by host.
      type: dict
    interrupted:
      description: The state of an unfinished run found on a load balancer, or V(null).
      type: dict
    recover_to:
      description: The color an interrupted run is returned to (where a cutover started, where a rollback was going), or V(null).
      type: str
    previous:
      description: The color a rollback returns to, or V(null) when no state says it.
      type: str
    last_state:
      description: The newest cutover state of any load balancer, or an empty dict.
      type: dict
    watchdog:
      description: What each load balancer's watchdog did to a run that stopped writing, with the load balancer's host as C(lb).
      type: list
      elements: dict
    problem:
      description: Why the traffic cannot be decided (a split nobody recorded, a damaged state), or V(null).
      type: str
"""

from ansible.errors import AnsibleFilterError

from ansible_collections.tracegate.bluegreen.plugins.module_utils.traffic import TrafficError, live_traffic


def _live_traffic(reports):
    try:
        return live_traffic(reports)
    except (TrafficError, KeyError, TypeError, ValueError) as exc:
        raise AnsibleFilterError(f"live_traffic: {exc}") from exc


class FilterModule:
    def filters(self):
        return {"live_traffic": _live_traffic}
