# -*- coding: utf-8 -*-
# Copyright (c) tracegate.bluegreen contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Signed approvals of a change: who approved which release of which service under which
ticket, until when. An approval is a JSON document whose Ed25519 signature covers its
canonical form (RFC 8785) without the signature; it binds the release by checksum, so it
cannot be reused for another artifact, and it names its approver, who must not be the
person who runs the change.
"""

from __future__ import annotations

import datetime

from ansible_collections.tracegate.bluegreen.plugins.module_utils import audit

FIELDS = ("v", "ticket", "service", "release_sha256", "approver", "approved_at", "expires_at", "key_id")


class ApprovalError(ValueError):
    pass


def _parse_time(name, value):
    try:
        return datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise ApprovalError(f"approval.{name}: {value!r} is not an RFC 3339 time") from None


def sign(private_key, ticket, service, release_sha256, approver, expires_at, approved_at=None):
    approved_at = approved_at or audit.utc_now()
    document = {"v": 1, "ticket": ticket, "service": service, "release_sha256": release_sha256, "approver": approver,
                "approved_at": approved_at, "expires_at": expires_at,
                "key_id": audit.key_id_of(private_key.public_key())}
    for name in ("ticket", "service", "release_sha256", "approver", "expires_at"):
        if not document[name]:
            raise ApprovalError(f"approval.{name}: required")
    _parse_time("expires_at", expires_at)
    document["sig"] = private_key.sign(audit.canonical(document)).hex()
    return document


def verify(document, public_keys, ticket, service, release_sha256, executor, now=None):
    """Returns the approval's facts for the audit log, or raises ApprovalError naming the
    field that does not hold."""
    if not isinstance(document, dict):
        raise ApprovalError("approval: not a JSON object")
    missing = [name for name in FIELDS + ("sig",) if name not in document]
    if missing:
        raise ApprovalError(f"approval: missing {', '.join(missing)}")
    key = public_keys.get(document["key_id"])
    if key is None:
        raise ApprovalError(f"approval.key_id: {document['key_id']} is not an approver key given to the run")
    payload = {name: document[name] for name in FIELDS}
    try:
        key.verify(bytes.fromhex(str(document["sig"])), audit.canonical(payload))
    except (ValueError, audit.InvalidSignature):
        raise ApprovalError("approval.sig: the signature does not match the approval (edited, or signed by another key)") from None
    for name, wanted in (("ticket", ticket), ("service", service), ("release_sha256", release_sha256)):
        if document[name] != wanted:
            raise ApprovalError(f"approval.{name}: approves {document[name]!r}, this run is {wanted!r}")
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if _parse_time("expires_at", document["expires_at"]) <= now:
        raise ApprovalError(f"approval.expires_at: expired at {document['expires_at']}")
    if _parse_time("approved_at", document["approved_at"]) > now + datetime.timedelta(minutes=5):
        raise ApprovalError(f"approval.approved_at: {document['approved_at']} is in the future")
    if str(document["approver"]).strip().lower() == str(executor).strip().lower():
        raise ApprovalError(f"approval.approver: {document['approver']} approved their own change; approver and executor must differ")
    return {"ticket": document["ticket"], "approver": document["approver"], "approver_key_id": document["key_id"],
            "approved_at": document["approved_at"], "expires_at": document["expires_at"],
            "release_sha256": document["release_sha256"]}
