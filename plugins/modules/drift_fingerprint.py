#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later

from __future__ import annotations

DOCUMENTATION = r"""
module: drift_fingerprint
short_description: Read one app host's fingerprint for the drift gate
version_added: 0.1.0
description:
  - Reads, in one task on the host, what M(tracegate.bluegreen.drift_check) compares across
    the colors - installed packages, the release the service's current link points at, the
    digests of its configuration files (with the host's name and color made neutral), modes
    and owners of configuration and key files, listening TCP sockets, selected sysctls, the
    sandbox settings of the service's systemd units, and the tracing fingerprint the
    C(tracing_agent) role left for the service (its local fact C(tracing_agent_<service>)).
  - Reads only; a file that does not exist is reported as absent, one that cannot be read
    fails the task naming it.
author: tracegate.bluegreen developers (@tracegate)
attributes:
  check_mode:
    support: full
    description: Only reads.
  diff_mode:
    support: none
    description: Changes nothing.
  idempotent:
    support: full
    description: Never changes anything.
options:
  service:
    description: The service; its unit C(<service>.service) and its directories C(/etc/<service>) and C(/opt/<service>).
    type: str
    required: true
  color:
    description: The host's color, made neutral in the values.
    type: str
    required: true
    choices: [blue, green]
  files:
    description: Configuration files whose contents are compared. Defaults to every file in C(/etc/<service>).
    type: list
    elements: path
  mode_paths:
    description: Files and directories whose mode and owner are compared. Defaults to O(files) and C(/etc/<service>) itself.
    type: list
    elements: path
  units:
    description: Units whose sandbox settings are compared.
    type: list
    elements: str
  sysctls:
    description: Kernel settings compared, by name.
    type: list
    elements: str
    default: [net.ipv4.ip_forward, net.ipv4.tcp_syncookies, kernel.kptr_restrict, kernel.dmesg_restrict]
  packages:
    description: Compare the versions of every installed Debian package.
    type: bool
    default: true
  tls_endpoints:
    description:
      - The app's TLS listeners, asked from the host itself; a port (on C(127.0.0.1)) or C(address:port).
      - Each is offered every TLS version and every cipher suite up to TLS 1.2 that the host's OpenSSL knows,
        certificates unverified; what it accepts is the C(tls) section, compared across the colors as a
        security setting and judged by M(tracegate.bluegreen.security_check).
    type: list
    elements: str
    default: []
  tls_timeout:
    description: Seconds to wait for each TLS connection and handshake.
    type: float
    default: 3.0
"""

EXAMPLES = r"""
- name: Read this host's fingerprint
  tracegate.bluegreen.drift_fingerprint:
    service: shop
    color: "{{ bluegreen_color }}"
    tls_endpoints: [8443]
  register: bluegreen_fingerprint
"""

RETURN = r"""
fingerprint:
  description:
    - Sections C(packages), C(artifact), C(files), C(modes), C(ports), C(sysctls), C(units), C(tracing) and C(tls), each a mapping.
    - C(tls) has, per endpoint, one key per TLS version (C(accepted), C(refused), or C(untested) when the
      host's OpenSSL cannot offer it), C(ciphers) (suites accepted up to TLS 1.2) and C(negotiated); or C(error).
  type: dict
  returned: success
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.tracegate.bluegreen.plugins.module_utils import deployment_lock, fingerprint, tls_probe


def _run(module, argv):
    code, out, err = module.run_command(argv)
    if code != 0:
        raise fingerprint.FingerprintError(f"{' '.join(argv[:2])} failed ({code}): {err.strip()[:200]}")
    return out


def main():
    module = AnsibleModule(
        argument_spec={
            "service": {"type": "str", "required": True},
            "color": {"type": "str", "required": True, "choices": ["blue", "green"]},
            "files": {"type": "list", "elements": "path"},
            "mode_paths": {"type": "list", "elements": "path"},
            "units": {"type": "list", "elements": "str"},
            "sysctls": {"type": "list", "elements": "str",
                        "default": ["net.ipv4.ip_forward", "net.ipv4.tcp_syncookies", "kernel.kptr_restrict",
                                    "kernel.dmesg_restrict"]},
            "packages": {"type": "bool", "default": True},
            "tls_endpoints": {"type": "list", "elements": "str", "default": []},
            "tls_timeout": {"type": "float", "default": 3.0},
        },
        supports_check_mode=True,
    )
    p = module.params
    host = os.uname().nodename
    service, color = p["service"], p["color"]
    try:
        # The name makes paths (/etc/<service>, its unit, its tracing fact): the lock's rule.
        deployment_lock.check_service(service)
    except deployment_lock.LockError as exc:
        module.fail_json(msg=str(exc))
    config_dir = f"/etc/{service}"
    try:
        endpoints = [tls_probe.endpoint_of(item, index) for index, item in enumerate(p["tls_endpoints"])]
    except tls_probe.TlsProbeError as exc:
        module.fail_json(msg=str(exc))
    try:
        files = p["files"]
        if files is None:
            files = sorted(os.path.join(config_dir, name) for name in os.listdir(config_dir)) if os.path.isdir(config_dir) else []
        mode_paths = p["mode_paths"] if p["mode_paths"] is not None else [config_dir] + files
        units = p["units"] if p["units"] is not None else [f"{service}.service"]
        found = {
            "files": {path: fingerprint.file_digest(path, host, color) for path in files},
            "modes": {path: fingerprint.mode_of(path) for path in mode_paths},
            "sysctls": {name: fingerprint.read_sysctl(name) for name in p["sysctls"]},
            "artifact": {"current": os.path.basename(os.path.realpath(f"/opt/{service}/current"))},
            "ports": {},
            "units": {},
            "tracing": {},
            "tls": {},
        }
        for address, port in endpoints:
            try:
                accepted = tls_probe.probe(address, port, p["tls_timeout"])
            except OSError as exc:
                accepted = {"error": str(exc) or exc.__class__.__name__}
            label = tls_probe.label_of(address, port)
            found["tls"].update({f"{label}/{setting}": value for setting, value in accepted.items()})
        for path, ipv6 in (("/proc/net/tcp", False), ("/proc/net/tcp6", True)):
            if os.path.exists(path):
                with open(path, encoding="ascii") as handle:
                    found["ports"].update(dict.fromkeys(fingerprint.parse_proc_net_tcp(handle.read(), ipv6), "listening"))
        for unit in units:
            argv = ["systemctl", "show", unit] + [arg for name in fingerprint.UNIT_SETTINGS for arg in ("-p", name)]
            settings = fingerprint.parse_systemctl_show(_run(module, argv))
            found["units"].update({f"{unit}/{name}": value for name, value in settings.items()})
        found["tracing"] = fingerprint.tracing_fingerprint(service)
        if p["packages"]:
            found["packages"] = fingerprint.parse_dpkg(
                _run(module, ["dpkg-query", "-W", "-f", "${Package} ${Version} ${db:Status-Abbrev}\n"]))
    except fingerprint.FingerprintError as exc:
        module.fail_json(msg=str(exc))
    except (OSError, ValueError) as exc:
        module.fail_json(msg=f"fingerprint of {service} on {host}: {exc}")
    module.exit_json(changed=False, fingerprint=found, host=host)


if __name__ == "__main__":
    main()
