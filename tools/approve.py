"""Sign an approval of a change for the cutover playbook (bluegreen_approval).

    python3 tools/approve.py --key alice.key --approver alice --ticket CHG-1234 --service checkout \
        --release-sha256 <sha256 of the artifact> --valid-hours 8 > CHG-1234.approval.json

The approver's Ed25519 private key (PEM) stays with the approver; the run is given the
approvers' public keys (bluegreen_approver_keys).
"""

import argparse
import datetime
import json
import os
import sys
from pathlib import Path

# Installed, this file is .../ansible_collections/tracegate/bluegreen/tools/; in a checkout
# the collection is found through ANSIBLE_COLLECTIONS_PATH (the Makefile sets it).
HERE = Path(__file__).resolve()
if HERE.parents[3].name == "ansible_collections":
    sys.path.insert(0, str(HERE.parents[4]))
sys.path[1:1] = [p for p in os.environ.get("ANSIBLE_COLLECTIONS_PATH", "").split(os.pathsep) if p]

# pylint: disable=wrong-import-position
from ansible_collections.tracegate.bluegreen.plugins.module_utils import approval, audit  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--key", required=True, help="the approver's Ed25519 private key (PEM)")
    parser.add_argument("--approver", required=True)
    parser.add_argument("--ticket", required=True)
    parser.add_argument("--service", required=True)
    parser.add_argument("--release-sha256", required=True)
    parser.add_argument("--valid-hours", type=float, default=8.0)
    args = parser.parse_args()
    expires = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=args.valid_hours)
    document = approval.sign(audit.load_private_key(args.key), args.ticket, args.service, args.release_sha256,
                             args.approver, expires.strftime("%Y-%m-%dT%H:%M:%SZ"))
    print(json.dumps(document, indent=2, sort_keys=True))


if __name__ == "__main__":
    main()
