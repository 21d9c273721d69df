#!/usr/bin/env bash
# Another CPython than the machine's, to run the unit suite on every minor version the project supports.
# Usage: deploy/local/python.sh {3.12|3.13}   prints the interpreter's path on stdout (progress on stderr)
#
# Where no package manager offers that Python, it comes from the Go module proxy, like FerretDB: the module
# github.com/kluctl/go-embed-python embeds python-build-standalone's CPython for each platform (each file
# listed in files.json, the large ones gzipped); it is unpacked once into the cache. A machine that has the
# version already (python3.12 or python3.13 on PATH, or in pyenv's versions) uses its own.
set -euo pipefail
NAME=python
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

version=${1:-}
case $version in
  3.12) module_version=v0.0.0-3.12.3-20240415-1 ;;
  3.13) module_version=v0.0.0-3.13.1-20241219-1 ;;
  *) echo "usage: $0 {3.12|3.13}" >&2; exit 2 ;;
esac
for own in "python$version" "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$version".*/bin/"python$version"; do
  if "$own" -c 'import ssl, sqlite3' 2>/dev/null; then command -v "$own"; exit 0; fi  # a pyenv shim may not run
done

case $(uname -s)-$(uname -m) in
  Linux-x86_64) platform=linux-amd64 ;;
  Linux-aarch64) platform=linux-arm64 ;;
  *) die "no embedded CPython for $(uname -s) $(uname -m): install Python $version" ;;
esac
MODULE=github.com/kluctl/go-embed-python
DEST=$ENVOL_CACHE/python-$module_version-$platform
BIN=$DEST/bin/python$version

if ! [ -x "$BIN" ] || ! "$BIN" -c 'import ssl, sqlite3' 2>/dev/null; then
  command -v go >/dev/null || die "go not found (the Go module proxy serves this CPython)"
  say "downloading $MODULE@$module_version from the Go module proxy"
  downloaded=$(go mod download -json "$MODULE@$module_version" || true)  # its error is in the JSON
  src=$(sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p' <<<"$downloaded")
  [ -d "$src/python/internal/data/$platform" ] || die "go mod download gave no $platform CPython: $downloaded"
  rm -rf "$DEST.tmp"
  python3 - "$src/python/internal/data/$platform" "$DEST.tmp" <<'EOF'
import gzip, json, os, shutil, sys

source, target = sys.argv[1], sys.argv[2]
DIRECTORY = 1 << 31  # Go's fs.ModeDir, as files.json writes a mode
for entry in json.load(open(os.path.join(source, "files.json")))["files"]:
    path = os.path.join(target, entry["name"])
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if entry.get("symlink"):
        os.symlink(entry["symlink"], path)
    elif entry["perm"] & DIRECTORY:
        os.makedirs(path, exist_ok=True)
    else:
        plain = os.path.join(source, entry["name"])
        with (open(plain, "rb") if os.path.exists(plain) else gzip.open(plain + ".gz")) as i, open(path, "wb") as o:
            shutil.copyfileobj(i, o)
        os.chmod(path, entry["perm"] & 0o777)
EOF
  rm -rf "$DEST" && mv "$DEST.tmp" "$DEST"
  "$BIN" -c 'import ssl, sqlite3' || die "the unpacked CPython does not run"
  say "unpacked $("$BIN" -V) into $DEST"
fi
echo "$BIN"
