"""The append-only copy of an audit log on a real directory."""
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ansible_collections.tracegate.bluegreen.plugins.module_utils import audit
from ansible_collections.tracegate.bluegreen.plugins.module_utils.audit_copy import (
    CopyDiverged, CopyRefused, append_lines, check_copy, plan_append, split_log,
)

KEY = Ed25519PrivateKey.generate()
KEYS = {audit.key_id_of(KEY.public_key()): KEY.public_key()}
# Span operation names, chosen by the release under test, become gate evidence keys.
ODD_OPERATIONS = ["GET /a\u2028b", "GET /c\u2029d", "GET /e\u0085f"]


def controller_log(tmp_path, records=3, operations=("GET /api",)):
    """Lines of a real log as the controller passes them: split at line feeds only."""
    path = tmp_path / "controller.jsonl"
    writer = audit.AuditWriter(str(path), "run-1", KEY)
    writer.append("run_start", actor="alice")
    for step in range(records - 2):
        writer.append("gate_result", step=step, evidence={name: {"requests": 10} for name in operations})
    writer.seal("succeeded")
    return split_log(path.read_text(encoding="utf-8"))


def test_the_copy_takes_only_the_lines_it_lacks(tmp_path):
    lines = controller_log(tmp_path, records=4)
    path = str(tmp_path / "audit" / "run.jsonl")
    held, new = plan_append(path, lines[:2])
    assert (held, new) == (0, lines[:2])
    append_lines(path, new)
    held, new = plan_append(path, lines)
    assert (held, new) == (2, lines[2:])
    append_lines(path, new)
    check_copy(path, lines)
    assert (tmp_path / "audit" / "run.jsonl").read_text(encoding="utf-8") == "".join(line + "\n" for line in lines)
    assert plan_append(path, lines) == (4, [])
    assert oct((tmp_path / "audit" / "run.jsonl").stat().st_mode & 0o777) == "0o640"


def test_an_altered_copy_or_log_is_named_and_nothing_is_appended(tmp_path):
    lines = controller_log(tmp_path, records=4)
    path = tmp_path / "run.jsonl"
    altered = [lines[0], lines[1].replace('"requests":10', '"requests":11'), lines[2]]
    path.write_text("".join(line + "\n" for line in altered), encoding="utf-8")
    with pytest.raises(CopyDiverged, match="at record 1"):
        plan_append(str(path), lines)
    with pytest.raises(CopyDiverged, match="holds 3 records, more than the controller's 2"):
        plan_append(str(path), altered[:2])
    assert path.read_text(encoding="utf-8") == "".join(line + "\n" for line in altered)


def test_records_holding_line_separators_are_copied_whole_and_verify(tmp_path):
    lines = controller_log(tmp_path, records=4, operations=ODD_OPERATIONS)
    assert len(lines) == 4 and any("\u2028" in line for line in lines)
    path = str(tmp_path / "copy.jsonl")
    held, new = plan_append(path, lines[:3])
    append_lines(path, new)
    held, new = plan_append(path, lines)
    assert (held, new) == (3, lines[3:])
    append_lines(path, new)
    check_copy(path, lines)
    assert audit.verify_file(path, KEYS)["ok"]


def test_lines_split_at_a_line_separator_are_refused_before_writing(tmp_path):
    lines = controller_log(tmp_path, records=3, operations=ODD_OPERATIONS)
    broken = "\n".join(lines).splitlines()
    assert len(broken) > len(lines)
    path = tmp_path / "copy.jsonl"
    with pytest.raises(CopyRefused, match="line 1 of the controller's log is not a record that follows line 0"):
        plan_append(str(path), broken)
    assert not path.exists()


def test_a_copy_that_does_not_read_back_is_named(tmp_path):
    lines = controller_log(tmp_path, records=3)
    path = tmp_path / "copy.jsonl"
    path.write_text(lines[0] + "\n" + lines[1] + "\n", encoding="utf-8")
    with pytest.raises(CopyRefused, match="at its end"):
        check_copy(str(path), lines)
