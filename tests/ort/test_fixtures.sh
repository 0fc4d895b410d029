#!/bin/bash
# test_fixtures.sh — checks the committed fixtures are what fixtures/README.md says:
#   * mlp_dupes.onnx duplicates every initializer in value_info; codec_mlp keeps all
#     weights in external data; cnn.onnx keeps 9 BatchNormalization nodes; files < 2 MB
#   * scripts/fmnist_to_npz.py reproduces cnn_test_small.npz for the first 1000 images
#   * ONNX Runtime's top-1 accuracy of cnn.onnx on the full 10,000-image test set equals
#     the torch accuracy recorded in cnn_train_report.json (same argmax up to ties) and is >= 90%
# Exit 77 (meson: skipped) when node/npm packages, numpy/onnx or the dataset are missing.
set -euo pipefail

ROOT="${TQ_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
PY=/usr/bin/python3
FX="$ROOT/fixtures"
DATASET=/usr/share/datasets/fashion-mnist

command -v node >/dev/null || { echo "SKIP: node not installed"; exit 77; }
(cd "$ROOT/tests/ort" && node -e "require('onnxruntime-node'); require('fflate')" 2>/dev/null) \
  || { echo "SKIP: run 'cd tests/ort && npm ci --ignore-scripts' first"; exit 77; }
"$PY" -c "import numpy, onnx" 2>/dev/null || { echo "SKIP: $PY lacks numpy/onnx"; exit 77; }
[ -f "$DATASET/t10k-images-idx3-ubyte.gz" ] || { echo "SKIP: $DATASET missing (apt install dataset-fashion-mnist)"; exit 77; }

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

"$PY" - "$FX" <<'PY'
import os, sys, onnx
fx = sys.argv[1]
for name in sorted(os.listdir(fx)):
    size = os.path.getsize(os.path.join(fx, name))
    assert size < 2_000_000, f"{name}: {size} bytes, fixtures must stay < 2 MB"

m = onnx.load(os.path.join(fx, "mlp_dupes.onnx"))
inits = {i.name: list(i.dims) for i in m.graph.initializer}
vi = {v.name: [d.dim_value for d in v.type.tensor_type.shape.dim] for v in m.graph.value_info}
assert inits and all(vi.get(n) == dims for n, dims in inits.items()), "mlp_dupes.onnx: missing static value_info dupes"
onnx.checker.check_model(m)

m = onnx.load(os.path.join(fx, "codec_mlp.onnx"), load_external_data=False)
assert m.graph.initializer and all(i.data_location == onnx.TensorProto.EXTERNAL for i in m.graph.initializer), \
    "codec_mlp.onnx: not every initializer is external"
assert [i.name for i in m.graph.input] == ["features", "codec"]
onnx.checker.check_model(os.path.join(fx, "codec_mlp.onnx"))

m = onnx.load(os.path.join(fx, "cnn.onnx"))
bn = [n for n in m.graph.node if n.op_type == "BatchNormalization"]
assert len(bn) == 9, f"cnn.onnx: {len(bn)} BatchNormalization nodes, expected 9 (unfused)"
assert m.opset_import[0].version == 13
print("ok: fixture structure")
PY

"$PY" "$ROOT/scripts/fmnist_to_npz.py" "$WORK/small.npz" --limit 1000 >/dev/null
"$PY" "$ROOT/scripts/fmnist_to_npz.py" "$WORK/test.npz" >/dev/null
"$PY" - "$WORK/small.npz" "$FX/cnn_test_small.npz" <<'PY'
import sys, numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
for k in ("input", "label"):
    assert a[k].dtype == b[k].dtype and a[k].shape == b[k].shape and np.array_equal(a[k], b[k]), k
print("ok: fmnist_to_npz.py reproduces cnn_test_small.npz")
PY

node "$ROOT/tests/ort/ort_run.js" "$FX/cnn.onnx" "$WORK/test.npz" "$WORK/test.out.npz"
"$PY" - "$WORK/test.npz" "$WORK/test.out.npz" "$FX/cnn_train_report.json" <<'PY'
import json, sys, numpy as np
label = np.load(sys.argv[1])["label"]
logits = np.load(sys.argv[2])["logits"]
assert logits.shape == (10000, 10), logits.shape
acc = float((logits.argmax(1) == label).mean())
torch_acc = json.load(open(sys.argv[3]))["test_accuracy_full_10k"]
# ORT and torch differ by ~1e-6 in the logits; a near-tie can flip at most a handful of argmaxes.
assert abs(acc - torch_acc) <= 0.0005, f"ORT accuracy {acc} vs torch {torch_acc}"
assert acc >= 0.90, f"ORT accuracy {acc} < 0.90"
print(f"ok: cnn.onnx ONNX Runtime top-1 on 10k test images = {acc:.4f} (torch {torch_acc:.4f})")
PY
echo PASS
