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
# shellcheck source-path=SCRIPTDIR source=../go_build.sh
. "$HERE/../go_build.sh"
go_build_cached jaeger Jaeger "$HERE" \
  "$GO_LDFLAGS -X github.com/jaegertracing/jaeger/internal/version.latestVersion=$RELEASE" \
  github.com/jaegertracing/jaeger/cmd/jaeger "$HERE/go.mod" "$HERE/go.sum"
