"""Runtime settings of the demo app, read once from the environment (the systemd EnvironmentFile)."""
import dataclasses
import json
import os
from pathlib import Path


class SettingsError(ValueError):
    pass


def _float(env, name, default, low, high):
    raw = env.get(name, "")
    if raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if not low <= value <= high:
        raise SettingsError(f"{name}={raw!r} is outside [{low}, {high}]")
    return value


def _switch(env, name, default):
    raw = env.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw in ("on", "true", "1", "yes"):
        return True
    if raw in ("off", "false", "0", "no"):
        return False
    raise SettingsError(f"{name}={raw!r} must be on or off")


@dataclasses.dataclass(frozen=True)
class Settings:
    service_name: str
    version: str
    color: str
    environment: str
    error_rate: float
    added_latency_ms: float
    tracing: bool
    dependency_url: str

    @classmethod
    def from_environ(cls, env=None, version_file=None):
        env = os.environ if env is None else env
        color = env.get("BG_COLOR", "")
        if color not in ("blue", "green"):
            raise SettingsError(f"BG_COLOR={color!r} must be blue or green")
        # The version comes from the release artifact, never from configuration, so a host
        # cannot claim a version it does not run.
        if version_file is None:
            version_file = Path(__file__).resolve().parent.parent / "VERSION"
        version = Path(version_file).read_text(encoding="utf-8").strip()
        # A release built with defects (build_artifact.py --defect) carries them in the code:
        # configuration can make it worse, never better.
        defects_file = Path(version_file).parent / "DEFECTS"
        defects = json.loads(defects_file.read_text(encoding="utf-8")) if defects_file.exists() else {}
        env = dict(env)
        for name, variable in (("error_rate", "BG_ERROR_RATE"), ("added_latency_ms", "BG_ADDED_LATENCY_MS")):
            if name in defects:
                env[variable] = str(max(float(defects[name]), float(env.get(variable) or 0)))
        if "tracing" in defects:
            env["BG_TRACING"] = defects["tracing"]
        return cls(
            service_name=env.get("BG_SERVICE_NAME", "bgdemo"),
            version=version,
            color=color,
            environment=env.get("BG_ENVIRONMENT", "lab"),
            error_rate=_float(env, "BG_ERROR_RATE", 0.0, 0.0, 1.0),
            added_latency_ms=_float(env, "BG_ADDED_LATENCY_MS", 0.0, 0.0, 60000.0),
            tracing=_switch(env, "BG_TRACING", True),
            dependency_url=env.get("BG_DEPENDENCY_URL", ""),
        )
