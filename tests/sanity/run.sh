#!/usr/bin/env bash
# ansible-test sanity on a copy of the collection under ansible_collections/tracegate/bluegreen.
# ansible-test bootstraps pip in each of its venvs with a script it downloads from a host this
# machine cannot reach; an offline stand-in (get_pip_offline.py) is put in its cache first.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
# A copy of its own per run, so that runs side by side (several checks at once) never share one.
mkdir -p "$ROOT/.build"
RUN_DIR="$(mktemp -d "$ROOT/.build/sanity.XXXXXX")"
trap 'rm -rf "$RUN_DIR"' EXIT
COPY="$RUN_DIR/ansible_collections/tracegate/bluegreen"

pip_version="$(python3 - <<'PY'
import re, ansible_test, pathlib
source = pathlib.Path(ansible_test.__file__).parent / "_internal" / "python_requirements.py"
print(re.search(r"pip='([0-9.]+)'", source.read_text()).group(1))
PY
)"
cache="$HOME/.ansible/test/cache"
mkdir -p "$cache"
cp "$ROOT/tests/sanity/get_pip_offline.py" "$cache/get_pip_${pip_version//./_}.py"

mkdir -p "$COPY"
# The tracked files plus new ones git does not ignore, less deleted ones: what a commit would hold.
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard \
  | while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done) \
  | (cd "$ROOT" && rsync -a --from0 --files-from=- ./ "$COPY/")
# SANITY_SHIPPED=1: only what the collection's tarball holds (galaxy.yml's build_ignore leaves
# out the lab, the integration and molecule tests, the benchmarks and the EE's definition):
# what a user of that ansible-core installs. The matrix checks the older cores so; the lab's
# own code runs on the main venv's ansible-core only and is checked there, whole.
if [ "${SANITY_SHIPPED:-0}" = 1 ]; then
  (cd "$COPY" && ansible-galaxy collection build --output-path "$RUN_DIR/tarball" >/dev/null)
  rm -rf "$COPY" && mkdir -p "$COPY"
  tar -xzf "$RUN_DIR"/tarball/*.tar.gz -C "$COPY"
fi
cd "$COPY"
git init -q && git add -A
# SANITY_PYTHON: the Python to test under (the controller's by default; the hosts' Pythons for
# compile and import). ansible-test calls it by name (python3.9), which pyenv's shims answer
# only for pyenv's global versions: put the version's own directory first.
version="${SANITY_PYTHON:-3.12}"
for dir in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$version".*/bin; do
  if [ -x "$dir/python$version" ]; then PATH="$dir:$PATH"; break; fi
done
ansible-test sanity --python "$version" --color no "$@"
