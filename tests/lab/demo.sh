#!/usr/bin/env bash
# `make demo`: the lab is up and provisioned (make lab-up); show it serving.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
echo
echo "== Requests through both load balancers (all traffic on blue; the preview route reaches green)"
python3 tests/lab/demo.py --inventory .lab/inventory.yml
echo
echo "== Live traffic on blue, preview traffic on green, then green judged against blue from its traces"
python3 - <<'PY'
import http.client
import json
import sys
import time
import urllib.parse
import urllib.request

sys.path.insert(0, "tests/lab")
from loadgen import LoadGenerator


def preview_green(count):
    for _ in range(count):
        connection = http.client.HTTPConnection("127.0.0.1", 18081, timeout=5)
        connection.request("GET", "/api/quote", headers={"X-Bluegreen-Preview": "green"})
        connection.getresponse().read()
        connection.close()


# Prometheus counts an increase only from a series' first scrape on: a few green requests
# first, then wait (with a deadline) until it has scraped both colors' series.
preview_green(5)
query = 'traces_span_metrics_calls_total{span_kind="SPAN_KIND_SERVER",span_name="GET /api/quote"}'
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    url = "http://127.0.0.1:9090/api/v1/query?" + urllib.parse.urlencode({"query": query})
    with urllib.request.urlopen(url, timeout=5) as response:
        colors = {r["metric"].get("deployment_color") for r in json.loads(response.read())["data"]["result"]}
    if {"blue", "green"} <= colors:
        break
    time.sleep(0.5)

live = LoadGenerator("http://127.0.0.1:18080/api/quote", keepalive_clients=2, new_connection_clients=0,
                     max_requests=600, max_seconds=30).start()
preview_green(300)
print("live load:", live.wait())

# The SDK exports in batches (every 5 s by default): wait until the store has the preview
# requests before judging, with a deadline.
url = ("http://127.0.0.1:9411/api/v2/traces?serviceName=bgdemo&spanName=get%20/api/quote"
       "&annotationQuery=deployment.color=green&lookback=120000&limit=100000")
deadline = time.monotonic() + 30
while time.monotonic() < deadline:
    with urllib.request.urlopen(url, timeout=5) as response:
        if len(json.loads(response.read())) >= 300:
            break
    time.sleep(0.5)
PY
ANSIBLE_CALLBACK_RESULT_FORMAT=json ansible-playbook -i .lab/inventory.yml tests/lab/demo_gates.yml \
  | sed -n 's/^ *"msg": "\(.*\)"$/\1/p'
echo "(the lab trace store answers the Jaeger, Tempo and Zipkin APIs as a lab stand-in; Prometheus is real)"
echo
echo "The lab stays up: inventory in .lab/inventory.yml, HAProxy on 127.0.0.1:18080,"
echo "NGINX on 127.0.0.1:18081. 'make lab-down' removes it."
