"""Release install on a real directory: artifact checks, unpack, link and pruning (the
virtualenv build runs a scripted command runner; its subject is our own sequencing)."""
import io
import os
import sys
import tarfile

import pytest

from ansible_collections.tracegate.bluegreen.plugins.module_utils import app_release


def artifact(tmp_path, files, name="svc-1.0.0.tar.gz", extra=None):
    path = tmp_path / name
    with tarfile.open(path, "w:gz") as archive:
        for member_name, content in files.items():
            info = tarfile.TarInfo(member_name)
            info.size = len(content)
            info.mode = 0o755 if member_name.endswith(".sh") else 0o644
            archive.addfile(info, io.BytesIO(content))
        for info in extra or []:
            archive.addfile(info)
    return str(path)


GOOD = {"svc-1.0.0/VERSION": b"1.0.0\n", "svc-1.0.0/requirements.txt": b"gunicorn\n", "svc-1.0.0/svc/app.py": b"x = 1\n",
        "svc-1.0.0/bin/run.sh": b"#!/bin/sh\n"}


def made_release(path):
    """A directory as unpack() makes it: marked as made by the module."""
    os.makedirs(os.path.join(path, ".venv"))
    with open(os.path.join(path, app_release.MARKER), "w", encoding="utf-8"):
        pass
    return str(path)


def test_version_is_read_without_unpacking_and_the_tree_lands_below_the_top_directory(tmp_path):
    path = artifact(tmp_path, GOOD)
    assert app_release.version_in(path) == "1.0.0"
    release = str(tmp_path / "releases" / "1.0.0")
    app_release.unpack(path, release)
    assert sorted(os.listdir(release)) == [app_release.MARKER, "VERSION", "bin", "requirements.txt", "svc"]
    assert app_release.is_release(release) and not app_release.is_complete(release)
    assert os.stat(os.path.join(release, "bin", "run.sh")).st_mode & 0o777 == 0o755
    assert os.stat(os.path.join(release, "svc", "app.py")).st_mode & 0o777 == 0o644


@pytest.mark.parametrize("member, message", [
    ("svc-1.0.0/../../etc/cron.d/x", "points outside the release"),
    ("/etc/passwd", "points outside the release"),
])
def test_a_member_that_escapes_is_refused_before_anything_is_written(tmp_path, member, message):
    path = artifact(tmp_path, dict(GOOD, **{member: b"evil"}))
    with pytest.raises(app_release.ReleaseError, match=message):
        app_release.version_in(path)


def test_links_and_several_top_directories_are_refused(tmp_path):
    link = tarfile.TarInfo("svc-1.0.0/svc/link")
    link.type = tarfile.SYMTYPE
    link.linkname = "/etc/shadow"
    with pytest.raises(app_release.ReleaseError, match="link or special file"):
        app_release.version_in(artifact(tmp_path, GOOD, extra=[link]))
    with pytest.raises(app_release.ReleaseError, match="one top directory"):
        app_release.version_in(artifact(tmp_path, dict(GOOD, **{"other/VERSION": b"2"}), name="two.tar.gz"))


def test_the_build_writes_the_stamp_last_and_a_failed_step_leaves_the_release_incomplete(tmp_path):
    release = made_release(tmp_path / "r")
    calls = []

    def run(argv):
        calls.append(argv)
        return (1, "", "no matching distribution\n") if "install" in argv else (0, "", "")

    with pytest.raises(app_release.ReleaseError, match="installing the requirements .* no matching distribution"):
        app_release.build(release, "/usr/bin/python3", ["--find-links", "{release_dir}/wheels"], run)
    assert not app_release.is_complete(release)
    assert calls[1][-4:] == ["--find-links", f"{release}/wheels", "-r", f"{release}/requirements.txt"]
    app_release.build(release, "/usr/bin/python3", [], lambda argv: (0, "", ""))
    assert app_release.is_complete(release)


def test_the_link_moves_in_one_rename_and_old_releases_go_but_never_the_new_or_the_previous(tmp_path):
    releases = tmp_path / "releases"
    for age, name in enumerate(["r1", "r2", "r3", "r4"]):
        made_release(releases / name)
        os.utime(releases / name, (1000 + age, 1000 + age))
    link = str(tmp_path / "current")
    app_release.point_link(link, str(releases / "r1"))
    app_release.point_link(link, str(releases / "r4"))
    assert app_release.link_target(link) == str(releases / "r4")
    stale = app_release.stale_releases(str(releases), 2, {str(releases / "r4"), str(releases / "r1")})
    assert stale == [str(releases / "r2")]


def test_pip_runs_from_the_newest_bundled_wheel_into_a_virtualenv_without_pip(tmp_path):
    for name in ["pip-9.0.1-py2.py3-none-any.whl", "pip-23.0.1-py3-none-any.whl", "pip-23.0-py3-none-any.whl",
                 "setuptools-66.1.1-py3-none-any.whl"]:
        (tmp_path / name).touch()
    wheel = app_release.bundled_pip_wheel([str(tmp_path / "missing"), str(tmp_path)])
    assert wheel == str(tmp_path / "pip-23.0.1-py3-none-any.whl")
    assert app_release.bundled_pip_wheel([str(tmp_path / "missing")]) is None
    release = made_release(tmp_path / "r")
    calls = []
    app_release.build(release, "/usr/bin/python3", [], lambda argv: calls.append(argv) or (0, "", ""), pip_wheel=wheel)
    assert calls[0] == ["/usr/bin/python3", "-m", "venv", "--without-pip", f"{release}/.venv"]
    assert calls[1][:3] == [f"{release}/.venv/bin/python", f"{wheel}/pip", "install"]
    assert app_release.is_complete(release)


def test_an_artifact_is_held_only_with_its_checksum_and_checked_with_its_version(tmp_path):
    path = artifact(tmp_path, GOOD)
    digest = app_release.sha256_of(path)
    assert app_release.holds(path, digest) and not app_release.holds(path, "0" * 64)
    assert not app_release.holds(str(tmp_path / "missing.tar.gz"), digest)
    app_release.check_artifact(path, digest, app_release.version_in(path))
    with pytest.raises(app_release.ReleaseError, match=r"^src: .* has sha256"):
        app_release.check_artifact(path, "0" * 64, "1.0", field="src")
    with pytest.raises(app_release.ReleaseError, match=r"^version: the artifact's VERSION is .*, but 9.9 was requested"):
        app_release.check_artifact(path, digest, "9.9")
    with pytest.raises(app_release.ReleaseError, match=r"^version: the artifact's VERSION is .*, but 9.9 was requested"):
        app_release.check_version(path, "9.9")


@pytest.mark.parametrize("member", ["svc-1.0.0/.venv/.requirements-installed", "svc-1.0.0/.venv/bin/python",
                                    "svc-1.0.0/.app_release"])
def test_a_member_where_the_module_writes_itself_is_refused(tmp_path, member):
    # A shipped stamp would mark the release complete although its requirements never installed.
    path = artifact(tmp_path, dict(GOOD, **{member: b""}))
    with pytest.raises(app_release.ReleaseError, match=f"artifact member '{member}' is where app_release writes itself"):
        app_release.version_in(path)


def test_a_version_that_is_not_utf8_or_an_artifact_cut_short_is_a_clear_error(tmp_path):
    with pytest.raises(app_release.ReleaseError, match=r"^the artifact's VERSION is not UTF-8 text: b'1\.0\\xff\\n'"):
        app_release.version_in(artifact(tmp_path, dict(GOOD, **{"svc-1.0.0/VERSION": b"1.0\xff\n"})))
    whole = artifact(tmp_path, dict(GOOD, **{"svc-1.0.0/wheels/big.whl": os.urandom(200000)}), name="whole.tar.gz")
    cut = tmp_path / "cut.tar.gz"
    with open(whole, "rb") as source:
        cut.write_bytes(source.read()[:100000])
    with pytest.raises(app_release.ReleaseError, match="^the artifact is not a readable .tar.gz"):
        app_release.version_in(str(cut))


def test_only_directories_the_module_made_are_releases(tmp_path):
    releases = tmp_path / "releases"
    (releases / "notes").mkdir(parents=True)
    (releases / "stamped-by-hand" / ".venv").mkdir(parents=True)
    (releases / "stamped-by-hand" / app_release.STAMP).touch()
    made_release(releases / "r1")
    os.symlink(releases / "r1", releases / "link-to-r1")
    for name in os.listdir(releases):
        os.utime(releases / name, (1000, 1000), follow_symlinks=False)
    assert not app_release.is_complete(str(releases / "stamped-by-hand"))
    assert not app_release.is_release(str(releases / "link-to-r1"))
    made_release(releases / "r2")
    assert app_release.stale_releases(str(releases), 1, {str(releases / "r2")}) == [str(releases / "r1")]


def test_a_release_without_a_virtualenv_is_complete_by_its_own_stamp(tmp_path):
    release = str(tmp_path / "r")
    os.makedirs(release)
    open(os.path.join(release, app_release.MARKER), "w", encoding="utf-8").close()
    assert not app_release.is_complete(release, virtualenv=False)
    app_release.finish_unpacked(release)
    assert app_release.is_complete(release, virtualenv=False) and not app_release.is_complete(release)


def test_a_releases_wheels_and_pins_are_read_without_unpacking(tmp_path):
    path = artifact(tmp_path, dict(GOOD, **{"svc-1.0.0/wheels/requests-2.31.0-py3-none-any.whl": b"PK",
                                            "svc-1.0.0/requirements.txt": b"requests==2.31.0\n"}))
    assert app_release.python_packages_in(path) == (["requests-2.31.0-py3-none-any.whl"], "requests==2.31.0\n")
    assert not os.path.exists(tmp_path / "svc-1.0.0")
    (tmp_path / "broken.tar.gz").write_bytes(b"not gzip")
    with pytest.raises(app_release.ReleaseError, match="not a readable .tar.gz"):
        app_release.python_packages_in(str(tmp_path / "broken.tar.gz"))


OFFLINE = ["--no-index", "--find-links", "{release_dir}/wheels"]


def unpacked_release(releases, name, requirements=b"gunicorn==23.0.0\n", wheels=None, code=b"x = 1\n"):
    """A release as unpack() leaves it: marked, its files, no .venv yet."""
    path = releases / name
    (path / "wheels").mkdir(parents=True)
    (path / app_release.MARKER).write_text("")
    (path / "requirements.txt").write_bytes(requirements)
    (path / "app.py").write_bytes(code)
    for wheel, content in (wheels or {"gunicorn-23.0.0-py3-none-any.whl": b"wheel"}).items():
        (path / "wheels" / wheel).write_bytes(content)
    return str(path)


def scripted(calls):
    """A runner that records each command; `python -m venv DIR` makes DIR, as the real one."""
    def run(argv):
        calls.append(argv)
        if argv[1:3] == ["-m", "venv"]:
            os.makedirs(argv[-1], exist_ok=True)
        return 0, "", ""
    return run


def test_releases_with_the_same_requirements_and_wheels_share_one_virtualenv(tmp_path):
    releases = tmp_path / "releases"
    first = unpacked_release(releases, "1.0.0", code=b"x = 1\n")
    second = unpacked_release(releases, "1.0.1", code=b"x = 2\n")
    calls = []
    assert app_release.build(first, "/usr/bin/python3", OFFLINE, scripted(calls), pip_wheel="/w/pip.whl") is False
    key = app_release.shared_virtualenv_key(first, "/usr/bin/python3", OFFLINE, "/w/pip.whl")
    shared = str(releases / app_release.SHARED_DIR / key)
    assert calls[0] == ["/usr/bin/python3", "-m", "venv", "--without-pip", shared]
    assert calls[1][-5:] == ["--no-index", "--find-links", f"{first}/wheels", "-r", f"{first}/requirements.txt"]
    assert os.readlink(os.path.join(first, ".venv")) == shared and app_release.is_complete(first)
    # Another release with only its code changed: no pip at all, the same virtualenv.
    assert app_release.build(second, "/usr/bin/python3", OFFLINE, scripted(calls), pip_wheel="/w/pip.whl") is True
    assert len(calls) == 2 and os.readlink(os.path.join(second, ".venv")) == shared and app_release.is_complete(second)
    # The release's own path in the arguments (as the app_env role passes them) is the same install.
    assert app_release.shared_virtualenv_key(second, "/usr/bin/python3", ["--no-index", "--find-links", f"{second}/wheels"],
                                             "/w/pip.whl") == key
    assert app_release.shared_virtualenv_key(second, "/usr/bin/python3", ["--no-index", "--find-links", f"{second}0/wheels"],
                                             "/w/pip.whl") is None


@pytest.mark.parametrize("change", ["wheel content", "requirements", "interpreter", "pip", "pip_args"])
def test_any_input_of_the_install_names_another_virtualenv(tmp_path, change):
    base = unpacked_release(tmp_path / "a", "1.0.0")
    other = unpacked_release(tmp_path / "b", "1.0.0",
                             requirements=b"gunicorn==23.0.1\n" if change == "requirements" else b"gunicorn==23.0.0\n",
                             wheels={"gunicorn-23.0.0-py3-none-any.whl": b"other" if change == "wheel content" else b"wheel"})
    python, pip, args = "/usr/bin/python3", "/w/pip-23.whl", OFFLINE
    key = app_release.shared_virtualenv_key(base, python, args, pip)
    other_key = app_release.shared_virtualenv_key(
        other, sys.executable if change == "interpreter" else python, args + ["--no-deps"] if change == "pip_args" else args,
        "/w/pip-24.whl" if change == "pip" else pip)
    assert key and other_key and key != other_key


@pytest.mark.parametrize("pip_args", [
    ["--find-links", "{release_dir}/wheels"],                                  # an index may answer
    ["--no-index", "--find-links", "/srv/wheels"],                             # wheels outside the release
    ["--no-index", "--find-links={release_dir}/../other/wheels"],
    ["--no-index", "--find-links", "{release_dir}/wheels", "--constraint", "/etc/c.txt"],
    ["--index-url", "https://pypi.example/simple"],
])
def test_an_install_that_reads_from_outside_the_release_is_not_shared(tmp_path, pip_args):
    release = unpacked_release(tmp_path, "1.0.0")
    assert app_release.shared_virtualenv_key(release, "/usr/bin/python3", pip_args, None) is None
    calls = []
    assert app_release.build(release, "/usr/bin/python3", pip_args, scripted(calls)) is False
    assert calls[0][-1] == f"{release}/.venv" and not os.path.islink(os.path.join(release, ".venv"))


@pytest.mark.parametrize("line", ["-r other.txt", "./vendor/pkg", "pkg @ https://example.com/pkg.whl",
                                  "https://example.com/pkg.tar.gz", "-e .", "/opt/pkg.whl", "--index-url https://x"])
def test_requirements_that_name_more_than_packages_are_not_shared(tmp_path, line):
    release = unpacked_release(tmp_path, "1.0.0", requirements=f"gunicorn==23.0.0\n{line}\n".encode())
    assert app_release.shared_virtualenv_key(release, "/usr/bin/python3", OFFLINE, None) is None


def test_hashes_extras_markers_and_comments_still_share(tmp_path):
    text = (b"# pinned\ngunicorn[gevent]==23.0.0 ; python_version >= '3.9' \\\n"
            b"    --hash=sha256:" + b"a" * 64 + b"\nrequests>=2,<3  # why\n\n")
    release = unpacked_release(tmp_path, "1.0.0", requirements=text)
    assert app_release.shared_virtualenv_key(release, "/usr/bin/python3", OFFLINE + ["--require-hashes"], None)


def test_an_interrupted_shared_build_is_built_again_and_a_stranger_is_refused(tmp_path):
    releases = tmp_path / "releases"
    release = unpacked_release(releases, "1.0.0")
    shared = releases / app_release.SHARED_DIR / app_release.shared_virtualenv_key(release, "/usr/bin/python3", OFFLINE, None)
    shared.mkdir(parents=True)
    (shared / app_release.SHARED_MARKER).write_text("")
    (shared / "half-installed").write_text("")
    calls = []
    assert app_release.build(release, "/usr/bin/python3", OFFLINE, scripted(calls)) is False
    assert len(calls) == 2 and not (shared / "half-installed").exists() and app_release.is_complete(release)
    stranger = unpacked_release(tmp_path / "elsewhere", "1.0.0")
    strange = tmp_path / "elsewhere" / app_release.SHARED_DIR / shared.name
    strange.mkdir(parents=True)
    with pytest.raises(app_release.ReleaseError, match="was not made by app_release"):
        app_release.build(stranger, "/usr/bin/python3", OFFLINE, scripted(calls))
    assert strange.is_dir()
    # Stamped but not marked (someone else's directory under that name) is not linked either.
    (strange / os.path.basename(app_release.STAMP)).write_text("")
    with pytest.raises(app_release.ReleaseError, match="neither used nor replaced"):
        app_release.build(stranger, "/usr/bin/python3", OFFLINE, scripted(calls))
    assert not os.path.lexists(os.path.join(stranger, ".venv"))


def test_a_shared_directory_that_is_a_link_is_refused(tmp_path):
    releases = tmp_path / "releases"
    release = unpacked_release(releases, "1.0.0")
    (tmp_path / "elsewhere").mkdir()
    (releases / app_release.SHARED_DIR).symlink_to(tmp_path / "elsewhere")
    with pytest.raises(app_release.ReleaseError, match="a link"):
        app_release.build(release, "/usr/bin/python3", OFFLINE, scripted([]))
    assert os.listdir(tmp_path / "elsewhere") == []


def test_a_shared_virtualenv_goes_only_when_no_remaining_release_links_to_it(tmp_path):
    releases = tmp_path / "releases"
    old = unpacked_release(releases, "1.0.0", requirements=b"gunicorn==22.0.0\n")
    new = unpacked_release(releases, "2.0.0")
    newer = unpacked_release(releases, "2.0.1", code=b"x = 3\n")
    for release in (old, new, newer):
        app_release.build(release, "/usr/bin/python3", OFFLINE, scripted([]))
    old_venv, shared = os.path.realpath(os.path.join(old, ".venv")), os.path.realpath(os.path.join(new, ".venv"))
    (releases / app_release.SHARED_DIR / "not-ours").mkdir()
    assert app_release.unused_virtualenvs(str(releases)) == []
    assert app_release.unused_virtualenvs(str(releases), leaving=[old]) == [old_venv]
    assert app_release.unused_virtualenvs(str(releases), leaving=[old, new]) == [old_venv]
    assert sorted(app_release.unused_virtualenvs(str(releases), leaving=[old, new, newer])) == sorted([old_venv, shared])
