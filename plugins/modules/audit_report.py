#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: audit_report
short_description: Render the evidence report of a run from its audit log
version_added: 0.1.0
description:
  - Verifies the run's audit log (as M(tracegate.bluegreen.audit_verify) does) and renders a
    self-contained HTML page and a Markdown file next to it, or in O(dest_dir) - the run,
    the verification result, every gate with its verdict and numbers, the traffic split over
    time and per-gate error rate and p95 of each color as inline SVG charts, and the seal's
    hash and signature.
  - A log that does not verify is still rendered, with the failure at the top, and the task
    fails unless O(allow_invalid=true).
author: tracegate.bluegreen developers (@tracegate)
attributes:
  check_mode:
    support: full
    description: Verifies and reports whether the files would change; writes nothing.
  diff_mode:
    support: none
    description: The report is generated; only whether it changed is reported.
  idempotent:
    support: full
    description: The same log renders the same files.
options:
  log:
    description: The run's audit log (JSON Lines), on the controller.
    type: path
    required: true
  public_keys:
    description: Ed25519 public keys (PEM) that may have signed the log.
    type: list
    elements: path
    required: true
  run_id:
    description:
      - The run the log must belong to. Unset, the log's own first record names it, so a log
        replaced whole by another complete run signed with the same key would verify.
    type: str
  dest_dir:
    description: Directory for C(<run id>.html) and C(<run id>.md); the log's directory by default.
    type: path
  allow_invalid:
    description: Render a log that does not verify without failing the task.
    type: bool
    default: false
requirements:
  - rfc8785 and cryptography (on the controller)
seealso:
  - module: tracegate.bluegreen.audit_verify
"""

EXAMPLES = r"""
- name: Render the report of a cutover
  tracegate.bluegreen.audit_report:
    log: /var/log/tracegate/cutover-20261125T150102Z-4f2a1c.jsonl
    run_id: cutover-20261125T150102Z-4f2a1c
    public_keys: [/etc/tracegate/audit-signing.pub]
  delegate_to: localhost
"""

RETURN = r"""
verification:
  description: The verification report (ok, records, signed_records, head, problems, first_bad).
  returned: always
  type: dict
html:
  description: Path of the HTML report.
  returned: always
  type: str
markdown:
  description: Path of the Markdown report.
  returned: always
  type: str
outcome:
  description: The outcome the run was sealed with.
  returned: always
  type: str
"""

import os

from ansible.module_utils.basic import AnsibleModule, missing_required_lib

from ansible_collections.tracegate.bluegreen.plugins.module_utils import audit, audit_report
from ansible_collections.tracegate.bluegreen.plugins.module_utils.files import write_atomically


def main():
    module = AnsibleModule(
        argument_spec={
            "log": {"type": "path", "required": True},
            "public_keys": {"type": "list", "elements": "path", "required": True},
            "run_id": {"type": "str"},
            "dest_dir": {"type": "path"},
            "allow_invalid": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    if audit.missing_library():
        module.fail_json(msg=missing_required_lib(audit.missing_library()))
    p = module.params
    try:
        with open(p["log"], "rb") as handle:
            lines = handle.readlines()
        verification = audit.verify_lines(lines, audit.load_public_keys(p["public_keys"]), p["run_id"])
    except (OSError, audit.AuditError) as exc:
        module.fail_json(msg=f"reading {p['log']} or its keys failed: {exc}")
    summary = audit_report.summarize(audit_report.load_records(lines))
    name = audit_report.report_name(summary, p["log"])
    directory = p["dest_dir"] or os.path.dirname(os.path.abspath(p["log"]))
    outputs = {
        os.path.join(directory, f"{name}.html"): audit_report.render_html(summary, verification),
        os.path.join(directory, f"{name}.md"): audit_report.render_markdown(summary, verification),
    }
    changed = False
    for path, content in outputs.items():
        try:
            with open(path, encoding="utf-8") as handle:
                same = handle.read() == content
        except FileNotFoundError:
            same = False
        if not same:
            changed = True
            if not module.check_mode:
                try:
                    os.makedirs(directory, exist_ok=True)
                    write_atomically(path, content, mode=0o640)
                except OSError as exc:
                    module.fail_json(msg=f"writing {path} failed: {exc}")
    html_path, markdown_path = outputs
    result = {"changed": changed, "verification": verification, "html": html_path, "markdown": markdown_path,
              "outcome": audit.printable(str(summary["seal"].get("outcome", "not sealed")))}
    if not verification["ok"] and not p["allow_invalid"]:
        first = verification.get("first_bad", {})
        module.fail_json(msg=f"{p['log']} does not verify: line {first.get('line')}: {first.get('problem')}", **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
