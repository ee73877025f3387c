#!/bin/sh
# Installs the Node dependencies when they are missing or older than the lock file, and Debian's
# chromium for the dashboard's browser test (playwright-core drives it; no browser is downloaded).
# Idempotent and quick when nothing changed; the servers are installed by `tilgang stack up`.
set -e
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
if [ -z "$TILGANG_CHROMIUM" ] && [ ! -x /usr/bin/chromium ] && command -v apt-get >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then SUDO=; elif command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else SUDO=none; fi
  if [ "$SUDO" != none ]; then
    echo "bootstrap: installing Debian's chromium (the dashboard's browser test)" >&2
    $SUDO apt-get install -y -q chromium >/dev/null 2>&1 || { $SUDO apt-get update -q >/dev/null 2>&1 && $SUDO apt-get install -y -q chromium >/dev/null; } \
      || echo "bootstrap: could not install chromium; the dashboard's browser test will say so" >&2
  fi
fi
