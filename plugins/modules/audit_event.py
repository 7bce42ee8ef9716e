#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: audit_event
short_description: Append a record to the run's tamper-evident audit log
version_added: 0.1.0
description:
  - Appends one record (gate evidence, a traffic change, a rollback, a checkpoint, the seal)
    to the run's audit log, chained to the previous record by its SHA-256. Checkpoints and
    the seal are signed with Ed25519.
  - The record is on disk (fsynced) when the task returns, so a playbook that records a
    traffic change before making it never changes traffic without the record (fail closed).
  - Run it on the controller (C(delegate_to) C(localhost), C(run_once)); the signing key never
    reaches a managed host.
  - Only the fields given in O(fields) are written; secrets must not be passed.
author: tracegate.bluegreen developers (@tracegate)
attributes:
  check_mode:
    support: full
    description: Predicts the record; writes nothing.
  diff_mode:
    support: none
    description: An appended record has no before.
  idempotent:
    support: none
    description: Every call appends a record.
options:
  path:
    description: The run's audit log (JSON Lines). Created by the first record.
    type: path
    required: true
  run_id:
    description: The run's id; the log must hold this run only.
    type: str
    required: true
  type:
    description: Event type.
    type: str
    required: true
    choices: [run_start, approval_verified, gate_result, traffic_change, rollback, task_result, checkpoint, run_sealed]
  fields:
    description: The event's own fields (actor, change ticket, hosts, colors, split, evidence, outcome, phase).
    type: dict
    default: {}
  signing_key:
    description: Ed25519 private key (PEM, unencrypted) on the controller; required for C(checkpoint) and C(run_sealed).
    type: path
requirements:
  - cryptography
  - rfc8785
seealso:
  - module: tracegate.bluegreen.audit_verify
"""

EXAMPLES = r"""
- name: Record the gate's evidence
  tracegate.bluegreen.audit_event:
    path: "{{ bluegreen_audit_log }}"
    run_id: "{{ bluegreen_run_id }}"
    type: gate_result
    fields:
      gate: trace_health
      verdict: "{{ health.verdict }}"
      evidence: "{{ health.checks }}"
  delegate_to: localhost
  run_once: true

- name: Seal the run
  tracegate.bluegreen.audit_event:
    path: "{{ bluegreen_audit_log }}"
    run_id: "{{ bluegreen_run_id }}"
    type: run_sealed
    fields:
      outcome: succeeded
    signing_key: /etc/tracegate/audit-signing.key
  delegate_to: localhost
  run_once: true
"""

RETURN = r"""
record:
  description: The record written (or that would be written, in check mode, without seq, prev and signature).
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.tracegate.bluegreen.plugins.module_utils import audit


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "run_id": {"type": "str", "required": True},
            "type": {"type": "str", "required": True, "choices": list(audit.EVENT_TYPES)},
            "fields": {"type": "dict", "default": {}},
            "signing_key": {"type": "path", "no_log": False},
        },
        supports_check_mode=True,
    )
    if audit.missing_library():
        module.fail_json(msg=missing_required_lib(audit.missing_library()))
    p = module.params
    fields = dict(p["fields"])
    if module.check_mode:
        module.exit_json(changed=True, record=dict(fields, run_id=p["run_id"], type=p["type"]))
    try:
        key = audit.load_private_key(p["signing_key"]) if p["signing_key"] else None
        writer = audit.AuditWriter(p["path"], p["run_id"], key)
        if p["type"] == "checkpoint":
            record = writer.checkpoint(fields.pop("phase", ""))
        elif p["type"] == "run_sealed":
            record = writer.seal(fields.pop("outcome", "unknown"))
        else:
            record = writer.append(p["type"], **fields)
    except (OSError, ValueError, audit.AuditError) as exc:
        module.fail_json(msg=f"audit record not written to {p['path']}: {exc}")
    module.exit_json(changed=True, record=record)


if __name__ == "__main__":
    main()
