#!/bin/bash
# `tinyq registry` on temp registries built from the seed models: every kind of
# invalid entry is reported as "<registry>: entry '<id>': <field>: <problem>"
# with exit 1; malformed JSON exits 2 naming file:line:col; the seed registry
# validates; resolve names the file the loader opens.
set -u
TOOL=${TQ_TOOL:?}
SEED=${TQ_SEED_MODELS:-}
PY=/usr/bin/python3
if [ -z "$SEED" ] || [ ! -f "$SEED/registry.json" ]; then
    echo "SKIP: seed models absent ($SEED)"; exit 77
fi
WORK=$(mktemp -d /tmp/tq_regcli_XXXXXX)
trap 'rm -rf "$WORK"' EXIT
fail=0
n=0

# A temp copy of the seed folder (files linked, registry copied for editing).
fresh() {
    rm -rf "$WORK/reg"; mkdir -p "$WORK/reg"
    for f in "$SEED"/*.onnx "$SEED"/*.data "$SEED"/*.json; do ln -s "$f" "$WORK/reg/"; done
    rm "$WORK/reg/registry.json"; cp "$SEED/registry.json" "$WORK/reg/registry.json"
}

# edit PYTHON-EXPR: mutate the registry dict `r` (entries by id in `e`).
edit() {
    $PY - "$WORK/reg/registry.json" "$1" <<'PYEOF'
import json, sys
p, code = sys.argv[1], sys.argv[2]
r = json.load(open(p))
e = {m["id"]: m for m in r["models"]}
exec(code)
json.dump(r, open(p, "w"), indent=2, sort_keys=True)
PYEOF
}

# expect NAME EXIT MESSAGE: validate the temp registry.
expect() {
    n=$((n + 1))
    out=$("$TOOL" registry validate "$WORK/reg/registry.json" 2>&1); rc=$?
    if [ "$rc" != "$2" ] || ! grep -qF -- "$3" <<<"$out" || grep -q '^OK:' <<<"$out"; then
        echo "FAIL: $1: exit $rc (want $2), want a line containing: $3"; echo "$out" | head -20
        fail=1
    else
        echo "ok: $1"
    fi
}
R="$WORK/reg/registry.json"

fresh; edit 'e["vmaf_tiny_v2"]["quant_mode"] = "int4"'
expect "unknown quant_mode" 1 "$R: entry 'vmaf_tiny_v2': quant_mode: 'int4' is not one of fp32, dynamic, static, qat"

fresh; edit 'e["nr_metric_v1"]["quant_accuracy_budget_plcc"] = 1.5'
expect "budget above 1" 1 "$R: entry 'nr_metric_v1': quant_accuracy_budget_plcc: 1.5 is outside [0, 1]"

fresh; edit 'e["nr_metric_v1"]["quant_accuracy_budget_plcc"] = -0.01'
expect "budget below 0" 1 "$R: entry 'nr_metric_v1': quant_accuracy_budget_plcc: -0.01 is outside [0, 1]"

fresh; edit 'e["vmaf_tiny_v3"]["quant_mode"] = "static"'
expect "static without calibration set" 1 "$R: entry 'vmaf_tiny_v3': quant_calibration_set: missing (required when quant_mode is static)"

fresh; edit 'e["vmaf_tiny_v3"]["quant_mode"] = "static"; e["vmaf_tiny_v3"]["quant_calibration_set"] = "calib/none.npz"'
expect "calibration file missing" 1 "$R: entry 'vmaf_tiny_v3': quant_calibration_set: file $WORK/reg/calib/none.npz not found"

fresh; edit 'e["vmaf_tiny_v2"]["sha256"] = "0" * 64'
expect "sha256 mismatch" 1 "$R: entry 'vmaf_tiny_v2': sha256: mismatch for $WORK/reg/vmaf_tiny_v2.onnx (registry 0000"

fresh; edit 'e["vmaf_tiny_v4"]["int8_sha256"] = "f" * 64'
expect "int8_sha256 mismatch" 1 "$R: entry 'vmaf_tiny_v4': int8_sha256: mismatch for $WORK/reg/vmaf_tiny_v4.int8.onnx"

fresh; edit 'e["vmaf_tiny_v4"].pop("int8_sha256")'
expect "int8_sha256 missing" 1 "$R: entry 'vmaf_tiny_v4': int8_sha256: missing (required when quant_mode is not fp32)"

fresh; rm "$WORK/reg/fr_regressor_v1.onnx"
expect "model missing" 1 "$R: entry 'fr_regressor_v1': onnx: model file $WORK/reg/fr_regressor_v1.onnx not found"

fresh; rm "$WORK/reg/nr_metric_v1.int8.onnx"
expect "int8 model missing" 1 "$R: entry 'nr_metric_v1': quant_mode: dynamic needs $WORK/reg/nr_metric_v1.int8.onnx, which is not found"

fresh; rm "$WORK/reg/vmaf_tiny_v2.json"
expect "sidecar missing" 1 "$R: entry 'vmaf_tiny_v2': sidecar: $WORK/reg/vmaf_tiny_v2.json not found"

fresh; edit 'r["models"].append(dict(e["smoke_v0"]))'
expect "duplicate id" 1 "$R: entry 'smoke_v0': id: duplicate id (also entry #4)"

fresh; edit 'e["smoke_v0"]["kind"] = "classifier"'
expect "bad kind" 1 "$R: entry 'smoke_v0': kind: 'classifier' is not one of fr, nr, filter"

fresh; edit 'e["smoke_v0"].pop("sha256")'
expect "missing sha256" 1 "$R: entry 'smoke_v0': sha256: missing (required)"

fresh; edit 'r["schema_version"] = 2'
expect "schema_version" 1 "$R: schema_version: must be 0 or 1"

fresh; edit 'e["smoke_v0"]["onnx"] = "sub/../../x.onnx"'
expect "path escape" 1 "$R: entry 'smoke_v0': onnx: 'sub/../../x.onnx' leaves the registry's folder"

# An op outside tinyq's op set, and a rank-3 input: models made here with onnx.
fresh
$PY - "$WORK/reg" <<'PYEOF' || { echo "FAIL: could not build test models"; exit 1; }
import hashlib, json, sys, onnx
from onnx import helper, TensorProto as T
d = sys.argv[1]
def save(name, node, in_shape, out_shape):
    g = helper.make_graph([node], name, [helper.make_tensor_value_info("x", T.FLOAT, in_shape)],
                          [helper.make_tensor_value_info("y", T.FLOAT, out_shape)])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save(m, f"{d}/{name}.onnx")
    json.dump({"features": ["a", "b"]}, open(f"{d}/{name}.json", "w"))
    return hashlib.sha256(open(f"{d}/{name}.onnx", "rb").read()).hexdigest()
r = json.load(open(f"{d}/registry.json"))
sha = save("det_model", helper.make_node("Det", ["x"], ["y"], name="det0"), [2, 2], [])
r["models"].append({"id": "det_model", "kind": "fr", "onnx": "det_model.onnx", "sha256": sha})
sha = save("rank3_model", helper.make_node("Relu", ["x"], ["y"], name="relu0"), [1, 3, 4], [1, 3, 4])
r["models"].append({"id": "rank3_model", "kind": "fr", "onnx": "rank3_model.onnx", "sha256": sha})
json.dump(r, open(f"{d}/registry.json", "w"), indent=2, sort_keys=True)
PYEOF
expect "op outside the op set" 1 "$R: entry 'det_model': onnx: $WORK/reg/det_model.onnx: node 'det0' uses op Det, outside tinyq's op set"
expect "rank-3 input" 1 "$R: entry 'rank3_model': onnx: $WORK/reg/rank3_model.onnx: input 'x' has rank 3"
n=$((n + 1))
out=$("$TOOL" registry score rank3_model -i /dev/null --registry "$R" 2>&1); rc=$?
if [ $rc != 2 ] || ! grep -qF "input 'x' has rank 3" <<<"$out"; then
    echo "FAIL: loader must refuse a rank-3 input naming the rank (exit $rc): $out"; fail=1
else echo "ok: loader refuses rank 3"; fi

# Malformed JSON: exit 2, file:line:col.
n=$((n + 1))
printf '{\n  "schema_version": 1,\n  "models": [\n    {"id": "x",,}\n  ]\n}\n' >"$WORK/bad.json"
out=$("$TOOL" registry validate "$WORK/bad.json" 2>&1); rc=$?
if [ $rc != 2 ] || ! grep -qF "$WORK/bad.json:4:" <<<"$out"; then
    echo "FAIL: malformed JSON: exit $rc, output: $out"; fail=1
else echo "ok: malformed JSON -> exit 2 ($out)"; fi

# Missing registry file: exit 2 naming it.
n=$((n + 1))
out=$(cd "$WORK" && "$TOOL" registry validate 2>&1); rc=$?
if [ $rc != 2 ] || ! grep -qF "models/tiny/registry.json" <<<"$out"; then
    echo "FAIL: default registry path: exit $rc, output: $out"; fail=1
else echo "ok: default REG is models/tiny/registry.json"; fi

# resolve: int8 sibling for non-fp32 entries, the fp32 file otherwise.
n=$((n + 1))
a=$("$TOOL" registry resolve nr_metric_v1 --registry "$SEED/registry.json")
b=$("$TOOL" registry resolve vmaf_tiny_v2 --registry "$SEED/registry.json")
if [ "$a" != "$SEED/nr_metric_v1.int8.onnx" ] || [ "$b" != "$SEED/vmaf_tiny_v2.onnx" ]; then
    echo "FAIL: resolve gave '$a' and '$b'"; fail=1
else echo "ok: resolve"; fi
"$TOOL" registry resolve nope --registry "$SEED/registry.json" >/dev/null 2>&1
[ $? = 2 ] || { echo "FAIL: resolve of an unknown id must exit 2"; fail=1; }

# list says who applies the scaler.
n=$((n + 1))
out=$("$TOOL" registry list "$SEED/registry.json" 2>&1)
if ! grep -Eq '^fr_regressor_v1 +fr +fp32 +F=6 +loader ' <<<"$out" ||
   ! grep -Eq '^vmaf_tiny_v4 +fr +dynamic +F=6 +graph .*vmaf_tiny_v4.int8.onnx' <<<"$out"; then
    echo "FAIL: registry list:"; echo "$out"; fail=1
else echo "ok: list"; fi

echo "$n checks"
exit $fail
