#!/usr/bin/python3
"""The fake quantisation QAT trains through must be the model the static
export writes, also where a Clip follows a quantised node (the export keeps
the Clip and gives the node's output Q/DQ the Clip's output range) and where
a Clip ends the graph after an Add (learned_filter_v1's shape).

A small Conv -> Clip -> Conv -> Add(skip) -> Clip model is built with numpy
weights chosen so the first Conv's raw output spans about [-10, 10] while the
Clip keeps [0, 1]: fake quantising that output with its own range (20/255
steps) instead of the Clip's (1/255) would raise the error ~400x. With
`--epochs-qat 0 --n-calibration N` (every sample) the reported `loss_before`
(MSE of the fake-quant forward against the fp32 forward) must equal the MSE
of the exported int8 model against the fp32 model, both run by `tinyq run`
(numpy computes that MSE). Tolerance 1 %: the two differ only where float32
accumulation puts a value within ~1e-6 relative of a rounding boundary and
by the int32 bias rounding, both far below 1 % of the error here; per tensor
and per channel weights, with and without --float-outputs (Q/DQ only on the
inputs of quantised nodes, read only by those: the second Conv's output must
then reach the Add directly, the Add's skip input must be the float `x`, and
the fake quant must follow the export there too), and with --reduce-range
(7-bit weights in [-64, 64]).
Exit 0 pass, 1 failure.
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
from tqtest import TOOL  # noqa: E402


def build_model(path):
    rng = np.random.default_rng(5)
    w1 = (rng.standard_normal((4, 2, 3, 3)) * 1.5).astype(np.float32)
    b1 = (rng.standard_normal(4) * 0.5).astype(np.float32)
    w2 = (rng.standard_normal((2, 4, 3, 3)) * 0.2).astype(np.float32)
    b2 = np.zeros(2, np.float32)
    inits = [numpy_helper.from_array(a, n) for a, n in
             ((w1, "w1"), (b1, "b1"), (w2, "w2"), (b2, "b2"),
              (np.array(0, np.float32), "lo"), (np.array(1, np.float32), "hi"))]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], "conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Clip", ["c1", "lo", "hi"], ["r1"], "clip1"),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], "conv2", pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["x", "c2"], ["s"], "skip"),
        helper.make_node("Clip", ["s", "lo", "hi"], ["y"], "clip_out"),
    ]
    g = helper.make_graph(nodes, "clip_plan",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 2, 8, 8])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 2, 8, 8])],
                          inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, path)


def run(*args):
    p = subprocess.run([TOOL, *map(str, args)], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"tinyq {' '.join(map(str, args))}: exit {p.returncode}\n{p.stderr}")


def main():
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        model, data = os.path.join(tmp, "m.onnx"), os.path.join(tmp, "d.npz")
        build_model(model)
        x = np.random.default_rng(7).random((32, 2, 8, 8), dtype=np.float32)
        np.savez(data, x=x)
        run("run", model, "-i", data, "-o", os.path.join(tmp, "f.npz"))
        ref = np.load(os.path.join(tmp, "f.npz"))["y"].astype(np.float64)
        n_q = {}
        for extra in ([], ["--per-channel"], ["--float-outputs"], ["--per-channel", "--float-outputs"],
                      ["--per-channel", "--reduce-range"]):
            out, rep = os.path.join(tmp, "q.onnx"), os.path.join(tmp, "q.json")
            run("quantize", model, "--mode", "qat", "--train", data, "--epochs-qat", 0,
                "--n-calibration", len(x), "-o", out, "--report-out", rep, *extra)
            run("run", out, "-i", data, "-o", os.path.join(tmp, "q.npz"))
            got = np.load(os.path.join(tmp, "q.npz"))["y"].astype(np.float64)
            mse = float(np.mean((got - ref) ** 2))
            q = json.load(open(rep))["qat"]
            rel = abs(q["loss_before"] - mse) / mse
            ok = mse > 0 and rel < 0.01 and q["fake_quant_activations"] == (2 if "--float-outputs" in extra else 3)
            print(f"{'ok ' if ok else 'FAIL'} {' '.join(extra) or 'per-tensor'}: exported MSE "
                  f"{mse:.6g}, fake-quant loss_before {q['loss_before']:.6g} (rel {rel:.2g}), "
                  f"{q['fake_quant_activations']} activation fake quants")
            failures += not ok
            g = onnx.load(out).graph
            n_q[" ".join(extra)] = sum(n.op_type == "QuantizeLinear" for n in g.node)
            if "--float-outputs" in extra:
                # conv2d's output feeds only Add: no Q/DQ may follow it, and the
                # graph keeps one pair per quantised node input (x, r1)
                made_by = {o: n for n in g.node for o in n.output}
                add = next(n for n in g.node if n.op_type == "Add")
                conv_out = made_by[add.input[1]]
                # and the skip path reads the float input, not its Q/DQ
                ok = conv_out.op_type == "Conv" and n_q[" ".join(extra)] == 2 and add.input[0] == "x"
                print(f"{'ok ' if ok else 'FAIL'} {' '.join(extra)}: Add reads "
                      f"{conv_out.op_type}, {n_q[' '.join(extra)]} QuantizeLinear nodes")
                failures += not ok
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
