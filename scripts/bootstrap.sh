#!/bin/sh
# Installs the Node dependencies when they are missing or older than the lock file.
# Idempotent and quick when nothing changed; the servers are installed by `tilgang stack up`.
set -e
cd "$(dirname "$0")/.."
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
