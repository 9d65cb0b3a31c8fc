#!/usr/bin/env bash
# Prints the path of Node.js (18 or later) for the JavaScript client's tests
# (make test-js), installing Debian's nodejs package when there is none. It
# fails, saying why, when Node can be neither found nor installed.
set -euo pipefail

say() { echo "node.sh: $*" >&2; }

if ! command -v node >/dev/null; then
  say "Node.js is not installed; installing Debian's nodejs package for the JavaScript client's tests…"
  sudo=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { say "not root and no sudo: install Node.js 18 or later"; exit 1; }
    sudo="sudo"
  fi
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq nodejs >&2 || { say "apt-get could not install nodejs; install Node.js 18 or later"; exit 1; }
fi
major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$major" -ge 18 ] || { say "Node.js $major is too old; the client's tests need 18 or later"; exit 1; }
command -v node
