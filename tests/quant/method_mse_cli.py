#!/usr/bin/python3
"""`tinyq quantize --method mse` end to end on fixtures/cnn.onnx with its
calibration set: the report names the method, every calibrated range lies
inside the MinMax range of the same tensor (MSE only ever clips), at least one
ReLU-free intermediate tensor is actually clipped, and the graph output keeps
exactly its MinMax range (as with Entropy: the model's answer is never
clipped). The ranges are compared with a MinMax run of the same command, and
a --method typo is rejected with a message that lists mse.
Exit 0 pass, 1 failure.
"""
import json
import os
import subprocess
import sys
import tempfile

import onnx

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tqtest import ROOT, TOOL  # noqa: E402


def quantize(tmp, model, cal, method):
    out, rep = os.path.join(tmp, method + ".onnx"), os.path.join(tmp, method + ".json")
    p = subprocess.run([TOOL, "quantize", model, "--mode", "static", "--method", method,
                        "--calibration", cal, "-o", out, "--report-out", rep],
                       capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"quantize --method {method}: exit {p.returncode}: {p.stderr}")
    return json.load(open(rep))["calibration"]


def main():
    model = os.path.join(ROOT, "fixtures", "cnn.onnx")
    cal = os.path.join(ROOT, "fixtures", "cnn_calib.npz")
    outputs = {o.name for o in onnx.load(model).graph.output}
    fails = []
    with tempfile.TemporaryDirectory() as tmp:
        mse, mm = quantize(tmp, model, cal, "mse"), quantize(tmp, model, cal, "minmax")
        if mse["method"] != "mse":
            fails.append(f"report method {mse['method']}")
        clipped = 0
        for name, (lo, hi) in mse["tensor_ranges"].items():
            mlo, mhi = mm["tensor_ranges"][name]
            if lo < mlo or hi > mhi:
                fails.append(f"{name}: mse range [{lo}, {hi}] outside minmax [{mlo}, {mhi}]")
            if name in outputs and (lo, hi) != (mlo, mhi):
                fails.append(f"graph output {name} clipped: [{lo}, {hi}] vs [{mlo}, {mhi}]")
            clipped += (lo, hi) != (mlo, mhi)
        if clipped == 0:
            fails.append("no tensor clipped: mse == minmax everywhere")
        p = subprocess.run([TOOL, "quantize", model, "--mode", "static", "--method", "mes",
                            "--calibration", cal, "-o", os.path.join(tmp, "x.onnx")],
                           capture_output=True, text=True)
        if p.returncode != 2 or "mse" not in p.stderr:
            fails.append(f"--method typo: exit {p.returncode}: {p.stderr}")
        print(f"{len(mse['tensor_ranges'])} ranges, {clipped} clipped by mse")
    for f in fails:
        print("FAIL", f)
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
