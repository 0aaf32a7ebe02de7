#!/usr/bin/env bash
# Benchmark, not a test: the desktop window's resident memory when idle. Starts the built
# gitops-lab-desktop under Xvfb on a fresh data directory, waits until it is idle (SECONDS_IDLE,
# default 30), then prints the resident memory (RSS, and PSS where /proc has smaps_rollup) of the
# window's process, of WebKit's helper processes it started, and of the sandbox cluster it runs as a
# child. Usage: xvfb-run -a tests/desktop/idle-memory.sh [BINARY]
set -euo pipefail
REPO=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${1:-${GITOPS_LAB_DESKTOP_BIN:-${CARGO_TARGET_DIR:-$REPO/target}/debug/gitops-lab-desktop}}
[ -n "${DISPLAY:-}" ] || { echo "no display: run under xvfb-run -a" >&2; exit 2; }
data=$(mktemp -d)
GITOPS_LAB_DATA=$data GITOPS_LAB_EXERCISES=$REPO/exercises "$BIN" &
app=$!
trap 'kill $app 2>/dev/null; wait $app 2>/dev/null; rm -rf "$data"' EXIT
sleep "${SECONDS_IDLE:-30}"

# The process tree under the window's process, one pid a line.
descendants() {
  local pid=$1 child
  echo "$pid"
  for child in $(pgrep -P "$pid"); do descendants "$child"; done
}

kib() { awk -v key="$2:" '$1 == key { print $2 }' "/proc/$1/$3" 2>/dev/null || echo 0; }
printf '%-28s %10s %10s\n' process "RSS MiB" "PSS MiB"
total_rss=0 total_pss=0 ui_rss=0 ui_pss=0
for pid in $(descendants "$app"); do
  name=$(tr '\0' ' ' < "/proc/$pid/cmdline" | awk '{ n = $1; sub(".*/", "", n); print n, ($2 == "sandbox" ? "sandbox" : "") }')
  rss=$(kib "$pid" VmRSS status)
  pss=$(kib "$pid" Pss smaps_rollup)
  printf '%-28s %10.1f %10.1f\n' "$name" "$(echo "$rss / 1024" | bc -l)" "$(echo "${pss:-0} / 1024" | bc -l)"
  total_rss=$((total_rss + rss)) total_pss=$((total_pss + ${pss:-0}))
  case "$name" in *sandbox*) ;; *) ui_rss=$((ui_rss + rss)) ui_pss=$((ui_pss + ${pss:-0})) ;; esac
done
printf '%-28s %10.1f %10.1f\n' "window + WebKit (no sandbox)" "$(echo "$ui_rss / 1024" | bc -l)" "$(echo "$ui_pss / 1024" | bc -l)"
printf '%-28s %10.1f %10.1f\n' "all, with the sandbox" "$(echo "$total_rss / 1024" | bc -l)" "$(echo "$total_pss / 1024" | bc -l)"
