"""Verify a tracegate.bluegreen audit log; needs only the log and the public key(s).

    python3 tools/audit_verify.py LOG --public-key KEY.pem [--public-key OLD.pem] [--run-id ID]

Prints a JSON report (`ok`, `records`, `first_bad`, every problem) and exits 0 only when
the log verifies, 1 when it does not (it was altered, cut short or is not an audit log), and
2 when it could not be checked (the log or a key cannot be read, a key is not an Ed25519
public key, a library is missing; the report says which under `error`), so CI jobs and SIEM
collectors can alert on either.
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

VALID, INVALID, COULD_NOT_RUN = 0, 1, 2


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log")
    parser.add_argument("--public-key", action="append", required=True, help="Ed25519 public key (PEM); repeatable")
    parser.add_argument("--run-id")
    args = parser.parse_args(argv)
    try:
        if audit.missing_library():
            raise audit.AuditError(f"the Python library {audit.missing_library()} is required")
        report = audit.verify_file(args.log, audit.load_public_keys(args.public_key), args.run_id)
    except (OSError, audit.AuditError) as exc:
        print(json.dumps({"ok": False, "error": f"cannot verify {args.log}: {exc}"}, indent=2))
        return COULD_NOT_RUN
    print(json.dumps(report, indent=2))
    return VALID if report["ok"] else INVALID


if __name__ == "__main__":
    sys.exit(main())
