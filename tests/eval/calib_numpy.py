#!/usr/bin/python3
"""`tinyq calib build` against numpy, computed here at test time.

The selection recipe is re-implemented below from its documentation
(docs/QUANTIZATION.md, src/data/calib_build.h) with numpy's own
default_rng / permutation; tinyq's output must equal it exactly (same rows,
same order, same bytes), for npz (dtype kept), npy, CSV and JSONL sources,
plain and stratified, one and several sources. Then every documented error
(missing key, ragged rows, NaN, too few samples) must exit 2, name the file,
and leave no output behind. Finally a built set calibrates `tinyq quantize
--mode static`."""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

TOOL = os.environ["TQ_TOOL"]
fails = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        fails.append(what)


def run(*args):
    p = subprocess.run([TOOL, "calib", "build", *args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def select(total, n, seed, labels=None):
    """The documented recipe, written from the docs."""
    rng = np.random.default_rng(seed)
    if labels is None:
        return np.sort(rng.permutation(total)[:n])
    classes, counts = np.unique(labels, return_counts=True)
    quota = n * counts // total
    rem = n * counts % total
    order = np.argsort(-rem, kind="stable")
    quota[order[:n - quota.sum()]] += 1
    picks = []
    for cl, q in zip(classes, quota):
        members = np.flatnonzero(labels == cl)
        picks.append(members[rng.permutation(len(members))[:q]])
    return np.sort(np.concatenate(picks))


def same(path, want, what):
    if not os.path.exists(path):
        check(False, what + ": output written")
        return
    got = np.load(path)
    ok = sorted(got.files) == sorted(want)
    for k, v in want.items():
        ok = ok and k in got.files and got[k].dtype == v.dtype and got[k].shape == v.shape \
            and np.array_equal(got[k], v)
    check(ok, what)


with tempfile.TemporaryDirectory() as d:
    P = lambda name: os.path.join(d, name)
    rng = np.random.default_rng(42)
    total = 503
    x = rng.random((total, 3, 4), dtype=np.float32)
    h = rng.random((total, 2)).astype(np.float16)
    # imbalanced classes, one tiny, labels not 0..k (strata are the distinct values)
    label = rng.choice(np.array([7, 2, 9, 4]), total, p=[0.55, 0.3, 0.13, 0.02])
    np.savez(P("a.npz"), x=x, h=h, label=label, target=rng.random(total))
    out = P("cal.npz")

    rc, so, se = run(P("a.npz"), "-o", out, "--n", "97", "--seed", "5", "--stratify-key", "label")
    idx = select(total, 97, 5, label)
    check(rc == 0, f"npz stratified exits 0 ({se.strip()})")
    same(out, {"x": x[idx], "h": h[idx]}, "npz stratified == numpy (float16 kept, label/target dropped)")
    for cl in np.unique(label):  # proportional: within one sample of n * share
        got = np.sum(label[idx] == cl)
        check(abs(got - 97 * np.mean(label == cl)) < 1, f"class {cl}: {got} samples ~ proportional")

    rc, so, se = run(P("a.npz"), "-o", out, "--n", "50", "--seed", "123", "--key", "x",
                     "--input-name", "features")
    check(rc == 0, "npz plain --key --input-name exits 0")
    same(out, {"features": x[select(total, 50, 123)]}, "npz plain, renamed == numpy")

    # several sources: rows concatenated in argument order
    x2 = rng.random((40, 3, 4), dtype=np.float32)
    h2 = rng.random((40, 2)).astype(np.float16)
    l2 = rng.choice(np.array([2, 9]), 40)
    np.savez(P("b.npz"), x=x2, h=h2, label=l2)
    rc, so, se = run(P("a.npz"), P("b.npz"), "-o", out, "--n", "200", "--seed", "9",
                     "--stratify-key", "label")
    xa, ha, la = np.concatenate([x, x2]), np.concatenate([h, h2]), np.concatenate([label, l2])
    idx = select(total + 40, 200, 9, la)
    check(rc == 0, "two npz sources exit 0")
    same(out, {"x": xa[idx], "h": ha[idx]}, "two sources stratified == numpy")

    # npy
    np.save(P("s.npy"), x)
    rc, so, se = run(P("s.npy"), "-o", out, "--n", "10", "--input-name", "input")
    same(out, {"input": x[select(total, 10, 0)]}, "npy, default seed 0 == numpy")

    # CSV: a text column with a quoted comma, label column, numeric columns
    feats = rng.random((120, 3)).astype(np.float32)
    clab = rng.integers(0, 3, 120)
    with open(P("t.csv"), "w") as f:
        f.write("name,a,b,label,c\n")
        for i in range(120):
            f.write(f'"clip {i}, take 2",{feats[i,0]!r},{feats[i,1]!r},{clab[i]},{feats[i,2]!r}\n')
    rc, so, se = run(P("t.csv"), "-o", out, "--n", "30", "--seed", "3", "--stratify-key", "label",
                     "--key", "a,b", "--key", "c", "--input-name", "features")
    check(rc == 0, f"csv exits 0 ({se.strip()})")
    same(out, {"features": feats[select(120, 30, 3, clab)]}, "csv stratified == numpy")

    # JSONL: nested array field + string field + label
    img = rng.random((60, 2, 3)).astype(np.float32)
    jl = rng.integers(0, 2, 60)
    with open(P("t.jsonl"), "w") as f:
        for i in range(60):
            f.write(json.dumps({"source": f"s{i % 4}", "img": img[i].tolist(), "label": int(jl[i])})
                    + "\n")
    rc, so, se = run(P("t.jsonl"), "-o", out, "--n", "20", "--seed", "1", "--stratify-key", "label")
    check(rc == 0, f"jsonl exits 0 ({se.strip()})")
    same(out, {"input": img[select(60, 20, 1, jl)]}, "jsonl nested array (shape kept) == numpy")
    with open(P("s.jsonl"), "w") as f:
        for i in range(60):
            f.write(json.dumps({"u": float(img[i, 0, 0]), "src": "x", "v": float(img[i, 1, 2])}) + "\n")
    rc, so, se = run(P("s.jsonl"), "-o", out)
    same(out, {"input": img[:, [0, 1], [0, 2]]}, "jsonl scalar fields, all rows, in order")

    # errors: exit 2, the file named, no output left behind
    def bad(args, path, what, needle=""):
        if os.path.exists(out):
            os.unlink(out)
        rc, so, se = run(*args, "-o", out)
        check(rc == 2 and path in se and needle in se and not os.path.exists(out),
              f"{what} -> exit 2 naming the file: {se.strip()}")

    bad([P("a.npz"), "--key", "nope"], P("a.npz"), "npz missing --key", "'nope'")
    bad([P("a.npz"), "--stratify-key", "klass"], P("a.npz"), "npz missing stratify key", "klass")
    bad([P("t.csv"), "--key", "zz"], P("t.csv"), "csv missing column", "zz")
    np.savez(P("rag.npz"), x=np.zeros((5, 2), np.float32), y=np.zeros((6, 2), np.float32))
    bad([P("rag.npz")], P("rag.npz"), "npz ragged entries", "ragged")
    with open(P("rag.csv"), "w") as f:
        f.write("a,b\n1,2\n3\n")
    bad([P("rag.csv")], P("rag.csv"), "csv ragged row", "line 3")
    with open(P("rag.jsonl"), "w") as f:
        f.write('{"v": [1, 2, 3]}\n{"v": [1, 2]}\n')
    bad([P("rag.jsonl")], P("rag.jsonl"), "jsonl ragged array", "line 2")
    with open(P("miss.jsonl"), "w") as f:
        f.write('{"v": 1, "w": 2}\n{"v": 3}\n')
    bad([P("miss.jsonl")], P("miss.jsonl"), "jsonl missing field", "'w'")
    xn = x.copy()
    xn[17, 1, 2] = np.nan
    np.savez(P("nan.npz"), x=xn)
    bad([P("nan.npz")], P("nan.npz"), "npz NaN", "sample 17")
    with open(P("nan.csv"), "w") as f:
        f.write("a,b\n1,2\n3,nan\n")
    bad([P("nan.csv")], P("nan.csv"), "csv NaN", "NaN")
    with open(P("nan.jsonl"), "w") as f:
        f.write('{"v": 1}\n{"v": NaN}\n')
    bad([P("nan.jsonl")], P("nan.jsonl"), "jsonl NaN", "line 2")
    bad([P("a.npz"), "--n", "100000"], "100000", "more samples than the sources hold")
    np.savez(P("other.npz"), x=np.zeros((3, 4, 3), np.float32), h=np.zeros((3, 2), np.float16))
    bad([P("a.npz"), P("other.npz")], P("other.npz"), "sources with different sample shapes")
    bad([P("absent.npz")], P("absent.npz"), "absent source")

    # the built set calibrates a static quantisation
    w = rng.standard_normal((12, 4)).astype(np.float32)
    g = helper.make_graph(
        [helper.make_node("Flatten", ["x"], ["f"]), helper.make_node("Gemm", ["f", "W"], ["y"])],
        "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 4])],
        [numpy_helper.from_array(w, "W")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    onnx.save(m, P("m.onnx"))
    rc, so, se = run(P("a.npz"), "--key", "x", "-o", out, "--n", "64", "--stratify-key", "label")
    q = subprocess.run([TOOL, "quantize", P("m.onnx"), "--mode", "static", "--calibration", out,
                        "--report-out", P("q.json")], capture_output=True, text=True)
    rep = json.load(open(P("q.json"))) if q.returncode == 0 else {}
    cal = rep.get("calibration", {})
    check(q.returncode == 0 and cal.get("samples") == 64 and "x" in json.dumps(cal),
          f"built set calibrates tinyq quantize --mode static ({q.stderr.strip()})")

sys.exit(1 if fails else 0)
