#!/usr/bin/env bash
# README's test command: installs what is missing, builds, then runs every test (JUnit for the shim, jest for the
# sidecar and the integration tests against a real registry and a real JVM) on the system Node (20, the floor),
# and the jest suite once more on Node 24, so both ends of the supported range are proven on every run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
npm test

# Node 24 from the npm registry's `node` package (npx caches it). It goes first on PATH too, so every sidecar and
# CLI process the tests start runs on it, not only jest.
node24=$(npx -y node@24 -p process.execPath)
echo "jest on $("$node24" --version) ($node24)"
PATH="$(dirname "$node24"):$PATH" "$node24" node_modules/jest/bin/jest.js
