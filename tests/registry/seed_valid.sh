#!/bin/bash
# The seed registry (read unchanged) validates: exactly "OK: 8 registry entries valid".
# Needs every op of the seed models, the int8 ones (DynamicQuantizeLinear,
# MatMulInteger, ConvInteger) included.
TOOL=${TQ_TOOL:?}
SEED=${TQ_SEED_MODELS:-}
[ -f "$SEED/registry.json" ] || { echo "SKIP: seed models absent ($SEED)"; exit 77; }
out=$("$TOOL" registry validate "$SEED/registry.json" 2>&1); rc=$?
if [ $rc != 0 ] || [ "$out" != "OK: 8 registry entries valid" ]; then
    echo "FAIL: seed registry: exit $rc"; echo "$out"; exit 1
fi
echo "$out"
