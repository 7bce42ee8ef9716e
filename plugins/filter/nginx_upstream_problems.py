# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: nginx_upstream_problems
short_description: What the nginx_upstream module would refuse in an upstream name and its server parameters
version_added: 0.1.0
description:
  - Runs the checks of M(tracegate.bluegreen.nginx_upstream) on the controller, so that a role can
    refuse a bad upstream name or server parameter before it changes anything on a host.
  - NGINX Plus parameters (C(slow_start)) pass here; the module decides on them once it knows the host's NGINX.
author: tracegate.bluegreen developers (@tracegate)
options:
  _input:
    description: The upstream name.
    type: str
    required: true
  server_params:
    description: The C(server) parameters, as the module's O(tracegate.bluegreen.nginx_upstream#module:server_params) takes them.
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Refuse a bad upstream before any change
  ansible.builtin.assert:
    that: problems | length == 0
    fail_msg: "{{ problems | join('; ') }}"
  vars:
    problems: "{{ 'bluegreen_app' | tracegate.bluegreen.nginx_upstream_problems('max_fails=1 fail_timeout=5s') }}"
"""

RETURN = r"""
_value:
  description: One message per problem, naming the bad field; empty when the module would take both.
  type: list
  elements: str
"""

from ansible_collections.tracegate.bluegreen.plugins.module_utils.nginx_upstream import (
    ServerParameters,
    UpstreamError,
    check_upstream_name,
)


def nginx_upstream_problems(upstream, server_params=""):
    problems = []
    try:
        check_upstream_name(upstream)
    except UpstreamError as exc:
        problems.append(str(exc))
    try:
        ServerParameters(server_params, nginx_build=lambda: ("the host's NGINX", True))
    except UpstreamError as exc:
        problems.append(str(exc))
    return problems


class FilterModule:
    def filters(self):
        return {"nginx_upstream_problems": nginx_upstream_problems}
