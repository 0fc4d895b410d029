#!/bin/bash
# `tinyq drop --data`: the task metric against numpy. A regressor set with a
# `target` key: PLCC/SROCC/RMSE printed must equal numpy's on tinyq's own
# outputs (from `tinyq run`, the ONNX-exact runner); fp32 vs itself passes
# with PLCC 1. Also `drop` on fp32 models only, so it runs without int8 ops.
set -u
TOOL=${TQ_TOOL:?}
SEED=${TQ_SEED_MODELS:-}
PY=/usr/bin/python3
[ -f "$SEED/vmaf_tiny_v2.onnx" ] || { echo "SKIP: seed models absent ($SEED)"; exit 77; }
WORK=$(mktemp -d /tmp/tq_drop_XXXXXX)
trap 'rm -rf "$WORK"' EXIT
$PY - "$WORK/d.npz" <<'PYEOF'
import sys, numpy as np
rng = np.random.default_rng(3)
x = (0.5 + 0.3 * rng.standard_normal((40, 6))).astype(np.float32)
t = (50 + 20 * rng.standard_normal(40)).astype(np.float32)
np.savez(sys.argv[1], features=x, target=t)
PYEOF
M="$SEED/vmaf_tiny_v2.onnx"
out=$("$TOOL" drop "$M" "$M" --data "$WORK/d.npz" --out-json "$WORK/r.json" 2>&1); rc=$?
echo "$out"
"$TOOL" run "$M" -i "$WORK/d.npz" -o "$WORK/o.npz" --per-sample >/dev/null || exit 1
$PY - "$WORK/o.npz" "$WORK/d.npz" "$out" "$rc" "$WORK/r.json" <<'PYEOF'
import json, re, sys, numpy as np
o, d, out, rc = np.load(sys.argv[1]), np.load(sys.argv[2]), sys.argv[3], int(sys.argv[4])
y = o[o.files[0]].astype(np.float64).reshape(-1); t = d["target"].astype(np.float64)
def ranks(v):  # average ranks for ties
    order = np.argsort(v, kind="mergesort"); r = np.empty(len(v)); r[order] = np.arange(1, len(v) + 1)
    for u in np.unique(v):
        m = v == u; r[m] = r[m].mean()
    return r
want = (np.corrcoef(y, t)[0, 1], np.corrcoef(ranks(y), ranks(t))[0, 1], np.sqrt(np.mean((y - t) ** 2)))
assert rc == 0, rc
assert out.splitlines()[0] == "[PASS] vmaf_tiny_v2 mode=fp32 PLCC=1.000000 drop=0.000000 budget=0.0100", out
for tag in ("fp32", "int8"):
    m = re.search(rf"task {tag}: PLCC=(\S+) SROCC=(\S+) RMSE=(\S+)", out)
    got = tuple(map(float, m.groups()))
    for g, w in zip(got, want):
        assert abs(g - w) <= 5e-7 * max(1, abs(w)), (tag, got, want)
r = json.load(open(sys.argv[5]))
assert "run_provenance" in r and r["results"][0]["task_metric"]["metric"] == "plcc_srocc_rmse"
print("ok: task metric matches numpy", want)
PYEOF
