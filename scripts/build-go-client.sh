#!/usr/bin/env bash
# Build the Go client's command (src/clients/go/cmd/realtime-go); see scripts/build-go.sh.
#   usage: scripts/build-go-client.sh OUTPUT_BINARY
set -euo pipefail
out=${1:?usage: build-go-client.sh OUTPUT_BINARY}
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
root=$(cd "$(dirname "$0")/.." && pwd)
exec bash "$root/scripts/build-go.sh" clients/go/cmd/realtime-go "$out"
