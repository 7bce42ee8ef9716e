#!/usr/bin/env bash
# Fetches the real Zipkin server (the exec jar of io.zipkin:zipkin-server) from Maven Central
# into Maven's per-machine repository, checks it against the pinned sha256 and prints its path.
set -euo pipefail
VERSION="3.5.1"
SHA256="7ac633a6832647e71e50012a5e3e91fbc7054414955261724526030faf271d8d"
jar="${MAVEN_REPOSITORY:-$HOME/.m2/repository}/io/zipkin/zipkin-server/$VERSION/zipkin-server-$VERSION-exec.jar"
if [ ! -f "$jar" ] || ! echo "$SHA256  $jar" | sha256sum --check --status; then
  mvn --batch-mode --quiet dependency:get -Dartifact="io.zipkin:zipkin-server:$VERSION:jar:exec" -Dtransitive=false >&2
  echo "$SHA256  $jar" | sha256sum --check --status || { echo "zipkin: $jar does not match the pinned sha256" >&2; exit 1; }
fi
echo "$jar"
