"""config_files on hostile input, generated: paths with '..', NUL, newlines, huge or non-ASCII
names, surrogates; modes as strings and as numbers, in range or not; owners and groups that do
not exist. Whatever it gets, a call either fails with a ConfigError naming the bad field and
leaves the directory exactly as it was, or makes exactly the change asked for (and a second
call finds nothing to do). Anything else (a traceback, a half-applied change) fails."""
import grp
import os
import pwd
import re
import stat
import tempfile

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from ansible_collections.tracegate.bluegreen.plugins.module_utils import config_files

ME = pwd.getpwuid(os.getuid()).pw_name
MY_GROUP = grp.getgrgid(os.getgid()).gr_name
# A bad field is named before anything is written; a write the host refuses (a chown when not
# root, a full disk) names its entry.
NAMED_FIELD = re.compile(r"^(files|directories)\[\d+\](\.(path|content|owner|group|mode))?: ")

# Each field: values that are fit, and hostile ones.
NAMES = (st.sampled_from(["app.env", "x", "é", "日本語", "with space", ".hidden", "\udcff"]),
         st.one_of(st.sampled_from(["..", ".", "", "a\x00b", "line\n", "tab\t", "\ud800", "n" * 256, "\x7f"]),
                   st.text(alphabet=st.characters(exclude_characters="/"), min_size=1, max_size=12)))
OWNERS = (st.sampled_from([None, ME, str(os.getuid())]),
          st.one_of(st.sampled_from(["0", "no-such-user-here", "", "4294967295", "99999999999999999999", "r\x00ot", "٣",
                                     "²"]), st.text(max_size=8)))
GROUPS = (st.sampled_from([None, MY_GROUP, str(os.getgid())]),
          st.one_of(st.sampled_from(["0", "no-such-group-here", "4294967296"]), st.text(max_size=8)))
MODES = (st.one_of(st.none(), st.sampled_from(["0644", "0640", "600", "0755", "0750", "0700"]), st.integers(0, 0o7777)),
         st.one_of(st.sampled_from(["7777", "10000", "0o644", "rw-r--r--", "u=rw", "", " 0644", "0644\n", True, False]),
                   st.integers(-2, 0o7777 + 2), st.text(max_size=6)))
CONTENTS = (st.text(max_size=40), st.sampled_from(["\ud800", "x" * 100000, "é\x00\r\n", None, 7]))
DEPTHS = (st.just(1), st.integers(2, 3))


def path_in(base, names):
    return "/".join([base, *names])


@st.composite
def entries(draw, base):
    """(directory specs, file specs) below `base`: a file in `base`, in its conf.d or in a
    directory of the call. Half of the calls are fit throughout, so that many make a change;
    in the others a field is hostile one time in four (a deeper path, a relative one too)."""
    hostile = draw(st.booleans())

    def value(field):
        fit, unfit = field
        return draw(unfit if hostile and draw(st.integers(0, 3)) == 0 else fit)

    def with_owner_group_mode(spec):
        spec.update({key: found for key, found in (("owner", value(OWNERS)), ("group", value(GROUPS)),
                                                   ("mode", value(MODES))) if found is not None})
        return spec

    directories = [with_owner_group_mode({"path": path_in(base, [value(NAMES) for _name in range(draw(st.integers(1, 2)))])})
                   for _index in range(draw(st.integers(0, 2)))]
    files = []
    for _index in range(draw(st.integers(1, 3))):
        parent = draw(st.sampled_from([base, f"{base}/conf.d"] + [spec["path"] for spec in directories]))
        path = path_in(parent, [value(NAMES) for _name in range(value(DEPTHS))])
        if value((st.just(False), st.booleans())):
            path = path.lstrip("/")
        files.append(with_owner_group_mode({"path": path, "content": value(CONTENTS)}))
    return directories, files


def snapshot(base):
    """Everything below `base`: kind, mode, owner, group and content of every entry."""
    found = {}
    for root, directories, files in os.walk(base):
        for name in directories + files:
            path = os.path.join(root, name)
            info = os.lstat(path)
            content = None
            if stat.S_ISREG(info.st_mode):
                with open(path, "rb") as handle:
                    content = handle.read()
            found[path] = (stat.S_IFMT(info.st_mode), stat.S_IMODE(info.st_mode), info.st_uid, info.st_gid, content)
    return found


def seeded(base):
    """A directory that already holds a file and a subdirectory the entries may name."""
    os.mkdir(os.path.join(base, "conf.d"), 0o700)
    with open(os.path.join(base, "app.env"), "w", encoding="utf-8") as handle:
        handle.write("old=1\n")
    os.chmod(os.path.join(base, "app.env"), 0o600)


def expected_mode(spec, default):
    mode = spec.get("mode")
    if mode is None:
        return default
    return mode if isinstance(mode, int) else int(mode, 8)


def check_outcome(base, directories, files, call):
    """Runs `call`; asserts its outcome as the module docstring says. Returns the error
    message, or None when the change was made."""
    before = snapshot(base)
    error = call(directories, files)
    if error is not None:
        assert NAMED_FIELD.match(error), error
        assert snapshot(base) == before, f"{error}, yet the directory changed"
        return error
    for spec in directories:
        path = os.path.normpath(spec["path"])
        assert os.path.isdir(path) and not os.path.islink(path)
        if "mode" in spec:
            assert stat.S_IMODE(os.lstat(path).st_mode) == expected_mode(spec, None)
    for spec in files:
        path = os.path.normpath(spec["path"])
        with open(path, "rb") as handle:
            assert handle.read() == spec["content"].encode()
        assert stat.S_IMODE(os.lstat(path).st_mode) == expected_mode(spec, 0o644)
    leftovers = [path for path in snapshot(base) if os.path.basename(path).startswith(".") and ".hidden" not in path
                 and path not in before and os.path.normpath(path) not in {os.path.normpath(s["path"]) for s in files}]
    assert not leftovers, f"staged copies left behind: {leftovers}"
    return None


def plan_and_apply(directories, files):
    try:
        plan = config_files.plan(directories, files)
        config_files.apply(plan.directories, plan.files)
    except config_files.ConfigError as exc:
        return str(exc)
    again = config_files.plan(directories, files)
    assert again.changed_files == [] and again.changed_directories == [], "a second call would change something"
    return None


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_a_hostile_call_is_refused_naming_its_field_or_makes_exactly_the_change(data):
    with tempfile.TemporaryDirectory() as base:
        seeded(base)
        directories, files = data.draw(entries(base))
        error = check_outcome(base, directories, files, plan_and_apply)
        # With --hypothesis-show-statistics: how often each field was refused, and how often a change was made.
        event(NAMED_FIELD.match(error).group(3) or "write" if error else "changed")
