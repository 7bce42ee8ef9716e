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
  - Runs on the controller whatever host the task names (it is an action), so the log and
    the signing key stay there and never reach a managed host; use C(run_once) to write one
    record per task.
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
    choices: [run_start, approval_verified, gate_result, traffic_change, rollback, task_result, checkpoint, run_sealed,
              watchdog_intervention]
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
  run_once: true

- name: Seal the run
  tracegate.bluegreen.audit_event:
    path: "{{ bluegreen_audit_log }}"
    run_id: "{{ bluegreen_run_id }}"
    type: run_sealed
    fields:
      outcome: succeeded
    signing_key: /etc/tracegate/audit-signing.key
  run_once: true
"""

RETURN = r"""
record:
  description: The record written (or that would be written, in check mode, without seq, prev and signature).
  returned: always
  type: dict
"""
