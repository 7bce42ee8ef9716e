# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: gate_evidence
short_description: The audit evidence of a gate result
version_added: 0.1.0
description:
  - Takes the registered result of C(tracegate.bluegreen.trace_health) or C(tracegate.bluegreen.trace_probe).
author: tracegate.bluegreen developers (@tracegate)
options:
  _input:
    description: The registered gate result.
    type: dict
    required: true
  gate:
    description: Name of the gate.
    type: str
    required: true
  step:
    description: Traffic step the gate judged, in percent.
    type: int
"""

EXAMPLES = r"""
- name: Keep the evidence of the 25 % step
  ansible.builtin.set_fact:
    step_evidence: "{{ gate | tracegate.bluegreen.gate_evidence('trace_health', 25) }}"
"""

RETURN = r"""
_value:
  description: Verdict, reasons, checks, per-color numbers, window, thresholds and queries; never the raw result.
  type: dict
"""

from ansible_collections.tracegate.bluegreen.plugins.module_utils.gate_report import gate_evidence


class FilterModule:
    def filters(self):
        return {"gate_evidence": gate_evidence}
