#!/usr/bin/env bash
# Builds the UI into ui/dist: the Leptos crate to wasm (release), wasm-bindgen's JS glue, wasm-opt,
# then the page, styles, icon and the terminal (xterm.js) from npm. Web mode embeds ui/dist at
# compile time; the desktop shell loads it as its frontend.
# Needs: the wasm32 target, wasm-bindgen-cli =0.2.130, and `npm install` in ui/ (scripts/lib/setup.sh
# installs them). Usage: ui/build.sh [--no-opt] [--force]; it does nothing when ui/dist is newer than
# every input.
set -euo pipefail
UI=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$UI/.." && pwd)
TARGET_DIR=${CARGO_TARGET_DIR:-$REPO/target}
DIST=${GITOPS_LAB_UI_DIST:-$UI/dist}
optimise=1
force=0
for arg in "$@"; do
  case "$arg" in
    --no-opt) optimise=0 ;;
    --force) force=1 ;;
    *) echo "usage: ui/build.sh [--no-opt] [--force]" >&2; exit 2 ;;
  esac
done

cd "$REPO"
stamp="$DIST/.stamp"
inputs=(ui/src ui/Cargo.toml ui/index.html ui/boot.js ui/style.css ui/icon.svg ui/package-lock.json crates/protocol Cargo.lock)
if [ "$force" = 0 ] && [ -f "$stamp" ] && [ -z "$(find "${inputs[@]}" -newer "$stamp" -print -quit)" ]; then
  exit 0
fi
cargo build --quiet --locked -p gitops-lab-ui --lib --profile wasm-release --target wasm32-unknown-unknown
staging=$(mktemp -d)
trap 'rm -rf "$staging"' EXIT
wasm-bindgen --target web --no-typescript --out-dir "$staging" \
  "$TARGET_DIR/wasm32-unknown-unknown/wasm-release/gitops_lab_ui.wasm"
if [ "$optimise" = 1 ]; then
  # binaryen from npm (wasm-opt 132); Debian's older wasm-opt produces modules that fail at run time.
  "$UI/node_modules/.bin/wasm-opt" -Oz --enable-bulk-memory --enable-nontrapping-float-to-int \
    --enable-sign-ext --enable-mutable-globals --enable-reference-types \
    -o "$staging/gitops_lab_ui_bg.wasm" "$staging/gitops_lab_ui_bg.wasm"
fi
cp "$UI/index.html" "$UI/boot.js" "$UI/style.css" "$UI/icon.svg" "$staging/"
cp "$UI/node_modules/@xterm/xterm/lib/xterm.js" "$UI/node_modules/@xterm/xterm/css/xterm.css" "$staging/"
# Swap the whole folder at once so that a build running beside this never embeds half a UI.
rm -rf "$DIST.old"
[ -d "$DIST" ] && mv "$DIST" "$DIST.old"
mkdir -p "$(dirname "$DIST")"
mv "$staging" "$DIST"
touch "$DIST/.stamp"
chmod 755 "$DIST"
rm -rf "$DIST.old"
trap - EXIT
