# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: color_results
short_description: One entry per app host of both colors, from a result each host registered
version_added: 0.1.0
description:
  - Builds the per-host input of the gates that compare the colors (M(tracegate.bluegreen.drift_check),
    M(tracegate.bluegreen.dependency_parity)) from what each app host registered or set as a fact.
  - A host without the fact, or whose result lacks O(field), is still listed, with V(null) in
    O(field) and an error, so that a result that was not read is never taken as an empty one.
author: tracegate.bluegreen developers (@tracegate)
options:
  _input:
    description: The play's C(hostvars).
    type: dict
    required: true
  blue:
    description: The blue hosts, C(groups['bluegreen_blue']).
    type: list
    elements: str
    required: true
  green:
    description: The green hosts, C(groups['bluegreen_green']).
    type: list
    elements: str
    required: true
  fact:
    description: The host variable holding each host's result, for example V(bluegreen_fingerprint).
    type: str
    required: true
  field:
    description: The key of the result to take, for example V(fingerprint).
    type: str
    required: true
  missing:
    description: The error of a host whose result has no C(msg) (or that has no result).
    type: str
    default: not read
"""

EXAMPLES = r"""
- name: Compare blue and green
  tracegate.bluegreen.drift_check:
    fingerprints: >-
      {{ hostvars | tracegate.bluegreen.color_results(groups['bluegreen_blue'], groups['bluegreen_green'],
                                                      'bluegreen_fingerprint', 'fingerprint') }}
"""

RETURN = r"""
_value:
  description: "By host: C(color), O(field) (the result's value or V(null)) and C(error) (the result's C(msg), or O(missing))."
  type: dict
"""

from ansible.errors import AnsibleFilterError


def color_results(hostvars, blue, green, fact, field, missing="not read"):
    results = {}
    for color, hosts in (("blue", blue), ("green", green)):
        if not isinstance(hosts, (list, tuple)):
            raise AnsibleFilterError(f"color_results: {color} must be a list of hosts, got {type(hosts).__name__}")
        for host in hosts:
            result = hostvars[host].get(fact) if host in hostvars else None
            if not isinstance(result, dict):
                result = {}
            results[host] = {"color": color, field: result.get(field), "error": result.get("msg", missing)}
    return results


class FilterModule:
    def filters(self):
        return {"color_results": color_results}
