#!/usr/bin/env bash
# README's test command: installs what is missing, builds, then runs every test (JUnit for the shim, jest for the
# sidecar and the integration tests against a real registry and a real JVM) on the system Node (20, the floor),
# and the jest suite once more on Node 24, so both ends of the supported range are proven on every run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
npm test

# Node 24: the one the jar's own executable carries (scripts/sea.mjs pins it; the build above fetched it). It goes
# first on PATH too, so every sidecar and CLI process the tests start runs on it, not only jest.
node24="$PWD/$(node scripts/node24.mjs)"
echo "jest on $("$node24" --version) ($node24)"

# better-sqlite3 (the status registry's SQLite driver) is native, built for one Node ABI: this pass gets a build
# against Node 24's headers (kept in build/native/ for later runs), and the system Node's build is put back after.
addon=node_modules/better-sqlite3/build/Release/better_sqlite3.node
loads='new (require("better-sqlite3"))(":memory:").close()'
system_copy="build/native/better_sqlite3-abi$(node -p process.versions.modules).node"
node24_copy="build/native/better_sqlite3-abi$("$node24" -p process.versions.modules).node"
mkdir -p build/native
node -e "$loads" 2>/dev/null && cp "$addon" "$system_copy"
if [ ! -f "$node24_copy" ]; then
  PATH="$(dirname "$node24"):$PATH" npm rebuild better-sqlite3 --nodedir="$(dirname "$(dirname "$node24")")" >/dev/null
  "$node24" -e "$loads"
  cp "$addon" "$node24_copy"
fi
cp "$node24_copy" "$addon"
trap 'cp "$system_copy" "$addon"' EXIT
PATH="$(dirname "$node24"):$PATH" "$node24" node_modules/jest/bin/jest.js
