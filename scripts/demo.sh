#!/bin/sh
# `make demo`: a short tour on the shipped Fashion-MNIST CNN and MLP fixtures.
set -eu
TOOL="${1:-build/tools/tinyq/tinyq}"
cd "$(dirname "$0")/.."
step() { printf '\n\033[1m== %s\033[0m\n$ %s\n' "$1" "$2"; }

step "What is in the model?" "tinyq inspect fixtures/cnn.onnx"
"$TOOL" inspect fixtures/cnn.onnx

step "Run it on 1000 Fashion-MNIST test images" "tinyq run fixtures/cnn.onnx -i fixtures/cnn_test_small.npz -o /tmp/tinyq-demo-out.npz"
"$TOOL" run fixtures/cnn.onnx -i fixtures/cnn_test_small.npz -o /tmp/tinyq-demo-out.npz
/usr/bin/python3 - <<'PY'
import numpy as np
x = np.load("fixtures/cnn_test_small.npz"); y = np.load("/tmp/tinyq-demo-out.npz")
logits = y[y.files[0]]
acc = float(np.mean(np.argmax(logits, axis=1) == x["label"]))
print(f"top-1 accuracy on these {len(x['label'])} images: {acc * 100:.1f}%")
PY
rm -f /tmp/tinyq-demo-out.npz

step "Strip the exporter's value_info duplicates" "tinyq sanitize fixtures/mlp_dupes.onnx -o /tmp/tinyq-demo-mlp.onnx"
"$TOOL" sanitize fixtures/mlp_dupes.onnx -o /tmp/tinyq-demo-mlp.onnx
rm -f /tmp/tinyq-demo-mlp.onnx

step "How fast? (one thread, batch 1)" "tinyq bench fixtures/cnn.onnx fixtures/mlp.onnx"
"$TOOL" bench fixtures/cnn.onnx fixtures/mlp.onnx --iters 200
