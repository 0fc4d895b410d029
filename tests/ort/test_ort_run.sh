#!/bin/bash
# test_ort_run.sh — checks the ONNX Runtime reference harness (ort_run.js + npy.js)
# against numpy and the torch outputs the fixture scripts saved:
#   * every .npy dtype round-trips bit-exactly numpy -> ort_run.js -> numpy (Identity models)
#   * stored and deflated .npz inputs both read
#   * fixtures/mlp.onnx, codec_mlp.onnx (external data, two inputs) and cnn.onnx match
#     the torch forward pass saved in fixtures/*_ref.npz
#   * --per-sample equals the batched run; mlp_dupes.onnx equals mlp.onnx bit for bit
#   * bad inputs exit 2 with a message naming the file
# Exit 77 (meson: skipped) when node, the npm packages or numpy/onnx are missing.
set -euo pipefail

ROOT="${TQ_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
PY=/usr/bin/python3
RUN="$ROOT/tests/ort/ort_run.js"
FX="$ROOT/fixtures"

command -v node >/dev/null || { echo "SKIP: node not installed"; exit 77; }
(cd "$ROOT/tests/ort" && node -e "require('onnxruntime-node'); require('fflate')" 2>/dev/null) \
  || { echo "SKIP: run 'cd tests/ort && npm ci --ignore-scripts' first"; exit 77; }
"$PY" -c "import numpy, onnx" 2>/dev/null || { echo "SKIP: $PY lacks numpy/onnx"; exit 77; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

# 1. dtype round trip through Identity models (one per dtype), stored and deflated npz.
"$PY" - "$WORK" <<'PY'
import sys, numpy as np, onnx
from onnx import helper, TensorProto
work = sys.argv[1]
rng = np.random.default_rng(7)
cases = {
    "float32": (TensorProto.FLOAT, rng.standard_normal((3, 5)).astype(np.float32)),
    "float16": (TensorProto.FLOAT16, rng.standard_normal((4, 2, 3)).astype(np.float16)),
    "int64": (TensorProto.INT64, rng.integers(-2**62, 2**62, (7,), dtype=np.int64)),
    "int32": (TensorProto.INT32, rng.integers(-2**31, 2**31 - 1, (2, 3), dtype=np.int32)),
    "uint8": (TensorProto.UINT8, rng.integers(0, 256, (2, 1, 3, 3), dtype=np.uint8)),
    "int8": (TensorProto.INT8, rng.integers(-128, 128, (5, 1), dtype=np.int8)),
    "scalar": (TensorProto.FLOAT, np.array(3.5, dtype=np.float32)),
}
for name, (elem, arr) in cases.items():
    dims = list(arr.shape)
    g = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], name,
                          [helper.make_tensor_value_info("x", elem, dims)],
                          [helper.make_tensor_value_info("y", elem, dims)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, f"{work}/{name}.onnx")
    np.savez(f"{work}/{name}_in.npz", x=arr)
    np.savez_compressed(f"{work}/{name}_in_deflated.npz", x=arr)
PY
for t in float32 float16 int64 int32 uint8 int8 scalar; do
  for variant in in in_deflated; do
    node "$RUN" "$WORK/$t.onnx" "$WORK/${t}_$variant.npz" "$WORK/${t}_$variant.out.npz"
    "$PY" - "$WORK/${t}_$variant.npz" "$WORK/${t}_$variant.out.npz" <<'PY' || fail "dtype round trip $t ($variant)"
import sys, numpy as np
x = np.load(sys.argv[1])["x"]; out = np.load(sys.argv[2])
assert out.files == ["y"], out.files
y = out["y"]
assert y.dtype == x.dtype and y.shape == x.shape, (y.dtype, y.shape, x.dtype, x.shape)
assert y.tobytes() == x.tobytes(), "bytes differ"
PY
  done
done
echo "ok: dtype round trip (float32 float16 int64 int32 uint8 int8 scalar; stored+deflated)"

# Compare OUT[key] with REF[refkey].  Tolerance: rtol 1e-5 of the output's magnitude.
# float32 accumulation error grows with the size of the summed terms, not of the result,
# so the absolute part is scaled by max|ref|; ORT and torch differ only in summation order.
compare() {  # compare OUT.npz KEY REF.npz REFKEY LABEL
  "$PY" - "$@" <<'PY' || fail "$5"
import sys, numpy as np
out = np.load(sys.argv[1])[sys.argv[2]]; ref = np.load(sys.argv[3])[sys.argv[4]]
assert out.shape == ref.shape and out.dtype == ref.dtype, (out.shape, out.dtype, ref.shape, ref.dtype)
err = np.abs(out.astype(np.float64) - ref)
tol = 1e-5 * np.abs(ref).max()
assert err.max() <= tol, f"max abs err {err.max():.3g} > {tol:.3g}"
print(f"ok: {sys.argv[5]} (max abs err {err.max():.3g}, tol {tol:.3g})")
PY
}

# 2. MLP against the torch forward pass, from a numpy-written npz with an extra key.
node "$RUN" "$FX/mlp.onnx" "$FX/mlp_data.npz" "$WORK/mlp.out.npz"
compare "$WORK/mlp.out.npz" score "$FX/mlp_ref.npz" score "mlp.onnx vs torch"
node "$RUN" "$FX/mlp.onnx" "$FX/mlp_data.npz" "$WORK/mlp_ps.out.npz" --per-sample
compare "$WORK/mlp_ps.out.npz" score "$WORK/mlp.out.npz" score "mlp.onnx --per-sample vs batched"
node "$RUN" "$FX/mlp_dupes.onnx" "$FX/mlp_data.npz" "$WORK/dupes.out.npz"
cmp -s <("$PY" -c "import numpy as np,sys; sys.stdout.buffer.write(np.load('$WORK/dupes.out.npz')['score'].tobytes())") \
       <("$PY" -c "import numpy as np,sys; sys.stdout.buffer.write(np.load('$WORK/mlp.out.npz')['score'].tobytes())") \
  || fail "mlp_dupes.onnx output differs from mlp.onnx"
echo "ok: mlp_dupes.onnx bit-identical to mlp.onnx"

# 3. Two inputs + external data (run from another cwd: the data file is found beside the model).
(cd "$WORK" && node "$RUN" "$FX/codec_mlp.onnx" "$FX/codec_mlp_data.npz" "$WORK/codec.out.npz")
compare "$WORK/codec.out.npz" score "$FX/codec_mlp_ref.npz" score "codec_mlp.onnx vs torch"
node "$RUN" "$FX/codec_mlp.onnx" "$FX/codec_mlp_data.npz" "$WORK/codec_ps.out.npz" --per-sample
compare "$WORK/codec_ps.out.npz" score "$WORK/codec.out.npz" score "codec_mlp.onnx --per-sample vs batched"

# 4. CNN (BatchNormalization, Conv, residual adds, GlobalAveragePool).
if [ -f "$FX/cnn.onnx" ]; then
  node "$RUN" "$FX/cnn.onnx" "$FX/cnn_test_small.npz" "$WORK/cnn.out.npz"
  compare "$WORK/cnn.out.npz" logits "$FX/cnn_ref.npz" logits "cnn.onnx vs torch"
fi

# 5. Errors: exit 2, message names the file.
expect_error() {  # expect_error WHAT-IN-MESSAGE ARGS...
  local want="$1"; shift
  set +e; msg="$(node "$RUN" "$@" 2>&1)"; rc=$?; set -e
  [ "$rc" = 2 ] || fail "expected exit 2 for '$*', got $rc: $msg"
  [[ "$msg" == *"$want"* ]] || fail "message for '$*' lacks '$want': $msg"
  [ ! -e "$WORK/never.npz" ] || fail "output written despite error"
}
"$PY" -c "import numpy as np; np.savez('$WORK/wrongkey.npz', other=np.zeros((2,6), np.float32)); np.savez('$WORK/f64.npz', features=np.zeros((2,6)))"
printf 'not a zip' > "$WORK/garbage.npz"
expect_error "$WORK/wrongkey.npz: no array for model input 'features'" "$FX/mlp.onnx" "$WORK/wrongkey.npz" "$WORK/never.npz"
expect_error "$WORK/f64.npz: input 'features' is float64" "$FX/mlp.onnx" "$WORK/f64.npz" "$WORK/never.npz"
expect_error "$WORK/garbage.npz: not a readable .npz" "$FX/mlp.onnx" "$WORK/garbage.npz" "$WORK/never.npz"
expect_error "$WORK/missing.npz: cannot read" "$FX/mlp.onnx" "$WORK/missing.npz" "$WORK/never.npz"
expect_error "$WORK/nomodel.onnx" "$WORK/nomodel.onnx" "$FX/mlp_data.npz" "$WORK/never.npz"
expect_error "usage:" "$FX/mlp.onnx" "$FX/mlp_data.npz"
echo "ok: error paths"
echo "PASS"
