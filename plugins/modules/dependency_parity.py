#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: dependency_parity
short_description: Judge the new color's dependency probes against the old color's
version_added: 0.1.0
description:
  - Pools, per dependency, the probes every host of each color sent at the same time
    (M(tracegate.bluegreen.dependency_probe)) and fails the new color when its failure rate
    is higher than the old color's by more than O(thresholds.max_failure_rate_delta) and
    Fisher's exact test says so at O(thresholds.alpha), or when its median latency is above
    the old color's by more than both O(thresholds.max_median_ratio) and
    O(thresholds.min_median_delta_ms) and Mann-Whitney's test says so.
  - Fewer than O(thresholds.min_probes) probes of a color make the dependency
    V(inconclusive), never a pass. A host without results fails the verdict, naming it.
  - The verdict is returned, not raised; the playbook decides.
author: tracegate.bluegreen developers (@tracegate)
attributes:
  check_mode:
    support: full
    description: Only compares.
  diff_mode:
    support: none
    description: Changes nothing.
  idempotent:
    support: full
    description: Never changes anything.
options:
  results:
    description:
      - "Per host: C({color: blue|green, probes: {dependency: [{ok, ms}]}}); C(probes: null)
        with C(error) for a host that could not probe."
    type: dict
    required: true
  old_color:
    description: The color that serves now.
    type: str
    required: true
    choices: [blue, green]
  thresholds:
    description: Margins and the test level.
    type: dict
    default: {}
    suboptions:
      alpha:
        description: Significance level of both tests.
        type: float
        default: 0.01
      max_failure_rate_delta:
        description: How much higher the new color's failure rate may be.
        type: float
        default: 0.05
      max_median_ratio:
        description: How many times the old color's median latency the new color's may be.
        type: float
        default: 1.5
      min_median_delta_ms:
        description: A median latency difference smaller than this never fails.
        type: float
        default: 20.0
      min_probes:
        description: Fewer probes of a color make a dependency inconclusive.
        type: int
        default: 10
seealso:
  - module: tracegate.bluegreen.dependency_probe
"""

EXAMPLES = r"""
- name: Judge green's dependencies against blue
  tracegate.bluegreen.dependency_parity:
    old_color: blue
    results:
      app-b1: {color: blue, probes: "{{ hostvars['app-b1'].bluegreen_dependency_probes.probes }}"}
      app-g1: {color: green, probes: "{{ hostvars['app-g1'].bluegreen_dependency_probes.probes }}"}
  delegate_to: localhost
  register: parity
"""

RETURN = r"""
verdict:
  description: C(pass), C(inconclusive) or C(fail).
  type: str
  returned: success
reasons:
  description: One line per dependency that did not pass, or one per dependency.
  type: list
  elements: str
  returned: success
dependencies:
  description: Per dependency its verdict, reason, both colors' numbers and each host's.
  type: dict
  returned: success
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.tracegate.bluegreen.plugins.module_utils import parity


def main():
    module = AnsibleModule(
        argument_spec={
            "results": {"type": "dict", "required": True},
            "old_color": {"type": "str", "required": True, "choices": ["blue", "green"]},
            "thresholds": {"type": "dict", "default": {}, "options": {
                "alpha": {"type": "float", "default": parity.DEFAULTS["alpha"]},
                "max_failure_rate_delta": {"type": "float", "default": parity.DEFAULTS["max_failure_rate_delta"]},
                "max_median_ratio": {"type": "float", "default": parity.DEFAULTS["max_median_ratio"]},
                "min_median_delta_ms": {"type": "float", "default": parity.DEFAULTS["min_median_delta_ms"]},
                "min_probes": {"type": "int", "default": parity.DEFAULTS["min_probes"]},
            }},
        },
        supports_check_mode=True,
    )
    p = module.params
    unprobed = {host: entry for host, entry in p["results"].items()
                if isinstance(entry, dict) and entry.get("probes") is None}
    try:
        judged = parity.compare({h: e for h, e in p["results"].items() if h not in unprobed}, p["old_color"],
                                p["thresholds"]) if len(unprobed) < len(p["results"]) else None
    except parity.ParityError as exc:
        module.fail_json(msg=str(exc))
    if unprobed:
        # A host that could not probe is not known to reach its dependencies: fail closed.
        reasons = [f"{host} ({entry.get('color')}): no probes: {entry.get('error') or 'the host did not answer'}"
                   for host, entry in sorted(unprobed.items())]
        judged = {"verdict": "fail", "reasons": reasons + (judged or {}).get("reasons", []),
                  "dependencies": (judged or {}).get("dependencies", {})}
    module.exit_json(changed=False, **judged)


if __name__ == "__main__":
    main()
