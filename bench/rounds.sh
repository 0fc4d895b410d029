#!/bin/sh
# Alternating rounds of `tinyq bench` over several models; prints each
# model's best min latency over all rounds and its ratio to the first model.
# On a shared machine, alternating and keeping the best is what makes two
# models comparable (a single run moves with whatever else is running).
# Usage: [ROUNDS=7] [ITERS=300] [BATCH=1] [TOOL=build/tinyq] bench/rounds.sh MODEL...
#   (TQ_CPU_MASK and other TQ_* variables pass through to tinyq)
set -eu
cd "$(dirname "$0")/.."
ROUNDS="${ROUNDS:-7}"
ITERS="${ITERS:-300}"
BATCH="${BATCH:-1}"
TOOL="${TOOL:-build/tools/tinyq/tinyq}"
[ "$#" -ge 1 ] || { echo "usage: bench/rounds.sh MODEL..." >&2; exit 2; }
out=""
for r in $(seq "$ROUNDS"); do
    for m in "$@"; do
        j=$("$TOOL" bench "$m" --batch "$BATCH" --iters "$ITERS" --json)
        out="$out$m $(echo "$j" | sed 's/.*"min_us":\([0-9.]*\).*/\1/')
"
    done
done
printf '%s' "$out" | /usr/bin/python3 -c '
import sys
best, order = {}, []
for line in sys.stdin:
    m, v = line.rsplit(None, 1)
    if m not in best:
        order.append(m)
    best[m] = min(best.get(m, float("inf")), float(v))
first = best[order[0]]
print("%-48s %12s %7s" % ("model", "best_min_us", "ratio"))
for m in order:
    print(f"{m:<48} {best[m]:>12.1f} {best[m] / first:>6.2f}x")
' 
echo "# $ROUNDS alternating rounds x $ITERS iterations, batch $BATCH, TQ_CPU_MASK=${TQ_CPU_MASK:-unset}"
