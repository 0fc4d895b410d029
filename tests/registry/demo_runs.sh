#!/bin/bash
# `make demo` (scripts/demo.sh) runs to the end on the shipped registry, tells
# its story (quantise -> gate [PASS] -> scores -> bench) and leaves every
# committed file in models/tiny exactly as it was.
set -u
TOOL=${TQ_TOOL:?}
ROOT=${TQ_SOURCE_ROOT:?}
# Entries in the shipped registry (validate prints the count).
N_ENTRIES=$(/usr/bin/python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["models"]))' "$ROOT/models/tiny/registry.json")
sums() { (cd "$ROOT/models/tiny" && find . -type f -exec sha256sum {} + | sort); }
before=$(sums)
out=$(sh "$ROOT/scripts/demo.sh" "$TOOL" 2>&1); rc=$?
fail=0
[ $rc = 0 ] || { echo "FAIL: demo exit $rc"; echo "$out"; fail=1; }
for want in "OK: $N_ENTRIES registry entries valid" "+      \"quant_mode\": \"static\"," \
            "[PASS] mlp_regressor_fp32 mode=static " "x265 slow crf40" "mlp_regressor_fp32.int8.onnx"; do
    grep -qF -- "$want" <<<"$out" || { echo "FAIL: demo output lacks: $want"; fail=1; }
done
[ "$before" = "$(sums)" ] || { echo "FAIL: the demo changed files in models/tiny"; fail=1; }
[ $fail = 0 ] && echo "ok: demo ran ($(wc -l <<<"$out") lines), models/tiny untouched"
exit $fail
