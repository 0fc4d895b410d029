#!/bin/bash
# The shipped registry models/tiny/registry.json: validates, every entry is
# listed with the scaler site its sidecar implies, the gate passes every int8
# entry (exit 0), and a temp copy with an impossible budget gives [FAIL] with
# exit 1 while leaving the registry untouched.
set -u
TOOL=${TQ_TOOL:?}
ROOT=${TQ_SOURCE_ROOT:?}
# Entries in the shipped registry (validate prints the count).
N_ENTRIES=$(/usr/bin/python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["models"]))' "$ROOT/models/tiny/registry.json")
REG="$ROOT/models/tiny/registry.json"
WORK=$(mktemp -d /tmp/tq_shipped_XXXXXX)
trap 'rm -rf "$WORK"' EXIT
fail=0
bad() { echo "FAIL: $*"; fail=1; }

out=$("$TOOL" registry validate "$REG" 2>&1); rc=$?
[ $rc = 0 ] && grep -qx "OK: $N_ENTRIES registry entries valid" <<<"$out" && echo "ok: validate" ||
    bad "validate exit $rc: $out"

# Who scales: the codec model's sidecar has a StandardScaler and its graph none.
out=$("$TOOL" registry list "$REG" 2>&1); rc=$?
grep -Eq '^codec_mlp +fr +dynamic +F=6\+codec +loader +.*codec_mlp\.int8\.onnx$' <<<"$out" &&
grep -Eq '^mlp_regressor_fp32 +fr +fp32 +F=6 +none +.*mlp_regressor_fp32\.onnx$' <<<"$out" &&
[ $rc = 0 ] && echo "ok: list" || bad "list exit $rc: $out"
out=$("$TOOL" inspect "$ROOT/models/tiny/codec_mlp.int8.onnx" 2>&1)
grep -q "^scaler .*loader applies the StandardScaler of .*codec_mlp.json" <<<"$out" &&
    echo "ok: inspect names the loader" || bad "inspect scaler line: $out"

# The gate over the shipped registry: three int8 entries pass, fp32 is skipped.
out=$("$TOOL" gate --registry "$REG" --all 2>&1); rc=$?
echo "$out"
[ $rc = 0 ] && [ "$(grep -c '^\[PASS\] ' <<<"$out")" = 3 ] &&
    grep -q '^\[SKIP\] mlp_regressor_fp32 mode=fp32' <<<"$out" &&
    ! grep -q '^\[FAIL\]\|^\[ERROR\]' <<<"$out" && echo "ok: gate passes" || bad "gate exit $rc"
for id in mlp_regressor_dynamic:dynamic mlp_regressor_static:static codec_mlp:dynamic; do
    grep -Eq "^\[PASS\] ${id%%:*} mode=${id##*:} PLCC=0\.9[0-9]{5} drop=0\.[0-9]{6} budget=0\.0100$" <<<"$out" ||
        bad "no well-formed [PASS] line for ${id%%:*}"
done

# A temp copy with a budget no int8 model can meet: [FAIL], exit 1.
cp -r "$ROOT/models/tiny" "$WORK/tiny"
/usr/bin/python3 - "$WORK/tiny/registry.json" <<'PYEOF'
import json, sys
p = sys.argv[1]
r = json.load(open(p))
for m in r["models"]:
    if m["id"] == "mlp_regressor_static":
        m["quant_accuracy_budget_plcc"] = 1e-9
json.dump(r, open(p, "w"), indent=2, sort_keys=True)
PYEOF
before=$(sha256sum "$WORK/tiny/registry.json")
out=$("$TOOL" gate --registry "$WORK/tiny/registry.json" --all 2>&1); rc=$?
[ $rc = 1 ] && grep -Eq '^\[FAIL\] mlp_regressor_static mode=static PLCC=0\.[0-9]{6} drop=0\.[0-9]{6} budget=0\.0000$' <<<"$out" &&
    [ "$(grep -c '^\[PASS\] ' <<<"$out")" = 2 ] && echo "ok: tight budget fails (exit 1)" ||
    bad "tight budget: exit $rc, output: $out"
[ "$before" = "$(sha256sum "$WORK/tiny/registry.json")" ] || bad "gate modified the registry"
exit $fail
