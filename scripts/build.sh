#!/usr/bin/env bash
# README's build command: installs what is missing, then builds the plugin jar (with the sidecar inside) and the
# sidecar on its own (dist/gocd-registry-bridge.js).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
npm run build
echo
echo "Plugin jar: $(ls dist/*.jar)  (copy it to <GoCD server>/plugins/external/ and restart GoCD)"
echo "Sidecar:    node dist/gocd-registry-bridge.js serve --help"
