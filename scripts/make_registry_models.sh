#!/bin/sh
# Build the shipped registry models/tiny/ from the committed fixtures:
# copies the fp32 models, writes their sidecars, a calibration set and the
# registry (fp32 fields only), then lets `tinyq quantize --registry --id`
# produce every <basename>.int8.onnx and record quant_mode / int8_sha256 /
# quant_calibration_set. Deterministic: running it again gives the same bytes.
#
#   scripts/make_registry_models.sh [TINYQ] [OUT_DIR]
#   (defaults: build/tools/tinyq/tinyq, models/tiny)
set -eu
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TOOL="${1:-$ROOT/build/tools/tinyq/tinyq}"
OUT="${2:-$ROOT/models/tiny}"
PY=/usr/bin/python3 # the system Python has numpy
FIX="$ROOT/fixtures"

[ -x "$TOOL" ] || { echo "make_registry_models: $TOOL: not an executable (run 'make' first)" >&2; exit 2; }
mkdir -p "$OUT/calib"
for f in mlp.onnx codec_mlp.onnx codec_mlp.onnx.data codec_mlp.json; do
    [ -f "$FIX/$f" ] || { echo "make_registry_models: $FIX/$f: missing fixture" >&2; exit 2; }
done

# One fp32 file per entry: the loader finds the int8 sibling and the sidecar
# by basename, so entries with different quant modes need their own basename.
cp "$FIX/mlp.onnx" "$OUT/mlp_regressor_fp32.onnx"
cp "$FIX/mlp.onnx" "$OUT/mlp_regressor_dynamic.onnx"
cp "$FIX/mlp.onnx" "$OUT/mlp_regressor_static.onnx"
# codec_mlp.onnx names its external data file: keep the basename.
cp "$FIX/codec_mlp.onnx" "$FIX/codec_mlp.onnx.data" "$FIX/codec_mlp.json" "$OUT/"
rm -f "$OUT"/*.int8.onnx

"$PY" - "$OUT" <<'PYEOF'
import hashlib, json, os, sys
import numpy as np

out = sys.argv[1]
CANONICAL6 = ["adm2", "vif_scale0", "vif_scale1", "vif_scale2", "vif_scale3", "motion2"]

# Calibration set for the static entry: the model's input domain (the fixture
# MLP was trained on uniform [0, 1) features), drawn with its own seed.
rng = np.random.default_rng(20240601)
np.savez(os.path.join(out, "calib", "mlp_regressor_calib.npz"),
         features=rng.random((256, 6), dtype=np.float32))

def sha(name):
    return hashlib.sha256(open(os.path.join(out, name), "rb").read()).hexdigest()

def dump(obj, name):
    # The seed registry's layout: json.dump(indent=2, sort_keys=True) + newline.
    with open(os.path.join(out, name), "w") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")

LIC = {"license": "BSD-2-Clause",
       "license_url": "https://spdx.org/licenses/BSD-2-Clause.html"}
MLP_NOTES = ("tinyq fixture MLP regressor (6->32->16->1, Gemm/Relu, opset 17) trained on a "
             "smooth synthetic function of uniform [0,1) features; made by "
             "scripts/fixtures/make_mlp.py, copied by scripts/make_registry_models.sh.")
models = []
for mode in ("fp32", "dynamic", "static"):
    base = f"mlp_regressor_{mode}"
    dump({"feature_order": CANONICAL6, "id": base, "input_names": ["features"], "kind": "fr",
          "onnx": base + ".onnx", "opset": 17, "output_names": ["score"],
          "notes": "No StandardScaler: the model takes raw features in [0, 1)."}, base + ".json")
    e = {"id": base, "kind": "fr", "onnx": base + ".onnx", "opset": 17, "sha256": sha(base + ".onnx"),
         "description": f"Fixture MLP regressor, canonical-6 features ({mode} baseline)"
                        if mode == "fp32" else f"Fixture MLP regressor, canonical-6 features, int8 ({mode})",
         "notes": MLP_NOTES, **LIC}
    if mode != "fp32":
        e["quant_accuracy_budget_plcc"] = 0.01
    models.append(e)
models.append({"id": "codec_mlp", "kind": "fr", "onnx": "codec_mlp.onnx", "opset": 17,
               "sha256": sha("codec_mlp.onnx"), "quant_accuracy_budget_plcc": 0.01,
               "description": "Codec-aware fixture MLP: canonical-6 features + 14-wide codec block",
               "notes": "tinyq fixture (scripts/fixtures/make_codec_mlp.py): two inputs, weights as "
                        "external data (codec_mlp.onnx.data), sidecar StandardScaler applied by the "
                        "loader, codec block layout as fr_regressor_v2.", **LIC})
dump({"$schema": "./registry.schema.json", "models": models, "schema_version": 1}, "registry.json")
PYEOF

REG="$OUT/registry.json"
"$TOOL" quantize --registry "$REG" --id mlp_regressor_dynamic --mode dynamic
"$TOOL" quantize --registry "$REG" --id mlp_regressor_static --mode static \
    --calibration "$OUT/calib/mlp_regressor_calib.npz"
"$TOOL" quantize --registry "$REG" --id codec_mlp --mode dynamic
# The load-path probe: the FR-regressor trainer's smoke model (100 synthetic
# rows, seconds to train), registered by the trainer with smoke: true.
"$TOOL" train fr-regressor --smoke -o "$OUT/fr_regressor_smoke.onnx" --registry "$REG" >/dev/null
"$TOOL" registry validate "$REG"
