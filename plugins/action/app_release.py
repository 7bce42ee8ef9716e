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

from ansible_collections.tracegate.bluegreen.plugins.module_utils.app_release import ReleaseError, check_artifact, sha256_of


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
            return dict(result, **self.predicted(local, src, module_args, answer))
        tmpdir = self._connection._shell.tmpdir or self._make_tmp_path()
        remote = self._connection._shell.join_path(tmpdir, "artifact.tar.gz")
        self._transfer_file(local, remote)
        self._fixup_perms2((tmpdir, remote))
        answer = self._execute_module(module_name="tracegate.bluegreen.app_release",
                                      module_args=dict(module_args, src=remote), task_vars=task_vars)
        return dict(result, **answer)

    def predicted(self, local, src, module_args, answer):
        """What a run would do with an artifact the host does not hold yet: the module checks
        the host's side (link, release directory), the VERSION is read here, where the
        artifact is, so that check mode refuses what the run would refuse."""
        try:
            check_artifact(local, module_args.get("sha256"), module_args.get("version"), "src")
        except (ReleaseError, OSError) as exc:
            return {"failed": True, "msg": f"{exc}; nothing was changed"}
        previous = answer.get("previous_release")
        prediction = {"changed": True, "artifact_copied": True, "built": answer.get("built", True),
                      "virtualenv_reused": False, "linked": answer.get("linked", True), "previous_release": previous, "removed": [],
                      "msg": f"{module_args.get('artifact')} would be sent from {src}, checked and installed"}
        if self._task.diff:
            link = answer.get("invocation", {}).get("module_args", {}).get("link", module_args.get("link"))
            prediction["diff"] = {"before": f"{link} -> {previous}\n", "after": f"{link} -> {answer.get('release_dir')}\n"}
        return prediction
