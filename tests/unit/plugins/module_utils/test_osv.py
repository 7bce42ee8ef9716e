import json

import pytest
from ansible_collections.tracegate.bluegreen.plugins.module_utils import osv

# Shaped like a real OSV record (GHSA-9wx4-h78v-vm56, requests < 2.32.0).
REQUESTS = {
    "id": "GHSA-9wx4-h78v-vm56", "aliases": ["CVE-2024-35195"],
    "summary": "Requests Session object does not verify requests after making first request with verify=False",
    "affected": [{"package": {"ecosystem": "PyPI", "name": "requests"},
                  "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.32.0"}]}]}],
}
LISTED = {"id": "PYSEC-0000-1",
          "affected": [{"package": {"ecosystem": "PyPI", "name": "Flask_Cors"}, "versions": ["3.0.9"]}]}
LAST = {"id": "OSV-LAST", "affected": [{"package": {"ecosystem": "PyPI", "name": "demo"},
                                        "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "1.1"},
                                                                                    {"last_affected": "1.4.2"}]}]}]}


@pytest.mark.parametrize("version, hit", [("2.31.0", True), ("2.32.0", False), ("2.32.3", False), ("0.1", True)])
def test_a_fixed_range(version, hit):
    found = osv.findings({"requests": version}, [REQUESTS])
    assert bool(found) is hit
    if hit:
        assert found[0]["id"] == "GHSA-9wx4-h78v-vm56" and found[0]["fixed"] == ["2.32.0"]
        assert found[0]["aliases"] == ["CVE-2024-35195"]


@pytest.mark.parametrize("version, hit", [("1.0", False), ("1.1", True), ("1.4.2", True), ("1.4.3", False)])
def test_a_last_affected_range(version, hit):
    assert bool(osv.findings({"demo": version}, [LAST])) is hit


def test_listed_versions_and_normalised_names():
    packages = osv.packages_of_release(["wheels/flask_cors-3.0.9-py2.py3-none-any.whl"], "")
    assert packages == {"flask-cors": "3.0.9"}
    assert [f["id"] for f in osv.findings(packages, [LISTED])] == ["PYSEC-0000-1"]


def test_a_release_s_packages_from_wheels_and_pins():
    names = ["w/opentelemetry_sdk-1.38.0-py3-none-any.whl", "w/gunicorn-23.0.0-py3-none-any.whl", "w/README.txt"]
    pins = "requests==2.31.0  # pinned\ngunicorn==23.0.0\n-r other.txt\nflask>=2\n"
    assert osv.packages_of_release(names, pins) == {"opentelemetry-sdk": "1.38.0", "gunicorn": "23.0.0",
                                                    "requests": "2.31.0"}


def test_other_ecosystems_are_not_read():
    go = {"id": "GO-1", "affected": [{"package": {"ecosystem": "Go", "name": "requests"}, "versions": ["2.31.0"]}]}
    assert osv.findings({"requests": "2.31.0"}, [go]) == []


def test_a_file_or_a_directory_of_advisories(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps(REQUESTS))
    (tmp_path / "b.json").write_text(json.dumps([LISTED, LAST]))
    (tmp_path / "notes.txt").write_text("not an advisory")
    assert [a["id"] for a in osv.load(str(tmp_path))] == ["GHSA-9wx4-h78v-vm56", "PYSEC-0000-1", "OSV-LAST"]
    assert [a["id"] for a in osv.load(str(tmp_path / "a.json"))] == ["GHSA-9wx4-h78v-vm56"]


@pytest.mark.parametrize("content, named", [("{", "is not readable OSV JSON"), ('{"summary": "x"}', "without an id")])
def test_a_bad_advisory_is_named(tmp_path, content, named):
    (tmp_path / "bad.json").write_text(content)
    with pytest.raises(osv.OsvError, match=named):
        osv.load(str(tmp_path))
    with pytest.raises(osv.OsvError, match="neither a file nor a directory"):
        osv.load(str(tmp_path / "missing"))
