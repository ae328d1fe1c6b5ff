#!/bin/sh
# Install Caucus from this unpacked folder for the current user (no root needed):
#   ./install.sh              install into ~/.local (or $PREFIX)
#   ./install.sh --uninstall  remove it again (profiles in ~/.local/share/caucus are kept)
# Puts the program in $PREFIX/lib/caucus, links caucus and caucus-relay into $PREFIX/bin,
# adds the menu entry and icon, and makes Caucus open caucus:// invite links.
set -eu

HERE=$(cd "$(dirname "$0")" && pwd)
PREFIX=${PREFIX:-"$HOME/.local"}
DATA=${XDG_DATA_HOME:-"$PREFIX/share"}
LIB="$PREFIX/lib/caucus"
BIN="$PREFIX/bin"
APPS="$DATA/applications"
ICON="$DATA/icons/hicolor/scalable/apps/caucus.svg"

refresh_menus() {
    if command -v update-desktop-database >/dev/null 2>&1; then
        update-desktop-database -q "$APPS" || true
    fi
    if command -v gtk-update-icon-cache >/dev/null 2>&1; then
        gtk-update-icon-cache -q -t "$DATA/icons/hicolor" || true
    fi
}

if [ "${1:-}" = "--uninstall" ]; then
    rm -f "$BIN/caucus" "$BIN/caucus-relay" "$APPS/caucus.desktop" "$ICON"
    rm -rf "$LIB"
    refresh_menus
    echo "Caucus removed. Your profiles (default: ~/.local/share/caucus) were left alone."
    exit 0
fi
if [ $# -ne 0 ]; then
    echo "usage: $0 [--uninstall]" >&2
    exit 2
fi
if [ ! -x "$HERE/caucus/caucus" ]; then
    echo "install.sh: run me from the unpacked caucus-*-linux-x86_64 folder" >&2
    exit 1
fi

mkdir -p "$PREFIX/lib" "$BIN" "$APPS" "$(dirname "$ICON")"
# Copy next to the old version, then swap, so a failed copy leaves the old one working.
rm -rf "$LIB.new"
cp -R "$HERE/caucus" "$LIB.new"
rm -rf "$LIB.old"
if [ -e "$LIB" ]; then mv "$LIB" "$LIB.old"; fi
mv "$LIB.new" "$LIB"
rm -rf "$LIB.old"

ln -sfn "$LIB/caucus" "$BIN/caucus"
ln -sfn "$LIB/caucus-relay" "$BIN/caucus-relay"
cp "$HERE/caucus.svg" "$ICON"
# The menu does not read the shell's PATH: point Exec at the installed binary.
sed "s|^Exec=caucus |Exec=\"$LIB/caucus\" |" "$HERE/caucus.desktop" > "$APPS/caucus.desktop"
refresh_menus
if command -v xdg-mime >/dev/null 2>&1; then
    xdg-mime default caucus.desktop x-scheme-handler/caucus || true
fi

echo "Caucus installed in $LIB"
case ":$PATH:" in
    *":$BIN:"*) ;;
    *) echo "Note: $BIN is not on your PATH; the menu entry works, or run $BIN/caucus" ;;
esac
