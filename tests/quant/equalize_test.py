#!/usr/bin/python3
"""--equalize (src/quant/equalize.c): the rewrite keeps the fp32 function and
actually equalises.

Models: two built here with numpy weights (an MLP behind an in-graph
standardisation Sub -> Div, with Gemm transB=1, Gemm transB=0 and MatMul
consumers; a CNN behind Sub -> Mul with a padding-free 1x1 Conv, a grouped
Conv, a residual Add and a Clip that must NOT be equalised) and, when
TQ_SEED_MODELS has them, vmaf_tiny_v3 and learned_filter_v1. equalize_dump
applies the rewrite alone and saves the fp32 result.

1. Sites found: the number of rescaled inputs, centred inputs and layer pairs
   is what the graph's structure allows (residual branches and Clip excluded).
2. fp32 function kept: original and equalised models run (tinyq with the
   direct convolution, TQ_NO_WINOGRAD=1; and ONNX Runtime when installed) on
   held-out data (not the calibration set). Derived bound: a float32 dot
   product of K terms plus a bias is within (K + 2) u of the exact value
   relative to its magnitude pass sum |w| |x| + |b| (u = 2^-24), ReLU and
   Clip do not expand errors, an elementwise op adds u, and the rewrite's
   rounded constants (each w * s, D * s, M + c D rounded once) add one u per
   layer. The magnitude pass is the model itself with every constant
   replaced by its absolute value, Sub by Add and Clip by Identity (run by
   tinyq on |x|); each output may differ by at most
       2 * (sum over layers (2 K + 6) + 2 * elementwise ops) * u * magnitude,
   the leading 2 covering the bias updates of centring (b + W c), whose
   rounding the magnitude pass bounds only up to the centre's size.
3. Equalised as specified: for every rescaled tensor, with the per-channel
   ranges r_j = max |x_j| measured on the calibration set before and r'_j
   after, and w_j = max |W[:, j]| of the consumer's original weights, the
   SmoothQuant choice s_j = r_j^a / w_j^(1-a) (times a common factor) means
   r'_j = r_j / s_j is proportional to (r_j w_j)^(1-a): log r'_j - (1-a)
   log(r_j w_j) must be the same for every channel (to 1e-4, float rounding
   of the calibration pass), with a = 0.75 for standardised inputs and 0.5
   for layer pairs. Centred inputs have per-channel midpoints at zero
   (|mid_j| <= 1e-4 max_j r'_j), and on the standardised inputs the range
   spread max r / min r shrinks.
Exit 0 pass, 1 failure.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tqtest import BUILD, TOOL, ORT_DIR, ORT_RUN, failures, have_ort, finish  # noqa: E402

DUMP = os.path.join(BUILD, "tests", "quant", "equalize_dump")
SEED = os.environ.get("TQ_SEED_MODELS", "")
U = 2.0 ** -24


def fail(msg):
    failures.append(msg)
    print("FAIL " + msg)


def init(name, a):
    return numpy_helper.from_array(np.asarray(a, dtype=np.float32), name)


def build_mlp(d, rng):
    mean = rng.uniform(-3, 3, 6)
    std = np.array([0.035, 0.2, 1.0, 2.5, 7.0, 0.5])  # spans 0.14 .. 29 like vmaf_tiny
    nodes = [helper.make_node("Sub", ["x", "mean"], ["sub"]),
             helper.make_node("Div", ["sub", "std"], ["div"]),
             helper.make_node("Gemm", ["div", "w0", "b0"], ["g0"], transB=1),
             helper.make_node("Relu", ["g0"], ["r0"]),
             helper.make_node("Gemm", ["r0", "w1", "b1"], ["g1"], transB=0, alpha=0.7, beta=1.3),
             helper.make_node("Relu", ["g1"], ["r1"]),
             helper.make_node("MatMul", ["r1", "w2"], ["y"])]
    inits = [init("mean", mean), init("std", std),
             init("w0", rng.normal(0, 1, (16, 6)) * rng.uniform(0.1, 3, (16, 1))),
             init("b0", rng.normal(0, 1, 16)),
             init("w1", rng.normal(0, 0.5, (16, 8))), init("b1", rng.normal(0, 1, 8)),
             init("w2", rng.normal(0, 0.5, (8, 3)))]
    g = helper.make_graph(nodes, "mlp_std",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 6])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])], inits)
    return save(d, "mlp_std", g, {"x": (6,)}, rng, dict(inputs=1, centered=1, pairs=2))


def build_cnn(d, rng):
    nodes = [helper.make_node("Sub", ["x", "m"], ["sub"]),
             helper.make_node("Mul", ["sub", "k"], ["mul"]),
             helper.make_node("Conv", ["mul", "w0", "b0"], ["c0"]),  # 1x1, no padding: centred
             helper.make_node("Relu", ["c0"], ["r0"]),
             helper.make_node("Conv", ["r0", "w1", "b1"], ["c1"], group=2, pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"]),
             helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], group=8, pads=[1, 1, 1, 1]),
             helper.make_node("Add", ["r1", "c2"], ["res"]),  # r1 has two readers: no site
             helper.make_node("Clip", ["res", "lo", "hi"], ["clip"]),  # not homogeneous: no site
             helper.make_node("Conv", ["clip", "w3", "b3"], ["y"])]
    inits = [init("m", rng.uniform(0, 1, (1, 3, 1, 1))),
             init("k", np.array([0.05, 1.0, 20.0]).reshape(3, 1, 1)),
             init("w0", rng.normal(0, 1, (8, 3, 1, 1))), init("b0", rng.normal(0, 0.5, 8)),
             init("w1", rng.normal(0, 0.4, (8, 4, 3, 3)) * rng.uniform(0.1, 2, (1, 4, 1, 1))),
             init("b1", rng.normal(0, 0.5, 8)),
             init("w2", rng.normal(0, 0.4, (8, 1, 3, 3))), init("b2", rng.normal(0, 0.5, 8)),
             init("lo", 0.0), init("hi", 6.0),
             init("w3", rng.normal(0, 0.5, (2, 8, 1, 1))), init("b3", rng.normal(0, 0.5, 2))]
    g = helper.make_graph(nodes, "cnn_std",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 10, 10])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2, 10, 10])],
                          inits)
    return save(d, "cnn_std", g, {"x": (3, 10, 10)}, rng, dict(inputs=1, centered=1, pairs=1))


def save(d, name, g, shapes, rng, want):
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    onnx.checker.check_model(m, full_check=True)
    path = os.path.join(d, name + ".onnx")
    onnx.save(m, path)
    return name, path, shapes, want


def datasets(d, name, shapes, n_cal, n_held):
    paths = []
    for seed, n, tag in ((1, n_cal, "cal"), (3, n_held, "held")):
        rng = np.random.default_rng(seed)
        p = os.path.join(d, f"{name}_{tag}.npz")
        np.savez(p, **{k: rng.random((n, *s), dtype=np.float32) for k, s in shapes.items()})
        paths.append(p)
    return paths


def run_tinyq(model, data, out):
    env = dict(os.environ, TQ_NO_WINOGRAD="1")
    p = subprocess.run([TOOL, "run", model, "-i", data, "-o", out], capture_output=True,
                       text=True, env=env)
    if p.returncode != 0:
        raise RuntimeError(f"tinyq run {model}: {p.stderr.strip()}")
    return np.load(out)


def run_ort(model, data, out):
    p = subprocess.run(["node", ORT_RUN, model, data, out], capture_output=True, text=True,
                       cwd=ORT_DIR)
    if p.returncode != 0:
        raise RuntimeError(f"ORT {model}: {p.stderr.strip()[-300:]}")
    return np.load(out)


def magnitude_model(src, dst):
    """The magnitude pass: |constants|, Sub -> Add, Clip -> Identity."""
    m = onnx.load(src)
    for t in m.graph.initializer:
        a = numpy_helper.to_array(t)
        if a.dtype.kind == "f":
            t.CopyFrom(numpy_helper.from_array(np.abs(a).astype(a.dtype), t.name))
    for n in m.graph.node:
        if n.op_type == "Sub":
            n.op_type = "Add"
        elif n.op_type == "Clip":
            n.op_type = "Identity"
            del n.input[1:]
        for a in n.attribute:
            if a.name in ("alpha", "beta") and a.type == onnx.AttributeProto.FLOAT:
                a.f = abs(a.f)
    onnx.save(m, dst)


def error_budget(path):
    """sum over linear layers (2 K + 6) + 2 * elementwise ops, K = terms per output."""
    m = onnx.load(path)
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    total = 0
    for n in m.graph.node:
        if n.op_type in ("Conv", "Gemm", "MatMul"):
            w = inits[n.input[1]]
            if n.op_type == "Conv":
                k = int(np.prod(w.shape[1:]))
            elif n.op_type == "Gemm":
                trans_b = next((a.i for a in n.attribute if a.name == "transB"), 0)
                k = w.shape[1] if trans_b else w.shape[0]
            else:
                k = w.shape[0]
            total += 2 * k + 6
        elif n.op_type in ("Sub", "Div", "Mul", "Add"):
            total += 2
    return total


def check_function(name, orig, eq, held, work):
    budget = error_budget(orig)
    abs_held = os.path.join(work, name + "_absheld.npz")
    np.savez(abs_held, **{k: np.abs(v) for k, v in np.load(held).items()})
    mags = []
    for tag, p in (("orig", orig), ("eq", eq)):
        mp = os.path.join(work, f"{name}_{tag}_mag.onnx")
        magnitude_model(p, mp)
        mags.append(run_tinyq(mp, abs_held, mp + ".npz"))
    runners = [("tinyq", run_tinyq)] + ([("ORT", run_ort)] if have_ort() else [])
    for rname, run in runners:
        a = run(orig, held, os.path.join(work, f"{name}_o_{rname}.npz"))
        b = run(eq, held, os.path.join(work, f"{name}_e_{rname}.npz"))
        for k in a.files:
            mag = np.maximum(np.abs(mags[0][k]), np.abs(mags[1][k])).astype(np.float64)
            tol = 2.0 * budget * U * mag
            diff = np.abs(a[k].astype(np.float64) - b[k].astype(np.float64))
            worst = float(np.max(diff / np.maximum(tol, 1e-300)))
            if np.any(diff > tol):
                i = int(np.argmax(diff - tol))
                fail(f"{name} ({rname}): output {k} element {i}: |eq - orig| = "
                     f"{diff.ravel()[i]:.3g} > bound {tol.ravel()[i]:.3g}")
            else:
                print(f"ok   {name} ({rname}): fp32 outputs kept, worst |eq - orig| / bound "
                      f"= {worst:.2g}")
                if worst == 0.0 and rname == "tinyq":
                    fail(f"{name}: outputs bit-identical, the rewrite did nothing")


def column_absmax(g, node):
    """max |W[:, j]| per input channel j of a Conv/Gemm/MatMul."""
    w = np.abs(numpy_helper.to_array(next(t for t in g.initializer if t.name == node.input[1])))
    if node.op_type == "Conv":
        group = next((a.i for a in node.attribute if a.name == "group"), 1)
        per_out = w.reshape(w.shape[0], w.shape[1], -1).max(axis=2)  # [out, in/g]
        opg = w.shape[0] // group
        return np.concatenate([per_out[k * opg:(k + 1) * opg].max(axis=0) for k in range(group)])
    trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
    return w.max(axis=0) if node.op_type == "Gemm" and trans_b else w.max(axis=1)


def site_tensors(path):
    """Inputs of Conv/Gemm/MatMul made by Div, Mul or Relu, with one reader:
    (name, channel axis, is a standardised input, consumer's column maxima)."""
    g = onnx.load(path).graph
    readers = {}
    for n in g.node:
        for i in n.input:
            readers[i] = readers.get(i, 0) + 1
    prod = {o: n for n in g.node for o in n.output}
    out = []
    for n in g.node:
        x = n.input[0] if n.input else ""
        if n.op_type in ("Conv", "Gemm", "MatMul") and x in prod and readers.get(x) == 1 \
                and prod[x].op_type in ("Div", "Mul", "Relu"):
            std = prod[x].op_type in ("Div", "Mul")
            out.append((x, 1 if n.op_type == "Conv" else -1, std, column_absmax(g, n)))
    return out


def channel_ranges(model, names, cal, work, tag):
    m = onnx.load(model)
    for nm, *_ in names:
        m.graph.output.append(helper.make_tensor_value_info(nm, TensorProto.FLOAT, None))
    p = os.path.join(work, tag + "_probe.onnx")
    onnx.save(m, p)
    o = run_tinyq(p, cal, p + ".npz")
    res = {}
    for nm, axis, *_ in names:
        x = np.moveaxis(o[nm].astype(np.float64), axis, -1).reshape(-1, o[nm].shape[axis])
        res[nm] = (x.min(0), x.max(0))
    return res


def check_equalised(name, orig, eq, cal, work):
    names = site_tensors(orig)
    before = channel_ranges(orig, names, cal, work, name + "_b")
    after = channel_ranges(eq, names, cal, work, name + "_a")
    for nm, _, std, w in names:
        (mn0, mx0), (mn1, mx1) = before[nm], after[nm]
        alpha = 0.75 if std else 0.5
        r0 = (mx0 - mn0) / 2 if std else np.maximum(-mn0, mx0)  # centred: half the span
        r1 = np.maximum(-mn1, mx1)
        live = (r0 > 0) & (w > 0)
        dev = np.log(r1[live]) - (1 - alpha) * np.log(r0[live] * w[live])
        spread0, spread1 = r0[live].max() / r0[live].min(), r1[live].max() / r1[live].min()
        if dev.max() - dev.min() > 1e-4:
            fail(f"{name}: tensor {nm}: ranges after are not (r w)^(1-a) up to one factor "
                 f"(log deviation {dev.max() - dev.min():.3g})")
        else:
            print(f"ok   {name}: tensor {nm}: ranges follow (r w)^{1 - alpha:g}; channel range "
                  f"spread {spread0:.3g} -> {spread1:.3g}")
        if std and not spread1 < spread0:
            fail(f"{name}: tensor {nm}: standardised input range spread {spread0:.3g} -> "
                 f"{spread1:.3g} (not smaller)")
        if std:
            mid = np.abs(mn1 + mx1) / 2
            if mid.max() > 1e-4 * r1.max():
                fail(f"{name}: tensor {nm}: centred input has midpoints up to {mid.max():.3g}")


def main():
    if not os.path.exists(DUMP):
        print(f"FAIL {DUMP} not built")
        return 1
    with tempfile.TemporaryDirectory(prefix="tq_equalize_") as work:
        rng = np.random.default_rng(7)
        models = [build_mlp(work, rng), build_cnn(work, rng)]
        sizes = {"mlp_std": (256, 512), "cnn_std": (64, 32)}
        for seed_name, want, n_cal, n_held in (
                ("vmaf_tiny_v3", dict(inputs=1, centered=1, pairs=2), 256, 512),
                ("learned_filter_v1", dict(inputs=0, centered=0, pairs=4), 4, 2)):
            p = os.path.join(SEED, seed_name + ".onnx") if SEED else ""
            if p and os.path.exists(p):
                g = onnx.load(p, load_external_data=False).graph
                inits = {t.name for t in g.initializer}
                shapes = {i.name: tuple(d.dim_value for d in i.type.tensor_type.shape.dim[1:])
                          for i in g.input if i.name not in inits}
                models.append((seed_name, p, shapes, want))
                sizes[seed_name] = (n_cal, n_held)
            else:
                print(f"SKIP seed model {seed_name}: not in TQ_SEED_MODELS")
        for name, path, shapes, want in models:
            cal, held = datasets(work, name, shapes, *sizes[name])
            eq = os.path.join(work, name + ".eq.onnx")
            p = subprocess.run([DUMP, path, cal, eq], capture_output=True, text=True)
            if p.returncode != 0:
                fail(f"{name}: equalize_dump exit {p.returncode}: {p.stderr.strip()}")
                continue
            w = p.stdout.split()
            got = dict(inputs=int(w[1]), centered=int(w[3]), pairs=int(w[5]))
            if got != want:
                fail(f"{name}: sites {got}, expected {want}")
            else:
                print(f"ok   {name}: sites {got}")
            onnx.checker.check_model(onnx.load(eq), full_check=True)
            check_function(name, path, eq, held, work)
            check_equalised(name, path, eq, cal, work)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
