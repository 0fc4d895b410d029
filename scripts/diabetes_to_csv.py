#!/usr/bin/env python3
"""Convert scikit-learn's bundled diabetes files (as Debian's python3-sklearn
ships them) to one CSV with a header: the ten raw (unscaled) baseline
variables and the target. Standard library only.

usage: diabetes_to_csv.py diabetes_data_raw.csv.gz diabetes_target.csv.gz OUT.csv

Columns follow sklearn's DESCR: age, sex, bmi, bp (mean blood pressure),
s1 tc, s2 ldl, s3 hdl, s4 tch, s5 ltg, s6 glu; target `progression`, a
quantitative measure of disease progression one year after baseline."""
import gzip
import math
import sys

NAMES = ["age", "sex", "bmi", "bp", "s1", "s2", "s3", "s4", "s5", "s6"]


def rows(path):
    with gzip.open(path, "rt") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                vals = [float(v) for v in line.split()]
                if not all(math.isfinite(v) for v in vals):
                    sys.exit(f"{path}:{n}: non-finite value")
                yield vals


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    x = list(rows(sys.argv[1]))
    y = [r[0] for r in rows(sys.argv[2])]
    if len(x) != len(y) or any(len(r) != len(NAMES) for r in x):
        sys.exit(f"{sys.argv[1]}: {len(x)} rows of {len(NAMES)} expected to match "
                 f"{len(y)} targets in {sys.argv[2]}")
    tmp = sys.argv[3] + ".tmp"
    with open(tmp, "w") as fh:
        fh.write(",".join(NAMES + ["progression"]) + "\n")
        for r, t in zip(x, y):
            fh.write(",".join(repr(v) for v in r + [t]) + "\n")
    import os
    os.replace(tmp, sys.argv[3])
    print(f"{sys.argv[3]}: {len(x)} rows, {len(NAMES)} features + progression")


if __name__ == "__main__":
    main()
