#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: audit_copy
short_description: Keep an append-only copy of a run's audit log on an audit host
version_added: 0.1.0
description:
  - Appends to the copy on the audit host the lines of the controller's audit log that the
    copy does not hold yet, fsynced before the task returns; a playbook that copies the log
    before each traffic change therefore never changes traffic with the evidence on the
    controller only.
  - Never rewrites the copy. A copy that is not a prefix of the controller's log (a record
    differs, or it holds more records) fails the task, names the first differing record and
    appends nothing, so the copy keeps the evidence of the alteration.
  - Lines to append must continue the log's hash chain (each record's C(prev) is the SHA-256
    of the line before it); a line that does not, for example a record broken at a U+2028 by
    C(splitlines()), fails the task before anything is written. After writing, the copy is
    read back and must hold exactly the controller's lines.
  - Needs only the Python standard library on the audit host; the copy is checked with
    M(tracegate.bluegreen.audit_verify) like the original.
author: tracegate.bluegreen developers (@tracegate)
attributes:
  check_mode:
    support: full
    description: Reports how many records would be appended; writes nothing.
  diff_mode:
    support: none
    description: Records are only appended; RV(appended) says how many.
  idempotent:
    support: full
    description: A copy that already holds every line is left unchanged.
options:
  path:
    description: The copy on the audit host. Created (mode 0640, its directory 0750) by the first call.
    type: path
    required: true
  lines:
    description:
      - Every line of the controller's log, in order, split at line feeds only, for example
        C("{{ lookup('ansible.builtin.file', log).split('\n') }}"). Not C(splitlines()), which
        also splits at U+2028, U+2029 and U+0085, characters a record holds as they are.
    type: list
    elements: str
    required: true
seealso:
  - module: tracegate.bluegreen.audit_event
  - module: tracegate.bluegreen.audit_verify
"""

EXAMPLES = r"""
- name: Copy the run's audit log to every audit host before the traffic change
  tracegate.bluegreen.audit_copy:
    path: "/var/log/tracegate-bluegreen/{{ bluegreen_run_id }}.jsonl"
    lines: "{{ lookup('ansible.builtin.file', bluegreen_audit_log).split('\\n') }}"
  delegate_to: "{{ item }}"
  loop: "{{ groups['bluegreen_audit'] }}"
  run_once: true
"""

RETURN = r"""
appended:
  description: Records appended by this call.
  returned: always
  type: int
  sample: 3
records:
  description: Records the copy holds after the call.
  returned: always
  type: int
  sample: 42
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.tracegate.bluegreen.plugins.module_utils.audit_copy import CopyRefused, append_lines, check_copy, plan_append


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            "lines": {"type": "list", "elements": "str", "required": True},
        },
        supports_check_mode=True,
    )
    path, lines = module.params["path"], module.params["lines"]
    bad = [number for number, line in enumerate(lines) if "\n" in line or not line.strip()]
    if bad:
        module.fail_json(msg=f"lines: entry {bad[0]} is empty or holds a line break; pass the log's lines one by one")
    try:
        held, new_lines = plan_append(path, lines)
        if new_lines and not module.check_mode:
            append_lines(path, new_lines)
            check_copy(path, lines)
    except CopyRefused as exc:
        module.fail_json(msg=str(exc))
    except (OSError, UnicodeDecodeError) as exc:
        module.fail_json(msg=f"audit copy {path}: {exc}")
    module.exit_json(changed=bool(new_lines), appended=len(new_lines), records=held + len(new_lines))


if __name__ == "__main__":
    main()
