#!/bin/bash
# examples/score (public API, shared library) gives the same scores as
# `tinyq registry score` for the same raw features, codec context included,
# and refuses a wrong feature count.
set -u
TOOL=${TQ_TOOL:?}
EX=${1:?example binary}
SEED=${TQ_SEED_MODELS:-}
PY=/usr/bin/python3
[ -f "$SEED/registry.json" ] || { echo "SKIP: seed models absent ($SEED)"; exit 77; }
WORK=$(mktemp -d /tmp/tq_ex_XXXXXX)
trap 'rm -rf "$WORK"' EXIT
R="$SEED/registry.json"
F="0.93 0.45 0.81 0.88 0.91 4.2"
$PY -c "import numpy as np; np.savez('$WORK/x.npz', features=np.array([[${F// /,}]], np.float32))"
fail=0
for id in fr_regressor_v1 vmaf_tiny_v2; do
    a=$("$EX" "$R" $id $F); b=$("$TOOL" registry score $id --registry "$R" -i "$WORK/x.npz" | tail -1)
    [ -n "$a" ] && [ "$a" = "$b" ] && echo "ok: $id $a" || { echo "FAIL: $id example '$a' vs tool '$b'"; fail=1; }
done
a=$("$EX" "$R" fr_regressor_v2 --codec libx265 slow 30 $F)
b=$("$TOOL" registry score fr_regressor_v2 --registry "$R" -i "$WORK/x.npz" --encoder libx265 --preset slow --crf 30 | tail -1)
u=$("$EX" "$R" fr_regressor_v2 $F)
[ -n "$a" ] && [ "$a" = "$b" ] && [ "$a" != "$u" ] && echo "ok: fr_regressor_v2 codec-aware $a (unknown encoder: $u)" ||
    { echo "FAIL: fr_regressor_v2 example '$a' vs tool '$b' (unknown '$u')"; fail=1; }
# The shipped registry: an fp32 and an int8 entry (no scaler), each equal to
# `tinyq run` on the file the loader resolves (the int8 sibling for int8).
SHIP="${TQ_SOURCE_ROOT:?}/models/tiny/registry.json"
for id in mlp_regressor_fp32 mlp_regressor_dynamic; do
    file=$("$TOOL" registry resolve $id --registry "$SHIP")
    a=$("$EX" "$SHIP" $id $F)
    "$TOOL" run "$file" -i "$WORK/x.npz" -o "$WORK/run.npz" >/dev/null &&
        b=$($PY -c "import numpy as np; d=np.load('$WORK/run.npz'); print('%.9g' % d[d.files[0]].ravel()[0])")
    [ -n "$a" ] && [ "$a" = "${b:-}" ] && echo "ok: $id ($(basename "$file")) $a == tinyq run" ||
        { echo "FAIL: $id example '$a' vs tinyq run '${b:-}' on $file"; fail=1; }
done
"$EX" "$R" fr_regressor_v1 1 2 3 2>"$WORK/err"; rc=$?
[ $rc = 2 ] && grep -q "takes 6 features: adm2 vif_scale0" "$WORK/err" || { echo "FAIL: wrong feature count (exit $rc)"; cat "$WORK/err"; fail=1; }
exit $fail
