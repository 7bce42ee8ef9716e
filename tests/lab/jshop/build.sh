#!/usr/bin/env bash
# Builds a release of the lab's Java service: jshop-<version>.tar.gz (one top directory
# jshop-<version>/ holding VERSION, bin/jshop and lib/*.jar: the service, its release jar and
# the OpenTelemetry Java SDK pinned by pom.xml) and its .sha256, in --out.
# `--defect error_rate=<fraction>` builds a faulty release: the fault is in the release jar.
# Needs a JDK 17 (javac, jar) and Maven (the libraries, once per machine). The tarball is
# reproducible (fixed jar entry times, sorted tar entries, fixed owners, gzip without a name or
# time), so rebuilding a version gives the same checksum. Prints one JSON line: version,
# path, sha256.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
version="" out="" error_rate="0"
while [ $# -gt 0 ]; do
  case "$1" in
    --version) version="$2"; shift 2 ;;
    --out) out="$2"; shift 2 ;;
    --defect)
      case "$2" in
        error_rate=*) error_rate="${2#*=}" ;;
        *) echo "unknown defect '$2' (known: error_rate=<fraction>)" >&2; exit 2 ;;
      esac
      [[ "$error_rate" =~ ^(0([.][0-9]+)?|1)$ ]] || { echo "defect '$2': not a fraction" >&2; exit 2; }
      shift 2 ;;
    *) echo "usage: build.sh --version V --out DIR [--defect error_rate=F]" >&2; exit 2 ;;
  esac
done
[[ "$version" =~ ^[0-9A-Za-z][0-9A-Za-z.+_-]*$ ]] || { echo "--version '$version' is not a plain version" >&2; exit 2; }
[ -n "$out" ] || { echo "--out is required" >&2; exit 2; }
mkdir -p "$out"
# The libraries, once per pom.xml.
libs="${XDG_CACHE_HOME:-$HOME/.cache}/tracegate-bluegreen/jshop-libs-$(sha256sum "$HERE/pom.xml" | cut -c1-12)"
if [ ! -f "$libs/.complete" ]; then
  rm -rf "$libs" && mkdir -p "$libs"
  mvn --batch-mode --quiet -f "$HERE/pom.xml" org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies \
    -DoutputDirectory="$libs" -DincludeScope=runtime >&2
  touch "$libs/.complete"
fi
stage="$(mktemp -d)"
trap 'rm -rf "$stage"' EXIT
top="jshop-$version"
mkdir -p "$stage/classes" "$stage/release/jshop" "$stage/$top/bin" "$stage/$top/lib"
javac --release 17 -nowarn -cp "$libs/*" -d "$stage/classes" "$HERE/src/jshop/Main.java"
printf 'version=%s\nerror_rate=%s\n' "$version" "$error_rate" > "$stage/release/jshop/release.properties"
date="1980-01-01T00:00:02Z"
jar --create --date="$date" --file "$stage/$top/lib/jshop.jar" -C "$stage/classes" .
jar --create --date="$date" --file "$stage/$top/lib/jshop-release.jar" -C "$stage/release" .
cp "$libs"/*.jar "$stage/$top/lib/"
cat > "$stage/$top/bin/jshop" <<'SCRIPT'
#!/bin/sh
# Starts jshop with the host's Java; JSHOP_JAVA_OPTS adds JVM options.
exec java ${JSHOP_JAVA_OPTS:-} -cp "$(dirname "$0")/../lib/*" jshop.Main
SCRIPT
chmod 0755 "$stage/$top/bin/jshop"
echo "$version" > "$stage/$top/VERSION"
"$HERE/../pack_release.sh" "$stage" "$top" "$out" "$version"
