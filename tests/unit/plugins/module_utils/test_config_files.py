"""config_files: what differs is found, a staging failure replaces nothing, bad fields are named."""

import errno
import grp
import os
import pwd
import subprocess

import pytest

from ansible_collections.tracegate.bluegreen.plugins.module_utils import config_files

ME = pwd.getpwuid(os.getuid()).pw_name
MY_GROUP = grp.getgrgid(os.getgid()).gr_name


def item(path, content="a=1\n", mode="0640", **extra):
    return config_files.compare(config_files.wanted(dict(path=str(path), content=content, owner=ME, group=MY_GROUP,
                                                         mode=mode, **extra), "files[0]"))


def test_only_what_differs_is_written_and_a_second_pass_finds_nothing(tmp_path):
    same = tmp_path / "same.env"
    same.write_text("a=1\n")
    os.chmod(same, 0o640)
    files = [item(tmp_path / "new.env"), item(same), item(tmp_path / "same.env", content="a=2\n")]
    assert [f.differs for f in files] == [["missing"], [], ["content"]]
    config_files.apply([], files[:2])
    assert (tmp_path / "new.env").read_text() == "a=1\n"
    assert oct(os.stat(tmp_path / "new.env").st_mode & 0o777) == "0o640"
    assert item(tmp_path / "new.env").differs == []
    os.chmod(same, 0o644)
    assert item(same).differs == ["mode"]


def test_a_staging_failure_replaces_no_file(tmp_path):
    first = tmp_path / "first.env"
    first.write_text("old\n")
    files = [item(first, content="new\n"), item(tmp_path / "no-such-dir" / "second.env")]
    with pytest.raises(config_files.ConfigError, match=r"^files\[0\]: writing .*/no-such-dir/second.env failed"):
        config_files.apply([], files)
    assert first.read_text() == "old\n"
    assert [name for name in os.listdir(tmp_path) if name.startswith(".")] == []


def test_directories_are_created_before_the_files_in_them(tmp_path):
    directory = config_files.compare(config_files.wanted(dict(path=str(tmp_path / "facts.d"), mode="0750"),
                                                         "directories[0]", is_dir=True))
    file = item(tmp_path / "facts.d" / "x.fact")
    assert directory.differs == ["missing"] and file.differs == ["missing"]
    config_files.apply([directory], [file])
    assert oct(os.stat(tmp_path / "facts.d").st_mode & 0o777) == "0o750"
    assert (tmp_path / "facts.d" / "x.fact").read_text() == "a=1\n"


@pytest.mark.parametrize("spec, where, message", [
    ({"path": "relative.env", "content": ""}, "files[2]", r"files\[2\]\.path: 'relative.env' is not an absolute path"),
    ({"path": "/etc/x", "content": "", "mode": "rw-r"}, "files[0]", r"files\[0\]\.mode: 'rw-r' is not an octal mode"),
    ({"path": "/etc/x", "content": "", "group": "no-such-group-here"}, "files[1]",
     r"files\[1\]\.group: no group named 'no-such-group-here'"),
    ({"path": "/etc/x", "content": "", "owner": "no-such-user-here"}, "files[0]",
     r"files\[0\]\.owner: no user named 'no-such-user-here'"),
])
def test_bad_fields_are_named(spec, where, message):
    with pytest.raises(config_files.ConfigError, match=message):
        config_files.wanted(spec, where)


def test_a_directory_where_a_file_belongs_is_refused(tmp_path):
    with pytest.raises(config_files.ConfigError, match="not a regular file"):
        item(tmp_path)


@pytest.mark.parametrize("mode, expected", [(420, 0o644), (0o777, 0o777), (0o640, 0o640), (644, 0o1204)])
def test_a_mode_given_as_a_number_is_that_number_with_a_warning(mode, expected):
    # An unquoted YAML 0644 arrives as the int 420; read as the octal digits of '420' it was mode 0420.
    wanted = config_files.wanted({"path": "/etc/x", "content": "", "mode": mode}, "files[3]")
    assert wanted.mode == expected
    assert wanted.warnings == [f"files[3].mode: the number {mode} was taken as mode {expected:04o}, as ansible.builtin.file "
                               "takes it (an unquoted YAML 0644 is the number 420); quote modes, such as '0640'"]
    assert config_files.wanted({"path": "/etc/x", "content": "", "mode": "0644"}, "files[0]").warnings == []


@pytest.mark.parametrize("spec, message", [
    ({"mode": True}, r"files\[0\]\.mode: True is not an octal mode"),
    ({"mode": -1}, r"files\[0\]\.mode: the number -1 is no mode"),
    ({"mode": 0o10000}, r"files\[0\]\.mode: the number 4096 is no mode"),
    ({"mode": "0o644"}, r"files\[0\]\.mode: '0o644' is not an octal mode"),
    ({"mode": "u=rw"}, r"files\[0\]\.mode: 'u=rw' is not an octal mode"),
    ({"mode": 6.44}, r"files\[0\]\.mode: 6.44 is not an octal mode"),
    ({"path": "/etc/x\n"}, r"files\[0\]\.path: '/etc/x\\n' holds a control character"),
    ({"path": "/etc/x\x00y"}, r"files\[0\]\.path: '/etc/x\\x00y' holds a control character"),
    ({"path": "/etc/../x"}, r"files\[0\]\.path: '/etc/../x' has a '..' component"),
    ({"path": "/etc/\ud800"}, r"files\[0\]\.path: '/etc/\\ud800' is not valid text"),
    ({"path": "/" + "x" * 5000}, r"files\[0\]\.path: '/x{58}\.\.\.x{14}' \(5001 characters\) cannot be looked at: File name too long"),
    ({"owner": "4294967295"}, r"files\[0\]\.owner: 4294967295 is beyond the largest uid, 4294967294"),
    ({"group": "١٢"}, r"files\[0\]\.group: no group named '١٢'"),
    ({"owner": "ro\x00ot"}, r"files\[0\]\.owner: no user named 'ro\\x00ot'"),
    ({"content": "\ud800"}, r"files\[0\]\.content: not valid text \(surrogates not allowed at character 0\)"),
    ({"content": None}, r"files\[0\]\.content: required for a file"),
])
def test_hostile_fields_are_named(spec, message):
    with pytest.raises(config_files.ConfigError, match=message):
        config_files.compare(config_files.wanted(dict({"path": "/etc/x", "content": ""}, **spec), "files[0]"))


def test_an_existing_directory_keeps_its_mode_unless_one_is_given(tmp_path):
    (tmp_path / "kept").mkdir(mode=0o700)
    os.chmod(tmp_path / "kept", 0o700)
    directories = [config_files.compare(config_files.wanted({"path": str(tmp_path / name)}, f"directories[{index}]",
                                                            is_dir=True))
                   for index, name in enumerate(["kept", "new"])]
    assert [d.differs for d in directories] == [[], ["missing"]]
    config_files.apply(directories, [])
    assert oct(os.stat(tmp_path / "kept").st_mode & 0o7777) == "0o700"
    assert oct(os.stat(tmp_path / "new").st_mode & 0o7777) == "0o755"


def test_files_are_checked_against_each_other_and_their_directories_before_anything_is_written(tmp_path):
    with pytest.raises(config_files.ConfigError, match=r"^files\[1\]\.path: .*/a.env is also files\[0\]\.path$"):
        config_files.plan([], [{"path": str(tmp_path / "a.env"), "content": "1"}, {"path": f"{tmp_path}//a.env", "content": "2"}])
    with pytest.raises(config_files.ConfigError, match=r"^files\[0\]\.path: its directory .*/missing does not exist"):
        config_files.plan([], [{"path": str(tmp_path / "missing" / "a.env"), "content": ""}])
    plan = config_files.plan([{"path": str(tmp_path / "new" / "deeper")}],
                             [{"path": str(tmp_path / "new" / "deeper" / "a.env"), "content": ""}])
    assert plan.changed_files == [str(tmp_path / "new" / "deeper" / "a.env")]


def test_a_staging_failure_takes_back_the_directories_changes(tmp_path, monkeypatch):
    (tmp_path / "existing").mkdir()
    os.chmod(tmp_path / "existing", 0o700)
    plan = config_files.plan([{"path": str(tmp_path / "existing"), "mode": "0755"},
                              {"path": str(tmp_path / "new" / "deeper"), "mode": "0750"}],
                             [{"path": str(tmp_path / "new" / "deeper" / "a.env"), "content": "a=1\n"}])

    def disk_full(_fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(config_files.ConfigError, match=r"^files\[0\]: writing .*/a.env failed \(No space left on device\)$"):
        config_files.apply(plan.directories, plan.files)
    assert os.listdir(tmp_path) == ["existing"] and os.listdir(tmp_path / "existing") == []
    assert oct(os.stat(tmp_path / "existing").st_mode & 0o7777) == "0o700"


def run_command(argv):
    """What the module's run_command gives apply: a real process."""
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    return done.returncode, done.stdout, done.stderr


def test_a_validate_command_checks_the_staged_copy_and_a_refusal_writes_nothing(tmp_path):
    conf = tmp_path / "etc" / "svc"
    good, bad = conf / "good.yaml", conf / "bad.yaml"
    # A real command: grep accepts a file holding "valid" and refuses any other.
    check = "grep -q '^valid$' %s"
    plan = config_files.plan([{"path": str(conf)}], [
        {"path": str(good), "content": "valid\n", "validate": check},
        {"path": str(bad), "content": "broken\n", "validate": check}])
    with pytest.raises(config_files.ConfigError, match=r"files\[1\]\.validate: .*bad.yaml not written, grep refused it: exit code 1"):
        config_files.apply(plan.directories, plan.files, run_command)
    assert not conf.exists(), "the directory this call created was taken back"
    plan = config_files.plan([{"path": str(conf)}], [{"path": str(good), "content": "valid\n", "validate": check}])
    config_files.apply(plan.directories, plan.files, run_command)
    assert good.read_text() == "valid\n" and sorted(p.name for p in conf.iterdir()) == ["good.yaml"]


def test_the_validate_command_sees_the_staged_copy_and_its_first_line_is_the_reason(tmp_path):
    seen = []

    def run(argv):
        seen.append((argv, open(argv[-1].partition("=")[2], encoding="utf-8").read()))
        return 3, "", "\nline 2: unknown key 'recievers'\nmore\n"
    target = tmp_path / "otelcol.yaml"
    target.write_text("old\n")
    plan = config_files.plan([], [{"path": str(target), "content": "new\n", "validate": "otelcol validate --config=%s"}])
    with pytest.raises(config_files.ConfigError, match="otelcol refused it: line 2: unknown key 'recievers'$"):
        config_files.apply(plan.directories, plan.files, run)
    (argv, content), = seen
    assert argv[:2] == ["otelcol", "validate"] and argv[2].startswith(f"--config={tmp_path}/.otelcol.yaml.") and content == "new\n"
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["otelcol.yaml"]


def test_an_unchanged_file_is_not_validated_again(tmp_path):
    target = tmp_path / "app.conf"
    target.write_text("same\n")
    target.chmod(0o644)
    plan = config_files.plan([], [{"path": str(target), "content": "same\n", "validate": "false %s"}])
    config_files.apply(plan.directories, plan.files, run_command)
    assert plan.changed_files == []


@pytest.mark.parametrize("validate, named", [
    ("nginx -t", "must be a command that names the file as %s"),
    ("", "must be a command that names the file as %s"),
    ("check 'unclosed %s", "cannot be split into arguments"),
])
def test_a_validate_command_that_cannot_check_the_file_is_named(tmp_path, validate, named):
    with pytest.raises(config_files.ConfigError, match=r"files\[0\]\.validate: .*" + named):
        config_files.plan([], [{"path": str(tmp_path / "x.conf"), "content": "x\n", "validate": validate}])
