"""Verify a tracegate.bluegreen audit log; needs only the log and the public key(s).

    python3 tools/audit_verify.py LOG --public-key KEY.pem [--public-key OLD.pem] [--run-id ID]

Prints a JSON report (`ok`, `records`, `first_bad`, every problem) and exits 0 only when
the log verifies, 1 when it does not, so CI jobs and SIEM collectors can alert on it.
"""

import argparse
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
from ansible_collections.tracegate.bluegreen.plugins.module_utils import audit  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log")
    parser.add_argument("--public-key", action="append", required=True, help="Ed25519 public key (PEM); repeatable")
    parser.add_argument("--run-id")
    args = parser.parse_args(argv)
    try:
        report = audit.verify_file(args.log, audit.load_public_keys(args.public_key), args.run_id)
    except (OSError, audit.AuditError, ValueError) as exc:
        problem = {"line": 0, "problem": str(exc)}
        report = {"ok": False, "problems": [problem], "first_bad": problem}
    print(json.dumps(report, indent=2))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
