"""Trace backends started as processes on loopback ports, for the end-to-end gate tests and
the judge benchmark:

- the REAL Jaeger v2 (built from the Go module proxy by tests/lab/jaeger/build.sh, with the
  lab's own configuration template): OTLP in, v1 and api_v3 query APIs, and the real
  spanmetrics connector exported for Prometheus; it forwards every span to the Tempo stand-in;
- the REAL Zipkin server (the exec jar from Maven Central, tests/lab/zipkin/fetch.sh), fed by
  the SDK's Zipkin exporter in the demo app;
- a real Prometheus (Debian) scraping Jaeger's span metrics and the apps' RED metrics;
- the Tempo LAB STAND-IN (tests/lab/tempo_standin), which is not Tempo.
"""
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import jinja2

LAB = Path(__file__).resolve().parent
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


# Ports a test server is started on: below Linux's ephemeral range (32768-60999), from which
# every outgoing connection on the machine takes its local port, and which would otherwise
# hand a port out again between free_port() and the server's bind (the lab's load and SSH run
# beside these tests); clear of the demo lab's and the scenarios' published ports.
TEST_PORTS = range(10000, 16000)


def free_port():
    """A loopback port nothing listens on now, for a server a test is about to start."""
    for port in random.sample(TEST_PORTS, 50):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise AssertionError(f"no free port among 50 tried in {TEST_PORTS}")


def wait_until(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if result:
            return result
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def http_status(url):
    try:
        with urllib.request.urlopen(url, timeout=1) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def cached_program(script):
    """The path a build or fetch script prints (it builds or fetches only when its cache lacks it)."""
    return subprocess.run([str(script)], capture_output=True, text=True, check=True).stdout.strip()


class Process:
    def __init__(self, argv, log_path, env=None):
        self.log_path = log_path
        self.log = open(log_path, "wb")  # pylint: disable=consider-using-with
        self.process = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT,
                                        env={**os.environ, **(env or {})})

    def wait_up(self, url, timeout, what):
        def up():
            if self.process.poll() is not None:
                raise AssertionError(f"{what} exited: {Path(self.log_path).read_text(errors='replace')[-3000:]}")
            return http_status(url) == 200

        wait_until(up, timeout, what)

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.log.close()


class RealJaeger(Process):
    def __init__(self, workdir, forward_otlp_http=None):
        self.ports = {name: free_port() for name in
                      ("otlp_grpc", "otlp_http", "query", "query_grpc", "spanmetrics", "health", "telemetry")}
        template = jinja2.Template((LAB / "jaeger" / "config.yaml.j2").read_text(), undefined=jinja2.StrictUndefined)
        config = Path(workdir) / "jaeger.yaml"
        config.write_text(template.render(jaeger_address="127.0.0.1", jaeger_ports=self.ports,
                                          jaeger_forward_otlp_http=forward_otlp_http or "",
                                          jaeger_metrics_flush_interval="1s"))
        binary = cached_program(LAB / "jaeger" / "build.sh")
        super().__init__([binary, f"--config={config}"], Path(workdir) / "jaeger.log")
        self.wait_up(f"http://127.0.0.1:{self.ports['health']}/status", 60, "Jaeger")
        self.url = f"http://127.0.0.1:{self.ports['query']}"
        self.otlp = f"http://127.0.0.1:{self.ports['otlp_http']}"
        self.spanmetrics = f"127.0.0.1:{self.ports['spanmetrics']}"

    def services(self):
        with urllib.request.urlopen(f"{self.url}/api/v3/services", timeout=2) as response:
            return json.loads(response.read()).get("services") or []


class RealZipkin(Process):
    def __init__(self, workdir):
        self.port = free_port()
        jar = cached_program(LAB / "zipkin" / "fetch.sh")
        # In-memory storage, loopback only; a small heap keeps the 2-core lab machine responsive.
        super().__init__(["java", "-Xms64m", "-Xmx384m", "-XX:TieredStopAtLevel=1", "-jar", jar,
                          # Zipkin serves through Armeria, whose port list also says the address.
                          "--armeria.ports[0].ip=127.0.0.1", f"--armeria.ports[0].port={self.port}",
                          "--armeria.ports[0].protocols[0]=http"],
                         Path(workdir) / "zipkin.log", env={"STORAGE_TYPE": "mem", "SELF_TRACING_ENABLED": "false"})
        self.url = f"http://127.0.0.1:{self.port}"
        self.wait_up(f"{self.url}/health", 120, "Zipkin")
        self.spans_endpoint = f"{self.url}/api/v2/spans"

    def services(self):
        with urllib.request.urlopen(f"{self.url}/api/v2/services", timeout=2) as response:
            return json.loads(response.read())


class TempoStandin(Process):
    """The Tempo LAB STAND-IN, not Tempo."""

    def __init__(self, workdir, *extra):
        self.otlp_port, self.port = free_port(), free_port()
        super().__init__([sys.executable, str(LAB / "tempo_standin" / "tempo_standin.py"), "--address", "127.0.0.1",
                          "--otlp-port", str(self.otlp_port), "--tempo-port", str(self.port), *extra],
                         Path(workdir) / "tempo-standin.log")
        self.url = f"http://127.0.0.1:{self.port}"
        self.otlp = f"http://127.0.0.1:{self.otlp_port}"
        self.wait_up(f"{self.url}/ready", 20, "the Tempo stand-in")


class Prometheus(Process):
    """A real Prometheus scraping every second: Jaeger's span metrics and the apps' /metrics
    (file_sd, so apps can be added while it runs)."""

    def __init__(self, workdir, spanmetrics_target):
        self.port = free_port()
        workdir = Path(workdir)
        config = workdir / "prometheus.yml"
        self.app_targets = workdir / "apps.json"
        self.app_targets.write_text("[]")
        config.write_text(json.dumps({
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "scrape_configs": [
                {"job_name": "jaeger-spanmetrics", "static_configs": [{"targets": [spanmetrics_target]}]},
                {"job_name": "apps", "file_sd_configs": [{"files": [str(self.app_targets)], "refresh_interval": "1s"}]},
            ],
        }))
        super().__init__([PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={workdir / 'tsdb'}",
                          f"--web.listen-address=127.0.0.1:{self.port}"], workdir / "prometheus.log")
        self.url = f"http://127.0.0.1:{self.port}"
        self.wait_up(f"{self.url}/-/ready", 30, "Prometheus")

    def scrape_apps(self, apps):
        """apps: {(service, color): app}; Prometheus picks the file up within a second."""
        groups = [{"targets": [f"127.0.0.1:{app.port}"], "labels": {"service": service}}
                  for (service, _color), app in apps.items()]
        self.app_targets.write_text(json.dumps(groups))

    def promql(self, query):
        url = f"{self.url}/api/v1/query?" + urllib.parse.urlencode({"query": query})
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return json.loads(response.read())["data"]["result"]
        except OSError:
            return None
