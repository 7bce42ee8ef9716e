"""Signed approvals: every way an approval can be wrong is refused with the field named."""
import datetime

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ansible_collections.tracegate.bluegreen.plugins.module_utils import approval, audit

ALICE = Ed25519PrivateKey.generate()
MALLORY = Ed25519PrivateKey.generate()
KEYS = {audit.key_id_of(ALICE.public_key()): ALICE.public_key()}
SHA = "ab" * 32
NOW = datetime.datetime(2026, 11, 25, 15, 0, tzinfo=datetime.timezone.utc)


def signed(key=ALICE, **overrides):
    args = dict(ticket="CHG-1", service="checkout", release_sha256=SHA, approver="alice", expires_at="2026-11-25T20:00:00Z",
                approved_at="2026-11-25T14:00:00.000000Z")
    args.update(overrides)
    return approval.sign(key, **args)


def check(document, executor="bob", **run):
    wanted = dict(ticket="CHG-1", service="checkout", release_sha256=SHA)
    wanted.update(run)
    return approval.verify(document, KEYS, executor=executor, now=NOW, **wanted)


def test_a_valid_approval_gives_its_facts():
    facts = check(signed())
    assert facts["approver"] == "alice" and facts["approver_key_id"] == audit.key_id_of(ALICE.public_key())


@pytest.mark.parametrize("document, run, executor, field", [
    (signed, {"ticket": "CHG-2"}, "bob", "approval.ticket"),
    (signed, {"release_sha256": "cd" * 32}, "bob", "approval.release_sha256"),
    (signed, {"service": "billing"}, "bob", "approval.service"),
    (lambda: signed(expires_at="2026-11-25T14:59:00Z"), {}, "bob", "approval.expires_at"),
    (signed, {}, "Alice", "approval.approver"),
    (lambda: signed(key=MALLORY), {}, "bob", "approval.key_id"),
    (lambda: dict(signed(), ticket="CHG-1", approver="carol"), {}, "bob", "approval.sig"),
    (lambda: {"ticket": "CHG-1"}, {}, "bob", "approval: missing"),
])
def test_every_wrong_approval_is_refused_by_name(document, run, executor, field):
    with pytest.raises(approval.ApprovalError, match=field):
        check(document(), executor=executor, **run)
