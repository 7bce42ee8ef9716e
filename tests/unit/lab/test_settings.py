"""The demo app's settings: every bad knob is refused with its name."""
import pytest

from bgdemo.settings import Settings, SettingsError


@pytest.fixture
def version_file(tmp_path):
    path = tmp_path / "VERSION"
    path.write_text("2.4.1\n")
    return path


def settings(version_file, **env):
    return Settings.from_environ({"BLUEGREEN_COLOR": "green", **env}, version_file=version_file)


def test_defaults_and_version_from_the_artifact(version_file):
    s = settings(version_file)
    assert (s.color, s.version, s.service_name, s.environment) == ("green", "2.4.1", "bgdemo", "lab")
    assert (s.error_rate, s.added_latency_ms, s.tracing, s.dependency_url) == (0.0, 0.0, True, "")


def test_knobs_are_read(version_file):
    s = settings(version_file, BG_ERROR_RATE="0.25", BG_ADDED_LATENCY_MS="150", BG_TRACING="off", BG_DEPENDENCY_URL="http://d/x")
    assert (s.error_rate, s.added_latency_ms, s.tracing, s.dependency_url) == (0.25, 150.0, False, "http://d/x")


@pytest.mark.parametrize(
    "env, field",
    [
        ({"BLUEGREEN_COLOR": "red"}, "BLUEGREEN_COLOR"),
        ({"BG_ERROR_RATE": "1.5"}, "BG_ERROR_RATE"),
        ({"BG_ERROR_RATE": "lots"}, "BG_ERROR_RATE"),
        ({"BG_ADDED_LATENCY_MS": "-1"}, "BG_ADDED_LATENCY_MS"),
        ({"BG_TRACING": "maybe"}, "BG_TRACING"),
    ],
)
def test_bad_knob_is_named(version_file, env, field):
    with pytest.raises(SettingsError, match=field):
        settings(version_file, **env)


def test_release_defects_cannot_be_configured_away(version_file):
    (version_file.parent / "DEFECTS").write_text('{"error_rate": "0.3", "tracing": "off"}\n')
    s = settings(version_file, BG_ERROR_RATE="0.0", BG_TRACING="on")
    assert (s.error_rate, s.tracing) == (0.3, False)
    assert settings(version_file, BG_ERROR_RATE="0.5").error_rate == 0.5
