#!/usr/bin/python3
"""`tinyq eval` against numpy, computed here at test time.

Models are built with onnx.helper from random weights, so numpy evaluates them
itself (float64) and nothing of tinyq's is trusted:
  - a linear classifier x[N,8] -> Gemm -> logits[N,6] whose labels never use
    class 5: top-1, correct count and per-class accuracy (class 5 with no
    samples -> accuracy null) must equal numpy's argmax exactly. Exactness is
    sound because every sample's top-two logit gap is checked to exceed 1e-3,
    far above float32 rounding of an 8-term dot product (~1e-6 here);
  - a linear regressor x[N,6] -> Gemm -> Squeeze: PLCC / SROCC / RMSE within
    2e-6 relative (float32 outputs vs float64: relative output error ~1e-7,
    these statistics are smooth in the outputs);
for batched (default 64, and --batch 7 with a short last batch) and
--per-sample runs. Bad inputs exit 2 naming the file."""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

TOOL = os.environ["TQ_TOOL"]


def gemm_model(path, w, b, flatten_out):
    nodes = [helper.make_node("Gemm", ["x", "W", "B"], ["y" if flatten_out else "logits"])]
    out_name = "logits"
    if flatten_out:
        nodes.append(helper.make_node("Squeeze", ["y", "axes"], ["score"]))
        out_name = "score"
    g = helper.make_graph(
        nodes, "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", w.shape[0]])],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, None)],
        [numpy_helper.from_array(w, "W"), numpy_helper.from_array(b, "B"),
         numpy_helper.from_array(np.array([1], np.int64), "axes")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 7
    onnx.save(m, path)


def run(*args):
    p = subprocess.run([TOOL, *args], capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def ranks(v):
    order = np.argsort(v, kind="mergesort")
    r = np.empty(len(v))
    r[order] = np.arange(1, len(v) + 1)
    for u in np.unique(v):
        m = v == u
        r[m] = r[m].mean()
    return r


fails = []


def check(cond, what):
    print(("ok: " if cond else "FAIL: ") + what)
    if not cond:
        fails.append(what)


with tempfile.TemporaryDirectory() as d:
    rng = np.random.default_rng(11)
    # classifier
    n, f, c = 300, 8, 6
    w = rng.standard_normal((f, c)).astype(np.float32)
    b = (0.1 * rng.standard_normal(c)).astype(np.float32)
    x = rng.standard_normal((n, f)).astype(np.float32)
    logits = x.astype(np.float64) @ w.astype(np.float64) + b
    top2 = np.sort(logits, axis=1)[:, -2:]
    keep = (top2[:, 1] - top2[:, 0]) > 1e-3  # drop near-ties: argmax must be unambiguous
    x, logits = x[keep], logits[keep]
    n = len(x)
    label = rng.integers(0, c - 1, n)  # class 5 never appears
    # make accuracy non-trivial: half the labels agree with the model
    agree = rng.random(n) < 0.5
    label[agree] = np.minimum(np.argmax(logits[agree], axis=1), c - 2)
    pred = np.argmax(logits, axis=1)
    want_top1 = float(np.mean(pred == label))
    cls_model = os.path.join(d, "cls.onnx")
    gemm_model(cls_model, w, b, False)
    np.savez(os.path.join(d, "cls.npz"), x=x, label=label)
    for opts in ([], ["--batch", "7"], ["--per-sample"]):
        j = os.path.join(d, "r.json")
        rc, out, err = run("eval", cls_model, "--data", os.path.join(d, "cls.npz"), *opts,
                           "--out-json", j)
        check(rc == 0, f"classifier eval {opts} exits 0 ({err.strip()})")
        if rc:
            continue
        r = json.load(open(j))
        mt = r["metric"]
        check(r["task"] == "classification" and r["n_samples"] == n, f"{opts}: task and n")
        check(mt["correct"] == int(np.sum(pred == label)) and mt["top1"] == want_top1,
              f"{opts}: top-1 {mt['top1']} == numpy {want_top1}")
        for k in range(c):
            m = label == k
            e = mt["per_class"][k]
            want = None if not m.any() else float(np.mean(pred[m] == k))
            check(e["n"] == int(m.sum()) and e["correct"] == int(np.sum(pred[m] == k))
                  and e["accuracy"] == want, f"{opts}: class {k} accuracy {e['accuracy']} == {want}")
        check("run_provenance" in r and r["run_provenance"]["command_line"].startswith("eval"),
              f"{opts}: run_provenance")
        check(f"top1={want_top1:.6f}" in out, f"{opts}: stdout shows top1")

    # regressor
    n, f = 200, 6
    w = rng.standard_normal((f, 1)).astype(np.float32)
    b = np.array([3.0], np.float32)
    x = rng.random((n, f)).astype(np.float32)
    y = (x.astype(np.float64) @ w.astype(np.float64) + b).reshape(-1)
    target = (y + 0.3 * rng.standard_normal(n)).astype(np.float32).astype(np.float64)
    target[:5] = target[5]  # ties: SROCC must use average ranks
    want = {"plcc": np.corrcoef(y, target)[0, 1],
            "srocc": np.corrcoef(ranks(y), ranks(target))[0, 1],
            "rmse": float(np.sqrt(np.mean((y - target) ** 2)))}
    reg_model = os.path.join(d, "reg.onnx")
    gemm_model(reg_model, w, b, True)
    np.savez(os.path.join(d, "reg.npz"), x=x, target=target.astype(np.float32))
    for opts in ([], ["--per-sample"]):
        j = os.path.join(d, "r.json")
        rc, out, err = run("eval", reg_model, "--data", os.path.join(d, "reg.npz"), *opts,
                           "--out-json", j)
        check(rc == 0, f"regressor eval {opts} exits 0 ({err.strip()})")
        if rc:
            continue
        r = json.load(open(j))
        check(r["task"] == "regression", f"{opts}: regression task")
        for k, v in want.items():
            got = r["metric"][k]
            check(abs(got - v) <= 2e-6 * max(1.0, abs(v)), f"{opts}: {k} {got} vs numpy {v}")

    # bad inputs: exit 2, message names the file
    bad = os.path.join(d, "bad.npz")
    np.savez(bad, x=np.zeros((4, 8), np.float32), label=np.array([0, 1, 6, 2]))
    rc, out, err = run("eval", cls_model, "--data", bad)
    check(rc == 2 and bad in err and "label" in err, f"label out of range -> 2 naming file: {err.strip()}")
    nolab = os.path.join(d, "nolab.npz")
    np.savez(nolab, x=np.zeros((4, 8), np.float32))
    rc, out, err = run("eval", cls_model, "--data", nolab)
    check(rc == 2 and nolab in err, f"no label/target -> 2 naming file: {err.strip()}")
    wrong = os.path.join(d, "wrong.npz")
    np.savez(wrong, features=np.zeros((4, 8), np.float32), label=np.zeros(4, np.int64))
    rc, out, err = run("eval", cls_model, "--data", wrong)
    check(rc == 2 and wrong in err and "'x'" in err, f"missing input key -> 2: {err.strip()}")
    rc, out, err = run("eval", cls_model)
    check(rc == 2 and "--data" in err, "missing --data -> 2")
    rc, out, err = run("eval", cls_model, "--data", os.path.join(d, "absent.npz"))
    check(rc == 2 and "absent.npz" in err, "absent data file -> 2")

sys.exit(1 if fails else 0)
