#!/usr/bin/env bash
# Builds the lab's OpenTelemetry Collector (main.go: the components the tracing_agent role's
# configuration uses) pinned by go.mod/go.sum beside this script, once per machine, and prints
# the binary's path. The binary is kept in a per-machine cache outside the checkout, keyed by
# the source, the pins and the Go version, so a fresh clone on the same machine (CI) reuses
# it; its modules are those of the lab's Jaeger, so Go's module and build caches make even the
# first build on a machine that built Jaeger short.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
# The collector core release of the pins; stamped into the binary (`otelcol --version`).
RELEASE="0.140.0"
# shellcheck source-path=SCRIPTDIR source=../go_build.sh
. "$HERE/../go_build.sh"
go_build_cached otelcol "the lab's OpenTelemetry Collector" "$HERE" "$GO_LDFLAGS -X main.version=$RELEASE" . \
  "$HERE/main.go" "$HERE/go.mod" "$HERE/go.sum"
