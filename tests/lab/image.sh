#!/usr/bin/env bash
# Builds the lab's systemd base image once per machine; reuses it when present.
# No image registry is reachable here, so the root filesystem comes from debootstrap.
set -euo pipefail
IMAGE="${LAB_IMAGE:-localhost/bg-debian:12}"
: "${CONTAINERS_CONF:?export CONTAINERS_CONF (the Makefile does)}"

if podman image exists "$IMAGE"; then
  echo "lab image $IMAGE present, reusing it"
  exit 0
fi

rootfs="$(mktemp -d /var/tmp/bg-rootfs.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT
# python3-apt: the apt module needs it; python3-venv: app_env builds the app's venv on the host.
debootstrap --variant=minbase \
  --include=python3,python3-apt,python3-venv,systemd,systemd-sysv,iproute2,ca-certificates,curl,procps,socat \
  bookworm "$rootfs" >/dev/null
# Containers keep downloaded .deb files so a cache volume can be mounted at /var/cache/apt/archives.
rm -f "$rootfs/etc/apt/apt.conf.d/docker-clean"
echo 'Binary::apt::APT::Keep-Downloaded-Packages "true";' > "$rootfs/etc/apt/apt.conf.d/10keep-debs"
tar -C "$rootfs" -c . | podman import -q --change 'CMD ["/sbin/init"]' - "$IMAGE" >/dev/null
echo "lab image $IMAGE built"
