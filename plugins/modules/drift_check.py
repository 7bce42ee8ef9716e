#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: drift_check
short_description: Compare the fingerprints of both colors' hosts and judge the drift
version_added: 0.1.0
description:
  - Takes every host's fingerprint (what M(tracegate.bluegreen.drift_fingerprint) reported on
    it) and compares them key by key, across the colors and within each color, after each
    host's own name and color are made neutral in the values.
  - Each difference is classified C(security) (modes and owners, listening sockets, sysctls,
    unit sandbox settings, TLS, and keys the user marks), C(package), C(config) or C(other).
    The verdict is C(fail) when a difference of a class in O(fail_on) is found between the
    colors, or any difference between two hosts of one color; the others are reported.
  - The verdict is returned, not raised, like the trace gates'; the playbook decides.
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
  fingerprints:
    description:
      - "Per host: C({color: blue|green, fingerprint: {section: {key: value}}})."
    type: dict
    required: true
  allow:
    description:
      - Keys not compared, as fnmatch patterns on C(section/key) (for example
        C(files//etc/shop/motd)). The release's own checksum (C(artifact/*)) is never drift.
    type: list
    elements: str
    default: []
  security_keys:
    description: Further keys classified as security, as fnmatch patterns (for example C(files//etc/shop/*.pem)).
    type: list
    elements: str
    default: []
  fail_on:
    description: Classes of a difference between the colors that fail the gate.
    type: list
    elements: str
    choices: [security, package, config, other]
    default: [security]
seealso:
  - module: tracegate.bluegreen.drift_fingerprint
"""

EXAMPLES = r"""
- name: Judge the drift between blue and green
  tracegate.bluegreen.drift_check:
    fingerprints: >-
      {{ dict(groups['bluegreen_blue'] + groups['bluegreen_green']
         | zip((groups['bluegreen_blue'] + groups['bluegreen_green'])
         | map('extract', hostvars, 'bluegreen_fingerprint'))) }}
    allow: ["files//etc/shop/motd"]
  register: drift
"""

RETURN = r"""
verdict:
  description: C(pass) or C(fail).
  type: str
  returned: success
reasons:
  description: One line per failing difference (host, key and both values), or a summary.
  type: list
  elements: str
  returned: success
differences:
  description: Every difference, its key, class, scope (C(colors) or C(within <color>)) and each host's value (null when absent).
  type: list
  elements: dict
  returned: success
hosts:
  description: The hosts of each color that were compared.
  type: dict
  returned: success
keys_compared:
  description: How many keys were compared.
  type: int
  returned: success
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.tracegate.bluegreen.plugins.module_utils import drift


def main():
    module = AnsibleModule(
        argument_spec={
            "fingerprints": {"type": "dict", "required": True},
            "allow": {"type": "list", "elements": "str", "default": []},
            "security_keys": {"type": "list", "elements": "str", "default": [], "no_log": False},
            "fail_on": {"type": "list", "elements": "str", "default": ["security"],
                        "choices": ["security", "package", "config", "other"]},
        },
        supports_check_mode=True,
    )
    p = module.params
    try:
        result = drift.compare(p["fingerprints"], allow=p["allow"], security_keys=p["security_keys"], fail_on=p["fail_on"])
    except drift.DriftError as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
