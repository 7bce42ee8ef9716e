#!/usr/bin/env bash
# Usage: pack_release.sh STAGE TOP OUT VERSION
# Packs STAGE/TOP into OUT/TOP.tar.gz reproducibly (sorted entries, fixed times and owners,
# gzip without a name or time), writes its .sha256 beside it and prints one JSON line:
# version, path, sha256. Shared by the lab services' build.sh.
set -euo pipefail
stage="$1" top="$2" out="$3" version="$4"
tarball="$out/$top.tar.gz"
tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -C "$stage" -cf - "$top" | gzip -9n > "$tarball.tmp"
mv "$tarball.tmp" "$tarball"
sha256="$(sha256sum "$tarball" | cut -d' ' -f1)"
echo "$sha256  $(basename "$tarball")" > "$tarball.sha256"
printf '{"version": "%s", "path": "%s", "sha256": "%s"}\n' "$version" "$tarball" "$sha256"
