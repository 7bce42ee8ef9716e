"""The lab tour: requests through each load balancer's loopback port, with the color and
version of the app host that answered each one."""
import argparse
import sys
import urllib.request

import yaml


def lab_load_balancers(inventory_path):
    with open(inventory_path, encoding="utf-8") as f:
        inventory = yaml.safe_load(f)
    hosts = inventory["all"]["children"]["bluegreen_lb"]["hosts"]
    return [(name, spec["lb_kind"], spec["bluegreen_lb_url"]) for name, spec in hosts.items()]


def request(url, preview=None):
    headers = {"X-Bluegreen-Preview": preview} if preview else {}
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=5) as response:
        h = response.headers
        return response.status, h.get("X-App-Color"), h.get("X-App-Version"), h.get("X-App-Host")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inventory", default=".lab/inventory.yml")
    parser.add_argument("--requests", type=int, default=6)
    args = parser.parse_args(argv)
    print(f"{'load balancer':<14} {'route':<16} {'status':>6}  {'color':<6} {'version':<8} host")
    failures = 0
    for name, kind, url in lab_load_balancers(args.inventory):
        routes = [("live", None)] * args.requests + [("preview green", "green")]
        for label, preview in routes:
            try:
                status, color, version, host = request(f"{url}/api/quote", preview)
            except OSError as exc:
                failures += 1
                print(f"{name:<14} {label:<16} {'error':>6}  {exc}")
                continue
            print(f"{name:<14} {label:<16} {status:>6}  {color:<6} {version:<8} {host}")
    if failures:
        print(f"{failures} request(s) failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
