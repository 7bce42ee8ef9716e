#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: security_check
short_description: The security gate on the idle color before any user traffic
version_added: 0.1.0
description:
  - Asks each load balancer, over HTTP, for the service's probe path on the idle color
    (the preview route, O(routing_headers)) and checks the required response headers; asks
    every forbidden admin or debug path on the public route and on the preview route (what
    the idle color will answer once it is public) and requires a refusal (400 or above);
    runs the user's checks of URLs on the idle color.
  - Checks the idle hosts' listening sockets against an allow-list and the modes of secret
    files (from the hosts' fingerprints, see M(tracegate.bluegreen.drift_fingerprint)).
  - Matches the release's Python packages (its wheels and C(requirements.txt) pins, read
    from the artifact without unpacking it) against vulnerability advisories in the OSV
    format, a file or a directory of JSON files that the user keeps.
  - Anything that cannot be asked fails its check; the gate fails closed. The verdict is
    returned, not raised; the playbook decides.
author: tracegate.bluegreen developers (@tracegate)
attributes:
  check_mode:
    support: full
    description: Only reads and asks.
  diff_mode:
    support: none
    description: Changes nothing.
  idempotent:
    support: full
    description: Never changes anything.
options:
  lb_urls:
    description: The public URL of each load balancer.
    type: list
    elements: str
    required: true
  routing_headers:
    description: Headers that send a request to the idle color (the preview route).
    type: dict
    default: {}
  probe_path:
    description: A route of the service whose answer must carry the required headers.
    type: str
    required: true
  policy:
    description: What the idle color must satisfy; a check whose setting is empty is not run.
    type: dict
    default: {}
    suboptions:
      required_headers:
        description: Header name to a regular expression its whole value must match.
        type: dict
        default: {}
      forbidden_paths:
        description: Admin and debug paths that every load balancer must refuse, publicly and on the idle color.
        type: list
        elements: str
        default: []
      allowed_ports:
        description: Listening sockets allowed on the idle hosts, fnmatch patterns like C(tcp/0.0.0.0:8080) or C(tcp/127.0.0.1:*).
        type: list
        elements: str
        default: []
      secret_files:
        description: Files (fnmatch patterns) that neither others may read nor the group may write.
        type: list
        elements: str
        default: []
      tls:
        description:
          - What the app's TLS listeners must refuse, judged on the C(tls) section of the idle hosts'
            fingerprints (O(tracegate.bluegreen.drift_fingerprint#module:tls_endpoints)); not run when no
            listener was read.
          - A listener that cannot be asked, completes no handshake, or whose refusal of an old version cannot
            be tested from the host fails the check.
        type: dict
        default: {}
        suboptions:
          min_version:
            description: The oldest TLS version a listener may accept.
            type: str
            default: TLSv1.2
            choices: [TLSv1, TLSv1.1, TLSv1.2, TLSv1.3]
          forbidden_ciphers:
            description:
              - Cipher suites (fnmatch patterns of OpenSSL names) no listener may accept up to TLS 1.2.
              - The default forbids suites without authentication or encryption and those on RC4, DES, export
                grade keys or MD5.
            type: list
            elements: str
            default: ["*NULL*", "ADH-*", "AECDH-*", "*anon*", "*RC4*", "*DES*", "*EXP*", "*MD5*"]
  url_checks:
    description: The user's checks, asked on the idle color through each load balancer.
    type: list
    elements: dict
    default: []
    suboptions:
      path:
        description: URL path, starting with C(/).
        type: str
        required: true
      status:
        description: The expected status.
        type: int
        default: 200
      contains:
        description: A regular expression the answer's body must contain.
        type: str
  hosts:
    description: Per idle host, its fingerprint (sections C(ports), C(modes) and C(tls) are read).
    type: dict
    default: {}
  command_checks:
    description:
      - The user's checks run on every idle host (by the playbook, see O(command_results)), each a command
        given as its arguments, never through a shell; the commands must only read.
    type: list
    elements: dict
    default: []
    suboptions:
      name:
        description: The check's name, unique among the checks.
        type: str
        required: true
      argv:
        description: The command and its arguments.
        type: list
        elements: str
        required: true
      rc:
        description: The expected exit code.
        type: int
        default: 0
      stdout:
        description: A regular expression the command's output must contain.
        type: str
  command_results:
    description:
      - Per idle host, what each of O(command_checks) gave, a list of C(name), C(rc), C(stdout) and C(error)
        (why it could not run); C(null) for a host that ran none. A check missing on a host fails.
    type: dict
    default: {}
  release_artifact:
    description: The release's C(.tar.gz) on the controller, for O(advisories).
    type: path
  advisories:
    description: OSV advisories, a JSON file or a directory of them; the release's packages are matched against them.
    type: path
  request_timeout:
    description: Seconds to wait for each answer.
    type: float
    default: 5.0
  validate_certs:
    description: Verify the load balancers' TLS certificates.
    type: bool
    default: true
seealso:
  - module: tracegate.bluegreen.drift_check
"""

EXAMPLES = r"""
- name: Check the idle color's security before any user traffic
  tracegate.bluegreen.security_check:
    lb_urls: [https://shop.example.com]
    routing_headers: {X-Bluegreen-Preview: green}
    probe_path: /api/quote
    policy:
      required_headers: {X-Content-Type-Options: nosniff}
      forbidden_paths: [/admin, /debug/pprof]
      allowed_ports: ["tcp/0.0.0.0:8080", "tcp/127.0.0.1:*"]
      secret_files: ["/etc/shop/*.env"]
      tls: {min_version: TLSv1.2}
    url_checks:
      - {path: /healthz, contains: ok}
    command_checks:
      - {name: no core dumps, argv: [sysctl, -n, kernel.core_pattern], stdout: "^\\|/bin/false"}
    command_results: {green-1: [{name: no core dumps, rc: 0, stdout: "|/bin/false"}]}
    hosts: "{{ dict(groups['bluegreen_green'] | zip(groups['bluegreen_green'] | map('extract', hostvars, ['bluegreen_fingerprint', 'fingerprint']))) }}"
    release_artifact: /srv/releases/shop-2.4.1.tar.gz
    advisories: /srv/advisories
  delegate_to: localhost
  register: security
"""

RETURN = r"""
verdict:
  description: C(pass) or C(fail).
  type: str
  returned: success
reasons:
  description: One line per failure (URL, host, file or advisory named), or one per passed check.
  type: list
  elements: str
  returned: success
checks:
  description: Each check with its outcome and reason.
  type: list
  elements: dict
  returned: success
observed:
  description:
    - What was asked and answered (statuses and headers), the checked sockets, modes and TLS listeners, the exit
      code of each command per host (never its output), and the advisories found.
  type: dict
  returned: success
"""


from ansible.module_utils.basic import AnsibleModule

from ansible_collections.tracegate.bluegreen.plugins.module_utils import app_release, http_answer, osv, security
from ansible_collections.tracegate.bluegreen.plugins.module_utils.probe import unfit_url

# The body of an answer read for a check: enough for a health page, never a download.
MAX_BODY = 65536


def main():
    module = AnsibleModule(
        argument_spec={
            "lb_urls": {"type": "list", "elements": "str", "required": True},
            "routing_headers": {"type": "dict", "default": {}},
            "probe_path": {"type": "str", "required": True},
            "policy": {"type": "dict", "default": {}, "options": {
                "required_headers": {"type": "dict", "default": {}},
                "forbidden_paths": {"type": "list", "elements": "str", "default": []},
                "allowed_ports": {"type": "list", "elements": "str", "default": []},
                "secret_files": {"type": "list", "elements": "str", "default": [], "no_log": False},
                "tls": {"type": "dict", "default": {}, "options": {
                    "min_version": {"type": "str", "default": "TLSv1.2", "choices": list(security.TLS_PROTOCOLS)},
                    "forbidden_ciphers": {"type": "list", "elements": "str", "default": list(security.FORBIDDEN_CIPHERS)},
                }},
            }},
            "url_checks": {"type": "list", "elements": "dict", "default": [], "options": {
                "path": {"type": "str", "required": True},
                "status": {"type": "int", "default": 200},
                "contains": {"type": "str"},
            }},
            "hosts": {"type": "dict", "default": {}},
            "command_checks": {"type": "list", "elements": "dict", "default": [], "options": {
                "name": {"type": "str", "required": True},
                "argv": {"type": "list", "elements": "str", "required": True},
                "rc": {"type": "int", "default": 0},
                "stdout": {"type": "str"},
            }},
            "command_results": {"type": "dict", "default": {}},
            "release_artifact": {"type": "path"},
            "advisories": {"type": "path"},
            "request_timeout": {"type": "float", "default": 5.0},
            "validate_certs": {"type": "bool", "default": True},
        },
        required_by={"advisories": "release_artifact"},
        supports_check_mode=True,
    )
    p = module.params
    policy = p["policy"] or {}
    if unfit_url(p["lb_urls"]):
        module.fail_json(msg="lb_" + unfit_url(p["lb_urls"]))
    paths = [("probe_path", p["probe_path"])] + [(f"policy.forbidden_paths[{index}]", path)
                                                 for index, path in enumerate(policy.get("forbidden_paths") or [])]
    for field, path in paths:
        if not path.startswith("/"):
            module.fail_json(msg=f"{field}: a URL path starting with /, got {path!r}")

    def get(url, headers):
        status, answer_headers, body = http_answer.answer(url, p["request_timeout"], p["validate_certs"], headers,
                                                          follow_redirects="none", max_body=MAX_BODY)
        return status, answer_headers, body.decode("utf-8", errors="replace")

    try:
        checks = security.url_checks_of(p["url_checks"])
        observed = security.observe(get, p["lb_urls"], p["routing_headers"], p["probe_path"],
                                    policy.get("forbidden_paths") or [], checks)
        observed["hosts"] = {}
        for host, found in sorted(p["hosts"].items()):
            if not isinstance(found, dict):
                module.fail_json(msg=f"hosts.{host}: not a fingerprint (a mapping of sections); was it read?")
            observed["hosts"][host] = {"ports": sorted(found.get("ports") or {}), "modes": found.get("modes") or {},
                                       "tls": found.get("tls") or {}}
        if p["command_checks"]:
            # Every idle host whose fingerprint came must have run them.
            results = dict.fromkeys(p["hosts"], None)
            results.update(p["command_results"])
            observed["commands"] = {"checks": security.command_checks_of(p["command_checks"]), "results": results}
        if p["advisories"]:
            wheels, requirements = app_release.python_packages_in(p["release_artifact"])
            packages = osv.packages_of_release(wheels, requirements)
            observed["packages"] = len(packages)
            observed["vulnerabilities"] = osv.findings(packages, osv.load(p["advisories"]))
        judged = security.judge(policy, observed)
        if "commands" in observed:
            # Exit codes only: a command's output may hold what must not reach a log.
            observed["commands"] = {host: None if ran is None else dict(
                security.command_outcome(entry)[:2] for entry in ran if isinstance(entry, dict))
                for host, ran in observed["commands"]["results"].items()}
    except (security.PolicyError, osv.OsvError, app_release.ReleaseError) as exc:
        module.fail_json(msg=str(exc))
    module.exit_json(changed=False, observed=observed, **judged)


if __name__ == "__main__":
    main()
