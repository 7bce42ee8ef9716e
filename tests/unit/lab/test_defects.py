"""A release's defects: build_artifact refuses a bad one before building, the app refuses a bad
DEFECTS file before serving, and the good ones combine into the app's settings."""
import json

import pytest

import build_artifact
from bgdemo.app import RequestRate
from bgdemo.settings import Settings, SettingsError


def release_settings(tmp_path, defects, **env):
    (tmp_path / "VERSION").write_text("3.0.0\n")
    (tmp_path / "DEFECTS").write_text(json.dumps(defects))
    return Settings.from_environ({"BLUEGREEN_COLOR": "blue", **env}, version_file=tmp_path / "VERSION")


def test_defects_combine(tmp_path):
    defects = build_artifact.parse_defects(["latency_under_load_ms=40", "load_threshold_rps=25", "failing_route=/api/basket",
                                            "failing_route_error_rate=0.25", "dependency_latency_ms=120", "error_rate=0.1"])
    s = release_settings(tmp_path, defects)
    assert (s.latency_under_load_ms, s.load_threshold_rps, s.failing_route, s.failing_route_error_rate, s.dependency_latency_ms,
            s.error_rate) == (40.0, 25.0, "/api/basket", 0.25, 120.0, 0.1)


def test_without_defects_nothing_is_faulty(tmp_path):
    s = release_settings(tmp_path, {})
    assert (s.latency_under_load_ms, s.failing_route, s.failing_route_error_rate, s.dependency_latency_ms) == (0.0, "", 0.0, 0.0)


def test_failing_route_fails_every_request_unless_told_a_rate(tmp_path):
    assert release_settings(tmp_path, {"failing_route": "/api/quote"}).failing_route_error_rate == 1.0


@pytest.mark.parametrize(
    "item, named",
    [
        ("latency_under_load_ms=fast", "latency_under_load_ms='fast'"),
        ("latency_under_load_ms=-1", "latency_under_load_ms='-1'"),
        ("load_threshold_rps=many", "load_threshold_rps='many'"),
        ("dependency_latency_ms=nan", "dependency_latency_ms='nan'"),
        ("dependency_latency_ms=90000", "dependency_latency_ms='90000'"),
        ("failing_route=/healthz", "failing_route='/healthz'"),
        ("failing_route_error_rate=1.5", "failing_route_error_rate='1.5'"),
        ("error_rate=lots", "error_rate='lots'"),
        ("tracing=on", "tracing='on'"),
        ("slow_start=1", "unknown defect 'slow_start'"),
        ("latency_under_load_ms", "'latency_under_load_ms' is not NAME=VALUE"),
    ],
)
def test_build_refuses_a_bad_defect_naming_it(tmp_path, capsys, item, named):
    with pytest.raises(SystemExit):
        build_artifact.main(["--version", "3.0.0", "--out", str(tmp_path), "--defect", item])
    assert named in capsys.readouterr().err
    assert not list(tmp_path.iterdir()), "nothing is built"


def test_a_rate_for_no_failing_route_is_refused():
    with pytest.raises(ValueError, match="failing_route_error_rate='0.5' needs failing_route"):
        build_artifact.parse_defects(["failing_route_error_rate=0.5"])


def test_a_load_threshold_without_latency_under_load_is_refused():
    with pytest.raises(ValueError, match="load_threshold_rps='30' needs latency_under_load_ms"):
        build_artifact.parse_defects(["load_threshold_rps=30"])


def test_a_request_rate_counts_the_last_second_only():
    now = [100.0]
    rate = RequestRate(clock=lambda: now[0])
    assert [rate.count_in() for unused_index in range(3)] == [1, 2, 3]
    now[0] += 0.5
    assert rate.count_in() == 4
    now[0] += 0.6  # the first three are older than a second now
    assert rate.count_in() == 2


def test_a_defect_given_twice_is_refused():
    with pytest.raises(ValueError, match="already given as '10'"):
        build_artifact.parse_defects(["dependency_latency_ms=10", "dependency_latency_ms=20"])


@pytest.mark.parametrize(
    "defects, named",
    [
        ({"latency_under_load_ms": "fast"}, "latency_under_load_ms='fast'"),
        ({"failing_route": "/nowhere"}, "failing_route='/nowhere'"),
        ({"slow_start": "1"}, "unknown defect 'slow_start'"),
    ],
)
def test_app_refuses_a_bad_defects_file_naming_it(tmp_path, defects, named):
    with pytest.raises(SettingsError, match="DEFECTS") as refused:
        release_settings(tmp_path, defects)
    assert named in str(refused.value)
