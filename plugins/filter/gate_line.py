# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: gate_line
short_description: One progress line for a gate result
version_added: 0.1.0
description:
  - Takes the registered result of C(tracegate.bluegreen.trace_health) or C(tracegate.bluegreen.trace_probe).
author: tracegate.bluegreen developers (@tracegate)
options:
  _input:
    description: The registered gate result.
    type: dict
    required: true
  from_color:
    description: The color traffic moves away from.
    type: str
    required: true
  to_color:
    description: The color traffic moves to.
    type: str
    required: true
  share:
    description: Percent of traffic on O(to_color).
    type: int
    required: true
  label:
    description: What the line is about, by default the step and its share.
    type: str
"""

EXAMPLES = r"""
- name: Print the 25 % step
  ansible.builtin.debug:
    msg: "{{ gate | tracegate.bluegreen.gate_line('blue', 'green', 25) }}"
"""

RETURN = r"""
_value:
  description: "One line: step, weights, per-color requests, errors and p95, verdict and the first reason."
  type: str
"""

from ansible_collections.tracegate.bluegreen.plugins.module_utils.gate_report import gate_line


class FilterModule:
    def filters(self):
        return {"gate_line": gate_line}
