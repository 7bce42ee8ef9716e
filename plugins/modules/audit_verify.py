#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: audit_verify
short_description: Verify a tracegate.bluegreen audit log
version_added: 0.1.0
description:
  - Checks an audit log with only the log and the public keys - the hash chain, the sequence,
    time order, every signature of checkpoints and the seal, the terminal seal itself (a
    missing seal or a truncated tail fails), records of another run, and approvals whose
    approver is also the executor.
  - Every line must be exactly the RFC 8785 canonical JSON of its record and end with a line
    feed - a line re-encoded (spaces, key order, C(5.0) for C(5), escaped letters), a key given
    twice, a blank line or a value of the wrong type or form (C(ts), C(seq), C(prev),
    C(key_id), C(sig)) is a problem of that line, never an error of the module.
  - Fails naming the first bad record; the full report is returned either way. A log or key
    that cannot be read fails with C(cannot verify) and no report.
  - The same check runs outside Ansible as C(python3 tools/audit_verify.py LOG --public-key KEY.pem),
    which exits 0 for a valid log, 1 for one that does not verify and 2 when it cannot check.
author: tracegate.bluegreen developers (@tracegate)
attributes:
  check_mode:
    support: full
    description: Only reads.
  diff_mode:
    support: none
    description: Changes nothing, so there is nothing to show.
  idempotent:
    support: full
    description: Never changes anything.
options:
  path:
    description: The audit log (JSON Lines).
    type: path
    required: true
  public_keys:
    description: Ed25519 public keys (PEM files) the checkpoints and seals may be signed with.
    type: list
    elements: path
    required: true
  run_id:
    description:
      - The run the log must belong to. Unset, the first record's run, so a log replaced whole
        by another complete run signed with the same key verifies.
    type: str
requirements:
  - cryptography
  - rfc8785
"""

EXAMPLES = r"""
- name: Verify the run's audit log
  tracegate.bluegreen.audit_verify:
    path: /var/log/tracegate/{{ run_id }}.jsonl
    public_keys: [/etc/tracegate/audit-signing.pub]
    run_id: "{{ run_id }}"
  delegate_to: localhost
"""

RETURN = r"""
ok:
  description: Whether the log verified.
  returned: always
  type: bool
records:
  description: Records read.
  returned: always
  type: int
first_bad:
  description: The first problem, with its line number.
  returned: when the log does not verify
  type: dict
  sample: {"line": 4, "problem": "sequence 4 where 3 was due (record missing, reordered or inserted)"}
problems:
  description: Every problem found.
  returned: always
  type: list
  elements: dict
head:
  description: SHA-256 of the last record, to anchor elsewhere.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.tracegate.bluegreen.plugins.module_utils import audit


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "public_keys": {"type": "list", "elements": "path", "required": True},
            "run_id": {"type": "str"},
        },
        supports_check_mode=True,
    )
    if audit.missing_library():
        module.fail_json(msg=missing_required_lib(audit.missing_library()))
    try:
        keys = audit.load_public_keys(module.params["public_keys"])
        report = audit.verify_file(module.params["path"], keys, module.params["run_id"])
    except (OSError, audit.AuditError) as exc:
        module.fail_json(msg=f"cannot verify {module.params['path']}: {exc}")
    if not report["ok"]:
        first = report["first_bad"]
        module.fail_json(msg=f"audit log {module.params['path']} does not verify: line {first['line']}: {first['problem']}",
                         changed=False, **report)
    module.exit_json(changed=False, **report)


if __name__ == "__main__":
    main()
