# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""One host's fingerprint for the drift gate (drift.compare): what it runs, how it is
configured and how it is exposed, read in one pass. Reading is separated from parsing so that
the parsers are tested on real command output."""

from __future__ import annotations

import json
import os
import stat

from ansible_collections.tracegate.bluegreen.plugins.module_utils import drift

# The systemd settings that make a unit's sandbox: a weaker value on one color is security drift.
UNIT_SETTINGS = ("User", "Group", "NoNewPrivileges", "PrivateTmp", "ProtectSystem", "ProtectHome", "ProtectKernelTunables",
                 "ProtectControlGroups", "ReadWritePaths", "CapabilityBoundingSet", "AmbientCapabilities",
                 "RestrictAddressFamilies", "SystemCallFilter", "UMask", "LimitNOFILE")
TCP_LISTEN = "0A"
FACTS_DIR = "/etc/ansible/facts.d"


class FingerprintError(Exception):
    """A source that could not be read, naming it."""


def parse_dpkg(output):
    """{package: version} from `dpkg-query -W -f '${Package} ${Version} ${db:Status-Abbrev}\\n'`:
    installed packages only ("ii"), so a removed package with configuration left is not one."""
    packages = {}
    for line in output.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[2].startswith("ii"):
            packages[parts[0]] = parts[1]
    return packages


def parse_systemctl_show(output):
    """{setting: value} from `systemctl show -p A -p B unit` (lines "Name=value")."""
    settings = {}
    for line in output.splitlines():
        name, separator, value = line.partition("=")
        if separator:
            settings[name] = value
    return settings


def parse_proc_net_tcp(text, ipv6=False):
    """Listening TCP ports (["tcp/8080", ...]) from /proc/net/tcp or /proc/net/tcp6, with the
    address they listen on ("0.0.0.0", "127.0.0.1", "::"...): a port that moves from loopback
    to every address is drift."""
    ports = set()
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 4 or fields[3] != TCP_LISTEN:
            continue
        address_hex, port_hex = fields[1].split(":")
        address = _address(address_hex, ipv6)
        ports.add(f"tcp/[{address}]:{int(port_hex, 16)}" if ipv6 else f"tcp/{address}:{int(port_hex, 16)}")
    return sorted(ports)


def _address(hex_text, ipv6):
    raw = bytes.fromhex(hex_text)
    if not ipv6:
        return ".".join(str(b) for b in reversed(raw))
    # Four little-endian 32-bit words.
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4))
    groups = [f"{int.from_bytes(words[i:i + 2], 'big'):x}" for i in range(0, 16, 2)]
    compact = ":".join(groups)
    if compact == "0:0:0:0:0:0:0:0":
        return "::"
    if compact == "0:0:0:0:0:0:0:1":
        return "::1"
    return compact


def mode_of(path):
    """"0640 root:shop" of a path, or None when it does not exist."""
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    return f"{stat.S_IMODE(info.st_mode):04o} {_name(info.st_uid, 'pwd')}:{_name(info.st_gid, 'grp')}"


def _name(number, module):
    try:
        if module == "pwd":
            import pwd  # pylint: disable=import-outside-toplevel
            return pwd.getpwuid(number).pw_name
        import grp  # pylint: disable=import-outside-toplevel
        return grp.getgrgid(number).gr_name
    except KeyError:
        return str(number)


def file_digest(path, host, color):
    try:
        with open(path, "rb") as handle:
            return drift.neutral_digest(handle.read(), host, color)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise FingerprintError(f"files: {path} cannot be read: {exc.strerror}") from exc


def read_sysctl(name, root="/proc/sys"):
    path = os.path.join(root, *name.split("."))
    try:
        with open(path, encoding="ascii") as handle:
            return " ".join(handle.read().split())
    except FileNotFoundError:
        return None


def tracing_fact_path(service, facts_dir=FACTS_DIR):
    """The tracing_agent role's local fact for `service` (ansible_local['tracing_agent_<service>']):
    one per service, so that services sharing a host keep their own."""
    return os.path.join(facts_dir, f"tracing_agent_{service}.fact")


def tracing_fingerprint(service, facts_dir=FACTS_DIR):
    """The tracing fingerprint the tracing_agent role recorded for `service`: {} when the role
    never ran here. A host provisioned before the fact was kept per service has the one fact of
    its last provisioned service (tracing_agent.fact), read until the role runs again."""
    for path in (tracing_fact_path(service, facts_dir), os.path.join(facts_dir, "tracing_agent.fact")):
        try:
            with open(path, encoding="utf-8") as handle:
                fact = json.load(handle)
        except FileNotFoundError:
            continue
        except (OSError, ValueError) as exc:
            raise FingerprintError(f"the tracing fact {path} cannot be read: {exc}") from exc
        return {"fingerprint": fact.get("fingerprint") if isinstance(fact, dict) else None}
    return {}
