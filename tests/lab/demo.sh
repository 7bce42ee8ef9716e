#!/usr/bin/env bash
# `make demo`: the lab is up and provisioned (make lab-up); show it serving, then the tour:
# four cutovers under live load through both load balancers.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
jaeger_version="$(curl -fsS http://127.0.0.1:16686/api/v3/services >/dev/null && \
  podman exec trace-store /usr/local/bin/jaeger version 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["gitVersion"])')"
echo
echo "== Trace backends of the lab"
printf '   %-16s %s\n' \
  "Jaeger $jaeger_version" "REAL (built from the Go module proxy), 127.0.0.1:16686: every gate of the cutovers below reads it (api_v3)" \
  "span metrics" "REAL (Jaeger's spanmetrics connector, scraped by a real Prometheus), 127.0.0.1:9090" \
  "Tempo" "LAB STAND-IN (not Tempo: tests/lab/tempo_standin), 127.0.0.1:3200, fed by Jaeger" \
  "Collector" "REAL (OpenTelemetry Collector built from the Go module proxy) on every app host: the app exports to it, it forwards to Jaeger"
echo
echo "== Requests through both load balancers (all traffic on blue; the preview route reaches green)"
python3 tests/lab/demo.py --inventory .lab/inventory.yml
python3 tests/lab/tour.py --inventory .lab/inventory.yml
echo
echo "(the gates read the real Jaeger $jaeger_version, fed by the real OpenTelemetry SDK of every app through its host's Collector)"
echo "The lab stays up: inventory in .lab/inventory.yml, HAProxy on 127.0.0.1:18080,"
echo "NGINX on 127.0.0.1:18081. 'make lab-down' removes it."
