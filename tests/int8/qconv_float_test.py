#!/usr/bin/python3
"""tinyq.QConvF (runtime/ops/qconv_float.c) and tinyq.QGemmF (fused_qdq.c):
DQ(x) -> Conv | Gemm | MatMul(DQ(w), DQ(int32 bias)) with a float output, as
`tinyq quantize --float-outputs` writes it, runs as the integer op with a
dequantising epilogue. The unfused graph
(TQ_NO_FUSE=1) and ONNX Runtime sum the dequantised values in float instead,
so each output may differ by float rounding only: at most (K + 2) * 2^-24
times the sum of |x_k * w_k| over its K terms plus |bias| (K + 1 roundings of
the unfused sum and two of the fused epilogue, each within 2^-24 relative of
the running magnitude). Checked per output for ordinary, depthwise, strided,
padded and 1x1 convs, uint8 and int8 inputs, per-tensor and per-channel
weights, and Gemm (transB, bias) / MatMul (no bias) cases; the fused run
must really contain QConvF / QGemmF (`tinyq bench --profile`).
Skips (77) without numpy/onnx; the ONNX Runtime comparison is skipped when
its node packages are missing."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tqtest import TOOL, ORT_RUN, have_ort  # noqa: E402

try:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper
except ImportError:
    print("SKIP: /usr/bin/python3 lacks numpy/onnx")
    sys.exit(77)


def weight_and_input_qdq(w_f, axis, xtype, per_channel):
    """w_f as int8 (one scale, or one per index of axis) and the graph's
    start shared by both models: x through QuantizeLinear -> DequantizeLinear
    (scale 2/255, zero point 128 for uint8, 0 for int8) and the weight's
    DequantizeLinear (zero point 0, along axis)."""
    if per_channel:
        other = tuple(d for d in range(w_f.ndim) if d != axis)
        ws = (np.abs(w_f).max(other) / 127).astype(np.float32)
        shape = [-1 if d == axis else 1 for d in range(w_f.ndim)]
        wq = np.clip(np.rint(w_f / ws.reshape(shape)), -127, 127).astype(np.int8)
    else:
        ws = np.float32(np.abs(w_f).max() / 127)
        wq = np.clip(np.rint(w_f / ws), -127, 127).astype(np.int8)
    xs = np.float32(2.0 / 255)
    xzp = np.array(128 if xtype == TensorProto.UINT8 else 0,
                   dtype=np.uint8 if xtype == TensorProto.UINT8 else np.int8)
    inits = [numpy_helper.from_array(np.array(xs, np.float32), "xs"),
             numpy_helper.from_array(xzp, "xzp"), numpy_helper.from_array(wq, "wq"),
             numpy_helper.from_array(np.array(ws, np.float32), "ws"),
             numpy_helper.from_array(np.zeros(np.shape(ws), np.int8), "wzp")]
    nodes = [helper.make_node("QuantizeLinear", ["x", "xs", "xzp"], ["xq"]),
             helper.make_node("DequantizeLinear", ["xq", "xs", "xzp"], ["xd"]),
             helper.make_node("DequantizeLinear", ["wq", "ws", "wzp"], ["wd"], axis=axis)]
    return xs, xzp, wq, ws, inits, nodes


def make_model(path, rng, cin, cout, k, stride, pad, group, xtype, per_channel, bias):
    cin_g = cin // group
    w_f = rng.standard_normal((cout, cin_g, k, k)).astype(np.float32) * 0.3
    xs, xzp, wq, ws, inits, nodes = weight_and_input_qdq(w_f, 0, xtype, per_channel)
    conv_in = ["xd", "wd"]
    if bias:
        bs = (xs * np.broadcast_to(ws, (cout,))).astype(np.float32)
        bq = rng.integers(-3000, 3000, cout).astype(np.int32)
        inits += [numpy_helper.from_array(bq, "bq"), numpy_helper.from_array(bs, "bs"),
                  numpy_helper.from_array(np.zeros(cout, np.int32), "bzp")]
        nodes.append(helper.make_node("DequantizeLinear", ["bq", "bs", "bzp"], ["bd"], axis=0))
        conv_in.append("bd")
    nodes.append(helper.make_node("Conv", conv_in, ["y"], kernel_shape=[k, k],
                                  strides=[stride, stride], pads=[pad] * 4, group=group))
    g = helper.make_graph(nodes, "qconvf", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, [1, cin, 13, 17])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.save(m, path)
    return xs, xzp, wq, ws, (bq.astype(np.float32) * bs if bias else np.zeros(cout, np.float32))


def make_gemm_model(path, rng, m, k, n, gemm, xtype, per_channel):
    w_f = rng.standard_normal((n, k) if gemm else (k, n)).astype(np.float32) * 0.3
    axis = 0 if gemm else 1
    xs, xzp, wq, ws, inits, nodes = weight_and_input_qdq(w_f, axis, xtype, per_channel)
    bd = np.zeros(n, np.float32)
    if gemm:
        bs = (xs * np.broadcast_to(ws, (n,))).astype(np.float32)
        bq = rng.integers(-3000, 3000, n).astype(np.int32)
        bd = bq.astype(np.float32) * bs
        inits += [numpy_helper.from_array(bq, "bq"), numpy_helper.from_array(bs, "bs"),
                  numpy_helper.from_array(np.zeros(n, np.int32), "bzp")]
        nodes.append(helper.make_node("DequantizeLinear", ["bq", "bs", "bzp"], ["bd"], axis=0))
        nodes.append(helper.make_node("Gemm", ["xd", "wd", "bd"], ["y"], transB=1))
    else:
        nodes.append(helper.make_node("MatMul", ["xd", "wd"], ["y"]))
    g = helper.make_graph(nodes, "qgemmf", [helper.make_tensor_value_info(
        "x", TensorProto.FLOAT, [m, k])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    mo = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    mo.ir_version = 8
    onnx.save(mo, path)
    wd = (wq.astype(np.float32) * (np.expand_dims(ws, 1 - axis) if per_channel else ws))
    return xs, xzp, (wd.T if gemm else wd).astype(np.float64), bd


def abs_sum(x, w, stride, pad, group):
    """sum over each output's terms of |x_k * w_k| (float64, direct)"""
    n, cin, h, wd = x.shape
    cout, cin_g, k, _ = w.shape
    xp = np.pad(np.abs(x), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    oh = (h + 2 * pad - k) // stride + 1
    ow = (wd + 2 * pad - k) // stride + 1
    out = np.zeros((n, cout, oh, ow))
    og = cout // group
    for o in range(cout):
        g = o // og
        for ci in range(cin_g):
            for ky in range(k):
                for kx in range(k):
                    out[:, o] += abs(w[o, ci, ky, kx]) * xp[:, g * cin_g + ci,
                                                            ky:ky + stride * oh:stride,
                                                            kx:kx + stride * ow:stride]
    return out


def run(args, env=None):
    r = subprocess.run(args, capture_output=True, text=True, env=env)
    if r.returncode:
        raise SystemExit(f"FAIL: {' '.join(args)}: {r.stderr.strip()}")
    return r.stdout


def outputs(path, inp, tag, work, ort):
    """The fused and unfused tinyq runs of path (and ONNX Runtime's)."""
    outs = {}
    for how, env in (("fused", None), ("unfused", dict(os.environ, TQ_NO_FUSE="1"))):
        o = os.path.join(work, f"{how}_{tag}.npz")
        run([TOOL, "run", path, "-i", inp, "-o", o], env)
        outs[how] = np.load(o)["y"].astype(np.float64)
    if ort:
        o = os.path.join(work, f"ort_{tag}.npz")
        run(["node", ORT_RUN, path, inp, o])
        outs["ort"] = np.load(o)["y"].astype(np.float64)
    return outs


def compare(outs, bound, label):
    """Fused against each reference, every output within its bound; the
    number of failures."""
    failures = 0
    for ref in [r for r in ("unfused", "ort") if r in outs]:
        d = np.abs(outs["fused"] - outs[ref])
        ok = bool(np.all(d <= bound))
        print(f"{'ok  ' if ok else 'FAIL'} {label}: fused vs {ref}: max |diff| {d.max():.3g}, "
              f"{(d / np.maximum(bound, 1e-30)).max():.2f} of the bound")
        failures += not ok
    return failures


def dequantised_input(x, xs, xzp, xt):
    lo, hi = (0, 255) if xt == TensorProto.UINT8 else (-128, 127)
    xq = np.clip(np.rint(x / xs) + int(xzp), lo, hi)
    return ((xq - int(xzp)) * xs).astype(np.float32).astype(np.float64)


def main():
    rng = np.random.default_rng(11)
    ort = have_ort()
    if not ort:
        print("skip ONNX Runtime comparison: run 'cd tests/ort && npm ci --ignore-scripts'")
    cases = [  # cin, cout, k, stride, pad, group, input type, per-channel, bias
        (8, 16, 3, 1, 1, 1, TensorProto.UINT8, True, True),
        (8, 8, 3, 2, 1, 8, TensorProto.INT8, True, True),     # depthwise, strided
        (16, 24, 1, 1, 0, 1, TensorProto.UINT8, False, True),  # 1x1
        (6, 12, 3, 2, 0, 2, TensorProto.INT8, False, False),
        (4, 8, 5, 1, 2, 1, TensorProto.UINT8, True, False),
    ]
    failures = 0
    with tempfile.TemporaryDirectory() as work:
        for j, (m, k, n, gemm, xt, pc) in enumerate([(5, 37, 19, True, TensorProto.UINT8, True),
                                                     (3, 64, 8, False, TensorProto.INT8, False),
                                                     (7, 6, 33, True, TensorProto.INT8, False)]):
            path = os.path.join(work, f"g{j}.onnx")
            xs, xzp, wd, bd = make_gemm_model(path, rng, m, k, n, gemm, xt, pc)
            x = (rng.random((m, k), dtype=np.float32) * 2.2 - 1.1).astype(np.float32)
            inp = os.path.join(work, f"gin{j}.npz")
            np.savez(inp, x=x)
            if "QGemmF" not in run([TOOL, "bench", path, "--iters", "1", "--profile"]):
                print(f"FAIL gemm case {j}: the fused session has no QGemmF")
                failures += 1
                continue
            outs = outputs(path, inp, f"g{j}", work, ort)
            xd = dequantised_input(x, xs, xzp, xt)
            bound = (k + 2) * 2.0 ** -24 * (np.abs(xd) @ np.abs(wd) + np.abs(bd.astype(np.float64)))
            failures += compare(outs, bound, f"gemm case {j} ({m}x{k} @ {k}x{n}, "
                                             f"{'Gemm+bias' if gemm else 'MatMul'})")
        for i, (cin, cout, k, s, p, grp, xt, pc, bias) in enumerate(cases):
            path = os.path.join(work, f"c{i}.onnx")
            xs, xzp, wq, ws, bd = make_model(path, rng, cin, cout, k, s, p, grp, xt, pc, bias)
            x = (rng.random((1, cin, 13, 17), dtype=np.float32) * 2.2 - 1.1).astype(np.float32)
            inp = os.path.join(work, f"in{i}.npz")
            np.savez(inp, x=x)
            prof = run([TOOL, "bench", path, "--iters", "1", "--profile"])
            if "QConvF" not in prof:
                print(f"FAIL case {i}: the fused session has no QConvF:\n{prof}")
                failures += 1
                continue
            outs = outputs(path, inp, f"c{i}", work, ort)
            xd = dequantised_input(x, xs, xzp, xt)
            wd = (wq.astype(np.float32) * np.asarray(ws, np.float32).reshape(-1, 1, 1, 1)
                  if pc else wq.astype(np.float32) * np.float32(ws)).astype(np.float64)
            terms = cin // grp * k * k
            bound = (terms + 2) * 2.0 ** -24 * (abs_sum(xd, wd, s, p, grp) +
                                                np.abs(bd.astype(np.float64)).reshape(1, -1, 1, 1))
            failures += compare(outs, bound, f"case {i} ({cin}->{cout} k{k} s{s} p{p} g{grp}, "
                                             f"{'u8' if xt == TensorProto.UINT8 else 's8'}, "
                                             f"{'per-channel' if pc else 'per-tensor'})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
