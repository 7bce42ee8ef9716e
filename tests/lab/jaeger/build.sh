#!/usr/bin/env bash
# Builds the real Jaeger v2 (an OpenTelemetry Collector distribution) pinned by go.mod/go.sum
# beside this script, once per machine, and prints the binary's path. The binary is kept in a
# per-machine cache outside the checkout, keyed by the pins and the Go version, so a fresh
# clone on the same machine (CI) reuses it; Go's own module and build caches make a rebuild
# after a pin change incremental.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
# The Jaeger release of the pinned module version (module v1.76.0 is release v2.13.0, per its
# CHANGELOG); stamped into the binary, which `jaeger version` and the lab's output then name.
RELEASE="v2.13.0"
# The machine's Go, also where a non-login shell has /usr/local/go/bin off its PATH.
PATH="$PATH:/usr/local/go/bin"
CACHE="${TRACEGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tracegate-bluegreen}"
# Without DWARF (-dwarf=false, -w) and the symbol table (-s): no debugger runs in the lab, and
# a build that skips them took 15 % less CPU (measured on goshop's dependencies: 83 against 98
# CPU-seconds, with GOGC=400, which lets the compiler collect garbage less often). Panics still
# print their stack traces.
GCFLAGS="all=-dwarf=false"
LDFLAGS="-s -w -X github.com/jaegertracing/jaeger/internal/version.latestVersion=$RELEASE"
key="$( (cat "$HERE/go.mod" "$HERE/go.sum"; echo "$GCFLAGS $LDFLAGS"; go version) | sha256sum | cut -c1-16)"
binary="$CACHE/jaeger-$key"
if [ ! -x "$binary" ]; then
  mkdir -p "$CACHE"
  echo "building Jaeger from the Go module proxy (first time on this machine: several minutes)" >&2
  started=$SECONDS
  # Static (no cgo): the same binary runs on the controller and inside the lab's containers.
  (cd "$HERE" && CGO_ENABLED=0 GOGC=400 GOFLAGS=-mod=readonly go build -trimpath -o "$binary.tmp" \
    -gcflags="$GCFLAGS" -ldflags "$LDFLAGS" github.com/jaegertracing/jaeger/cmd/jaeger)
  mv "$binary.tmp" "$binary"
  echo "Jaeger built in $((SECONDS - started)) s: $binary" >&2
fi
echo "$binary"
