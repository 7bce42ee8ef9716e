"""P-audit: the audit log's two costs that grow with its content.

- Verifying a log of 100,000 records (chain, canonical form of every line, sequence, time
  order, every signature, the seal) with the verifier alone. Goal: under 2 s. The baseline
  beside it is reading the same file and decoding every line with json.loads.
- Appending after a 10 MB record (gate evidence of many span operations): the playbook's
  writer appends the large record, then the audit_trail callback's writer, which must take the
  chain's position from that record, appends its task result. Goal: under 0.1 s. The
  baseline beside it is the least such a writer must do: read the record's bytes from the
  file and hash them (SHA-256). Without fsync, which costs both the same.
"""

import hashlib
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / ".collections"))

# pylint: disable=wrong-import-position
import json  # noqa: E402

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey  # noqa: E402

from ansible_collections.tracegate.bluegreen.plugins.module_utils import audit  # noqa: E402

VERIFY_GOAL_S = 2.0
APPEND_GOAL_S = 0.1
ROUNDS = 5


def verification(key, workdir, records=100000):
    path = Path(workdir) / "audit.jsonl"
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
    assert len(decoded) == records
    print(f"audit: verified {report['records']} records ({report['signed_records']} signed) in {elapsed:.3f} s "
          f"(goal < {VERIFY_GOAL_S:g} s); reading and json.loads of every line {baseline:.3f} s; ratio {elapsed / baseline:.2f}")
    return elapsed < VERIFY_GOAL_S


def large_evidence(size=10 << 20):
    """Gate evidence of `size` bytes or more: numbers per span operation, as trace_health gives."""
    entry = {"requests": 1000, "errors": 3, "error_rate": 0.003, "p95_ms": 12.5}
    per_operation = len(audit.canonical({"GET /api/items/000000": entry}))
    return {f"GET /api/items/{operation:06d}": entry for operation in range(size // (per_operation - 1) + 1)}


def append_after(key, path, evidence):
    """(seconds the callback's writer takes to append after the playbook's writer appended
    a gate record holding `evidence`, seconds to read that record's line and hash it),
    medians of ROUNDS."""
    playbook = audit.AuditWriter(str(path), "bench-run", key, sync=False)
    callback = audit.AuditWriter(str(path), "bench-run", key, sync=False)
    appends, reads = [], []
    for _round in range(ROUNDS):
        start = path.stat().st_size if path.exists() else 0
        playbook.append("gate_result", gate="trace_health", verdict="pass", evidence=evidence)
        started = time.perf_counter()
        with open(path, "rb") as handle:
            handle.seek(start)
            hashlib.sha256(handle.read(path.stat().st_size - start - 1)).hexdigest()
        reads.append(time.perf_counter() - started)
        started = time.perf_counter()
        callback.append("task_result", host="localhost", task="Judge the gate", action="tracegate.bluegreen.trace_health",
                        status="ok")
        appends.append(time.perf_counter() - started)
    playbook.seal("succeeded")
    assert audit.verify_file(str(path), {audit.key_id_of(key.public_key()): key.public_key()})["ok"]
    return statistics.median(appends), statistics.median(reads)


def append_after_large_record(key, workdir):
    evidence = large_evidence()
    size = len(audit.canonical(evidence))
    elapsed, baseline = append_after(key, Path(workdir) / "large.jsonl", evidence)
    print(f"audit: appended after a {size / (1 << 20):.1f} MiB record in {elapsed * 1000:.1f} ms "
          f"(goal < {APPEND_GOAL_S * 1000:g} ms); reading and hashing that record {baseline * 1000:.1f} ms; "
          f"ratio {elapsed / baseline:.2f} (medians of {ROUNDS})")
    return elapsed < APPEND_GOAL_S


def main():
    key = Ed25519PrivateKey.generate()
    with tempfile.TemporaryDirectory() as workdir:
        met = [verification(key, workdir), append_after_large_record(key, workdir)]
    return 0 if all(met) else 1


if __name__ == "__main__":
    sys.exit(main())
