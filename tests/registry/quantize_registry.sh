#!/bin/bash
# `tinyq quantize --registry REG --id ID` on a temp copy of models/tiny:
# the registry changes in exactly quant_mode / int8_sha256 /
# quant_calibration_set of that entry (byte-compared with Python's json.dump
# of the expected registry, the seed layout), the int8 file is the one plain
# `tinyq quantize` makes, the result validates and gates; failing calls exit 2,
# name the file and leave the registry and the int8 file as they were.
set -u
TOOL=${TQ_TOOL:?}
ROOT=${TQ_SOURCE_ROOT:?}
# Entries in the shipped registry (validate prints the count).
N_ENTRIES=$(/usr/bin/python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["models"]))' "$ROOT/models/tiny/registry.json")
PY=/usr/bin/python3
WORK=$(mktemp -d /tmp/tq_qreg_XXXXXX)
trap 'chmod -R u+w "$WORK" 2>/dev/null; rm -rf "$WORK"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }
T="$WORK/tiny"
R="$T/registry.json"
fresh() { rm -rf "$T"; cp -r "$ROOT/models/tiny" "$T"; }

# expect_json PYTHON-EXPR: the registry must equal the original copy with the
# edit applied to `e` (entries by id), laid out as json.dump(indent=2, sort_keys=True).
expect_json() {
    $PY - "$ROOT/models/tiny/registry.json" "$R" "$1" <<'PYEOF'
import json, sys
src, got, code = sys.argv[1], sys.argv[2], sys.argv[3]
r = json.load(open(src))
e = {m["id"]: m for m in r["models"]}
exec(code)
want = json.dumps(r, indent=2, sort_keys=True) + "\n"
have = open(got).read()
if have != want:
    import difflib
    sys.stdout.writelines(difflib.unified_diff(want.splitlines(True), have.splitlines(True), "expected", "got"))
    sys.exit(1)
PYEOF
}
sha() { sha256sum "$1" | cut -d' ' -f1; }

# 1. dynamic entry re-quantised as static with an explicit calibration set.
fresh
out=$("$TOOL" quantize --registry "$R" --id mlp_regressor_dynamic --mode static \
      --calibration "$T/calib/mlp_regressor_calib.npz" 2>&1); rc=$?
new=$(sha "$T/mlp_regressor_dynamic.int8.onnx")
[ $rc = 0 ] || bad "quantize --registry exit $rc: $out"
expect_json "e['mlp_regressor_dynamic'].update(quant_mode='static', int8_sha256='$new',
             quant_calibration_set='calib/mlp_regressor_calib.npz')" &&
    echo "ok: only quant_mode, int8_sha256, quant_calibration_set changed" || bad "registry diff (above)"
"$TOOL" quantize "$T/mlp_regressor_dynamic.onnx" --mode static --calibration \
    "$T/calib/mlp_regressor_calib.npz" -o "$WORK/plain.int8.onnx" >/dev/null 2>&1 &&
    [ "$(sha "$WORK/plain.int8.onnx")" = "$new" ] && echo "ok: same bytes as plain quantize" ||
    bad "registry quantize differs from plain quantize"
"$TOOL" inspect "$T/mlp_regressor_dynamic.int8.onnx" | grep -q '^quantization.*QDQ\|^quantization.*static' ||
    bad "int8 file is not a static (QDQ) model: $("$TOOL" inspect "$T/mlp_regressor_dynamic.int8.onnx" | grep ^quant)"
out=$("$TOOL" registry validate "$R" 2>&1) && grep -qx "OK: $N_ENTRIES registry entries valid" <<<"$out" &&
    echo "ok: validates" || bad "validate after quantize: $out"
"$TOOL" gate --registry "$R" mlp_regressor_dynamic | grep -q '^\[PASS\] mlp_regressor_dynamic mode=static ' &&
    echo "ok: gates as static" || bad "gate after quantize"

# 2. static entry with no --mode / --calibration: the entry's mode and
#    quant_calibration_set are used; the quantiser is deterministic, so the
#    registry and the int8 file come back byte-identical.
fresh
out=$("$TOOL" quantize --registry "$R" --id mlp_regressor_static 2>&1); rc=$?
[ $rc = 0 ] && grep -q "mode=static" <<<"$out" || bad "entry defaults: exit $rc: $out"
cmp -s "$R" "$ROOT/models/tiny/registry.json" &&
    cmp -s "$T/mlp_regressor_static.int8.onnx" "$ROOT/models/tiny/mlp_regressor_static.int8.onnx" &&
    echo "ok: entry's mode and calibration set reproduce the shipped files" ||
    bad "re-quantising mlp_regressor_static changed the registry or its int8 file"

# 3. an fp32 entry (no --mode): dynamic, quant_calibration_set not added.
fresh
"$TOOL" quantize --registry "$R" --id mlp_regressor_fp32 >/dev/null 2>&1 || bad "fp32 entry: exit $?"
expect_json "e['mlp_regressor_fp32'].update(quant_mode='dynamic',
             int8_sha256='$(sha "$T/mlp_regressor_fp32.int8.onnx" 2>/dev/null)')" &&
    echo "ok: fp32 entry -> dynamic" || bad "fp32 entry registry diff (above)"

# Failing calls: exit 2, message names the file, nothing modified.
# refuse NAME MESSAGE ARGS...: run quantize, check exit 2, message, no change.
refuse() {
    local name=$1 msg=$2; shift 2
    local before; before=$(cd "$T" && find . -type f -exec sha256sum {} + | sort)
    out=$("$TOOL" quantize "$@" 2>&1); rc=$?
    after=$(cd "$T" && find . -type f -exec sha256sum {} + | sort)
    if [ $rc != 2 ] || ! grep -qF -- "$msg" <<<"$out"; then
        bad "$name: exit $rc (want 2), want message containing: $msg; got: $out"
    elif [ "$before" != "$after" ]; then
        bad "$name: files in the registry folder changed"
    else echo "ok: $name"; fi
}
fresh
printf 'x' >>"$T/mlp_regressor_dynamic.onnx"
refuse "fp32 file not matching sha256" \
    "$R: entry 'mlp_regressor_dynamic': sha256: mismatch for $T/mlp_regressor_dynamic.onnx" \
    --registry "$R" --id mlp_regressor_dynamic
fresh
refuse "unknown id" "$R: no entry with id 'no_such_model'" --registry "$R" --id no_such_model
refuse "missing calibration file" "$WORK/none.npz" \
    --registry "$R" --id mlp_regressor_static --calibration "$WORK/none.npz"
$PY -c "import numpy as np; np.savez('$WORK/wrong.npz', x=np.zeros((4, 6), np.float32))"
refuse "calibration without the model's input" "$WORK/wrong.npz" \
    --registry "$R" --id mlp_regressor_static --calibration "$WORK/wrong.npz"
rm "$T/calib/mlp_regressor_calib.npz"
refuse "entry's calibration set missing" "calib/mlp_regressor_calib.npz" \
    --registry "$R" --id mlp_regressor_static
fresh
refuse "dynamic with --calibration" "--calibration is only used by --mode static" \
    --registry "$R" --id codec_mlp --mode dynamic --calibration "$T/calib/mlp_regressor_calib.npz"
refuse "MODEL and --registry" "not both" "$T/codec_mlp.onnx" --registry "$R" --id codec_mlp
refuse "--id without --registry" "--registry and --id go together" --id codec_mlp
refuse "-o with --registry" "-o does not apply" --registry "$R" --id codec_mlp -o "$WORK/x.onnx"
$PY - "$R" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
r["models"][1]["onnx"] = "sub/../../tiny/mlp_regressor_dynamic.onnx"
json.dump(r, open(sys.argv[1], "w"), indent=2, sort_keys=True)
PYEOF
refuse "model path leaving the registry's folder" \
    "$R: entry 'mlp_regressor_dynamic': onnx: 'sub/../../tiny/mlp_regressor_dynamic.onnx' leaves the registry's folder" \
    --registry "$R" --id mlp_regressor_dynamic
fresh
refuse "missing registry" "$WORK/none.json" --registry "$WORK/none.json" --id codec_mlp

# --mode auto on an entry: measured against the entry's own budget (0.01),
# dynamic passes and is recorded; with a budget no mode meets, exit 1 and
# nothing changes.
fresh
out=$("$TOOL" quantize --registry "$R" --id mlp_regressor_fp32 --mode auto 2>&1); rc=$?
[ $rc = 0 ] && grep -q "^auto: dynamic PLCC=.* PASS (gate drop .* <= budget 0.01)" <<<"$out" &&
    $PY -c "import json,sys; e={m['id']: m for m in json.load(open(sys.argv[1]))['models']}['mlp_regressor_fp32']; sys.exit(e.get('quant_mode') != 'dynamic' or 'int8_sha256' not in e)" "$R" &&
    echo "ok: auto picks dynamic inside the entry's budget and records it" ||
    bad "auto on an entry: exit $rc: $out"
fresh
before=$(cd "$T" && sha256sum registry.json *.int8.onnx)
out=$("$TOOL" quantize --registry "$R" --id mlp_regressor_static --mode auto --budget 1e-9 2>&1); rc=$?
[ $rc = 1 ] && grep -q "no quantisation mode stays inside the budget" <<<"$out" &&
    grep -q "^auto: static  PLCC=" <<<"$out" &&
    [ "$before" = "$(cd "$T" && sha256sum registry.json *.int8.onnx)" ] &&
    echo "ok: auto escalates to static (the entry's calibration set), none passes: exit 1, files unchanged" ||
    bad "auto with an impossible budget: exit $rc: $out"

# A registry that cannot be rewritten: the new int8 file is taken back.
# (Root ignores permissions, so this case only runs for other users.)
if [ "$(id -u)" != 0 ]; then
    fresh
    mkdir "$WORK/ro" && mv "$T" "$WORK/ro/m" && T="$WORK/ro/m"
    $PY - "$WORK/ro/m/registry.json" "$WORK/ro/registry.json" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
for m in r["models"]:
    m["onnx"] = "m/" + m["onnx"]
json.dump(r, open(sys.argv[2], "w"), indent=2, sort_keys=True)
PYEOF
    chmod a-w "$WORK/ro"
    refuse "registry not writable" "$WORK/ro/registry.json" \
        --registry "$WORK/ro/registry.json" --id mlp_regressor_dynamic --mode static \
        --calibration "$T/calib/mlp_regressor_calib.npz"
    chmod u+w "$WORK/ro"
    T="$WORK/tiny"
else
    echo "note: running as root: the unwritable-registry case is skipped"
fi
exit $fail
