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
  description: C(settled), C(live), C(colors_by_lb), C(interrupted), C(recover_to), C(last_state) and C(problem).
  type: dict
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
