#!/usr/bin/env bash
# Prints the path of a Chromium for the browser test (e2e/makerun,
# TestDemoInABrowser), installing Debian's chromium package when none is on
# the machine. make test runs it and passes the path in STRIPELINE_CHROMIUM;
# it fails, saying why, when Chromium can be neither found nor installed, so
# the browser test never goes quietly unrun.
set -euo pipefail

say() { echo "chromium.sh: $*" >&2; }

find_chromium() {
  for c in "${STRIPELINE_CHROMIUM:-}" chromium chromium-browser google-chrome-stable google-chrome; do
    [ -n "$c" ] && command -v "$c" 2>/dev/null && return 0
  done
  return 1
}

if find_chromium; then
  exit 0
fi
say "Chromium is not installed; installing Debian's chromium package for the browser test…"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { say "not root and no sudo: install chromium (apt-get install chromium) or set STRIPELINE_CHROMIUM"; exit 1; }
  sudo="sudo"
fi
$sudo apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends chromium >&2 ||
  { say "apt-get could not install chromium; install it, or set STRIPELINE_CHROMIUM to a Chromium or Chrome binary"; exit 1; }
find_chromium || { say "chromium was installed but is not on PATH"; exit 1; }
