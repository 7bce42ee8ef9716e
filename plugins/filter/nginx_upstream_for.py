# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: nginx_upstream_for
short_description: The NGINX upstream a service gets unless it names one
version_added: 0.1.0
description:
  - C(bluegreen_) followed by the service's name with every character NGINX does not take in a
    variable name (C(.) and C(-)) turned into C(_), so that the nginx role and the cutover
    playbooks name the same upstream and several services share a load balancer.
author: tracegate.bluegreen developers (@tracegate)
options:
  _input:
    description: The service's name (C(bluegreen_service)).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: The upstream of the service checkout-api
  ansible.builtin.debug:
    msg: "{{ 'checkout-api' | tracegate.bluegreen.nginx_upstream_for }}"  # bluegreen_checkout_api
"""

RETURN = r"""
_value:
  description: The upstream's name.
  type: str
"""

from ansible_collections.tracegate.bluegreen.plugins.module_utils.nginx_upstream import upstream_name_for


class FilterModule:
    def filters(self):
        return {"nginx_upstream_for": upstream_name_for}
