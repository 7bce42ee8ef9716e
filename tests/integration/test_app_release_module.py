"""app_release through ansible on a temporary directory: it touches only what it made (its
marker), an artifact cannot mark its release complete, and a bad VERSION is a clear error.
The virtualenvs are real (the host's python3, an empty requirements.txt, no network)."""
import hashlib
import os

import pytest
from conftest import release_artifact
from lb_harness import run_task


def artifact(directory, version="1.0.0", extra=None):
    return release_artifact(directory / f"svc-{version}.tar.gz", version, extra)


def install(tmp_path, path, release, **extra):
    return run_task("app_release", {"artifact": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                                    "version": extra.pop("version", "1.0.0"), "release_dir": str(tmp_path / "releases" / release),
                                    "link": str(tmp_path / "current"), **extra})


def test_an_artifact_that_ships_the_stamp_is_refused_on_every_run(tmp_path):
    # Before, the first run unpacked the shipped stamp and failed building; the second found the
    # release "complete" and linked it, its requirements never installed.
    path = artifact(tmp_path, extra={".venv/.requirements-installed": b""})
    for _run in range(2):
        result = install(tmp_path, path, "1.0.0", python="/bin/false")
        assert result.get("failed"), result
        assert "artifact member 'svc-1.0.0/.venv/.requirements-installed' is where app_release writes itself" in result["msg"]
    assert not os.path.lexists(tmp_path / "current") and not os.path.exists(tmp_path / "releases")


def test_a_release_dir_the_module_did_not_make_is_left_alone(tmp_path):
    unrelated = tmp_path / "releases" / "1.0.0"
    unrelated.mkdir(parents=True)
    (unrelated / "data.db").write_text("precious")
    result = install(tmp_path, artifact(tmp_path), "1.0.0")
    assert result.get("failed") and result["msg"].startswith(f"release_dir: {unrelated} exists but was not made by app_release")
    assert os.listdir(unrelated) == ["data.db"] and not os.path.lexists(tmp_path / "current")


def test_keep_removes_only_releases_the_module_made(tmp_path):
    (tmp_path / "releases" / "backups").mkdir(parents=True)
    os.utime(tmp_path / "releases" / "backups", (1000, 1000))
    first = install(tmp_path, artifact(tmp_path), "1.0.0", keep=1)
    assert first.get("changed") and not first.get("failed"), first
    second = install(tmp_path, artifact(tmp_path, "2.0.0"), "2.0.0", version="2.0.0", keep=1)
    assert second["linked"] and second["removed"] == [], second  # 1.0.0 is the previous release: kept
    third_artifact = artifact(tmp_path, "3.0.0")
    third = install(tmp_path, third_artifact, "3.0.0", version="3.0.0", keep=1)
    assert third["removed"] == [str(tmp_path / "releases" / "1.0.0")], third
    again = install(tmp_path, third_artifact, "3.0.0", version="3.0.0", keep=1)
    assert again["removed"] == [str(tmp_path / "releases" / "2.0.0")] and not again["linked"], again
    assert sorted(os.listdir(tmp_path / "releases")) == ["3.0.0", "backups"]
    assert not install(tmp_path, third_artifact, "3.0.0", version="3.0.0", keep=1)["changed"]


@pytest.mark.parametrize("version", [b"1.0\xff\n", b"\xfe\xff"])
def test_a_version_file_that_is_not_utf8_is_a_clear_error(tmp_path, version):
    result = install(tmp_path, artifact(tmp_path, extra={"VERSION": version}), "1.0.0")
    assert result.get("failed") and result["msg"].startswith("the artifact's VERSION is not UTF-8 text"), result
    assert result["msg"].endswith("nothing was changed") and not os.path.exists(tmp_path / "releases")


def test_a_release_without_a_virtualenv_is_complete_once_unpacked(tmp_path):
    path = artifact(tmp_path, extra={"bin/start": b"#!/bin/sh\nexec sleep 1\n"})
    # python=/bin/false: nothing may try to build a virtualenv.
    first = install(tmp_path, path, "1.0.0", virtualenv=False, python="/bin/false")
    assert first["changed"] and first["built"] and first["linked"] and not first.get("failed"), first
    assert os.path.isfile(tmp_path / "current" / "bin" / "start") and not os.path.exists(tmp_path / "current" / ".venv")
    again = install(tmp_path, path, "1.0.0", virtualenv=False, python="/bin/false")
    assert not again["changed"], again
    shipped = artifact(tmp_path, "2.0.0", extra={".app_release-unpacked": b""})
    refused = install(tmp_path, shipped, "2.0.0", version="2.0.0", virtualenv=False)
    assert refused.get("failed") and "is where app_release writes itself" in refused["msg"], refused
