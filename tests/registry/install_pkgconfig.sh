#!/bin/bash
# `meson install --destdir` puts the library, the public headers, the
# pkg-config file and the tool in place, and a program built only from the
# installed tree (examples/score.c with `pkg-config --cflags --libs tinyq`)
# links the installed shared library and scores like `tinyq registry score`.
#   install_pkgconfig.sh SANITIZE   (meson's b_sanitize value, 'none' normally)
set -u
BUILD=${TQ_BUILD_ROOT:?}
ROOT=${TQ_SOURCE_ROOT:?}
TOOL=${TQ_TOOL:?}
SAN=${1:-none}
D=$(mktemp -d /tmp/tq_install_XXXXXX)
trap 'rm -rf "$D"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
command -v pkg-config >/dev/null || { echo "SKIP: pkg-config not installed"; exit 77; }

meson install -C "$BUILD" --destdir "$D/root" --no-rebuild --quiet >"$D/install.log" 2>&1 ||
    { cat "$D/install.log"; echo "FAIL: meson install"; exit 1; }
pc=$(find "$D/root" -name tinyq.pc | head -1)
[ -n "$pc" ] || { echo "FAIL: no tinyq.pc installed"; find "$D/root"; exit 1; }
for h in tinyq.h registry.h quantize.h; do
    [ -n "$(find "$D/root" -path "*/include/tinyq/$h")" ] || bad "header tinyq/$h not installed"
done
lib=$(find "$D/root" -name 'libtinyq.so*' -type f | head -1)
[ -n "$lib" ] || bad "libtinyq.so not installed"
bin=$(find "$D/root" -path '*/bin/tinyq' -type f | head -1)
[ -n "$bin" ] && "$bin" --version >/dev/null 2>&1 || bad "installed tool missing or not running: '$bin'"

# Compile against the installed tree only: the sysroot prefixes -I/-L with $D/root.
export PKG_CONFIG_PATH=$(dirname "$pc") PKG_CONFIG_SYSROOT_DIR="$D/root" PKG_CONFIG_LIBDIR=
flags=$(pkg-config --cflags --libs tinyq) || { echo "FAIL: pkg-config --cflags --libs tinyq"; exit 1; }
grep -q -- "-I$D/root" <<<"$flags" && grep -q -- "-L$D/root" <<<"$flags" ||
    bad "pkg-config flags do not point into the install tree: $flags"
san=()
[ "$SAN" != none ] && san=(-fsanitize="$SAN")
# shellcheck disable=SC2086
cc -std=c11 -Wall -Werror "${san[@]}" "$ROOT/examples/score.c" $flags -o "$D/score" ||
    { echo "FAIL: compiling examples/score.c against the installed tree ($flags)"; exit 1; }
export LD_LIBRARY_PATH=$(dirname "$lib")
ldd "$D/score" | grep -q "libtinyq.so.* => $D/root" || bad "score does not load the installed library: $(ldd "$D/score" | grep tinyq)"

REG="$ROOT/models/tiny/registry.json"
F="0.93 0.45 0.81 0.88 0.91 0.62"
/usr/bin/python3 -c "import numpy as np; np.savez('$D/x.npz', features=np.array([[${F// /,}]], np.float32))"
for id in mlp_regressor_fp32 mlp_regressor_static codec_mlp; do
    a=$("$D/score" "$REG" $id $F); b=$("$TOOL" registry score $id --registry "$REG" -i "$D/x.npz" | tail -1)
    [ -n "$a" ] && [ "$a" = "$b" ] && echo "ok: installed score $id = $a" || bad "$id: installed example '$a' vs tool '$b'"
done
exit $fail
