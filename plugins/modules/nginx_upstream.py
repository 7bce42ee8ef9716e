#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: nginx_upstream
short_description: Move traffic between blue and green servers of an NGINX upstream, verified
version_added: 0.1.0
description:
  - Renders the weighted upstream include for the requested split, checks it with C(nginx -t)
    against the whole configuration before anything live changes, writes it atomically,
    reloads NGINX gracefully, and confirms that NGINX serves the new configuration.
  - A reload signal succeeds even when NGINX rejects the new configuration and keeps the old
    one. The include therefore carries a generation marker that NGINX serves at
    O(generation_url); the switch holds only once that URL answers the new generation.
  - On any failure, a reload program that cannot be started included, the previous include
    is put back, NGINX is reloaded with it and keeps serving, and the task fails with the
    step that failed. When that reload fails as well, the message says that the file was
    restored and its reload failed.
  - NGINX's messages keep their text only when they are about the include this module
    writes; for any other file they name the place (file and line) without the words NGINX
    quotes from it, which may be in a file the task's readers may not read.
  - NGINX has no weight 0. A server whose weight is 0 is written with the C(down) flag.
  - Servers carry their color in a comment on their line, so a later call can change weights
    without repeating O(servers).
author: tracegate.bluegreen developers (@tracegate)
extends_documentation_fragment:
  - tracegate.bluegreen.require_up
attributes:
  check_mode:
    support: full
    description: Renders and compares; writes and reloads nothing.
  diff_mode:
    support: full
    description: The include before and after.
  idempotent:
    support: full
    description: Nothing is written or reloaded when the include already holds the split and NGINX serves it.
options:
  upstream:
    description:
      - Name of the upstream, letters, digits and C(_) (at most 100); a word NGINX reads as a
        block or directive (C(server), C(http), C(if), ...) is refused.
    type: str
    default: bluegreen_app
  path:
    description:
      - The include file. Defaults to C(/etc/nginx/bluegreen/upstreams/<upstream>.conf).
      - It must be inside the directory of O(conf_path), also once symbolic links are
        followed; anything else is refused before it is read.
    type: path
  servers:
    description:
      - Servers of the upstream. Omitted, they are read from the current include.
    type: list
    elements: dict
    suboptions:
      address:
        description: C(host:port) of the server.
        type: str
        required: true
      color:
        description: Color of the server.
        type: str
        required: true
        choices: [blue, green]
  weights:
    description:
      - "Weight (0 to 256) for every server of a color, for example C({blue: 75, green: 25}).
        A string of ASCII digits (as C(-e) and templating give it) is read as a number; other
        digits are refused."
      - With none of O(weights), O(server_weights) and O(servers), the module only reads the
        include and the generation NGINX serves (RV(served_generation)).
    type: dict
  server_weights:
    description: Weight per server address; wins over O(weights).
    type: dict
  server_params:
    description:
      - Parameters of NGINX's C(server) directive added to every server with traffic,
        separated by white space.
      - Only C(max_fails=<number>), C(max_conns=<number>), C(fail_timeout=<time>) and, on
        NGINX Plus, C(slow_start=<time>) are accepted, each once, with a value in the syntax
        NGINX reads (a time such as C(10s), C(1m30s) or C(1h)). Anything else is refused
        naming the parameter, before anything is written. C(weight) and C(down) come from
        the weights; C(backup) would leave no primary server.
      - Other parameters of NGINX Plus (C(resolve), C(route), C(service), C(drain)) are
        refused; on open-source NGINX so is C(slow_start). Only then is C(nginx -v) run, to
        tell the two apart.
      - Unset, the servers keep the parameters they have in the include (those the
        C(tracegate.bluegreen.nginx) role rendered, checked again), and a new include or one
        without a server with traffic gets C(max_fails=1 fail_timeout=5s).
    type: str
  keepalive:
    description: Idle keep-alive connections to the servers per worker, 0 (none) to 65535.
    type: int
    default: 32
  force:
    description: V(false) leaves an existing include alone (used to write only the first one).
    type: bool
    default: true
  reload:
    description: Reload NGINX and confirm the new generation after writing.
    type: bool
    default: true
  conf_path:
    description: The main configuration file, checked with C(nginx -t).
    type: path
    default: /etc/nginx/nginx.conf
  nginx_binary:
    description: The nginx program.
    type: path
    default: /usr/sbin/nginx
  reload_command:
    description: Command that reloads NGINX gracefully.
    type: list
    elements: str
    default: [systemctl, reload, nginx.service]
  generation_url:
    description:
      - URL where NGINX serves the upstream's generation marker (the C(tracegate.bluegreen.nginx)
        role serves it on its loopback-only control server). Defaults to
        C(http://127.0.0.1:18079/.bluegreen/generation/<upstream>), the role's default
        C(nginx_control_port). An empty string skips the
        confirmation, with a warning.
    type: str
  reload_timeout:
    description: Seconds to wait for NGINX to serve the new generation.
    type: float
    default: 10
notes:
  - A reload closes idle keep-alive client connections; clients that reuse such a connection
    retry idempotent requests. Each switch is one reload.
seealso:
  - module: tracegate.bluegreen.haproxy_backend
"""

EXAMPLES = r"""
- name: Send a quarter of the traffic to green
  tracegate.bluegreen.nginx_upstream:
    weights:
      blue: 75
      green: 25

- name: Read the split, changing nothing
  tracegate.bluegreen.nginx_upstream:
  register: live

- name: Write the first upstream, all on blue, without reloading
  tracegate.bluegreen.nginx_upstream:
    servers:
      - address: app-b1:8080
        color: blue
      - address: app-g1:8080
        color: green
    weights:
      blue: 100
      green: 0
    force: false
    reload: false
"""

RETURN = r"""
before:
  description: Servers with color and weight before the call.
  returned: always
  type: list
  elements: dict
  sample: [{"address": "app-b1:8080", "color": "blue", "weight": 100}]
after:
  description: The same after the call.
  returned: always
  type: list
  elements: dict
split_before:
  description: Share of new requests in percent per color and per server before the call.
  returned: always
  type: dict
  sample: {"colors": {"blue": 100.0, "green": 0.0}, "servers": {"app-b1:8080": 100.0, "app-g1:8080": 0.0}}
split_after:
  description: The same after the call.
  returned: always
  type: dict
generation:
  description: Generation marker of the include now in force.
  returned: always
  type: str
  sample: 3f1c2a9b0d4e5f60
served_generation:
  description:
    - The generation NGINX serves, when the module only reads. It differs from RV(generation)
      when the file holds a split NGINX has not loaded.
  returned: when nothing is changed or written because no weights and servers were given
  type: str
  sample: 3f1c2a9b0d4e5f60
"""

import re
from http.client import HTTPException

from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.urls import ConnectionError as UrlConnectionError
from ansible.module_utils.urls import open_url

from ansible_collections.tracegate.bluegreen.plugins.module_utils import lb_input, server_check
from ansible_collections.tracegate.bluegreen.plugins.module_utils.nginx_upstream import (
    UpstreamError,
    UpstreamSwitch,
    check_upstream_name,
    default_generation_url,
    nginx_build,
    planned_include,
    server_params_in,
    traffic_split,
)


# A generation marker is 16 hex digits; more than this is not one, and is not read on.
MAX_GENERATION_ANSWER = 256


def _fetch(url):
    """The body served at `url`, or None when nothing (good) answers."""
    try:
        return open_url(url, timeout=2, validate_certs=False).read(MAX_GENERATION_ANSWER).decode().strip()
    except (OSError, ValueError, UnicodeDecodeError, UrlConnectionError, HTTPException):
        return None


def main():
    module = AnsibleModule(
        argument_spec={
            "upstream": {"type": "str", "default": "bluegreen_app"},
            "path": {"type": "path"},
            "servers": {
                "type": "list",
                "elements": "dict",
                "options": {
                    "address": {"type": "str", "required": True},
                    "color": {"type": "str", "required": True, "choices": ["blue", "green"]},
                },
            },
            "weights": {"type": "dict"},
            "server_weights": {"type": "dict"},
            "server_params": {"type": "str"},
            "keepalive": {"type": "int", "default": 32},
            "force": {"type": "bool", "default": True},
            "reload": {"type": "bool", "default": True},
            "conf_path": {"type": "path", "default": "/etc/nginx/nginx.conf"},
            "nginx_binary": {"type": "path", "default": "/usr/sbin/nginx"},
            "reload_command": {"type": "list", "elements": "str", "default": ["systemctl", "reload", "nginx.service"]},
            "generation_url": {"type": "str"},
            "reload_timeout": {"type": "float", "default": 10.0},
            "require_up": {"type": "list", "elements": "str", "default": [], "choices": ["blue", "green"]},
            "health_path": {"type": "str", "default": "/healthz"},
        },
        supports_check_mode=True,
    )
    p = module.params

    def run_command(argv):
        # A program that cannot be started raises instead of ending the module, so that the
        # previous include is restored first.
        return module.run_command(argv, handle_exceptions=False)

    try:
        server_check.check_health_path(p["health_path"])
        name = check_upstream_name(p["upstream"])
        generation_url = default_generation_url(name) if p["generation_url"] is None else p["generation_url"]
        if generation_url and not re.match(r"https?://[^/?#]+", generation_url):
            raise UpstreamError(f"generation_url: {lb_input.shown(generation_url)} is not an http:// or https:// URL "
                                f"naming a host; nothing was changed")
        switch = UpstreamSwitch(
            name, p["path"] or f"/etc/nginx/bluegreen/upstreams/{name}.conf", run_command, _fetch, conf_path=p["conf_path"],
            nginx=p["nginx_binary"], reload_command=p["reload_command"], generation_url=generation_url if p["reload"] else "",
            reload_timeout=p["reload_timeout"],
        )
        previous_text, before, before_generation = switch.current()
        if p["weights"] is None and p["server_weights"] is None and p["servers"] is None:
            if previous_text is None:
                raise UpstreamError(f"{switch.path} does not exist: nothing to read")
            served = _fetch(generation_url) if generation_url else None
            module.exit_json(changed=False, before=[s.as_dict() for s in before], after=[s.as_dict() for s in before],
                             split_before=traffic_split(before), split_after=traffic_split(before),
                             generation=before_generation, served_generation=served)
        if previous_text is not None and not p["force"]:
            module.exit_json(changed=False, before=[s.as_dict() for s in before], after=[s.as_dict() for s in before],
                             split_before=traffic_split(before), split_after=traffic_split(before), generation=before_generation)
        # Unset, the parameters the include's servers carry now are kept: a switch that does
        # not name them (lb_split's) must not reset what the nginx role rendered.
        server_params = p["server_params"] if p["server_params"] is not None else server_params_in(previous_text)
        after, content, generation = planned_include(
            name, before, p["servers"], p["weights"], p["server_weights"], server_params, p["keepalive"],
            lambda: nginx_build(run_command, p["nginx_binary"]),
        )
    except (UpstreamError, ValueError) as exc:
        module.fail_json(msg=str(exc))

    file_changes = content != previous_text
    # The file may hold the split while NGINX still serves an older one (a reload that never
    # happened or was rejected): a reload then is a change too.
    stale = bool(p["reload"] and generation_url and not file_changes and _fetch(generation_url) != generation)
    changed = file_changes or stale
    if p["reload"] and not generation_url:
        module.warn("generation_url is empty: the reload cannot be confirmed")

    if changed and p["require_up"]:
        bad = server_check.unanswering({s.address: s.address for s in after if s.color in p["require_up"] and s.weight > 0},
                                       p["health_path"])
        if bad:
            module.fail_json(msg=server_check.refusal(bad), before=[s.as_dict() for s in before])

    if changed and not module.check_mode:
        try:
            if p["reload"]:
                switch.apply(content, generation, previous_text)
            else:
                switch.write_checked(content, previous_text)
        except UpstreamError as exc:
            module.fail_json(msg=str(exc), before=[s.as_dict() for s in before])
        except OSError as exc:
            module.fail_json(msg=f"writing {switch.path} failed: {exc}", before=[s.as_dict() for s in before])

    result = {
        "changed": changed,
        "before": [s.as_dict() for s in before],
        "after": [s.as_dict() for s in after],
        "split_before": traffic_split(before),
        "split_after": traffic_split(after),
        "generation": generation,
    }
    if module._diff:
        result["diff"] = {"before": previous_text or "", "after": content, "before_header": switch.path, "after_header": switch.path}
    module.exit_json(**result)


if __name__ == "__main__":
    main()
