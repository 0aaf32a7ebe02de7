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

# The C toolchain that some crates' build scripts need.
ensure_build_tools() {
  command -v cc >/dev/null 2>&1 && command -v pkg-config >/dev/null 2>&1 && return 0
  ensure_apt build-essential pkg-config
}

# Where builds go: $CARGO_TARGET_DIR, else target/ in the clone.
target_dir() {
  echo "${CARGO_TARGET_DIR:-$REPO/target}"
}
