#!/usr/bin/env bash
# `make demo`: the lab is up and provisioned (make lab-up); show it serving, then the tour:
# three cutovers under live load through both load balancers.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
echo
echo "== Requests through both load balancers (all traffic on blue; the preview route reaches green)"
python3 tests/lab/demo.py --inventory .lab/inventory.yml
python3 tests/lab/tour.py --inventory .lab/inventory.yml
echo
echo "(the gates read the lab trace store's Jaeger API: a lab stand-in for Jaeger, fed by the real OpenTelemetry SDK)"
echo "The lab stays up: inventory in .lab/inventory.yml, HAProxy on 127.0.0.1:18080,"
echo "NGINX on 127.0.0.1:18081. 'make lab-down' removes it."
