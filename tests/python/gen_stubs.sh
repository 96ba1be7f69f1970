#!/usr/bin/env bash
# Generates Python protobuf + gRPC stubs for every .proto under proto/dcr into OUT_DIR,
# with the package __init__.py files, so that
#   PYTHONPATH=OUT_DIR python -c 'from dcr.registry.v1 import providers_pb2, providers_pb2_grpc'
# works. Needs grpcio-tools (see requirements.txt) in the python on PATH, or set PYTHON.
# Works from any cwd.
set -euo pipefail

if [ $# -ne 1 ]; then
  echo "usage: $0 OUT_DIR" >&2
  exit 2
fi

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
PROTO_ROOT="$REPO/proto"
if [ -z "${PYTHON:-}" ]; then
  if command -v python >/dev/null 2>&1; then PYTHON=python; else PYTHON=python3; fi
fi

mkdir -p "$1"
OUT="$(cd "$1" && pwd)"

mapfile -t PROTOS < <(cd "$PROTO_ROOT" && find dcr -name '*.proto' | sort)
if [ ${#PROTOS[@]} -eq 0 ]; then
  echo "gen_stubs.sh: no .proto files under $PROTO_ROOT/dcr" >&2
  exit 1
fi

# grpc_tools ships the Google well-known types (google/protobuf/*.proto) and adds
# their include path itself.
(cd "$PROTO_ROOT" && "$PYTHON" -m grpc_tools.protoc -I "$PROTO_ROOT" \
  --python_out "$OUT" --grpc_python_out "$OUT" "${PROTOS[@]}")

# Package markers for every generated directory (dcr/, dcr/registry/, dcr/registry/v1/).
for proto in "${PROTOS[@]}"; do
  dir="$(dirname "$proto")"
  while [ "$dir" != "." ]; do
    touch "$OUT/$dir/__init__.py"
    dir="$(dirname "$dir")"
  done
done

echo "gen_stubs.sh: generated ${#PROTOS[@]} protos into $OUT"
