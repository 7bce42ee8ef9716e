"""P-audit: verify an audit log of 100,000 records (chain, sequence, time order, every
signature, the seal) with the verifier alone. Goal: under 2 s. The baseline printed beside
it is reading the same file and decoding every line with json.loads."""

import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / ".collections"))

# pylint: disable=wrong-import-position
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from ansible_collections.tracegate.bluegreen.plugins.module_utils import audit  # noqa: E402


def main(records=100000):
    key = Ed25519PrivateKey.generate()
    with tempfile.TemporaryDirectory() as workdir:
        path = Path(workdir) / "audit.jsonl"
        # Written without fsync per record: the benchmark is about verification.
        writer = audit.AuditWriter(str(path), "bench-run", key, sync=False)
        for index in range(records - 1):
            if index % 1000 == 999:
                writer.checkpoint(f"phase-{index // 1000}")
            else:
                writer.append("task_result", task="Shift traffic", host=f"lb{index % 4}", changed=index % 3 == 0,
                              split={"blue": 75, "green": 25}, outcome="ok")
        writer.seal("succeeded")
        keys = {audit.key_id_of(key.public_key()): key.public_key()}

        started = time.perf_counter()
        with open(path, "rb") as handle:
            decoded = [json.loads(line) for line in handle]
        baseline = time.perf_counter() - started

        started = time.perf_counter()
        report = audit.verify_file(str(path), keys)
        elapsed = time.perf_counter() - started
    assert report["ok"], report["first_bad"]
    print(f"audit: verified {report['records']} records ({report['signed_records']} signed) in {elapsed:.3f} s "
          f"(goal < 2 s); reading and json.loads of every line {baseline:.3f} s; ratio {elapsed / baseline:.2f}")
    return elapsed, len(decoded)


if __name__ == "__main__":
    main()
