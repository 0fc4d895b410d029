#!/bin/sh
# Produces the numbers of docs/QUANTIZATION.md "QAT vs static PTQ": the same
# evaluation sets for fp32, static PTQ and QAT.
#   CNN: Fashion-MNIST top-1 on the full 10k test set (scripts/fmnist_to_npz.py);
#        static calibrated on fixtures/cnn_calib.npz (1000 train images);
#        QAT fine-tuned on N train images (default 5000, QAT_TRAIN; teacher =
#        the fp32 model, labels dropped) and exported with the SAME calibration
#        set as static (--calibration), so the difference is the fine-tuning.
#   MLP: PLCC vs target on fixtures/mlp_data.npz; static calibrated on it,
#        QAT fine-tuned on a fresh draw of the same synthetic function
#        (scripts/fixtures/make_mlp.py's target, another seed) so the
#        evaluation set is never trained on; both calibrated on mlp_data.npz.
# usage: scripts/qat_vs_static.sh [TINYQ] [WORKDIR]   (about 2-4 minutes on 2 cores)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
T=${1:-$ROOT/build/tools/tinyq/tinyq}
W=${2:-$(mktemp -d)}
PY=/usr/bin/python3
N=${QAT_TRAIN:-5000}
EPOCHS=${QAT_EPOCHS:-2}
LR=${QAT_LR:-1e-5}
mkdir -p "$W"
[ -f "$W/test10k.npz" ] || $PY "$ROOT/scripts/fmnist_to_npz.py" "$W/test10k.npz" --split test >/dev/null
[ -f "$W/train.npz" ] || $PY "$ROOT/scripts/fmnist_to_npz.py" "$W/train.npz" --split train --limit "$N" >/dev/null
$PY - "$W" <<'EOF'
import sys, numpy as np
w = sys.argv[1]
d = np.load(w + "/train.npz")
np.savez(w + "/train_teacher.npz", input=d["input"])   # no labels: distillation
EOF
$PY "$ROOT/scripts/qat_mlp_train.py" "$W/mlp_train.npz"

top1() { "$T" drop "$ROOT/fixtures/cnn.onnx" "$1" --data "$W/test10k.npz" | sed -n 's/.*task int8: top1=\([0-9.]*\).*/\1/p'; }
plcc() { "$T" drop "$ROOT/fixtures/mlp.onnx" "$1" --data "$ROOT/fixtures/mlp_data.npz" | sed -n 's/.*task int8: PLCC=\([0-9.]*\).*/\1/p'; }

"$T" quantize "$ROOT/fixtures/cnn.onnx" --mode static --calibration "$ROOT/fixtures/cnn_calib.npz" -o "$W/cnn.static.onnx" >/dev/null
"$T" quantize "$ROOT/fixtures/cnn.onnx" --mode qat --train "$W/train_teacher.npz" --epochs-qat "$EPOCHS" --lr-qat "$LR" --calibration "$ROOT/fixtures/cnn_calib.npz" -o "$W/cnn.qat.onnx" --report-out "$W/cnn.qat.json" >/dev/null
"$T" quantize "$ROOT/fixtures/mlp.onnx" --mode static --calibration "$ROOT/fixtures/mlp_data.npz" -o "$W/mlp.static.onnx" >/dev/null
"$T" quantize "$ROOT/fixtures/mlp.onnx" --mode qat --train "$W/mlp_train.npz" --epochs-qat 10 --calibration "$ROOT/fixtures/mlp_data.npz" -o "$W/mlp.qat.onnx" --report-out "$W/mlp.qat.json" >/dev/null

FP=$("$T" drop "$ROOT/fixtures/cnn.onnx" "$W/cnn.static.onnx" --data "$W/test10k.npz" | sed -n 's/.*task fp32: top1=\([0-9.]*\).*/\1/p')
MFP=$("$T" drop "$ROOT/fixtures/mlp.onnx" "$W/mlp.static.onnx" --data "$ROOT/fixtures/mlp_data.npz" | sed -n 's/.*task fp32: PLCC=\([0-9.]*\).*/\1/p')
CS=$(top1 "$W/cnn.static.onnx"); CQ=$(top1 "$W/cnn.qat.onnx")
MS=$(plcc "$W/mlp.static.onnx"); MQ=$(plcc "$W/mlp.qat.onnx")
echo "| model (metric, evaluation set) | fp32 | static PTQ | QAT | static drop | QAT drop |"
echo "|---|---|---|---|---|---|"
awk -v f="$FP" -v s="$CS" -v q="$CQ" 'BEGIN { printf "| cnn.onnx (top-1, Fashion-MNIST test 10k) | %.4f | %.4f | %.4f | %+.4f | %+.4f |\n", f, s, q, f-s, f-q }'
awk -v f="$MFP" -v s="$MS" -v q="$MQ" 'BEGIN { printf "| mlp.onnx (PLCC vs target, mlp_data.npz) | %.4f | %.4f | %.4f | %+.4f | %+.4f |\n", f, s, q, f-s, f-q }'
echo "(QAT: CNN $N train images, teacher, $EPOCHS epochs, Adam lr $LR; MLP 2048 fresh samples, targets, 10 epochs, Adam lr 1e-4; reports in $W)"
