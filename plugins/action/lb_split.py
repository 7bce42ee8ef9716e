# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""lb_split picks haproxy_backend or nginx_upstream per host, so that one task reaches every
load balancer of a mixed fleet in parallel (two tasks guarded by `when` run one kind after
the other)."""

from __future__ import annotations

from ansible.plugins.action import ActionBase

MODULES = {"haproxy": "tracegate.bluegreen.haproxy_backend", "nginx": "tracegate.bluegreen.nginx_upstream"}

ARGUMENT_SPEC = {
    "kind": {"type": "str", "required": True, "choices": sorted(MODULES)},
    "weights": {"type": "dict"},
    "haproxy": {"type": "dict", "default": {}},
    "nginx": {"type": "dict", "default": {}},
    "require_up": {"type": "list", "elements": "str", "default": []},
    "health_path": {"type": "str", "default": "/healthz"},
}


class ActionModule(ActionBase):
    TRANSFERS_FILES = False

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        _validated, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        module_args = dict(args[args["kind"]])
        if args["weights"] is not None:
            module_args["weights"] = args["weights"]
        if args["require_up"]:
            module_args.update(require_up=args["require_up"], health_path=args["health_path"])
        result.update(self._execute_module(module_name=MODULES[args["kind"]], module_args=module_args,
                                           task_vars=task_vars))
        result["kind"] = args["kind"]
        return result
