#!/usr/bin/python3
"""A reference for `tinyq train fr-regressor --csv`: ordinary least squares
(numpy.linalg.lstsq, with intercept) on the SAME k folds the trainer uses
(numpy default_rng(seed).permutation(n); row perm[i] is held out in fold
i % k), printing per-fold PLCC and mean +- std (ddof 0), like the trainer.

usage: kfold_linear_baseline.py T.csv [--target COL] [--folds K] [--seed S]"""
import sys

import numpy as np


def main():
    args = sys.argv[1:]
    if not args:
        sys.exit(__doc__)
    path, target, k, seed = args[0], None, 5, 0
    i = 1
    while i < len(args):
        if args[i] == "--target":
            target = args[i + 1]
        elif args[i] == "--folds":
            k = int(args[i + 1])
        elif args[i] == "--seed":
            seed = int(args[i + 1])
        else:
            sys.exit(__doc__)
        i += 2
    with open(path) as fh:
        head = fh.readline().strip().split(",")
    data = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    t = head.index(target) if target else len(head) - 1
    y = data[:, t]
    x = np.delete(data, t, axis=1)
    n = len(y)
    fold_of = np.empty(n, int)
    fold_of[np.random.default_rng(seed).permutation(n)] = np.arange(n) % k
    plccs = []
    for f in range(k):
        tr, te = fold_of != f, fold_of == f
        a = np.column_stack([x[tr], np.ones(tr.sum())])
        w, *_ = np.linalg.lstsq(a, y[tr], rcond=None)
        pred = np.column_stack([x[te], np.ones(te.sum())]) @ w
        plccs.append(np.corrcoef(pred, y[te])[0, 1])
        print(f"fold {f + 1}/{k}: test {te.sum()}, PLCC={plccs[-1]:.6f}")
    print(f"linear k-fold PLCC {np.mean(plccs):.6f} +- {np.std(plccs):.6f} over {k} folds")


if __name__ == "__main__":
    main()
