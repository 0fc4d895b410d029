#!/usr/bin/python3
"""`tinyq quantize --per-channel-activations` (static), end to end.

1. Hand computation: a Conv reading a 3-channel input whose calibration
   values are chosen per channel (channel 0 in [-1, 2], channel 1 in
   [0.25, 0.5], channel 2 all zero). MinMax: the file's QuantizeLinear on the
   Conv input has axis 1 and the per-channel scale/zero point of ONNX
   Runtime's formula on exactly those ranges. MSE: each channel's range
   equals the per-tensor MSE range tinyq calibrates for a one-channel copy
   of the model fed that channel's values alone (the same algorithm on the
   channel's own statistics), and at least one channel is clipped.
2. Axes: Conv input axis 1, Gemm axis 1 (0 with transA); MatMul inputs stay
   per tensor (ONNX Runtime fuses DQ -> MatMul and rejects per-axis
   activation parameters); 1-D scale and zero point of the length of the
   weight's input-channel dimension on both QuantizeLinear and
   DequantizeLinear; the report says per_channel_activations and lists the
   channel ranges.
   A Conv whose output goes straight into a QuantizeLinear keeps a
   per-tensor input and output pair (ONNX Runtime fuses that group into
   QLinearConv and rejects per-axis activation parameters).
3. The files pass the ONNX checker, ONNX Runtime runs them (also its exact
   uint8 equivalent, tests/ort/exact_int8.py, where the fusion happens on
   CPUs without VNNI), and tinyq's outputs equal ORT's within one step of
   the output's DequantizeLinear (without --float-outputs; with it, ORT must
   run the file), on fixtures/mlp.onnx,
   fixtures/cnn.onnx and, when ../shared/seed-models is there,
   vmaf_tiny_v3 (and learned_filter_v1: checker, axes and ORT run; its output
   comes from a float Add, so no step bounds it).
Exit 0 pass, 1 failure, 77 skip (ONNX Runtime not installed).
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tqtest import TOOL, ORT_RUN, FIX, SEED, check, have_ort, finish, output_step  # noqa: E402


def quantize(model, out, cal, *opts):
    rep = out + ".json"
    p = subprocess.run([TOOL, "quantize", model, "--mode", "static", "--calibration", cal,
                        "-o", out, "--report-out", rep, *opts], capture_output=True, text=True)
    if not check(p.returncode == 0, f"{model} {opts}: quantize exit {p.returncode}: {p.stderr}"):
        return None
    return json.load(open(rep))


def ort_formula(lo, hi):
    lo, hi = min(float(lo), 0.0), max(float(hi), 0.0)
    s = np.float32((hi - lo) / 255.0)
    if s < np.finfo(np.float32).tiny:
        return np.float32(1.0), 0
    return s, int(np.clip(np.rint(-128.0 - lo / np.float64(s)), -128, 127))


def save(graph, path, opset=13):
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]), path)


def conv_model(path, c):
    rng = np.random.default_rng(7)
    w = numpy_helper.from_array(rng.standard_normal((2, c, 1, 1)).astype(np.float32), "w")
    b = numpy_helper.from_array(np.array([0.1, -0.2], np.float32), "b")
    g = helper.make_graph([helper.make_node("Conv", ["x", "w", "b"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", c, 2, 2])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 2, 2, 2])],
                          [w, b])
    save(g, path)


def input_qdq(m, consumer_input):
    """The QuantizeLinear and DequantizeLinear that feed a node input."""
    prod = {o: n for n in m.graph.node for o in n.output}
    dq = prod.get(consumer_input)
    q = prod.get(dq.input[0]) if dq is not None and dq.op_type == "DequantizeLinear" else None
    return (q, dq) if q is not None and q.op_type == "QuantizeLinear" else (None, None)


def axis_of(n):
    return next((a.i for a in n.attribute if a.name == "axis"), None)


def hand_test(tmp):
    x = np.zeros((8, 3, 2, 2), np.float32)
    rng = np.random.default_rng(5)
    x[:, 0] = rng.uniform(-1, 2, (8, 2, 2))
    x[:, 1] = rng.uniform(0.25, 0.5, (8, 2, 2))
    x[0, 0, 0, 0], x[1, 0, 0, 0] = -1.0, 2.0     # exact extremes
    x[0, 1, 0, 0], x[1, 1, 0, 0] = 0.25, 0.5
    x[2, 0, 1, 1] = 40.0                          # an outlier MSE should clip
    cal = os.path.join(tmp, "hand.npz")
    np.savez(cal, x=x)
    model = os.path.join(tmp, "hand.onnx")
    conv_model(model, 3)
    want = {0: (float(x[:, 0].min()), float(x[:, 0].max())), 1: (0.25, 0.5), 2: (0.0, 0.0)}
    out = os.path.join(tmp, "hand_minmax.onnx")
    # --float-outputs: a Conv output that is a Q/DQ'd graph output would keep
    # its input per tensor (the ONNX Runtime fusion rule, see structure())
    rep = quantize(model, out, cal, "--per-channel", "--per-channel-activations",
                   "--float-outputs")
    if rep is None:
        return
    m = onnx.load(out)
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    conv = next(n for n in m.graph.node if n.op_type == "Conv")
    q, dq = input_qdq(m, conv.input[0])
    if not check(q is not None, "hand: no Q/DQ pair on the Conv input"):
        return
    check(axis_of(q) == 1 and axis_of(dq) == 1, f"hand: axes {axis_of(q)}, {axis_of(dq)} != 1")
    s, z = inits[q.input[1]], inits[q.input[2]]
    if not check(s.shape == (3,) and z.shape == (3,), f"hand: scale/zp shapes {s.shape} {z.shape}"):
        return
    for c in range(3):
        ws, wz = ort_formula(*want[c])
        check(s[c] == ws and int(z[c]) == wz,
              f"hand minmax channel {c}: file ({s[c]}, {z[c]}) != hand ({ws}, {wz})")
    float_bound_check("hand conv", out, cal)
    check(rep.get("per_channel_activations") is True, "hand: report per_channel_activations")
    cr = rep["calibration"].get("tensor_channel_ranges", {}).get("x")
    check(cr is not None and cr["axis"] == 1 and
          [(np.float32(a), np.float32(b)) for a, b in zip(cr["min"], cr["max"])] ==
          [tuple(np.float32(v) for v in want[c]) for c in range(3)],
          f"hand: report channel ranges {cr}")
    # the conv's bias stays float (no single bias scale)
    check(conv.input[2] in inits and inits[conv.input[2]].dtype == np.float32,
          "hand: the bias of a per-channel-input Conv is not float")

    # MSE per channel == per-tensor MSE on the channel alone
    rep = quantize(model, os.path.join(tmp, "hand_mse.onnx"), cal, "--method", "mse",
                   "--per-channel-activations", "--float-outputs")
    one = os.path.join(tmp, "one.onnx")
    conv_model(one, 1)
    got = rep["calibration"]["tensor_channel_ranges"]["x"] if rep else None
    clipped = 0
    for c in range(3 if got else 0):
        cc = os.path.join(tmp, f"ch{c}.npz")
        np.savez(cc, x=x[:, c:c + 1])
        r1 = quantize(one, os.path.join(tmp, f"one{c}.onnx"), cc, "--method", "mse")
        lo, hi = r1["calibration"]["tensor_ranges"]["x"]
        check((np.float32(got["min"][c]), np.float32(got["max"][c])) ==
              (np.float32(lo), np.float32(hi)),
              f"hand mse channel {c}: [{got['min'][c]}, {got['max'][c]}] != one-channel "
              f"per-tensor [{lo}, {hi}]")
        clipped += got["max"][c] < want[c][1]
    check(clipped >= 1, "hand mse: no channel clipped (the outlier of channel 0 should be)")
    print("ok   hand-computed per-channel ranges (minmax) and per-channel mse")


def axis_models(tmp):
    """Gemm, Gemm transA, MatMul rank 3: the axis the weight's K multiplies."""
    rng = np.random.default_rng(3)
    w = numpy_helper.from_array(rng.standard_normal((4, 3)).astype(np.float32), "w")
    out = []
    for tag, node, xs, ys, axis in [
            ("gemm", helper.make_node("Gemm", ["x", "w"], ["y"]), ["N", 4], ["N", 3], 1),
            ("gemm_ta", helper.make_node("Gemm", ["x", "w"], ["y"], transA=1), [4, 6],
             [6, 3], 0),
            ("matmul3", helper.make_node("MatMul", ["x", "w"], ["y"]), ["N", 5, 4],
             ["N", 5, 3], 2)]:
        path = os.path.join(tmp, tag + ".onnx")
        g = helper.make_graph([node], "g", [helper.make_tensor_value_info("x", TensorProto.FLOAT, xs)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, ys)], [w])
        save(g, path)
        shape = [6 if d == "N" else d for d in xs]
        # transA: the batch is axis 1; calibration stacks samples on axis 0
        data = (rng.uniform(-1, 1, shape) * np.linspace(0.1, 3, 4).reshape(
            [4 if d == 4 else 1 for d in shape])).astype(np.float32)
        cal = os.path.join(tmp, tag + ".npz")
        np.savez(cal, x=data)
        out.append((tag, path, cal, axis))
    return out


def structure(tag, path, need_axis=True):
    """Every quantised node's activation input: per-axis Q/DQ of the right
    axis and length, except MatMul inputs and a Conv whose output goes
    straight into a QuantizeLinear, and that output's pair (ONNX Runtime fuses
    those groups and rejects per-axis activation parameters): per tensor."""
    m = onnx.load(path)
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    prod = {o: n for n in m.graph.node for o in n.output}
    readers = {}
    for n in m.graph.node:
        for i in n.input:
            readers.setdefault(i, []).append(n)
    n_checked = n_axis = 0
    for n in m.graph.node:
        if n.op_type not in ("Conv", "Gemm", "MatMul"):
            continue
        wdq = prod.get(n.input[1])
        if wdq is None or wdq.op_type != "DequantizeLinear":
            continue  # a node left fp32
        wq = inits[wdq.input[0]]
        if n.op_type == "Conv":
            group = next((a.i for a in n.attribute if a.name == "group"), 1)
            want_axis, k = 1, wq.shape[1] * group
        elif n.op_type == "Gemm":
            ta = next((a.i for a in n.attribute if a.name == "transA"), 0)
            tb = next((a.i for a in n.attribute if a.name == "transB"), 0)
            want_axis, k = (0 if ta else 1), wq.shape[1 if tb else 0]
        else:
            want_axis, k = None, wq.shape[0]   # the last axis, checked by length
        q, dq = input_qdq(m, n.input[0])
        if not check(q is not None, f"{tag}: node {n.name or n.op_type} input has no Q/DQ"):
            continue
        # this node is the op of a fusable group, or the pair's Q directly
        # follows one (the same pair is that group's output)
        src = prod.get(q.input[0])
        direct_q = any(r.op_type == "QuantizeLinear" for r in readers.get(n.output[0], []))
        after_op = (src is not None and src.op_type in ("Conv", "ConvTranspose", "MatMul") and
                    len(src.input) > 1 and src.input[1] in prod and
                    prod[src.input[1]].op_type == "DequantizeLinear")
        fused = n.op_type == "MatMul" or (n.op_type != "Gemm" and direct_q) or after_op
        if fused:
            for node in (q, dq):
                check(inits[node.input[1]].size == 1 and axis_of(node) is None,
                      f"{tag}: {n.op_type} feeding a QuantizeLinear reads a per-axis "
                      f"{node.op_type} (ONNX Runtime would fuse and reject it)")
            n_checked += 1
            continue
        n_axis += 1
        for node in (q, dq):
            s, z = inits[node.input[1]], inits[node.input[2]]
            ax = axis_of(node)
            check(s.ndim == 1 and s.shape == (k,) and z.shape == (k,),
                  f"{tag}: {node.op_type} before {n.op_type}: scale {s.shape}, zp {z.shape}, "
                  f"want ({k},)")
            check(ax is not None and (want_axis is None or ax == want_axis),
                  f"{tag}: {node.op_type} before {n.op_type}: axis {ax}, want {want_axis}")
        n_checked += 1
    check(n_checked >= 1 and (n_axis >= 1 or not need_axis),
          f"{tag}: {n_checked} quantised nodes checked, "
          f"{n_axis} with per-axis inputs")
    try:
        onnx.checker.check_model(onnx.load(path), full_check=True)
    except Exception as e:  # noqa: BLE001 - any checker failure is a test failure
        check(False, f"{tag}: ONNX checker: {e}")
    return m


def versus_ort(tag, path, data, m, need_step=True, per_sample=True):
    o_ort, o_tq = path + ".ort.npz", path + ".tq.npz"
    ps = ["--per-sample"] if per_sample else []
    p = subprocess.run(["node", ORT_RUN, path, data, o_ort, "--threads", "1", *ps],
                       capture_output=True, text=True)
    if not check(p.returncode == 0, f"{tag}: ONNX Runtime cannot run it: {p.stderr[-400:]}"):
        return
    p = subprocess.run([TOOL, "run", path, "-i", data, "-o", o_tq, *ps],
                       capture_output=True, text=True)
    if not check(p.returncode == 0, f"{tag}: tinyq cannot run it: {p.stderr[-400:]}"):
        return
    ref, got = np.load(o_ort), np.load(o_tq)
    for o in m.graph.output:
        a, b = ref[o.name].astype(np.float64), got[o.name].astype(np.float64)
        step = output_step(m, o.name)
        if step is None:
            check(not need_step, f"{tag}: cannot derive the output step of {o.name}")
            continue
        # one output step, plus float rounding of the dequantised value
        bound = step * (1 + 1e-5) + 1e-6 * np.max(np.abs(a))
        d = float(np.max(np.abs(a - b)))
        check(d <= bound, f"{tag}: {o.name}: |tinyq - ORT| = {d:.3g} > one step {bound:.3g}")
    print(f"ok   {tag}: checker, per-axis Q/DQ, ORT runs it" +
          (", tinyq == ORT within one step" if need_step else ""))


def float_bound_check(tag, path, data, per_sample=True):
    """One quantised 1x1 Conv or MatMul reading per-axis Q/DQ, float output
    (--float-outputs): tinyq and ONNX Runtime quantise the same input with
    the same parameters and then differ only in float summation order, so
    |tinyq - ORT| <= 2 gamma_(K+2) (sum |x_dq w_dq| + |b|) per output
    (gamma_n = n u / (1 - n u), u = 2^-24): each side's error from the exact
    sum is at most gamma times that sum."""
    m = onnx.load(path)
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    op = next(n for n in m.graph.node if n.op_type in ("Conv", "MatMul"))
    q, _ = input_qdq(m, op.input[0])
    prod = {o: n for n in m.graph.node for o in n.output}
    wdq = prod[op.input[1]]
    x = np.load(data)[q.input[0]].astype(np.float64)
    s, z, ax = inits[q.input[1]].astype(np.float64), inits[q.input[2]].astype(np.float64), \
        axis_of(q)
    shp = [1] * x.ndim
    shp[ax] = -1
    s, z = s.reshape(shp), z.reshape(shp)
    xd = (np.clip(np.rint(x / s) + z, -128, 127) - z) * s
    w = inits[wdq.input[0]].astype(np.float64)
    ws = inits[wdq.input[1]].astype(np.float64)
    wshp = [1] * w.ndim
    wshp[axis_of(wdq) if axis_of(wdq) is not None else 0] = -1
    wd = w * (ws.reshape(wshp) if ws.size > 1 else ws)
    if op.op_type == "Conv":   # 1x1: a product over channels
        mag = np.einsum("oc,nchw->nohw", np.abs(wd[:, :, 0, 0]), np.abs(xd))
        k = wd.shape[1]
        if len(op.input) > 2 and op.input[2] in inits:
            mag += np.abs(inits[op.input[2]]).reshape(1, -1, 1, 1)
    else:
        mag, k = np.abs(xd) @ np.abs(wd), wd.shape[0]
    u = 2.0 ** -24
    gamma = (k + 2) * u / (1 - (k + 2) * u)
    o_ort, o_tq = path + ".ort.npz", path + ".tq.npz"
    ps = ["--per-sample"] if per_sample else []
    p1 = subprocess.run(["node", ORT_RUN, path, data, o_ort, "--threads", "1", *ps],
                        capture_output=True, text=True)
    p2 = subprocess.run([TOOL, "run", path, "-i", data, "-o", o_tq, *ps], capture_output=True,
                        text=True)
    if not check(p1.returncode == 0 and p2.returncode == 0,
                 f"{tag}: run failed: {p1.stderr[-300:]} {p2.stderr[-300:]}"):
        return
    a = np.load(o_ort)[m.graph.output[0].name].astype(np.float64)
    b = np.load(o_tq)[m.graph.output[0].name].astype(np.float64)
    bound = 2 * gamma * mag + np.finfo(np.float32).tiny
    worst = float(np.max(np.abs(a - b) - bound))
    check(worst <= 0, f"{tag}: |tinyq - ORT| exceeds the float-order bound by {worst:.3g}")
    print(f"ok   {tag}: tinyq == ORT within the float summation bound (per-axis input)")


def subset(npz, path, n=16):
    d = np.load(npz)
    np.savez(path, **{k: d[k][:n] for k in d.files})
    return path


def usage_errors(tmp):
    """Dynamic mode has no activation ranges; per-axis Q/DQ needs opset 13."""
    model = os.path.join(tmp, "old.onnx")
    rng = np.random.default_rng(2)
    w = numpy_helper.from_array(rng.standard_normal((4, 3)).astype(np.float32), "w")
    g = helper.make_graph([helper.make_node("Gemm", ["x", "w"], ["y"])], "g",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])], [w])
    save(g, model, opset=11)
    cal = os.path.join(tmp, "old.npz")
    np.savez(cal, x=rng.random((8, 4), dtype=np.float32))
    for args, why, word in [(["--per-channel-activations"], "dynamic mode", "static or qat"),
                            (["--mode", "static", "--calibration", cal,
                              "--per-channel-activations"], "opset 11", "old.onnx")]:
        out = os.path.join(tmp, "old.q.onnx")
        p = subprocess.run([TOOL, "quantize", model, "-o", out, *args], capture_output=True,
                           text=True)
        check(p.returncode == 2 and word in p.stderr and not os.path.exists(out),
              f"{why}: exit {p.returncode}, stderr {p.stderr.strip()!r}, expected exit 2 "
              f"naming '{word}' and no output")
    print("ok   usage errors: dynamic mode, opset < 13")


def main():
    if not have_ort():
        print("SKIP: onnxruntime-node is not installed (run scripts/install-deps.sh)")
        return 77
    with tempfile.TemporaryDirectory() as tmp:
        hand_test(tmp)
        usage_errors(tmp)
        for tag, model, cal, _ in axis_models(tmp):
            out = os.path.join(tmp, tag + ".q.onnx")
            if quantize(model, out, cal, "--per-channel", "--per-channel-activations"):
                # MatMul inputs stay per tensor (ONNX Runtime's fusions reject per-axis)
                m = structure(tag, out, tag != "matmul3")
                # transA: a fixed [K, N] input, run whole (not per sample)
                versus_ort(tag, out, cal, m, per_sample=tag != "gemm_ta")
        cases = [("mlp", os.path.join(FIX, "mlp.onnx"), os.path.join(FIX, "mlp_data.npz"), True),
                 ("cnn", os.path.join(FIX, "cnn.onnx"), os.path.join(FIX, "cnn_calib.npz"), True)]
        rng = np.random.default_rng(1)
        for name, full in (("vmaf_tiny_v3", True), ("learned_filter_v1", False)):
            fp = os.path.join(SEED, name + ".onnx")
            if not os.path.exists(fp):
                print(f"SKIP {name}: no seed models beside this checkout ({SEED})")
                continue
            g = onnx.load(fp, load_external_data=False).graph
            x = g.input[0]
            dims = [d.dim_value or 1 for d in x.type.tensor_type.shape.dim]
            n = 64 if len(dims) == 2 else 4
            cal = os.path.join(tmp, name + ".npz")
            np.savez(cal, **{x.name: rng.random((n, *dims[1:]), dtype=np.float32)})
            cases.append((name, fp, cal, full))
        for name, model, cal, full in cases:
            if not os.path.exists(model):
                print(f"SKIP {name}: {model} absent")
                continue
            for meth, fo in (("minmax", []), ("mse", []), ("mse", ["--float-outputs"])):
                tag = f"{name} {meth}{' float-outputs' if fo else ''}"
                out = os.path.join(tmp, f"{name}.{meth}{len(fo)}.onnx")
                rep = quantize(model, out, cal, "--method", meth, "--per-channel",
                               "--per-channel-activations", *fo)
                if rep is None:
                    continue
                # without --float-outputs every learned_filter Conv feeds a Q
                # directly: nothing may be per axis there
                want = bool(fo) or name != "learned_filter_v1"
                check(rep.get("per_channel_activations") is True and
                      bool(rep["calibration"].get("tensor_channel_ranges")) == want,
                      f"{tag}: report per_channel_activations / tensor_channel_ranges")
                m = structure(tag, out, want)
                # float outputs have no output step: ORT must run the file
                versus_ort(tag, out, subset(cal, out + ".in.npz", 8 if name == "learned_filter_v1"
                                            else 16), m, need_step=full and not fo)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
