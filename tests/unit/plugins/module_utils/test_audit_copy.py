"""The append-only copy of an audit log on a real directory."""
import pytest

from ansible_collections.tracegate.bluegreen.plugins.module_utils.audit_copy import CopyDiverged, append_lines, plan_append


def test_the_copy_takes_only_the_lines_it_lacks(tmp_path):
    path = str(tmp_path / "audit" / "run.jsonl")
    held, new = plan_append(path, ["a", "b"])
    assert (held, new) == (0, ["a", "b"])
    append_lines(path, new)
    held, new = plan_append(path, ["a", "b", "c"])
    assert (held, new) == (2, ["c"])
    append_lines(path, new)
    assert (tmp_path / "audit" / "run.jsonl").read_text() == "a\nb\nc\n"
    assert plan_append(path, ["a", "b", "c"]) == (3, [])
    assert oct((tmp_path / "audit" / "run.jsonl").stat().st_mode & 0o777) == "0o640"


def test_an_altered_copy_or_log_is_named_and_nothing_is_appended(tmp_path):
    path = tmp_path / "run.jsonl"
    path.write_text("a\nEDITED\nc\n")
    with pytest.raises(CopyDiverged, match="at record 1"):
        plan_append(str(path), ["a", "b", "c", "d"])
    with pytest.raises(CopyDiverged, match="holds 3 records, more than the controller's 2"):
        plan_append(str(path), ["a", "EDITED"])
    assert path.read_text() == "a\nEDITED\nc\n"
