#!/usr/bin/env bash
# README's test command: installs what is missing, builds, then runs every test (JUnit for the shim, jest for the
# sidecar and the integration tests against a real registry and a real JVM).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
npm test
