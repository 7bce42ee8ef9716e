# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""What a TLS listener of the app negotiates, asked from the host it runs on: which protocol
versions it accepts and which cipher suites up to TLS 1.2 (TLS 1.3's five suites are all
strong, and Python cannot choose among them). The drift gate compares the result across the
colors and the security gate judges it against the policy (security.judge, `tls`).

Certificates are not verified: the question is what the listener accepts, not who it is."""

from __future__ import annotations

import re
import socket
import ssl
import warnings

PROTOCOLS = ("TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3")
# Suites that need a pre-shared key or an SRP password: no listener accepts them from a
# client without one, so offering them only lengthens the handshake.
_NOT_OFFERED = ("PSK", "SRP")
ACCEPTED, REFUSED, UNTESTED = "accepted", "refused", "untested"
# An IPv4 or IPv6 address or a DNS name: nothing the resolver would choke on (non-ASCII, spaces).
_HOST_NAME = re.compile(r"[A-Za-z0-9.:_-]{1,253}")


class TlsProbeError(ValueError):
    """A TLS endpoint that cannot be parsed, naming the field."""


def endpoint_of(item, index=0):
    """(address, port) from 8443, "8443", "10.0.0.5:8443" or "[::1]:8443"; the address
    defaults to 127.0.0.1 (the host asks its own listener)."""
    text = str(item).strip()
    address, port = "127.0.0.1", text
    if text.startswith("["):
        address, _colon, port = text[1:].partition("]:")
    elif ":" in text:
        address, _colon, port = text.rpartition(":")
    if not (len(port) <= 5 and port.isascii() and port.isdigit() and 0 < int(port) < 65536) or not _HOST_NAME.fullmatch(address):
        raise TlsProbeError(f"tls_endpoints[{index}]: {item!r} is not a port or address:port")
    return address, int(port)


def label_of(address, port):
    """"127.0.0.1:8443" or "[::1]:8443": how an endpoint is named in a fingerprint."""
    return f"[{address}]:{port}" if ":" in address else f"{address}:{port}"


def _version(name):
    with warnings.catch_warnings():
        # TLS 1.0 and 1.1 are deprecated in the ssl module: offering them is the point here.
        warnings.simplefilter("ignore", DeprecationWarning)
        return getattr(ssl.TLSVersion, name.replace(".", "_"))


def _context(lowest, highest, ciphers=None):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    # Security level 0: this client must offer what a weak listener would accept.
    context.set_ciphers((ciphers or "ALL:COMPLEMENTOFALL") + ":@SECLEVEL=0")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        context.minimum_version = _version(lowest)
        context.maximum_version = _version(highest)
    return context


def handshake(address, port, context, timeout):
    """(protocol, cipher) the listener chose, or None when it refused the handshake. A
    connection that cannot be made raises OSError: that is not a refusal."""
    with socket.create_connection((address, port), timeout=timeout) as raw:
        try:
            with context.wrap_socket(raw, server_hostname=None) as tls:
                return tls.version(), tls.cipher()[0]
        except ssl.SSLError:
            return None
        except ConnectionResetError:
            # Some listeners close the connection instead of sending an alert.
            return None


def probe(address, port, timeout=3.0):
    """{"TLSv1": "accepted"|"refused"|"untested", ..., "ciphers": [...], "negotiated": "TLSv1.3
    TLS_AES_256_GCM_SHA384"}; untested: this host's OpenSSL cannot offer that version.
    Raises OSError when the listener cannot be reached."""
    found = {}
    for name in PROTOCOLS:
        try:
            context = _context(name, name)
        except (ValueError, ssl.SSLError):
            found[name] = UNTESTED
            continue
        found[name] = ACCEPTED if handshake(address, port, context, timeout) else REFUSED
    chosen = handshake(address, port, _context("TLSv1", "TLSv1.3", "DEFAULT"), timeout)
    found["negotiated"] = " ".join(chosen) if chosen else None
    found["ciphers"] = _accepted_ciphers(address, port, found, timeout)
    return found


def _accepted_ciphers(address, port, found, timeout):
    """The suites accepted up to TLS 1.2: offer every suite, take away the one the listener
    chose, until it refuses (one handshake per accepted suite, not per suite known)."""
    versions = [name for name in PROTOCOLS[:3] if found.get(name) == ACCEPTED]
    if not versions:
        return []
    offered = [cipher["name"] for cipher in _context(versions[0], versions[-1]).get_ciphers()
               if cipher["protocol"] != "TLSv1.3" and not any(part in cipher["name"] for part in _NOT_OFFERED)]
    accepted = []
    while offered:
        chosen = handshake(address, port, _context(versions[0], versions[-1], ":".join(offered)), timeout)
        if not chosen or chosen[1] not in offered:
            break
        accepted.append(chosen[1])
        offered.remove(chosen[1])
    return sorted(accepted)
