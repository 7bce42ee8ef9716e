# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""audit_event runs in the controller's own process: the log and the signing key live on the
controller, and a record is on disk before the task returns without a module to start."""

from __future__ import annotations

import os

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

from ansible_collections.tracegate.bluegreen.plugins.module_utils import audit

ARGUMENT_SPEC = {
    "path": {"type": "path", "required": True},
    "run_id": {"type": "str", "required": True},
    "type": {"type": "str", "required": True, "choices": list(audit.EVENT_TYPES)},
    "fields": {"type": "dict", "default": {}},
    "signing_key": {"type": "path"},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validated, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        if audit.missing_library():
            raise AnsibleActionFail(f"audit_event needs the Python library {audit.missing_library()} on the controller")
        fields = dict(args["fields"])
        if self._task.check_mode:
            result.update(changed=True, record=dict(fields, run_id=args["run_id"], type=args["type"]))
            return result
        try:
            key = None
            if args["signing_key"]:
                audit.check_key_file(args["signing_key"])
                key = audit.load_private_key(args["signing_key"])
            if args["type"] == "run_start":
                os.makedirs(os.path.dirname(args["path"]) or ".", mode=0o700, exist_ok=True)
            writer = audit.AuditWriter(args["path"], args["run_id"], key)
            if args["type"] == "checkpoint":
                record = writer.checkpoint(fields.pop("phase", ""))
            elif args["type"] == "run_sealed":
                record = writer.seal(fields.pop("outcome", "unknown"))
            else:
                record = writer.append(args["type"], **fields)
        except (OSError, ValueError, audit.AuditError) as exc:
            raise AnsibleActionFail(f"audit record not written to {args['path']}: {exc}") from exc
        result.update(changed=True, record=record)
        return result
