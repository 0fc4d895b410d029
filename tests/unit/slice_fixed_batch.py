#!/usr/bin/python3
"""Batch slicing never costs a model that runs: a graph whose Reshape fixes
the batch (here [8, 1024] after a Relu on a dynamic-batch input) cannot run
one image, so the slicing probe fails; `tinyq run` at batch 8 must still
succeed and give numpy's answer, and batch 4 must fail with the Reshape's
own error (exit 2), as without slicing.
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
from tqtest import TOOL  # noqa: E402


def main():
    with tempfile.TemporaryDirectory() as tmp:
        shape = numpy_helper.from_array(np.array([8, 1024], dtype=np.int64), "shape")
        x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 16, 8, 8])
        y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [8, 1024])
        g = helper.make_graph([helper.make_node("Relu", ["x"], ["r"]),
                               helper.make_node("Reshape", ["r", "shape"], ["y"])],
                              "fixed_batch", [x], [y], [shape])
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
        m.ir_version = 7
        model = os.path.join(tmp, "fixed_batch.onnx")
        onnx.save(m, model)
        rng = np.random.default_rng(5)
        fails = 0
        for batch, ok in ((8, True), (4, False)):
            data = rng.standard_normal((batch, 16, 8, 8)).astype(np.float32)
            inp, out = os.path.join(tmp, "in.npz"), os.path.join(tmp, "out.npz")
            np.savez(inp, x=data)
            p = subprocess.run([TOOL, "run", model, "-i", inp, "-o", out],
                               capture_output=True, text=True)
            if ok:
                if p.returncode != 0:
                    print(f"FAIL batch {batch}: exit {p.returncode}: {p.stderr.strip()}")
                    fails += 1
                    continue
                got = np.load(out)["y"]
                want = np.maximum(data, 0).reshape(8, 1024)
                if got.shape != want.shape or not np.array_equal(got, want):
                    print(f"FAIL batch {batch}: output differs from numpy")
                    fails += 1
                else:
                    print(f"ok batch {batch}: runs whole, equals numpy")
            else:
                if p.returncode != 2 or "Reshape" not in p.stderr and "reshape" not in p.stderr:
                    print(f"FAIL batch {batch}: expected exit 2 naming the Reshape, got "
                          f"{p.returncode}: {p.stderr.strip()}")
                    fails += 1
                else:
                    print(f"ok batch {batch}: exit 2: {p.stderr.strip()}")
        return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
