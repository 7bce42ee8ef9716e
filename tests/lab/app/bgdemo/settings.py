"""Runtime settings of the demo app, read once from the environment (the systemd EnvironmentFile)
and from the release's DEFECTS file.

The environment holds what the app_env role tells every service (BLUEGREEN_SERVICE,
BLUEGREEN_COLOR, BLUEGREEN_ENVIRONMENT) and the demo's own knobs, which the lab's inventories
set through app_env_vars: BG_DEPENDENCY_URL, and the faults a host's configuration can add
(BG_ERROR_RATE, BG_ADDED_LATENCY_MS, BG_TRACING=off).

A release built with `build_artifact.py --defect NAME=VALUE` carries its faults in a DEFECTS
file beside VERSION (a JSON object of NAME: VALUE). The defects, and what the app does with them:

  error_rate=<fraction>             every business route answers 500 at that rate (span status error)
  added_latency_ms=<ms>             every business request takes <ms> longer
  tracing=off                       no spans are made or exported, incoming trace context is ignored
  latency_under_load_ms=<ms>        a business request takes <ms> longer while this process has
                                    started more than load_threshold_rps business requests in the
                                    last second: as fast as a healthy release at a light load,
                                    slower at a heavy one ...
  load_threshold_rps=<req/s>        ... above that rate (default 40); needs latency_under_load_ms
  failing_route=<path>              only that business route answers 500 (the others stay healthy) ...
  failing_route_error_rate=<fraction>  ... at that rate (default 1.0); needs failing_route
  dependency_latency_ms=<ms>        this release's calls to the dependency take <ms> longer, inside
                                    the client span, so only traces from its color show the slow call

The business routes are /api/quote and /api/basket. Defects combine. Every name and value is
checked (parse_defects): a release whose DEFECTS file names an unknown defect or a bad value
does not start, and the error names the defect and the value.
"""
import dataclasses
import json
import os
from pathlib import Path

# The routes users call: the ones faults hit and load is counted on. /stock is the dependency
# (in the lab each host calls its own), health, version and metrics are for machines.
BUSINESS_ROUTES = ("/api/quote", "/api/basket")
MAX_MS = 60000.0
MAX_RPS = 100000.0
DEFAULT_LOAD_THRESHOLD_RPS = 40.0

# name -> the value it takes, as build_artifact's help and every error message spell it
DEFECT_FORMS = {
    "error_rate": "<fraction>",
    "added_latency_ms": "<ms>",
    "tracing": "off",
    "latency_under_load_ms": "<ms>",
    "load_threshold_rps": "<req/s>",
    "failing_route": "<path>",
    "failing_route_error_rate": "<fraction>",
    "dependency_latency_ms": "<ms>",
}


class SettingsError(ValueError):
    pass


def _number(name, raw, low, high):
    try:
        value = float(raw)
    except (TypeError, ValueError):
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    # NaN fails every comparison, so "nan" is refused here too.
    if not low <= value <= high:
        raise SettingsError(f"{name}={raw!r} is outside [{low}, {high}]")
    return value


def _float(env, name, default, low, high):
    raw = env.get(name, "")
    if raw == "":
        return default
    return _number(name, raw, low, high)


def _switch(env, name, default):
    raw = env.get(name, "").strip().lower()
    if raw == "":
        return default
    if raw in ("on", "true", "1", "yes"):
        return True
    if raw in ("off", "false", "0", "no"):
        return False
    raise SettingsError(f"{name}={raw!r} must be on or off")


def defect_forms():
    """The defects as build_artifact's help lists them: error_rate=<fraction>, tracing=off, ..."""
    return ", ".join(f"{name}={form}" for name, form in DEFECT_FORMS.items())


def parse_defects(defects):
    """Checks a release's defects ({name: value}, values as given on the command line) and
    returns them typed. Raises SettingsError naming the defect and its value."""
    parsed = {}
    for name, raw in defects.items():
        if name not in DEFECT_FORMS:
            raise SettingsError(f"unknown defect {name!r} (known: {defect_forms()})")
        if name in ("error_rate", "failing_route_error_rate"):
            parsed[name] = _number(f"defect {name}", raw, 0.0, 1.0)
        elif name.endswith("_ms"):
            parsed[name] = _number(f"defect {name}", raw, 0.0, MAX_MS)
        elif name == "load_threshold_rps":
            parsed[name] = _number(f"defect {name}", raw, 0.0, MAX_RPS)
        elif name == "tracing":
            if str(raw).strip().lower() != "off":
                raise SettingsError(f"defect tracing={raw!r}: the only tracing defect is tracing=off")
            parsed[name] = False
        elif name == "failing_route":
            if raw not in BUSINESS_ROUTES:
                raise SettingsError(f"defect failing_route={raw!r} is not a business route ({', '.join(BUSINESS_ROUTES)})")
            parsed[name] = raw
    if "load_threshold_rps" in parsed and "latency_under_load_ms" not in parsed:
        raise SettingsError(f"defect load_threshold_rps={defects['load_threshold_rps']!r} needs latency_under_load_ms=<ms>")
    if "failing_route_error_rate" in parsed and "failing_route" not in parsed:
        raise SettingsError(f"defect failing_route_error_rate={defects['failing_route_error_rate']!r} needs failing_route=<path>")
    return parsed


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
    # Release-only defects: no host configuration sets them (see the module docstring).
    latency_under_load_ms: float = 0.0
    load_threshold_rps: float = DEFAULT_LOAD_THRESHOLD_RPS
    failing_route: str = ""
    failing_route_error_rate: float = 0.0
    dependency_latency_ms: float = 0.0
    database_url: str = ""

    @classmethod
    def from_environ(cls, env=None, version_file=None):
        env = os.environ if env is None else env
        color = env.get("BLUEGREEN_COLOR", "")
        if color not in ("blue", "green"):
            raise SettingsError(f"BLUEGREEN_COLOR={color!r} must be blue or green")
        # The version comes from the release artifact, never from configuration, so a host
        # cannot claim a version it does not run.
        if version_file is None:
            version_file = Path(__file__).resolve().parent.parent / "VERSION"
        version = Path(version_file).read_text(encoding="utf-8").strip()
        # A release built with defects (build_artifact.py --defect) carries them in the code:
        # configuration can make it worse, never better.
        defects_file = Path(version_file).parent / "DEFECTS"
        try:
            defects = parse_defects(json.loads(defects_file.read_text(encoding="utf-8")) if defects_file.exists() else {})
        except SettingsError as exc:
            raise SettingsError(f"{defects_file}: {exc}") from None
        env = dict(env)
        for name, variable in (("error_rate", "BG_ERROR_RATE"), ("added_latency_ms", "BG_ADDED_LATENCY_MS")):
            if name in defects:
                env[variable] = str(max(defects[name], float(env.get(variable) or 0)))
        if "tracing" in defects:
            env["BG_TRACING"] = "off"
        return cls(
            service_name=env.get("BLUEGREEN_SERVICE", "bgdemo"),
            version=version,
            color=color,
            environment=env.get("BLUEGREEN_ENVIRONMENT", "lab"),
            error_rate=_float(env, "BG_ERROR_RATE", 0.0, 0.0, 1.0),
            added_latency_ms=_float(env, "BG_ADDED_LATENCY_MS", 0.0, 0.0, MAX_MS),
            tracing=_switch(env, "BG_TRACING", True),
            dependency_url=env.get("BG_DEPENDENCY_URL", ""),
            latency_under_load_ms=defects.get("latency_under_load_ms", 0.0),
            load_threshold_rps=defects.get("load_threshold_rps", DEFAULT_LOAD_THRESHOLD_RPS),
            failing_route=defects.get("failing_route", ""),
            failing_route_error_rate=defects.get("failing_route_error_rate", 1.0) if "failing_route" in defects else 0.0,
            dependency_latency_ms=defects.get("dependency_latency_ms", 0.0),
            database_url=env.get("BG_DATABASE_URL", ""),
        )
