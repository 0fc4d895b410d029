#!/bin/bash
# `tinyq gate --registry SEED --all` reproduces the published table of
# seed-models/README.md (their ONNX Runtime gate) within 1e-4 in PLCC, prints
# the exact SPEC §4 line format, skips smoke and fp32 entries, exits 0, and
# writes a JSON report with run_provenance. `tinyq drop` gives the same line
# for one pair. Needs the int8 ops (DynamicQuantizeLinear, MatMulInteger,
# ConvInteger).
set -u
TOOL=${TQ_TOOL:?}
SEED=${TQ_SEED_MODELS:-}
PY=/usr/bin/python3
[ -f "$SEED/registry.json" ] || { echo "SKIP: seed models absent ($SEED)"; exit 77; }
WORK=$(mktemp -d /tmp/tq_gate_XXXXXX)
trap 'rm -rf "$WORK"' EXIT
fail=0
out=$("$TOOL" gate --registry "$SEED/registry.json" --all --out-json "$WORK/gate.json" 2>&1); rc=$?
echo "$out"
[ $rc = 0 ] || { echo "FAIL: gate exit $rc (want 0)"; fail=1; }
# published: id PLCC drop
while read -r id plcc; do
    line=$(grep -E "^\[PASS\] $id mode=dynamic PLCC=[0-9.]+ drop=[0-9.]+ budget=0\.0100$" <<<"$out")
    if [ -z "$line" ]; then echo "FAIL: no [PASS] line in SPEC format for $id"; fail=1; continue; fi
    got=$(sed -E 's/.*PLCC=([0-9.]+) drop=([0-9.]+).*/\1 \2/' <<<"$line")
    $PY -c "
import sys
p, d = map(float, '$got'.split()); want = $plcc
ok = abs(p - want) <= 1e-4 and abs(d - (1 - p)) <= 1e-6
print(('ok' if ok else 'FAIL') + f': $id PLCC {p:.6f} vs published {want:.6f}')
sys.exit(0 if ok else 1)" || fail=1
done <<'TABLE'
learned_filter_v1 0.999883
nr_metric_v1 0.992326
vmaf_tiny_v3 0.999880
vmaf_tiny_v4 0.999855
TABLE
for id in smoke_v0 fr_regressor_v1 fr_regressor_v2 vmaf_tiny_v2; do
    grep -q "^\[SKIP\] $id" <<<"$out" || { echo "FAIL: $id not skipped"; fail=1; }
done
$PY - "$WORK/gate.json" <<'PYEOF' || fail=1
import json, sys
r = json.load(open(sys.argv[1]))
p = r["run_provenance"]
for k in ("tool_version", "git_revision", "command_line", "utc_time", "host", "cpu_features"):
    assert k in p, f"run_provenance lacks {k}"
st = {x["id"]: x["status"] for x in r["results"]}
assert st["nr_metric_v1"] == "pass" and st["smoke_v0"] == "skip", st
print("ok: JSON report with run_provenance")
PYEOF
# drop: same numbers for one pair, budget honoured (a zero budget must fail: exit 1).
d=$("$TOOL" drop "$SEED/nr_metric_v1.onnx" 2>&1); rc=$?
g=$(grep '^\[PASS\] nr_metric_v1 ' <<<"$out")
[ $rc = 0 ] && [ "$d" = "$g" ] || { echo "FAIL: drop gave '$d' (exit $rc), gate gave '$g'"; fail=1; }
d=$("$TOOL" drop "$SEED/vmaf_tiny_v3.onnx" "$SEED/vmaf_tiny_v3.int8.onnx" --budget 0 2>&1); rc=$?
[ $rc = 1 ] && grep -q '^\[FAIL\] vmaf_tiny_v3 mode=dynamic PLCC=.* budget=0.0000$' <<<"$d" ||
    { echo "FAIL: drop --budget 0: '$d' (exit $rc)"; fail=1; }
exit $fail
