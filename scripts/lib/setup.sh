# Idempotent set-up steps shared by scripts/lab and scripts/test. Each step checks first and
# prints nothing when there is nothing to do; installs are quiet unless they fail.

# Runs a command quietly; on failure shows its output and stops.
quietly() {
  local log
  log=$(mktemp)
  if ! "$@" >"$log" 2>&1; then
    echo "set-up step failed: $*" >&2
    cat "$log" >&2
    rm -f "$log"
    exit 1
  fi
  rm -f "$log"
}

# Installs the Debian packages that are missing (as root, or through sudo).
ensure_apt() {
  local missing=()
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  echo "installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  quietly $sudo apt-get update
  quietly env DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
}

# Checks that Rust's cargo is on PATH (rustup installs it; nothing else can).
ensure_cargo() {
  if ! command -v cargo >/dev/null 2>&1; then
    [ -x "$HOME/.cargo/bin/cargo" ] && export PATH="$HOME/.cargo/bin:$PATH"
  fi
  command -v cargo >/dev/null 2>&1 || {
    echo "cargo is missing: install Rust with rustup (https://rustup.rs), then run this again" >&2
    exit 1
  }
}

# The C toolchain that some crates' build scripts need, and python3 (the tests' stand-in minikube).
ensure_build_tools() {
  command -v cc >/dev/null 2>&1 && command -v pkg-config >/dev/null 2>&1 || ensure_apt build-essential pkg-config
  command -v python3 >/dev/null 2>&1 || ensure_apt python3
}

# Where builds go: $CARGO_TARGET_DIR, else target/ in the clone.
target_dir() {
  echo "${CARGO_TARGET_DIR:-$REPO/target}"
}

# The UI's toolchain: the wasm target, the wasm-bindgen CLI matching Cargo.lock's wasm-bindgen,
# and ui/'s npm packages (the terminal and wasm-opt).
ensure_ui_toolchain() {
  rustup target list --installed 2>/dev/null | grep -qx wasm32-unknown-unknown \
    || quietly rustup target add wasm32-unknown-unknown
  if [ "$(wasm-bindgen --version 2>/dev/null)" != "wasm-bindgen 0.2.130" ]; then
    echo "installing wasm-bindgen-cli 0.2.130 (about 2 minutes)"
    # Without --locked: its lock file names a dependency version the registry no longer serves.
    quietly cargo install wasm-bindgen-cli --version =0.2.130
  fi
  ensure_npm_packages "$REPO/ui"
}

# Node.js and npm (Debian's, when the machine has none).
ensure_npm() {
  command -v npm >/dev/null 2>&1 || ensure_apt nodejs npm
}

# `npm ci` in a folder whose node_modules is missing or older than its lock file.
ensure_npm_packages() {
  local dir=$1
  ensure_npm
  if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    (cd "$dir" && quietly npm ci --no-audit --no-fund)
  fi
}

# The libraries the Tauri desktop shell links (webkit2gtk and friends).
ensure_desktop_libs() {
  ensure_apt libwebkit2gtk-4.1-dev libgtk-3-dev librsvg2-dev libayatana-appindicator3-dev libsoup-3.0-dev \
    libjavascriptcoregtk-4.1-dev libssl-dev file
}

# What the browser and window tests drive: Debian's Chromium, Xvfb, WebKit's WebDriver with
# tauri-driver, fonts for Chinese text, and the tests' npm packages.
ensure_ui_test_tools() {
  ensure_apt chromium xvfb xauth webkit2gtk-driver fonts-dejavu-core fonts-noto-cjk
  if ! command -v tauri-driver >/dev/null 2>&1; then
    echo "installing tauri-driver 2.1.0"
    quietly cargo install tauri-driver --version 2.1.0 --locked
  fi
  ensure_npm_packages "$REPO/tests/ui"
}

# Whether a graphical display is available for the desktop window.
has_display() {
  [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]
}
