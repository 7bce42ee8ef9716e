#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: approval_verify
short_description: Verify a signed approval of a change before any traffic moves
version_added: 0.1.0
description:
  - Checks an approval document (made with C(tools/approve.py)) - its Ed25519 signature by
    one of O(public_keys), that it approves this O(ticket), O(service) and release checksum,
    that it has not expired, and that its approver is not the O(executor).
  - Fails naming the field that does not hold; returns the approval's facts for the audit log.
author: tracegate.bluegreen developers (@tracegate)
attributes:
  check_mode:
    support: full
    description: Only reads.
  diff_mode:
    support: none
    description: Changes nothing.
  idempotent:
    support: full
    description: Never changes anything.
options:
  approval:
    description: The approval document (JSON) on the controller.
    type: path
    required: true
  public_keys:
    description: Ed25519 public keys (PEM) of the people allowed to approve.
    type: list
    elements: path
    required: true
  ticket:
    description: The change ticket of the run.
    type: str
    required: true
  service:
    description: The service the run changes.
    type: str
    required: true
  release_sha256:
    description: Checksum of the release artifact the run deploys.
    type: str
    required: true
  executor:
    description: Who runs the change (the audit log's actor).
    type: str
    required: true
requirements:
  - rfc8785 and cryptography (on the controller)
"""

EXAMPLES = r"""
- name: Verify the approval of CHG-1234
  tracegate.bluegreen.approval_verify:
    approval: /srv/approvals/CHG-1234.json
    public_keys: [/etc/tracegate/approvers/alice.pub, /etc/tracegate/approvers/bob.pub]
    ticket: CHG-1234
    service: checkout
    release_sha256: "{{ release.sha256 }}"
    executor: "{{ awx_user_name }}"
  delegate_to: localhost
"""

RETURN = r"""
approval:
  description: Ticket, approver, approver_key_id, approved_at, expires_at and release_sha256 of the verified approval.
  returned: success
  type: dict
"""

import json

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.tracegate.bluegreen.plugins.module_utils import approval, audit


def main():
    module = AnsibleModule(
        argument_spec={
            "approval": {"type": "path", "required": True},
            "public_keys": {"type": "list", "elements": "path", "required": True},
            "ticket": {"type": "str", "required": True},
            "service": {"type": "str", "required": True},
            "release_sha256": {"type": "str", "required": True},
            "executor": {"type": "str", "required": True},
        },
        supports_check_mode=True,
    )
    if audit.missing_library():
        module.fail_json(msg=missing_required_lib(audit.missing_library()))
    p = module.params
    try:
        with open(p["approval"], encoding="utf-8") as handle:
            document = json.load(handle)
        keys = audit.load_public_keys(p["public_keys"])
        facts = approval.verify(document, keys, p["ticket"], p["service"], p["release_sha256"], p["executor"])
    except approval.ApprovalError as exc:
        module.fail_json(msg=str(exc))
    except (OSError, ValueError, audit.AuditError) as exc:
        module.fail_json(msg=f"approval {p['approval']} or its keys cannot be read: {exc}")
    module.exit_json(changed=False, approval=facts)


if __name__ == "__main__":
    main()
