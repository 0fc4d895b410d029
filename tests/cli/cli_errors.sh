#!/bin/bash
# Bad input never crashes tinyq: each case must exit 2 with a message naming the
# file and the problem, and leave every input file byte-identical.
set -uo pipefail
ROOT="${TQ_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
TOOL="${TQ_TOOL:-$ROOT/build/tools/tinyq/tinyq}"
PY=/usr/bin/python3
W="$(mktemp -d)"
trap 'rm -rf "$W"' EXIT
fails=0

# expect CODE PATTERN -- CMD...: exit code and a stderr line matching PATTERN.
expect() {
    local code="$1" pattern="$2"; shift 3
    local before after
    before=$(sha256sum "$W"/* 2>/dev/null | sort)
    "$@" >"$W/.out" 2>"$W/.err"
    local rc=$?
    after=$(sha256sum "$W"/* 2>/dev/null | grep -v '/\.out$\|/\.err$' | sort)
    before=$(echo "$before" | grep -v '/\.out$\|/\.err$')
    if [ "$rc" -ne "$code" ] || ! grep -qE -- "$pattern" "$W/.err"; then
        echo "FAIL: '$*' exited $rc (want $code), stderr:"; sed 's/^/    /' "$W/.err"
        echo "    (wanted a message matching: $pattern)"
        fails=$((fails + 1))
    elif [ "$rc" -ge 128 ]; then
        echo "FAIL: '$*' crashed (signal $((rc - 128)))"; fails=$((fails + 1))
    elif [ "$before" != "$after" ]; then
        echo "FAIL: '$*' modified an input file"; fails=$((fails + 1))
    else
        echo "ok   exit $rc: $(head -c 160 "$W/.err" | head -1)"
    fi
}

MLP="$ROOT/fixtures/mlp.onnx"
cp "$MLP" "$W/mlp.onnx"
head -c 700 "$MLP" > "$W/truncated.onnx"
head -c 4096 /dev/urandom > "$W/random.onnx"
: > "$W/empty.onnx"

"$PY" - "$W" <<'PY'
import sys, numpy as np, onnx
from onnx import helper, TensorProto
w = sys.argv[1]
g = helper.make_graph([helper.make_node("FooBar", ["x"], ["y"], name="mystery_node")], "g",
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)]), f"{w}/unknown_op.onnx")
np.savez(f"{w}/wrong_key.npz", not_features=np.zeros((2, 6), np.float32))
np.savez(f"{w}/wrong_shape.npz", features=np.zeros((2, 7), np.float32))
np.savez(f"{w}/rank3.npz", features=np.zeros((2, 6, 1), np.float32))
np.savez(f"{w}/wrong_dtype.npz", features=np.zeros((2, 6), np.int32))
open(f"{w}/garbage.npz", "wb").write(b"PK\x03\x04 this is not really a zip file")
# a fused dynamic conv whose weight scale spans two axes (one per output
# channel must lie along one axis)
from onnx import numpy_helper as nh
inits = [nh.from_array(np.ones((4, 2, 1, 1), np.int8), "w"), nh.from_array(np.zeros((), np.int8), "wzp"),
         nh.from_array(np.full((2, 2), 0.1, np.float32), "ws")]
g = helper.make_graph([helper.make_node("DynQConv", ["x", "w", "wzp", "ws"], ["y"], name="bad_fused",
                                        domain="tinyq")], "g",
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 4, 4])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4, 4, 4])],
                      initializer=inits)
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid("tinyq", 1)]),
          f"{w}/dynq_bad_scale.onnx")
PY

expect 2 "truncated.onnx.*(not a valid ONNX|protobuf)" -- "$TOOL" run "$W/truncated.onnx"
expect 2 "random.onnx" -- "$TOOL" inspect "$W/random.onnx"
expect 2 "empty.onnx" -- "$TOOL" run "$W/empty.onnx"
expect 2 "no_such.onnx.*(No such file|cannot open)" -- "$TOOL" run "$W/no_such.onnx"
expect 2 "unknown_op.onnx.*mystery_node.*FooBar" -- "$TOOL" run "$W/unknown_op.onnx"
expect 2 "dynq_bad_scale.onnx.*bad_fused.*weight scale 'ws'" -- "$TOOL" run "$W/dynq_bad_scale.onnx"
expect 2 "wrong_key.npz.*features" -- "$TOOL" run "$W/mlp.onnx" -i "$W/wrong_key.npz"
expect 2 "wrong_shape.npz.*features.*dimension 1 is 7" -- "$TOOL" run "$W/mlp.onnx" -i "$W/wrong_shape.npz"
expect 2 "rank3.npz.*rank 3" -- "$TOOL" run "$W/mlp.onnx" -i "$W/rank3.npz"
expect 2 "wrong_dtype.npz.*int32" -- "$TOOL" run "$W/mlp.onnx" -i "$W/wrong_dtype.npz"
expect 2 "garbage.npz" -- "$TOOL" run "$W/mlp.onnx" -i "$W/garbage.npz"
expect 2 "unknown option" -- "$TOOL" run "$W/mlp.onnx" --bogus
expect 2 "unknown command" -- "$TOOL" frobnicate

SEED="${TQ_SEED_MODELS:-}"
if [ -f "$SEED/fr_regressor_v1.onnx" ]; then
    mkdir -p "$W/ext"
    cp "$SEED/fr_regressor_v1.onnx" "$W/ext/missing.onnx"
    expect 2 "missing.onnx.*fr_regressor_v1.onnx.data" -- "$TOOL" run "$W/ext/missing.onnx"
    mkdir -p "$W/short"
    cp "$SEED/fr_regressor_v1.onnx" "$W/short/m.onnx"
    head -c 1000 "$SEED/fr_regressor_v1.onnx.data" > "$W/short/fr_regressor_v1.onnx.data"
    expect 2 "m.onnx.*(bytes|short|past the end)" -- "$TOOL" run "$W/short/m.onnx"
else
    echo "skip external-data cases: seed models absent ($SEED)"
fi

[ "$fails" -eq 0 ] && echo "all bad-input cases handled" && exit 0
echo "$fails case(s) failed"; exit 1
