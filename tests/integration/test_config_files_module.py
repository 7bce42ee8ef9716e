"""config_files through ansible on a temporary directory: modes written unquoted in YAML (ints),
directories it is not asked to change, and a bounded number of generated hostile calls (paths
with '..', NUL, newlines, huge or non-ASCII names; modes as strings and numbers; owners that do
not exist): each one fails naming its field and leaves the directory as it was, or makes
exactly the change asked for. Never a traceback."""
import os
import re
import stat
import tempfile

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from lb_harness import run_task

NAMED_FIELD = re.compile(r"^(files|directories)\[\d+\](\.(path|content|owner|group|mode))?: ")


def test_an_unquoted_yaml_mode_is_the_mode_it_reads_as_with_a_warning(tmp_path):
    # YAML reads an unquoted 0644 as the int 420 and 0777 as 511; they were written as modes 0420 and 0511.
    result = run_task("config_files", {"files": [{"path": str(tmp_path / "app.env"), "content": "a=1\n", "mode": 420},
                                                 {"path": str(tmp_path / "run.sh"), "content": "", "mode": 511}]})
    assert result["changed"], result
    assert stat.S_IMODE(os.stat(tmp_path / "app.env").st_mode) == 0o644
    assert stat.S_IMODE(os.stat(tmp_path / "run.sh").st_mode) == 0o777
    assert any("files[0].mode: the number 420 was taken as mode 0644" in warning for warning in result["warnings"])
    again = run_task("config_files", {"files": [{"path": str(tmp_path / "app.env"), "content": "a=1\n", "mode": 420}]})
    assert not again["changed"], again


def test_a_directory_keeps_the_mode_it_has_unless_one_is_given(tmp_path):
    kept = tmp_path / "kept"
    kept.mkdir()
    os.chmod(kept, 0o2770)
    args = {"directories": [{"path": str(kept)}, {"path": str(tmp_path / "new")}],
            "files": [{"path": str(kept / "app.env"), "content": "a=1\n"}]}
    result = run_task("config_files", args)
    assert result["changed_directories"] == [str(tmp_path / "new")], result
    assert stat.S_IMODE(os.stat(kept).st_mode) == 0o2770
    assert stat.S_IMODE(os.stat(tmp_path / "new").st_mode) == 0o755
    assert not run_task("config_files", args, check=True)["changed"]


# Text Ansible hands over as it is: no Jinja ({), no environment variables ($) in paths.
SAFE_TEXT = st.text(alphabet=st.characters(exclude_characters="{$/", exclude_categories=["Cs"]), min_size=1, max_size=10)
# Each field: values that are fit, and hostile ones.
NAMES = (st.sampled_from(["app.env", "é", "日本語", "with space"]),
         st.one_of(st.sampled_from(["..", "a\x00b", "line\n", "n" * 300]), SAFE_TEXT))
MODES = (st.one_of(st.none(), st.sampled_from(["0640", "0755"]), st.integers(0, 0o7777)),
         st.one_of(st.sampled_from(["rw-r--r--", "0o644", "", True]), st.integers(-1, 0o10000)))
OWNERS = (st.sampled_from([None, "root", "0"]), st.sampled_from(["no-such-user-here", "4294967295", "r\x00ot"]))
CONTENTS = (st.text(alphabet=st.characters(exclude_characters="{", exclude_categories=["Cs"]), max_size=20),) * 2


@st.composite
def calls(draw, base):
    """Module arguments below `base`: half of them fit throughout, in the others a field is
    hostile one time in three."""
    hostile = draw(st.booleans())

    def value(field):
        fit, unfit = field
        return draw(unfit if hostile and draw(st.integers(0, 2)) == 0 else fit)

    directory = value(NAMES) if draw(st.booleans()) else None
    files = []
    for _index in range(draw(st.integers(1, 2))):
        parent = draw(st.sampled_from([base, f"{base}/conf.d"] + ([f"{base}/{directory}"] if directory else [])))
        spec = {"path": f"{parent}/{value(NAMES)}", "content": value(CONTENTS), "mode": value(MODES), "owner": value(OWNERS)}
        files.append({key: found for key, found in spec.items() if found is not None})
    args = {"files": files}
    if directory:
        spec = {"path": f"{base}/{directory}", "mode": value(MODES), "owner": value(OWNERS)}
        args["directories"] = [{key: found for key, found in spec.items() if found is not None}]
    return args


def snapshot(base):
    found = {}
    for root, directories, files in os.walk(base):
        for name in directories + files:
            path = os.path.join(root, name)
            info = os.lstat(path)
            found[path] = (info.st_mode, info.st_uid, info.st_gid, open(path, "rb").read() if name in files else None)
    return found


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_a_hostile_call_through_the_module_is_refused_naming_its_field_or_makes_exactly_the_change(data):
    with tempfile.TemporaryDirectory() as base:
        os.mkdir(os.path.join(base, "conf.d"), 0o700)
        args = data.draw(calls(base))
        before = snapshot(base)
        result = run_task("config_files", args)
        if result.get("failed"):
            named = NAMED_FIELD.match(result["msg"])
            assert named and result["msg"].endswith("nothing was changed"), result["msg"]
            assert snapshot(base) == before
            # With --hypothesis-show-statistics: which fields were refused, and how often a change was made.
            event(f"refused: {named.group(0)}")
            return
        event("changed")
        assert result["changed"], result
        for spec in args["files"]:
            path = os.path.normpath(spec["path"])
            with open(path, encoding="utf-8", newline="") as handle:
                assert handle.read() == spec["content"]
            mode = spec.get("mode", "0644")
            assert stat.S_IMODE(os.lstat(path).st_mode) == (mode if isinstance(mode, int) else int(mode, 8))
