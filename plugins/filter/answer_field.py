# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
name: answer_field
short_description: A value a service reports in an HTTP answer, from its JSON body, a header or the whole body
version_added: 0.1.0
description:
  - Reads what a service says about itself (its version, its color) from the result of
    M(ansible.builtin.uri), wherever the service puts it, so that the app_env role can wait for
    the expected release on any service.
  - Returns an empty string when the answer does not hold the value (not JSON, no such key or
    header) and never fails, so that the caller keeps waiting and names what it got.
author: tracegate.bluegreen developers (@tracegate)
options:
  _input:
    description: The registered result of M(ansible.builtin.uri) (with C(return_content=true) for C(json) and C(body)).
    type: dict
    required: true
  source:
    description: Where the value is.
    type: str
    choices: [json, header, body]
    default: json
  field:
    description:
      - For V(json), the key, with dots for nested objects (C(build.version)); for V(header), the
        header name (case does not matter); unused for V(body).
    type: str
    default: version
"""

EXAMPLES = r"""
- name: Wait for the release
  ansible.builtin.uri:
    url: http://127.0.0.1:8080/version
    return_content: true
  register: answer
  until: answer | tracegate.bluegreen.answer_field('json', 'version') == '2.0.0'
  retries: 60
  delay: 1
"""

RETURN = r"""
_value:
  description: The value as a string, with surrounding white space removed; empty when the answer does not hold it.
  type: str
"""


def answer_field(response, source="json", field="version"):
    if not isinstance(response, dict):
        return ""
    if source == "body":
        value = response.get("content", "")
    elif source == "header":
        # ansible.builtin.uri returns each header as a lower-case key, dashes made underscores.
        value = response.get(str(field).lower().replace("-", "_"), "")
    elif source == "json":
        value = response.get("json")
        for key in str(field).split("."):
            value = value.get(key) if isinstance(value, dict) else None
    else:
        raise ValueError(f"answer_field: source {source!r} is not json, header or body")
    if value is None or isinstance(value, (dict, list)):
        return ""
    return str(value).strip()


class FilterModule:
    def filters(self):
        return {"answer_field": answer_field}
