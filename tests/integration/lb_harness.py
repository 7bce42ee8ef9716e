"""Real HAProxy (and NGINX) processes on loopback for integration tests, with small HTTP
app servers behind them. Everything listens on 127.0.0.1 and stops with the test."""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import ansible_collections.tracegate.bluegreen as collection
from conftest import free_port, wait_until

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
# The venv running the tests also holds ansible-core.
ANSIBLE_PLAYBOOK = str(Path(sys.executable).parent / "ansible-playbook")
# The collection as the tests import it (pytest.ini's pythonpath), the directory holding its
# ansible_collections/, and its action plugins.
COLLECTION = Path(collection.__path__[0])
COLLECTIONS_ROOT = COLLECTION.parents[2]
ACTION_PLUGINS = COLLECTION / "plugins" / "action"


class QuietHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        """Health checkers and load balancers close connections abruptly; that is no error here."""


class AppServer:
    """An HTTP server that answers with its own name and counts the requests it is sent;
    `healthy = False` makes it answer 500."""

    def __init__(self, name):
        self.name = name
        self.healthy = True
        self.requests = 0
        app = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                app.requests += 1
                body = app.name.encode()
                self.send_response(200 if app.healthy else 500)
                self.send_header("X-Server", app.name)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = QuietHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


class LoadBalancerUnderTest:
    """A load-balancer process (`process`) in front of AppServers (`apps`)."""

    process = None
    apps = {}

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        for app in self.apps.values():
            app.stop()


class HAProxyUnderTest(LoadBalancerUnderTest):
    """HAProxy in master-worker mode (as under systemd) with one backend `app` whose servers
    are named `<color>_<n>`, an admin stats socket and a server-state file."""

    def __init__(self, workdir, servers, initial_color="blue", check_inter="200ms", extra_backends=""):
        self.workdir = Path(workdir)
        self.socket = str(self.workdir / "admin.sock")
        self.state_file = str(self.workdir / "server-state")
        self.port = free_port()
        self.apps = {name: AppServer(name) for name in servers}
        lines = [
            "global",
            f"    stats socket {self.socket} mode 600 level admin",
            f"    server-state-file {self.state_file}",
            "defaults",
            "    mode http",
            "    load-server-state-from-file global",
            "    timeout connect 2s",
            "    timeout client 10s",
            "    timeout server 10s",
            "    retries 2",
            "    option redispatch",
            "    retry-on conn-failure empty-response",
            f"    default-server check inter {check_inter} rise 2 fall 3",
            "frontend fe",
            f"    bind 127.0.0.1:{self.port}",
            "    default_backend app",
            "backend app",
            "    balance roundrobin",
            "    option httpchk GET /healthz",
        ]
        for name, app in self.apps.items():
            weight = 100 if name.startswith(initial_color + "_") else 0
            lines.append(f"    server {name} 127.0.0.1:{app.port} weight {weight}")
        self.config = self.workdir / "haproxy.cfg"
        self.config.write_text("\n".join(lines) + "\n" + extra_backends)
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            [HAPROXY, "-W", "-db", "-f", str(self.config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        wait_until(lambda: os.path.exists(self.socket) and self._all_checked(), 15, "HAProxy to start and check its servers")
        return self

    def _all_checked(self):
        try:
            stats = self.cli("show stat app 4 -1")
        except OSError:
            return False
        return stats.count("L7OK") >= len(self.apps)

    def cli(self, line):
        """One command on its own connection, as socat would send it."""
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(5)
            s.connect(self.socket)
            s.sendall(line.encode() + b"\n")
            chunks = []
            while True:
                data = s.recv(65536)
                if not data:
                    break
                chunks.append(data)
        return b"".join(chunks).decode()

    def servers(self):
        """{server: (weight, admin_flags)} straight from `show servers state`."""
        rows = self.cli("show servers state app").splitlines()[2:]
        return {r.split()[3]: (int(r.split()[7]), int(r.split()[6])) for r in rows if r.strip()}


class SocketRelay:
    """A unix socket in front of HAProxy's stats socket that cuts the first connection after
    `cut_after` commands containing `marker`: the stats socket vanishing mid-call."""

    def __init__(self, path, target, marker, cut_after):
        self.path, self.target, self.marker, self.cut_after = path, target, marker.encode(), cut_after
        self.connections = 0
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(path)
        self.listener.listen(8)
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                client, _addr = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            threading.Thread(target=self._relay, args=(client, self.connections == 1), daemon=True).start()

    def _relay(self, client, cut):
        upstream = socket.socket(socket.AF_UNIX)
        upstream.connect(self.target)
        seen = 0

        def back():
            try:
                while data := upstream.recv(65536):
                    client.sendall(data)
            except OSError:
                pass

        threading.Thread(target=back, daemon=True).start()
        try:
            while data := client.recv(65536):
                seen += data.count(self.marker)
                if cut and seen >= self.cut_after:
                    # forward what came before the marker that crosses the limit, then vanish
                    break
                upstream.sendall(data)
        except OSError:
            pass
        client.close()
        upstream.close()

    def close(self):
        self.listener.close()


def run_task(module, args, check=False, diff=False, timeout=None, env=None):
    """Runs one of our modules as a task of ansible-playbook (JSON callback) against localhost
    and returns its result dict: for tests whose subject includes what the controller does in
    front of the module (its action plugin, templating of the arguments, --check and --diff as
    a user passes them, what a result shows). The arguments travel in a playbook file, not on
    the command line, whose length the kernel bounds (hostile inputs can be hundreds of KiB).
    `timeout` bounds the run (subprocess.TimeoutExpired); `env` adds to ansible's environment."""
    with tempfile.TemporaryDirectory(prefix="run-module-") as workdir:
        playbook = Path(workdir) / "task.yml"
        playbook.write_text(json.dumps([{"hosts": "localhost", "connection": "local", "gather_facts": False,
                                         "vars": {"ansible_python_interpreter": sys.executable},
                                         "tasks": [{f"tracegate.bluegreen.{module}": args}]}]))
        command = [ANSIBLE_PLAYBOOK, "-i", "localhost,", str(playbook)]
        if check:
            command.append("--check")
        if diff:
            command.append("--diff")
        env = {**os.environ, "ANSIBLE_LOAD_CALLBACK_PLUGINS": "1", "ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json",
               "ANSIBLE_LOCALHOST_WARNING": "0", "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0", **(env or {})}
        completed = subprocess.run(command, capture_output=True, text=True, env=env, check=False, timeout=timeout)
    try:
        output = json.loads(completed.stdout)
    except json.JSONDecodeError as exc:
        raise AssertionError(f"ansible printed no JSON: {completed.stdout[-2000:]} {completed.stderr[-2000:]}") from exc
    return output["plays"][0]["tasks"][0]["hosts"]["localhost"]


def served_generation(url):
    """The generation NGINX serves at `url`, or None."""
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.read().decode().strip()
    except (urllib.error.URLError, OSError):
        return None


NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


class NginxUnderTest(LoadBalancerUnderTest):
    """A real NGINX on a loopback port with the same layout the nginx role renders: nginx.conf
    including its parts by relative paths, the weighted upstream include owned by
    nginx_upstream, and the loopback-only generation location."""

    def __init__(self, workdir, servers, upstream="bluegreen_app"):
        self.root = Path(workdir) / "nginx"
        (self.root / "bluegreen" / "upstreams").mkdir(parents=True)
        (self.root / "bluegreen" / "sites").mkdir(parents=True)
        self.port = free_port()
        self.upstream = upstream
        self.apps = {name: AppServer(name) for name in servers}
        self.conf = self.root / "nginx.conf"
        self.include = self.root / "bluegreen" / "upstreams" / f"{upstream}.conf"
        self.pid = self.root / "nginx.pid"
        self.conf.write_text(
            f"pid {self.pid};\n"
            f"error_log {self.root}/error.log notice;\n"
            "worker_processes 2;\n"
            "events { worker_connections 1024; }\n"
            "http {\n"
            f"    access_log off;\n"
            f"    client_body_temp_path {self.root}/tmp-body;\n"
            f"    proxy_temp_path {self.root}/tmp-proxy;\n"
            "    keepalive_timeout 15s;\n"
            "    include bluegreen/upstreams/*.conf;\n"
            "    include bluegreen/sites/*.conf;\n"
            "}\n"
        )
        (self.root / "bluegreen" / "sites" / "site.conf").write_text(
            "server {\n"
            f"    listen 127.0.0.1:{self.port};\n"
            f"    location = /.bluegreen/generation/{upstream} {{ allow 127.0.0.1; deny all;\n"
            f'        default_type text/plain; return 200 "$bluegreen_generation_{upstream}\\n"; }}\n'
            "    location / {\n"
            f"        proxy_pass http://{upstream};\n"
            "        proxy_http_version 1.1;\n"
            '        proxy_set_header Connection "";\n'
            "        proxy_next_upstream error timeout http_502 http_503;\n"
            "    }\n"
            "}\n"
        )
        self.process = None

    def servers_arg(self):
        return [{"address": f"127.0.0.1:{app.port}", "color": name.split("_")[0]} for name, app in self.apps.items()]

    def module_args(self, **kwargs):
        return {
            "upstream": self.upstream,
            "path": str(self.include),
            "conf_path": str(self.conf),
            "nginx_binary": NGINX,
            "reload_command": [NGINX, "-e", str(self.root / "error.log"), "-c", str(self.conf), "-s", "reload"],
            "generation_url": f"http://127.0.0.1:{self.port}/.bluegreen/generation/{self.upstream}",
            "reload_timeout": 5,
            **kwargs,
        }

    def start(self):
        self.process = subprocess.Popen(
            [NGINX, "-e", str(self.root / "error.log"), "-c", str(self.conf), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

        def listening():
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return True
            except OSError:
                return False

        wait_until(listening, 15, "NGINX to listen")
        return self


def has_action_plugin(module):
    return (ACTION_PLUGINS / f"{module}.py").exists()


def run_module_as_ansible_would(module, args, check=False, diff=False):
    """A module with an action plugin through ansible-playbook (run_task: the plugin is part of
    what --check and --diff reach); any other as ansible runs it on a host (run_module), at a
    tenth of an ansible-playbook run's CPU."""
    runner = run_task if has_action_plugin(module) else run_module
    return runner(module, args, check=check, diff=diff)


def run_module(module, args, check=False, diff=False, timeout=None):
    """Runs one of our modules as ansible runs it on a host, without the controller in front:
    a Python process of its own that reads its arguments (ANSIBLE_MODULE_ARGS, with the check
    and diff flags the controller would add) from a file and prints its result as JSON. For
    tests whose subject is the module against a real server; an ansible-playbook run costs
    about ten times the CPU (2.2 against 0.24 CPU-seconds measured), most of the integration
    tests' time. A module with an action plugin runs only through run_task."""
    if has_action_plugin(module):
        raise ValueError(f"{module} has an action plugin, which only a task runs: use run_task")
    with tempfile.TemporaryDirectory(prefix="run-module-") as workdir:
        arguments = Path(workdir) / "args.json"
        arguments.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {**args, "_ansible_check_mode": check, "_ansible_diff": diff}}))
        command = [sys.executable, "-m", f"ansible_collections.tracegate.bluegreen.plugins.modules.{module}", str(arguments)]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(COLLECTIONS_ROOT), os.environ.get("PYTHONPATH")]))}
        completed = subprocess.run(command, capture_output=True, text=True, env=env, check=False, timeout=timeout)
    try:
        result = json.loads(completed.stdout)
    except json.JSONDecodeError as exc:
        raise AssertionError(f"{module} printed no JSON: {completed.stdout[-2000:]} {completed.stderr[-2000:]}") from exc
    # The controller reports a result without "changed" as unchanged.
    result.setdefault("changed", False)
    return result


def run_lb_play(tmp_path, run, tasks, hosts, lb_play=None):
    """The playbooks' task files as a cutover runs them, by ansible-playbook: `run` (the run's
    settings as preflight.yml gathers them into bluegreen_run) set on localhost, then `tasks`
    on the bluegreen_lb play, with `lb_play`'s keys (vars, module_defaults) added to it.
    `hosts` maps each group (bluegreen_lb, bluegreen_blue, ...) to {host: its variables}; every
    host is this machine, reached with the local connection and the controller's Python (with
    requests), as an implicit localhost would be. Returns (exit code, output, the records of
    the audit log at run["audit_log"])."""
    local = {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(json.dumps({"all": {
        "hosts": {"localhost": local},
        "children": {group: {"hosts": {host: dict(local, **variables) for host, variables in members.items()}}
                     for group, members in hosts.items()}}}), encoding="utf-8")
    playbook = tmp_path / "lb_play.yml"
    playbook.write_text(json.dumps([
        {"hosts": "localhost", "gather_facts": False, "tasks": [{"ansible.builtin.set_fact": {"bluegreen_run": run}}]},
        dict({"hosts": "bluegreen_lb", "gather_facts": False, "tasks": tasks}, **(lb_play or {})),
    ]), encoding="utf-8")
    result = subprocess.run([ANSIBLE_PLAYBOOK, "-i", str(inventory), str(playbook)], capture_output=True, text=True,
                            check=False, timeout=180)
    audit_log = Path(run["audit_log"])
    records = [json.loads(line) for line in audit_log.read_text(encoding="utf-8").splitlines()] if audit_log.exists() else []
    return result.returncode, result.stdout + result.stderr, records
