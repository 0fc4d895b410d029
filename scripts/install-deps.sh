#!/bin/sh
# Installs what tinyq needs on a fresh Debian 12 machine, skipping what is
# already there: build tools and libraries from apt, ONNX Runtime (the test
# reference, never our runtime) from npm at the version pinned in the lockfile.
set -eu
cd "$(dirname "$0")/.."

PKGS="build-essential meson ninja-build pkg-config
      protobuf-c-compiler libprotobuf-c-dev libonnx-dev libonnx-testdata
      libzip-dev libcjson-dev libssl-dev libyaml-dev zlib1g-dev libcmocka-dev
      python3 python3-numpy python3-onnx dataset-fashion-mnist
      clang libclang-rt-14-dev libtsan2 valgrind"
# node and npm may come from another source than Debian (e.g. NodeSource, whose
# nodejs package conflicts with Debian's npm): ask for them only when absent.
command -v node >/dev/null 2>&1 || PKGS="$PKGS nodejs"
command -v npm >/dev/null 2>&1 || PKGS="$PKGS npm"

missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "install-deps: installing:$missing"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends $missing
fi

# onnxruntime-node: its install script downloads optional GPU files and fails
# offline; the CPU library inside the package works without it.
# Re-install when the lockfile changed since the last install.
stamp=tests/ort/node_modules/.tinyq-lock.sha256
want=$(sha256sum tests/ort/package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    echo "install-deps: installing the ONNX Runtime test reference from tests/ort/package-lock.json"
    (cd tests/ort && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)
    echo "$want" > "$stamp"
fi
