#!/usr/bin/env bash
# Build one Go command of this repository offline with Debian's Go toolchain and its
# grpc-go/protobuf/genproto packages (/usr/share/gocode, GOPATH mode: Debian ships sources, not
# modules; `make setup-system` installs them). The repository's Go trees are linked into a
# throwaway GOPATH under their import paths:
#   realtime.dev/hub/gen/go      -> gen/go         (generated code)
#   realtime.dev/hub/clients/go  -> src/clients/go (the Go client)
#   realtime.dev/hub/bench/go    -> bench/go       (load generators for `make bench`)
#   usage: scripts/build-go.sh PACKAGE OUTPUT_BINARY   e.g. clients/go/cmd/realtime-go build/realtime-go
set -euo pipefail
pkg=${1:?usage: build-go.sh PACKAGE OUTPUT_BINARY}
out=${2:?usage: build-go.sh PACKAGE OUTPUT_BINARY}
root=$(cd "$(dirname "$0")/.." && pwd)
case "$out" in /*) ;; *) out="$PWD/$out" ;; esac
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/gopath/src/realtime.dev/hub"
ln -s "$root/gen" "$work/gopath/src/realtime.dev/hub/gen"
ln -s "$root/src/clients" "$work/gopath/src/realtime.dev/hub/clients"
ln -s "$root/bench" "$work/gopath/src/realtime.dev/hub/bench"
export GO111MODULE=off GOPATH="$work/gopath:/usr/share/gocode" GOCACHE="${GOCACHE:-$root/build/go-cache}" \
  GOPROXY=off GOFLAGS= CGO_ENABLED=0
# Vet and gofmt the whole tree the package belongs to (clients/go or bench/go), then build it.
top=$(echo "$pkg" | cut -d/ -f1-2)
src=$root/$( [ "${top%%/*}" = bench ] && echo "$top" || echo "src/$top")
unformatted=$(gofmt -l "$src")
[ -z "$unformatted" ] || { echo "gofmt -w these files: $unformatted" >&2; exit 1; }
cd "$work/gopath/src/realtime.dev/hub/$top"
go vet ./...
go build -o "$out" "realtime.dev/hub/$pkg"
