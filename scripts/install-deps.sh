#!/usr/bin/env bash
# Installs what a fresh Debian machine lacks for building and testing, and nothing else:
# Debian's docker-registry (the real registry the tests run), gradle 4.4.1, htpasswd, a JDK, pgrep, chromium
# (renders the status page in a test), go (builds Drone's own client for the Drone extension's tests), qemu's
# user-mode aarch64 emulator and Debian's arm64 libc (make and run the linux-arm64 single executable), moto's server
# (stands in for the AWS ECR API in a test), PostgreSQL (the status registry's multi-node store), make and g++ (to
# compile better-sqlite3 when no prebuilt binary fits), git and ssh-keygen (gitops-update and its git http-backend
# tests); then npm ci, and the Go modules of that client into the module cache,
# so its builds need no network afterwards.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v docker-registry >/dev/null || missing+=(docker-registry)
command -v gradle >/dev/null || missing+=(gradle)
command -v htpasswd >/dev/null || missing+=(apache2-utils)
command -v javac >/dev/null || missing+=(default-jdk-headless)
command -v pgrep >/dev/null || missing+=(procps)
command -v chromium >/dev/null || missing+=(chromium)
command -v openssl >/dev/null || missing+=(openssl)
command -v git >/dev/null || missing+=(git) # gitops-update and its tests (git http-backend is in the same package)
command -v ssh-keygen >/dev/null || missing+=(openssh-client) # SSH-signed gitops commits
command -v go >/dev/null || missing+=(golang-go)
# P2 compares the poll CLI with skopeo list-tags on the 10,000-tag image.
command -v skopeo >/dev/null || missing+=(skopeo)
# P5 drives the Drone extension with wrk: a C client, so the latency measured is the server's, not a node client's.
command -v wrk >/dev/null || missing+=(wrk)
# The build makes the linux-arm64 single executable by running its Node under qemu, and a test runs the result.
command -v qemu-aarch64-static >/dev/null || missing+=(qemu-user-static)
[ -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ] || missing+=(libc6-arm64-cross)
[ -e /usr/aarch64-linux-gnu/lib/libstdc++.so.6 ] || missing+=(libstdc++6-arm64-cross)
# The status registry's tests run a real PostgreSQL (initdb + pg_ctl from Debian's server package).
compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || missing+=(postgresql)
# better-sqlite3 (the status registry's SQLite driver) is native: without a prebuilt binary for this Node, npm ci
# compiles it with node-gyp, which needs make and a C++ compiler (and python3, below).
command -v make >/dev/null || missing+=(make)
command -v g++ >/dev/null || missing+=(g++)
if ! command -v python3 >/dev/null; then
  missing+=(python3 python3-pip)
elif ! python3 -c 'import moto.server' 2>/dev/null && ! python3 -m pip --version >/dev/null 2>&1; then
  missing+=(python3-pip)
fi
if ((${#missing[@]} > 0)); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing Debian packages: ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Into the python3 on PATH, the one test/support/moto-server.ts runs (pyenv's where there is one). Debian's own
# python3 refuses pip installs outside a virtualenv (PEP 668); on a build machine that protection is waived.
if ! python3 -c 'import moto.server' 2>/dev/null; then
  echo "installing moto[server] for $(python3 --version)"
  PIP_BREAK_SYSTEM_PACKAGES=1 python3 -m pip install --quiet --disable-pip-version-check 'moto[server]>=5,<6'
fi

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "Node.js 20 or newer is required (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi

# npm ci only when node_modules is missing or older than the lock file.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund
fi

# go.sum pins every module; `go mod download` is a no-op once they are in the module cache.
(cd test/drone/client && GOFLAGS=-mod=mod go mod download)
