#!/usr/bin/env bash
# Runs every benchmark in this folder (bench_*.py); each prints its figures and the ratio to
# a baseline measured in the same run.
set -euo pipefail
cd "$(dirname "$0")"
shopt -s nullglob
benches=(bench_*.py)
if [ ${#benches[@]} -eq 0 ]; then
  echo "no benchmarks yet"
  exit 0
fi
for bench in "${benches[@]}"; do
  echo "== $bench"
  python3 "$bench" "$@"
done
