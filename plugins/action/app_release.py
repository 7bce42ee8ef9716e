# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""app_release with `src`: the controller's artifact is checked before the host is touched,
and sent only when the module says the host does not hold it. One call on the host when it
does, instead of a copy task's stat, transfer and module run before the install."""

from __future__ import annotations

from ansible.errors import AnsibleError
from ansible.plugins.action import ActionBase

from ansible_collections.tracegate.bluegreen.plugins.module_utils.app_release import sha256_of


class ActionModule(ActionBase):
    # The temporary directory is made only when the artifact has to be sent.
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        module_args = dict(self._task.args)
        src = module_args.pop("src", None)
        if src is not None:
            try:
                local = self._find_needle("files", src)
                found = sha256_of(local)
            except (AnsibleError, OSError) as exc:
                return dict(result, failed=True, msg=f"src: {src} cannot be read on the controller: {exc}; nothing was changed")
            if found != module_args.get("sha256"):
                return dict(result, failed=True,
                            msg=f"src: {src} has sha256 {found} on the controller, expected {module_args.get('sha256')}; nothing was changed")
        answer = self._execute_module(module_name="tracegate.bluegreen.app_release", module_args=module_args,
                                      task_vars=task_vars)
        if src is None or not answer.get("artifact_missing"):
            return dict(result, **answer)
        if self._task.check_mode:
            return dict(result, changed=True, artifact_copied=True,
                        msg=f"{module_args.get('artifact')} would be sent from {src}, checked and installed")
        tmpdir = self._connection._shell.tmpdir or self._make_tmp_path()
        remote = self._connection._shell.join_path(tmpdir, "artifact.tar.gz")
        self._transfer_file(local, remote)
        self._fixup_perms2((tmpdir, remote))
        answer = self._execute_module(module_name="tracegate.bluegreen.app_release",
                                      module_args=dict(module_args, src=remote), task_vars=task_vars)
        return dict(result, **answer)
