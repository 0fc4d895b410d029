#!/bin/bash
# `tinyq bench --profile`: one line per executed node, named by its op type
# and output, whose shares add up to 100 %; the CNN fixture's nine
# convolutions (fused with BatchNormalization / Relu / Add when tinyq fuses)
# must all appear, and its fp32 graph after fusion has 12 executed nodes.
set -euo pipefail
ROOT="${TQ_SOURCE_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}"
TOOL="${TQ_TOOL:-$ROOT/build/tools/tinyq/tinyq}"
out=$("$TOOL" bench "$ROOT/fixtures/cnn.onnx" --iters 20 --warmup 1 --profile)
echo "$out"
echo "$out" | /usr/bin/python3 -c '
import re, sys
rows = [l for l in sys.stdin if re.match(r"^\s+[0-9.]+ us\s+[0-9.]+%", l)]
share = sum(float(re.search(r"([0-9.]+)%", l).group(1)) for l in rows)
convs = [l for l in rows if "Conv [" in l]
print(f"{len(rows)} node rows, {len(convs)} conv rows, shares sum {share:.1f} %")
assert len(rows) == 12, len(rows)
assert len(convs) == 9, len(convs)
assert abs(share - 100.0) < 1.0, share
assert all("?" not in l.split("%", 1)[1] for l in rows), "a row without its op type"
'
