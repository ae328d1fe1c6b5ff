#!/usr/bin/env bash
# Build the Linux desktop bundle and smoke-test it:
#   packaging/desktop/build.sh [OUT_DIR]      (default OUT_DIR: dist/ in the repository)
# Installs caucus and PyInstaller into a throwaway venv, freezes packaging/desktop/
# caucus.spec into one folder, adds the caucus-relay symlink, the .desktop entry, the
# icon and install.sh, packs caucus-<version>-linux-x86_64.tar.gz, then runs smoke.py
# against the unpacked tarball (offscreen Qt; no display needed).
# Needs python3.11 with venv; Qt's xcb plugin needs libxcb-cursor0 etc. only to *run*
# on a desktop, not to build or to pass the offscreen smoke test.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE="$ROOT/packaging/desktop"
OUT=$(mkdir -p "${1:-$ROOT/dist}" && cd "${1:-$ROOT/dist}" && pwd)
PYTHON=${PYTHON:-python3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/caucus-bundle.XXXXXX")
# CAUCUS_KEEP_BUILD=1 keeps the work folder (venv, PyInstaller output) for a look after.
if [ -z "${CAUCUS_KEEP_BUILD:-}" ]; then trap 'rm -rf "$WORK"' EXIT; else echo "build: work folder $WORK"; fi

echo "build: venv and dependencies"
"$PYTHON" -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install -q "$ROOT[bundle]"
VERSION=$("$WORK/venv/bin/python" -c 'import importlib.metadata as m; print(m.version("caucus"))')
ARCH=$(uname -m)
NAME="caucus-$VERSION-linux-$ARCH"

echo "build: pyinstaller ($NAME)"
# PyInstaller imports rbcl to analyse it, and each import writes rbcl's libsodium to a
# temporary file: keep those in the work folder, which is removed at the end.
mkdir -p "$WORK/tmp"
TMPDIR="$WORK/tmp" "$WORK/venv/bin/pyinstaller" --noconfirm --clean --log-level WARN \
    --distpath "$WORK/dist" --workpath "$WORK/build" "$HERE/caucus.spec"

STAGE="$WORK/stage/$NAME"
mkdir -p "$STAGE"
mv "$WORK/dist/caucus" "$STAGE/caucus"
ln -s caucus "$STAGE/caucus/caucus-relay"
cp "$HERE/caucus.desktop" "$HERE/install.sh" "$STAGE/"
cp "$ROOT/resources/icons/caucus.svg" "$STAGE/caucus.svg"
cp "$ROOT/LICENSE" "$STAGE/" 2>/dev/null || true
tar -C "$WORK/stage" -czf "$OUT/$NAME.tar.gz" "$NAME"

echo "build: smoke test of the packed tarball"
mkdir "$WORK/unpacked"
tar -C "$WORK/unpacked" -xzf "$OUT/$NAME.tar.gz"
"$PYTHON" "$HERE/smoke.py" "$WORK/unpacked/$NAME" "$VERSION"
echo "build: $OUT/$NAME.tar.gz ($(du -h "$OUT/$NAME.tar.gz" | cut -f1))"
