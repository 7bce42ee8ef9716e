#!/usr/bin/env bash
# The embedded lab: systemd containers for two blue and two green app hosts and the two load
# balancers, on one podman network. `up` creates and provisions them; `down` removes exactly
# what `up` created (the base image stays, it is a per-machine cache).
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../.." && pwd)"
: "${CONTAINERS_CONF:?export CONTAINERS_CONF (the Makefile does)}"
IMAGE="${LAB_IMAGE:-localhost/bg-debian:12}"
NETWORK="bglab"
STATE="$ROOT/.lab"
CACHE="$ROOT/.cache"
RELEASE_VERSION="${LAB_RELEASE:-1.0.0}"
APP_HOSTS=(blue-1 blue-2 green-1 green-2)
LB_HOSTS=(lb-haproxy lb-nginx)
SERVICE_HOSTS=(trace-store prometheus)
HAPROXY_PORT="${LAB_HAPROXY_PORT:-18080}"
NGINX_PORT="${LAB_NGINX_PORT:-18081}"

remove_hosts() {
  for name in "${APP_HOSTS[@]}" "${LB_HOSTS[@]}" "${SERVICE_HOSTS[@]}"; do
    podman rm --force --ignore --time 5 "$name" >/dev/null
  done
}

start_host() {
  local name="$1"; shift
  mkdir -p "$CACHE/apt/$name"
  # SYS_ADMIN lets systemd set up the mount namespaces that unit sandboxing (ours and the
  # distribution's, e.g. haproxy.service's BindReadOnlyPaths) needs, as on a real host.
  podman run --detach --name "$name" --hostname "$name" --network "$NETWORK" \
    --systemd=always --cap-add SYS_ADMIN --volume "$CACHE/apt/$name:/var/cache/apt/archives:Z" \
    "$@" "$IMAGE" /sbin/init >/dev/null
}

wait_running() {
  local deadline=$((SECONDS + 90)) name state
  for name in "$@"; do
    while :; do
      state="$(podman exec "$name" systemctl is-system-running 2>/dev/null || true)"
      case "$state" in running|degraded) break ;; esac
      if ((SECONDS > deadline)); then echo "lab: $name did not finish booting (state: ${state:-none})" >&2; exit 1; fi
      sleep 0.5
    done
  done
}

write_inventory() {
  local release_json="$1" collector
  mkdir -p "$STATE"
  make_audit_key "$STATE/audit"
  collector="$("$HERE/otelcol/build.sh")"
  python3 - "$release_json" "$STATE/inventory.yml" "$HAPROXY_PORT" "$NGINX_PORT" "$STATE/audit" "$collector" \
    "$(sha256sum "$collector" | cut -d' ' -f1)" <<'PY'
import json, sys
release, out, haproxy_port, nginx_port = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
audit_dir, collector, collector_sha256 = sys.argv[5], sys.argv[6], sys.argv[7]
# The trace-store host runs the real Jaeger and the Tempo lab stand-in; their query ports are
# published on loopback.
text = f"""# Written by tests/lab/lab.sh up: the embedded lab's inventory.
all:
  vars:
    ansible_connection: containers.podman.podman
    ansible_python_interpreter: /usr/bin/python3
    bluegreen_environment: lab
    # The service: the demo app (tests/lab/app), a WSGI app. Its dependency URL and fault knobs
    # are its own environment, not the role's.
    bluegreen_service: bgdemo
    app_env_wsgi_app: bgdemo.wsgi:application
    app_env_color_field: color
    app_env_vars:
      BG_DEPENDENCY_URL: http://127.0.0.1:8080/stock
    bluegreen_release:
      version: "{release['version']}"
      artifact: "{release['path']}"
      sha256: "{release['sha256']}"
    # Every app exports to the OpenTelemetry Collector on its own host (tracing_agent; built by
    # tests/lab/otelcol/build.sh), which sets the host's color and forwards to Jaeger.
    bluegreen_otlp_endpoint: "http://trace-store:4318"
    tracing_agent_collector_artifact: "{collector}"
    tracing_agent_collector_sha256: "{collector_sha256}"
    # Spans reach Jaeger within a second, so a gate sees errors quickly.
    bluegreen_trace_export_delay_ms: 1000
    # The cutover's gates read the real Jaeger v2 (api_v3) on the trace-store host.
    bluegreen_trace_backend:
      backend: jaeger
      url: "http://127.0.0.1:16686"
    # /stock is the demo app's own dependency, called from /api/quote: not user traffic.
    bluegreen_exclude_operations: ["GET /healthz", "GET /metrics", "GET /stock"]
    bluegreen_probe_path: /api/quote
    bluegreen_audit_dir: "{audit_dir}"
    bluegreen_audit_signing_key: "{audit_dir}/signing.key"
    # Where each backend of the lab answers: Jaeger (real, v1 and api_v3), Prometheus (real,
    # with Jaeger's span metrics), Tempo (a LAB STAND-IN).
    lab_trace_backends:
      jaeger: "http://127.0.0.1:16686"
      prometheus: "http://127.0.0.1:9090"
      tempo_standin: "http://127.0.0.1:3200"
  children:
    bluegreen_blue:
      hosts:
        blue-1:
        blue-2:
    bluegreen_green:
      hosts:
        green-1:
        green-2:
    bluegreen_lb:
      hosts:
        lb-haproxy:
          lb_kind: haproxy
          bluegreen_lb_url: "http://127.0.0.1:{haproxy_port}"
        lb-nginx:
          lb_kind: nginx
          bluegreen_lb_url: "http://127.0.0.1:{nginx_port}"
    lab_trace_store:
      hosts:
        trace-store:
    # A host apart from the controller keeps an append-only copy of every run's audit log;
    # in the lab the trace store's container serves as that host.
    bluegreen_audit:
      hosts:
        trace-store:
    lab_prometheus:
      hosts:
        prometheus:
"""
with open(out, "w", encoding="utf-8") as f:
    f.write(text)
PY
}

# The lab's audit signing key (Ed25519); production keys come from a file or an AWX credential.
make_audit_key() {
  local dir="$1"
  mkdir -p "$dir" && chmod 700 "$dir"
  if [ ! -f "$dir/signing.key" ]; then
    (umask 077 && openssl genpkey -algorithm ed25519 -out "$dir/signing.key")
    openssl pkey -in "$dir/signing.key" -pubout -out "$dir/signing.pub"
  fi
}

up() {
  "$HERE/image.sh"
  "$HERE/jaeger/build.sh" >/dev/null
  remove_hosts
  podman network exists "$NETWORK" || podman network create "$NETWORK" >/dev/null
  for name in "${APP_HOSTS[@]}"; do start_host "$name"; done
  start_host lb-haproxy --publish "127.0.0.1:$HAPROXY_PORT:80/tcp"
  start_host lb-nginx --publish "127.0.0.1:$NGINX_PORT:80/tcp"
  start_host trace-store --publish 127.0.0.1:16686:16686/tcp --publish 127.0.0.1:3200:3200/tcp
  start_host prometheus --publish 127.0.0.1:9090:9090/tcp
  wait_running "${APP_HOSTS[@]}" "${LB_HOSTS[@]}" "${SERVICE_HOSTS[@]}"
  release_json="$(python3 "$HERE/app/build_artifact.py" --version "$RELEASE_VERSION" \
    --out "$CACHE/artifacts" --wheel-cache "$CACHE/wheels" | tail -n 1)"
  write_inventory "$release_json"
  echo "lab: hosts up, inventory in $STATE/inventory.yml; Jaeger, the Tempo stand-in and Prometheus, then provisioning"
  ansible-playbook -i "$STATE/inventory.yml" "$HERE/lab.yml"
  ansible-playbook -i "$STATE/inventory.yml" "$ROOT/playbooks/provision.yml"
}

down() {
  remove_hosts
  podman network exists "$NETWORK" && podman network rm "$NETWORK" >/dev/null
  rm -rf "$STATE"
  echo "lab: removed"
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
