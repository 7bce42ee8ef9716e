import io
import os
import subprocess
import sys
import tarfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import build_artifact
from trace_servers import free_port, wait_until  # noqa: F401 (tests and harnesses import them from conftest)


def http_get(url, headers=None):
    """(status, headers, body bytes) of one GET, an error status included. Headers are looked
    up by name whatever their case, as HTTP's are (the JDK's server sends "X-app-color")."""
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.headers, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.headers, exc.read()


VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="session")
def unpacked_release(tmp_path_factory):
    """The demo app as shipped: a real artifact (source only, no wheels) unpacked like app_env does."""
    root = tmp_path_factory.mktemp("release")
    empty_wheels = root / "wheels"
    empty_wheels.mkdir()
    artifact = root / "bgdemo.tar.gz"
    artifact.write_bytes(build_artifact.artifact_bytes("9.8.7", empty_wheels))
    with tarfile.open(artifact) as tar:
        tar.extractall(root, filter="data")
    return root / "bgdemo-9.8.7"


def release_artifact(path, version, extra=None):
    """Writes a release artifact for app_release at `path` and returns it: nothing to
    install (an empty requirements.txt), so the virtualenv is built without a package index;
    `extra` adds or replaces members below the top directory."""
    members = {"VERSION": f"{version}\n".encode(), "requirements.txt": b"", "svc/app.py": b"x = 1\n", **(extra or {})}
    with tarfile.open(path, "w:gz") as archive:
        for name, content in members.items():
            info = tarfile.TarInfo(f"svc-{version}/{name}")
            info.size = len(content)
            info.mode = 0o644
            archive.addfile(info, io.BytesIO(content))
    return path


class RunningApp:
    def __init__(self, release_dir, env, log):
        self.log = log
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # "{url}" in a setting stands for the app's own address (the lab's dependency is /stock).
        env = {k: v.replace("{url}", self.url) for k, v in env.items()}
        self.process = subprocess.Popen(
            [str(VENV_BIN / "gunicorn"), "--bind", f"127.0.0.1:{self.port}", "--workers", "1", "--threads", "16",
             "--worker-class", "gthread", "--chdir", str(release_dir), "bgdemo.wsgi:application"],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            # A file, not a pipe: a pipe nobody reads would block a chatty app.
            stderr=self.log,
        )
        wait_until(self._healthy, 20, f"the demo app on port {self.port}")

    def _healthy(self):
        if self.process.poll() is not None:
            self.log.seek(0)
            raise AssertionError(f"the demo app exited: {self.log.read().decode()[-2000:]}")
        try:
            return self.get("/healthz")[0] == 200
        except OSError:
            return False

    def get(self, path, headers=None):
        return http_get(self.url + path, headers)

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=20)


def _app_starter(unpacked_release, log_dir, running):
    def start(**env):
        base = {"BLUEGREEN_COLOR": "green", "BLUEGREEN_ENVIRONMENT": "ci", "OTEL_BSP_SCHEDULE_DELAY": "100"}
        log = open(log_dir / f"app-{len(running)}.log", "w+b")  # pylint: disable=consider-using-with
        app = RunningApp(unpacked_release, {**base, **{k: str(v) for k, v in env.items()}}, log)
        running.append(app)
        return app

    return start


def _stop_all(running):
    for app in running:
        app.stop()
        app.log.close()


@pytest.fixture
def start_app(unpacked_release, tmp_path):
    running = []
    yield _app_starter(unpacked_release, tmp_path, running)
    _stop_all(running)


@pytest.fixture(scope="module")
def start_app_module(unpacked_release, tmp_path_factory):
    """Demo apps that live for a whole test module."""
    running = []
    yield _app_starter(unpacked_release, tmp_path_factory.mktemp("apps"), running)
    _stop_all(running)
