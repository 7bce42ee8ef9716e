# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: audit_trail
type: aggregate
short_description: Record every task result of a cutover or rollback run in its audit log
version_added: 0.1.0
description:
  - Once a run of the C(tracegate.bluegreen) cutover or rollback playbooks has opened its
    audit log (the C(run_start) record), appends a C(task_result) record for every task
    result to the same hash chain, until the run's seal.
  - Records only an allow-list of fields (host, task name, action, status, delegated host);
    never the result's content. A C(no_log) task is recorded as censored, without its name,
    which may hold a secret once templated.
  - A loop task is recorded once, under its name as written in the playbook; templated once
    for the whole task, a name that uses the loop variable would read as undefined.
  - Other playbooks, and the dry run C(verify), are not recorded.
  - Meant for the linear strategy the playbooks use; results are recorded in the order the
    controller processes them.
author: tracegate.bluegreen developers (@tracegate)
requirements:
  - rfc8785 (on the controller)
  - enable in ansible.cfg with C(callbacks_enabled = tracegate.bluegreen.audit_trail)
"""

import os

from ansible.plugins.callback import CallbackBase

from ansible_collections.tracegate.bluegreen.plugins.module_utils import audit


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "tracegate.bluegreen.audit_trail"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.log_path = None
        self.run_id = None
        self.writer = None
        self.sealed = False

    def _notice_run(self, result):
        """The preflight's settings fact names the run and its log."""
        run = (content_of(result).get("ansible_facts") or {}).get("bluegreen_run")
        if isinstance(run, dict) and run.get("operation") in ("cutover", "deploy", "rollback", "verify") and run.get("audit_log"):
            self.log_path, self.run_id, self.sealed = str(run["audit_log"]), str(run["run_id"]), False
            if self.writer is not None and (self.writer.path, self.writer.run_id) != (self.log_path, self.run_id):
                self.writer = None

    def _record(self, result, status):
        self._notice_run(result)
        # Nothing before the playbook's own run_start record, nothing after its seal.
        if not self.log_path or self.sealed or not os.path.exists(self.log_path):
            return
        content, task = content_of(result), task_of(result)
        delegated = (content.get("_ansible_delegated_vars") or {}).get("ansible_host")
        try:
            fields = audit.task_record(host_of(result).get_name(), recorded_name(task), task.action, status, content, delegated)
            # One writer for the run: it reads the log's last line only after another writer's record.
            if self.writer is None:
                self.writer = audit.AuditWriter(self.log_path, self.run_id)
            self.writer.append("task_result", **fields)
        except audit.RunSealed:
            self.sealed = True
        except (audit.AuditError, OSError, ValueError) as exc:
            self._display.warning(f"audit_trail: task result not recorded in {self.log_path}: {exc}")

    def v2_runner_on_ok(self, result):
        self._record(result, "changed" if content_of(result).get("changed") else "ok")

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._record(result, "failed")

    def v2_runner_on_skipped(self, result):
        self._record(result, "skipped")

    def v2_runner_on_unreachable(self, result):
        self._record(result, "unreachable")


# ansible-core 2.19 gives callbacks a task result with the properties host, task and result; up
# to 2.18 (AAP 2.5's execution environments carry 2.16) they are _host, _task and _result.
def content_of(result):
    """The task's return data."""
    return result.result if hasattr(result, "result") else result._result  # pylint: disable=protected-access


def host_of(result):
    return result.host if hasattr(result, "host") else result._host  # pylint: disable=protected-access


def task_of(result):
    return result.task if hasattr(result, "task") else result._task  # pylint: disable=protected-access


def recorded_name(task):
    """A task's name for its record: a loop task's as written in the playbook."""
    if task.loop is None and not task.loop_with:
        return task.get_name()
    written = (task.get_ds() or {}).get("name")
    if not isinstance(written, str):
        return task.get_name()
    # pylint: disable-next=protected-access
    return f"{task._role.get_name()} : {written}" if task._role else written
