#!/bin/bash
# scripts/make_registry_models.sh, run into a temp folder, makes exactly the
# committed models/tiny: same registry.json, sidecars, fp32 and int8 models
# (the calibration npz is compared by content: numpy stamps zip entries with
# the current time). A difference means the committed files are stale.
set -u
TOOL=${TQ_TOOL:?}
ROOT=${TQ_SOURCE_ROOT:?}
W=$(mktemp -d /tmp/tq_regen_XXXXXX)
trap 'rm -rf "$W"' EXIT
out=$("$ROOT/scripts/make_registry_models.sh" "$TOOL" "$W/tiny" 2>&1) ||
    { echo "FAIL: make_registry_models.sh: $out"; exit 1; }
fail=0
for f in $(cd "$W/tiny" && find . -type f ! -name '*.npz' | sort); do
    cmp -s "$W/tiny/$f" "$ROOT/models/tiny/$f" || {
        echo "FAIL: $f differs from models/tiny/$f (re-run scripts/make_registry_models.sh)"; fail=1; }
done
/usr/bin/python3 - "$W/tiny/calib/mlp_regressor_calib.npz" "$ROOT/models/tiny/calib/mlp_regressor_calib.npz" <<'PYEOF' || fail=1
import sys
import numpy as np
a, b = np.load(sys.argv[1]), np.load(sys.argv[2])
if sorted(a.files) != sorted(b.files) or any(not np.array_equal(a[k], b[k]) or a[k].dtype != b[k].dtype for k in a.files):
    print(f"FAIL: {sys.argv[1]} and {sys.argv[2]} hold different arrays"); sys.exit(1)
PYEOF
[ $fail = 0 ] && echo "ok: make_registry_models.sh reproduces models/tiny ($(cd "$W/tiny" && find . -type f | wc -l) files)"
exit $fail
