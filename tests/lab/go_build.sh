# shellcheck shell=bash
# Sourced by the lab's Go builds (jaeger/, otelcol/, goshop/build.sh): one way to build, so
# that their packages share Go's build cache and a binary depends on its source, pins and
# flags only.
# Without DWARF (-dwarf=false, -w) and the symbol table (-s): no debugger runs in the lab, and
# a build that skips them took 15 % less CPU (measured on goshop's dependencies: 83 against 98
# CPU-seconds, with GOGC=400, which lets the compiler collect garbage less often). Panics still
# print their stack traces.
# shellcheck disable=SC2034  # read by the scripts that source this file
GO_GCFLAGS="all=-dwarf=false"
# shellcheck disable=SC2034
GO_LDFLAGS="-s -w"
# The machine's Go, also where a non-login shell has /usr/local/go/bin off its PATH.
PATH="$PATH:/usr/local/go/bin"

# go_build <module directory> <output> <ldflags> <package>: <ldflags> are the build's whole
# -ldflags ("$GO_LDFLAGS" and its -X stamps), which the callers' cache keys hash.
# Static (no cgo): the same binary runs on the controller and inside the lab's containers. No
# VCS stamp and no local paths: the checkout's state and location do not change the binary.
go_build() {
  (cd "$1" && CGO_ENABLED=0 GOGC=400 GOFLAGS="-mod=readonly -buildvcs=false" go build -trimpath -o "$2" \
    -gcflags="$GO_GCFLAGS" -ldflags "$3" "$4")
}

# go_build_cached <name> <label> <module directory> <ldflags> <package> <key file>...: builds
# once per machine into the cache outside the checkout and prints the binary's path. The key
# hashes the key files (the pins and any source beside them), the flags and the Go version, so
# a fresh clone on the same machine (CI) reuses the binary and a change of any of them builds
# a new one.
TRACEGATE_GO_CACHE="${TRACEGATE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/tracegate-bluegreen}"
go_build_cached() {
  local name=$1 label=$2 dir=$3 ldflags=$4 package=$5 key binary started
  shift 5
  key="$( (cat "$@"; echo "$GO_GCFLAGS $ldflags"; go version) | sha256sum | cut -c1-16)"
  binary="$TRACEGATE_GO_CACHE/$name-$key"
  if [ ! -x "$binary" ]; then
    mkdir -p "$TRACEGATE_GO_CACHE"
    echo "building $label from the Go module proxy (once per machine and pins; the first Go build on a machine takes minutes)" >&2
    started=$SECONDS
    go_build "$dir" "$binary.tmp" "$ldflags" "$package"
    mv "$binary.tmp" "$binary"
    echo "$label built in $((SECONDS - started)) s: $binary" >&2
  fi
  echo "$binary"
}
