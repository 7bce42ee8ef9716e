# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations


class ModuleDocFragment:
    DOCUMENTATION = r"""
options:
  require_up:
    description:
      - Colors whose servers must answer before the change gives them traffic. Every server
        of these colors that keeps or gets a weight above 0 is asked from this host, at once
        (GET O(health_path), or a TCP connection when it is empty); one that does not answer
        within 2 seconds fails the task, names it, and nothing is changed.
      - Meant for steps toward a new color; a rollback leaves it empty so that it is never refused.
    type: list
    elements: str
    choices: [blue, green]
    default: []
  health_path:
    description:
      - Path asked on the servers of O(require_up); empty asks for a TCP connection only.
      - An absolute path of printable ASCII without spaces (it goes into the request line as
        it is); anything else fails the task naming O(health_path).
    type: str
    default: /healthz
"""
