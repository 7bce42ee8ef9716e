"""config_files: what differs is found, a staging failure replaces nothing, bad fields are named."""

import grp
import os
import pwd

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
    with pytest.raises(OSError):
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
