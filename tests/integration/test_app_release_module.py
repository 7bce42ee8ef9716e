"""app_release through ansible on a temporary directory: it touches only what it made (its
marker), an artifact cannot mark its release complete, and a bad VERSION is a clear error.
The virtualenvs are real (the host's python3, an empty requirements.txt, no network)."""
import base64
import hashlib
import io
import os
import subprocess
import zipfile

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


def tiny_wheel(version):
    """A pure-Python wheel of `tinypkg` whose module says its version; the same bytes every
    time (fixed member times), as a wheel taken from one cache."""
    files = {"tinypkg/__init__.py": f"VALUE = {version!r}\n".encode(),
             f"tinypkg-{version}.dist-info/METADATA": f"Metadata-Version: 2.1\nName: tinypkg\nVersion: {version}\n".encode(),
             f"tinypkg-{version}.dist-info/WHEEL": b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"}
    record = "".join(f"{name},sha256={base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b'=').decode()},{len(data)}\n"
                     for name, data in files.items()) + f"tinypkg-{version}.dist-info/RECORD,,\n"
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in [*files.items(), (f"tinypkg-{version}.dist-info/RECORD", record.encode())]:
            archive.writestr(zipfile.ZipInfo(name, date_time=(2026, 1, 1, 0, 0, 0)), data)
    return buffer.getvalue()


def with_tinypkg(version, code=b"x = 1\n"):
    return {"requirements.txt": f"tinypkg=={version}\n".encode(), f"wheels/tinypkg-{version}-py3-none-any.whl": tiny_wheel(version),
            "svc/app.py": code}


OFFLINE = ["--no-index", "--find-links", "{release_dir}/wheels"]


def test_a_release_with_only_new_code_links_the_virtualenv_its_predecessor_built(tmp_path):
    first = install(tmp_path, artifact(tmp_path, "1.0.0", with_tinypkg("1.0")), "1.0.0", keep=1, pip_args=OFFLINE)
    assert first["built"] and not first["virtualenv_reused"] and not first.get("failed"), first
    shared = os.readlink(tmp_path / "releases" / "1.0.0" / ".venv")
    assert os.path.dirname(shared) == str(tmp_path / "releases" / ".virtualenvs")
    second = install(tmp_path, artifact(tmp_path, "2.0.0", with_tinypkg("1.0", b"x = 2\n")), "2.0.0", version="2.0.0", keep=1,
                     pip_args=OFFLINE)
    assert second["built"] and second["virtualenv_reused"] and second["linked"], second
    assert os.readlink(tmp_path / "releases" / "2.0.0" / ".venv") == shared
    imported = subprocess.run([str(tmp_path / "current" / ".venv" / "bin" / "python"), "-c", "import tinypkg; print(tinypkg.VALUE)"],
                              check=True, capture_output=True, text=True)
    assert imported.stdout.strip() == "1.0"
    # New requirements build a virtualenv of their own; the shared one stays while 2.0.0 (the
    # previous release) links to it, and goes with it.
    third_artifact = artifact(tmp_path, "3.0.0", with_tinypkg("2.0"))
    third = install(tmp_path, third_artifact, "3.0.0", version="3.0.0", keep=1, pip_args=OFFLINE)
    assert not third["virtualenv_reused"] and third["removed"] == [str(tmp_path / "releases" / "1.0.0")], third
    assert os.readlink(tmp_path / "releases" / "3.0.0" / ".venv") != shared and os.path.isdir(shared)
    again = install(tmp_path, third_artifact, "3.0.0", version="3.0.0", keep=1, pip_args=OFFLINE)
    assert again["removed"] == [str(tmp_path / "releases" / "2.0.0"), shared] and not again["linked"], again
    assert not os.path.exists(shared) and len(os.listdir(tmp_path / "releases" / ".virtualenvs")) == 1
    assert not install(tmp_path, third_artifact, "3.0.0", version="3.0.0", keep=1, pip_args=OFFLINE)["changed"]


def test_share_virtualenv_false_builds_every_release_its_own(tmp_path):
    for version in ("1.0.0", "2.0.0"):
        result = install(tmp_path, artifact(tmp_path, version, with_tinypkg("1.0")), version, version=version,
                         pip_args=OFFLINE, share_virtualenv=False)
        assert result["built"] and not result["virtualenv_reused"] and not result.get("failed"), result
        assert os.path.isdir(tmp_path / "releases" / version / ".venv")
        assert not os.path.islink(tmp_path / "releases" / version / ".venv")
