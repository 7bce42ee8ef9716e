#!/usr/bin/env bash
# Builds the execution environment: the base image (ee/base) and, from the build context
# ansible-builder writes, the image holding the collection as `ansible-galaxy collection build`
# ships it. Both are rebuilt only when an input changed: the image is labelled with the hash
# of its inputs (the tarball's manifest, which holds the checksum of every shipped file, the EE
# definition, the base's files, the pins and the lab image it starts from), so that every
# checkout on the machine, CI's fresh clone too, reuses an image built from the same inputs.
# Usage: ee/build.sh ANSIBLE_BUILDER; prints the image's name.
set -euo pipefail
ANSIBLE_BUILDER="$1"
: "${CONTAINERS_CONF:?export CONTAINERS_CONF (the Makefile does)}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
WORK="$ROOT/.build/ee"
BASE_IMAGE=localhost/tracegate-ee-base:debian12
LAB_IMAGE=localhost/bg-debian:12
VERSION="$(awk '$1 == "version:" {print $2}' "$ROOT/galaxy.yml")"
IMAGE="localhost/tracegate-bluegreen-ee:$VERSION"
# pip inside the build trusts what this machine trusts (a TLS-inspecting proxy's CA, a
# site's own CA), without putting the machine's CA bundle into the image.
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt

cd "$ROOT"
mkdir -p "$WORK"
rm -rf "$WORK/collection"
ansible-galaxy collection build --force --output-path "$WORK/collection" >/dev/null
# execution-environment.yml names the tarball without its version, so that a release changes one file.
mv "$WORK/collection/tracegate-bluegreen-$VERSION.tar.gz" "$WORK/tracegate-bluegreen.tar.gz"

key="$( { tar -xOzf "$WORK/tracegate-bluegreen.tar.gz" MANIFEST.json
          cat execution-environment.yml ee/base/* requirements/ee-image.txt requirements/ee-tools.txt
          podman image inspect --format '{{.Id}}' "$LAB_IMAGE"; } | sha256sum | cut -c1-12)"
built_from="$(podman image inspect --format '{{ index .Labels "tracegate.bluegreen.ee-inputs" }}' "$IMAGE" 2>/dev/null || true)"
if [ "$built_from" = "$key" ]; then
  echo "$IMAGE up to date ($key)" >&2
  echo "$IMAGE"
  exit 0
fi

# build LOG PODMAN-BUILD-ARGUMENTS...: podman build, its output in LOG and shown when it fails.
build() {
  local log="$1"
  shift
  podman build --pull=never "$@" > "$log" 2>&1 \
    || { tail -40 "$log" >&2; echo "podman build failed; all of it in $log" >&2; exit 1; }
}

build "$WORK/base-build.log" --build-arg "DEBIAN_IMAGE=$LAB_IMAGE" -f ee/base/Containerfile -t "$BASE_IMAGE" ee/base
rm -rf "$WORK/context"
"$ANSIBLE_BUILDER" create -f execution-environment.yml -c "$WORK/context" --output-filename Containerfile >/dev/null
build "$WORK/build.log" --volume "$CA_BUNDLE:$CA_BUNDLE:ro" --label "tracegate.bluegreen.ee-inputs=$key" -f "$WORK/context/Containerfile" -t "$IMAGE" "$WORK/context"
# The previous images and build stages, untagged now; the label is the base's (ee/base/Containerfile).
podman image prune --force --filter label=tracegate.bluegreen.ee-base >/dev/null
echo "$IMAGE built ($key)" >&2
echo "$IMAGE"
