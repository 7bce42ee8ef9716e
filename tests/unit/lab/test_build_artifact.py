"""The release artifact is reproducible, so provisioning the same version twice is idempotent."""
import hashlib
import io
import tarfile

import pytest

import build_artifact


@pytest.fixture
def wheels(tmp_path):
    directory = tmp_path / "wheels"
    directory.mkdir()
    (directory / "example-1.0-py3-none-any.whl").write_bytes(b"not really a wheel")
    return directory


def test_same_inputs_give_the_same_bytes(wheels):
    first = build_artifact.artifact_bytes("1.2.3", wheels)
    second = build_artifact.artifact_bytes("1.2.3", wheels)
    assert hashlib.sha256(first).hexdigest() == hashlib.sha256(second).hexdigest()


def test_version_changes_the_checksum(wheels):
    assert build_artifact.artifact_bytes("1.2.3", wheels) != build_artifact.artifact_bytes("1.2.4", wheels)


def test_layout_under_one_top_directory(wheels):
    data = build_artifact.artifact_bytes("1.2.3", wheels)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        names = tar.getnames()
        version = tar.extractfile("bgdemo-1.2.3/VERSION").read()
    assert version == b"1.2.3\n"
    assert all(name.startswith("bgdemo-1.2.3/") for name in names)
    assert "bgdemo-1.2.3/requirements.txt" in names
    assert "bgdemo-1.2.3/bgdemo/wsgi.py" in names
    assert "bgdemo-1.2.3/wheels/example-1.0-py3-none-any.whl" in names


def test_bad_version_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit):
        build_artifact.main(["--version", "1.2.3; rm -rf /", "--out", str(tmp_path)])
    assert "--version" in capsys.readouterr().err


def test_a_release_carries_its_own_query_and_the_migrations_it_is_given(wheels):
    from bgdemo.app import ORDERS_QUERY  # pylint: disable=import-outside-toplevel
    lab = build_artifact.HERE.parent / "migrations"
    with tarfile.open(fileobj=io.BytesIO(build_artifact.artifact_bytes("1.2.3", wheels, migrations=lab / "compatible"))) as tar:
        names = tar.getnames()
        queries = tar.extractfile("bgdemo-1.2.3/migrations/queries.sql").read().decode()
    assert ORDERS_QUERY + ";" in queries
    assert {"bgdemo-1.2.3/migrations/0001_orders_note.expand.sql",
            "bgdemo-1.2.3/migrations/0002_drop_legacy_code.contract.sql"} <= set(names)
    with tarfile.open(fileobj=io.BytesIO(build_artifact.artifact_bytes("1.2.3", wheels))) as tar:
        assert [n for n in tar.getnames() if "/migrations/" in n] == ["bgdemo-1.2.3/migrations/queries.sql"]
