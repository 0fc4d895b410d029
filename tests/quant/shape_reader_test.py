#!/usr/bin/python3
"""Static quantisation leaves shape-only readers on the float tensor.

A model reads its input x twice: Conv (quantised: x gets a Q -> DQ pair)
and Shape (whose result feeds the output's Reshape). Shape and Size read
only dimensions, so in tinyq's static file they must read x itself, not the
pair's DequantizeLinear output (otherwise the runtime dequantises the whole
input for nothing: nr_metric_v1's graph input, 7 us of ~600). Checks: the
Shape node's input is the graph input, every other reader of x is the
QuantizeLinear, the file passes the ONNX checker, and tinyq runs it with the
Shape-driven output shape and the same values as the file with Shape moved
back onto the DequantizeLinear (bit-identical: the dimensions are the same).
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
from tqtest import TOOL, check, finish  # noqa: E402


def model():
    rng = np.random.default_rng(7)
    w = numpy_helper.from_array(rng.standard_normal((4, 1, 3, 3)).astype(np.float32), "w")
    b = numpy_helper.from_array(rng.standard_normal(4).astype(np.float32), "b")
    nodes = [
        helper.make_node("Shape", ["x"], ["xs"]),
        helper.make_node("Conv", ["x", "w", "b"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("ReduceMean", ["r"], ["m"], axes=[1], keepdims=1),
        helper.make_node("Reshape", ["m", "xs"], ["y"]),
    ]
    g = helper.make_graph(nodes, "shape_reader",
                          [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 6, 6])],
                          [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 1, 6, 6])], [w, b])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def main():
    with tempfile.TemporaryDirectory() as d:
        fp32, q, cal, inp = (os.path.join(d, n) for n in ("m.onnx", "m.int8.onnx", "cal.npz",
                                                           "in.npz"))
        onnx.save(model(), fp32)
        rng = np.random.default_rng(1)
        np.savez(cal, x=rng.random((8, 1, 6, 6), dtype=np.float32))
        np.savez(inp, x=rng.random((2, 1, 6, 6), dtype=np.float32))
        subprocess.run([TOOL, "quantize", fp32, "--mode", "static", "--calibration", cal, "-o", q],
                       check=True, capture_output=True)
        m = onnx.load(q)
        onnx.checker.check_model(m)
        shape = [n for n in m.graph.node if n.op_type == "Shape"]
        readers = [n.op_type for n in m.graph.node if "x" in n.input and n.op_type != "Shape"]
        check(len(shape) == 1 and list(shape[0].input) == ["x"],
              f"Shape reads {[list(n.input) for n in shape]}, not the graph input x")
        check(readers == ["QuantizeLinear"],
              f"x is read by {readers}, expected only the QuantizeLinear")
        # the same file with Shape on the DequantizeLinear output (the old form)
        dq = [n.output[0] for n in m.graph.node if n.op_type == "DequantizeLinear"
              and any(p.op_type == "QuantizeLinear" and p.input[0] == "x" and
                      p.output[0] == n.input[0] for p in m.graph.node)]
        if check(len(dq) == 1, f"expected one Q -> DQ pair on x, found {dq}"):
            shape[0].input[0] = dq[0]
            old = os.path.join(d, "old.onnx")
            onnx.save(m, old)
            outs = []
            for f in (q, old):
                o = os.path.join(d, "o.npz")
                subprocess.run([TOOL, "run", f, "-i", inp, "-o", o], check=True,
                               capture_output=True)
                outs.append(np.load(o)["y"])
            check(outs[0].shape == (2, 1, 6, 6),
                  f"output shape {outs[0].shape}, expected (2, 1, 6, 6)")
            check(outs[0].tobytes() == outs[1].tobytes(),
                  "outputs differ from the file with Shape on the DequantizeLinear")
    return finish()


if __name__ == "__main__":
    sys.exit(main())
