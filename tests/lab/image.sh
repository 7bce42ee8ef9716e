#!/usr/bin/env bash
# Builds the lab's systemd base image once per machine; reuses it while it was built by this
# recipe (the image carries the hash of this file as a label).
# No image registry is reachable here, so the root filesystem comes from debootstrap.
set -euo pipefail
IMAGE="${LAB_IMAGE:-localhost/bg-debian:12}"
: "${CONTAINERS_CONF:?export CONTAINERS_CONF (the Makefile does)}"
recipe="$(sha256sum < "$0" | cut -c1-12)"

built_by="$(podman image inspect --format '{{ index .Labels "tracegate.bluegreen.lab-recipe" }}' "$IMAGE" 2>/dev/null || true)"
if [ "$built_by" = "$recipe" ]; then
  echo "lab image $IMAGE present, reusing it"
  exit 0
fi

rootfs="$(mktemp -d /var/tmp/bg-rootfs.XXXXXX)"
trap 'rm -rf "$rootfs"' EXIT
# python3-apt: the apt module needs it; python3-venv: app_env builds the app's venv on the host;
# openssh-server: the lab scenarios reach their hosts over SSH, as production does (each
# scenario authorises a key of its own at prepare).
debootstrap --variant=minbase \
  --include=python3,python3-apt,python3-venv,systemd,systemd-sysv,iproute2,ca-certificates,curl,procps,socat,openssh-server \
  bookworm "$rootfs" >/dev/null
# Containers keep downloaded .deb files so a cache volume can be mounted at /var/cache/apt/archives.
rm -f "$rootfs/etc/apt/apt.conf.d/docker-clean"
echo 'Binary::apt::APT::Keep-Downloaded-Packages "true";' > "$rootfs/etc/apt/apt.conf.d/10keep-debs"
# Every container makes host keys of its own at its first boot, not one set shared by all.
rm -f "$rootfs"/etc/ssh/ssh_host_*
mkdir -p "$rootfs/etc/systemd/system/ssh.service.d"
printf '[Service]\nExecStartPre=\nExecStartPre=/usr/bin/ssh-keygen -A\nExecStartPre=/usr/sbin/sshd -t\n' \
  > "$rootfs/etc/systemd/system/ssh.service.d/10-host-keys.conf"
tar -C "$rootfs" -c . | podman import -q --change 'CMD ["/sbin/init"]' \
  --change "LABEL tracegate.bluegreen.lab-recipe=$recipe" - "$IMAGE" >/dev/null
echo "lab image $IMAGE built"
