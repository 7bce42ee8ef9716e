#!/usr/bin/env bash
# Builds a release of the lab's Go service: goshop-<version>.tar.gz (one top directory
# goshop-<version>/ holding bin/goshop, a static binary, and VERSION) and its .sha256, in --out. `--defect error_rate=<fraction>` and
# `--defect added_latency_ms=<ms>` build a faulty release: the fault is in the binary.
# The tarball is reproducible (sorted entries, fixed times and owners, gzip without a name or
# time), so rebuilding a version gives the same checksum. Prints one JSON line: version, path,
# sha256.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source-path=SCRIPTDIR source=../go_build.sh
. "$HERE/../go_build.sh"
version="" out="" ldflags=""
while [ $# -gt 0 ]; do
  case "$1" in
    --version) version="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --defect)
      case "$2" in
        error_rate=*) value="${2#*=}"; var=errorRate ;;
        added_latency_ms=*) value="${2#*=}"; var=addedLatencyMs ;;
        *) echo "unknown defect '$2' (known: error_rate=<fraction>, added_latency_ms=<ms>)" >&2; exit 2 ;;
      esac
      [[ "$value" =~ ^[0-9]+([.][0-9]+)?$ ]] || { echo "defect '$2': the value is not a number" >&2; exit 2; }
      ldflags="$ldflags -X main.$var=$value"; shift 2 ;;
    *) echo "usage: build.sh --version V --out DIR [--defect NAME=VALUE]..." >&2; exit 2 ;;
  esac
done
[[ "$version" =~ ^[0-9A-Za-z][0-9A-Za-z.+_-]*$ ]] || { echo "--version '$version' is not a plain version" >&2; exit 2; }
[ -n "$out" ] || { echo "--out is required" >&2; exit 2; }
mkdir -p "$out"
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
top="goshop-$version"
mkdir -p "$stage/$top/bin"
# Built as the lab's Jaeger is, so they share Go's build cache: the binary depends on the
# source, the pins, the version and the defects only.
go_build "$HERE" "$stage/$top/bin/goshop" "$GO_LDFLAGS -X main.version=$version$ldflags" .
echo "$version" > "$stage/$top/VERSION"
"$HERE/../pack_release.sh" "$stage" "$top" "$out" "$version"
