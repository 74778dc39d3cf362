#!/usr/bin/env bash
# Build the Go client's command (src/clients/go/cmd/realtime-go) offline with Debian's Go toolchain
# and its grpc-go/protobuf/genproto packages (/usr/share/gocode, GOPATH mode: Debian ships sources,
# not modules). The repository's Go packages are linked into a throwaway GOPATH under their
# import paths (realtime.dev/hub/gen/go, realtime.dev/hub/clients/go).
#   usage: scripts/build-go-client.sh OUTPUT_BINARY
set -euo pipefail
out=${1:?usage: build-go-client.sh OUTPUT_BINARY}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/gopath/src/realtime.dev/hub"
ln -s "$root/gen" "$work/gopath/src/realtime.dev/hub/gen"
ln -s "$root/src/clients" "$work/gopath/src/realtime.dev/hub/clients"
export GO111MODULE=off GOPATH="$work/gopath:/usr/share/gocode" GOCACHE="${GOCACHE:-$root/build/go-cache}" \
  GOPROXY=off GOFLAGS= CGO_ENABLED=0
cd "$work/gopath/src/realtime.dev/hub/clients/go"
unformatted=$(gofmt -l "$root/src/clients/go")
[ -z "$unformatted" ] || { echo "gofmt -w these files: $unformatted" >&2; exit 1; }
go vet ./realtime ./cmd/realtime-go
go build -o "$out" ./cmd/realtime-go
