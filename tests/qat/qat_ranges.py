#!/usr/bin/python3
"""QAT must train with the activation ranges its export writes, and those
must be the static export's own calibration (method and options as given).

On fixtures/cnn.onnx calibrated on fixtures/cnn_calib.npz (its calibration
set), trained one --smoke epoch on cnn_test_small.npz:
- `--mode qat --method mse --per-channel --float-outputs`: the ranges the
  fake quantisation held after training (report qat.trained_ranges) are
  bit-equal to (a) the ranges `--mode static` with the same options
  calibrates on the same set (its report), so QAT computed them through
  the real calibration code, once, before training, and kept them frozen;
  (b) the ranges of the export's report; (c) the exported file itself:
  every QuantizeLinear's scale and zero point, recomputed by numpy from
  those ranges with ONNX Runtime's formula (asymmetric int8, the range
  widened to hold 0, scale = (max - min) / 255, zero point = round(-128 -
  min / scale)), as multisets.
- The same with `--method minmax` gives other ranges (the MSE threshold
  clips at least one tensor), equal to static minmax's: the test can fail
  if QAT ignored --method.
- The training changed the weights (the exported file differs from the
  static one), so equal ranges are not equal by standing still.
- `--qat-recalibrate`: the training ranges are the same, the exported ones
  are calibrated again on the trained weights and differ.
- `--per-channel-activations` (mse): the per-channel ranges the fake
  quantisation trained with (qat.trained_channel_ranges) equal static's
  (calibration.tensor_channel_ranges) and the export's, bit for bit, cover
  every per-channel tensor of the file, and every per-axis QuantizeLinear's
  1-D scale and zero point equal ORT's formula on those channel ranges
  (checked against the per-axis Q in the file, tensor by tensor); the QAT
  export differs from static's (it trained).
- Without --calibration (every training sample calibrates, 0 epochs) the
  mse export equals `--mode static --method mse` on the training file byte
  for byte (fixtures/mlp.onnx).
Exit 0 pass, 1 failure.
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import numpy_helper

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tqtest import TOOL, FIX, check, finish  # noqa: E402


def quantize(tmp, tag, model, *opts):
    out = os.path.join(tmp, tag + ".onnx")
    rep = out + ".json"
    r = subprocess.run([TOOL, "quantize", model, "-o", out, "--report-out", rep, *opts],
                       capture_output=True, text=True)
    if r.returncode:
        print(r.stdout + r.stderr)
        sys.exit(f"{tag}: tinyq quantize exit {r.returncode}")
    return out, json.load(open(rep))


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def file_qparams(path):
    """(scale, zero point) of every QuantizeLinear in the file, sorted."""
    m = onnx.load(path)
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    out = []
    for n in m.graph.node:
        if n.op_type == "QuantizeLinear":
            out.append((float(inits[n.input[1]]), int(inits[n.input[2]])))
    return sorted(out)


def expected_qparams(ranges):
    out = []
    for lo, hi in ranges.values():
        lo, hi = min(float(np.float32(lo)), 0.0), max(float(np.float32(hi)), 0.0)
        scale = np.float32((hi - lo) / 255.0)
        if not scale >= np.finfo(np.float32).tiny:
            out.append((1.0, 0))
            continue
        zp = int(np.clip(np.rint(-128.0 - lo / float(scale)), -128, 127))
        out.append((float(scale), zp))
    return sorted(out)


def file_axis_qparams(path):
    """{QuantizeLinear input name: (axis, scales, zero points)} of the
    per-axis QuantizeLinears in the file."""
    m = onnx.load(path)
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    out = {}
    for n in m.graph.node:
        if n.op_type == "QuantizeLinear" and inits[n.input[1]].ndim == 1:
            axis = next((a.i for a in n.attribute if a.name == "axis"), 1)
            out[n.input[0]] = (axis, inits[n.input[1]].tolist(), inits[n.input[2]].tolist())
    return out


def expected_axis_qparams(ch):
    out = {}
    for name, r in ch.items():
        q = [expected_qparams({0: (lo, hi)})[0] for lo, hi in zip(r["min"], r["max"])]
        out[name] = (r["axis"], [s for s, _ in q], [z for _, z in q])
    return out


def as_f32_ch(ch):
    return {k: (v["axis"], [np.float32(x) for x in v["min"]], [np.float32(x) for x in v["max"]])
            for k, v in ch.items()}


def as_f32(ranges):
    return {k: tuple(np.float32(v)) for k, v in ranges.items()}


def main():
    cnn, cal = os.path.join(FIX, "cnn.onnx"), os.path.join(FIX, "cnn_calib.npz")
    train = os.path.join(FIX, "cnn_test_small.npz")
    common = ["--per-channel", "--float-outputs", "--calibration", cal]
    qat = ["--mode", "qat", "--train", train, "--smoke"]
    with tempfile.TemporaryDirectory() as tmp:
        ranges = {}
        for meth in ("mse", "minmax"):
            s_out, s_rep = quantize(tmp, "static_" + meth, cnn, "--mode", "static",
                                    "--method", meth, *common)
            q_out, q_rep = quantize(tmp, "qat_" + meth, cnn, *qat, "--method", meth, *common)
            trained = q_rep["qat"]["trained_ranges"]
            ranges[meth] = as_f32(trained)
            check(len(trained) == q_rep["qat"]["fake_quant_activations"] >= 2,
                  f"{meth}: {len(trained)} trained ranges for "
                  f"{q_rep['qat']['fake_quant_activations']} activation fake quants")
            check(q_rep["qat"]["export_ranges"] == "trained", f"{meth}: export_ranges")
            check(q_rep["qat"]["steps"] >= 1, f"{meth}: no training step")
            check(as_f32(trained) == as_f32(s_rep["calibration"]["tensor_ranges"]),
                  f"{meth}: QAT trained with other ranges than static calibrates:\n"
                  f"{trained}\n{s_rep['calibration']['tensor_ranges']}")
            check(as_f32(trained) == as_f32(q_rep["calibration"]["tensor_ranges"]),
                  f"{meth}: the export's ranges differ from the trained ones")
            got, want = file_qparams(q_out), expected_qparams(trained)
            check(got == want, f"{meth}: exported Q scales/zero points {got} != from the "
                  f"trained ranges {want}")
            check(sha(q_out) != sha(s_out), f"{meth}: QAT export equals static: nothing trained")
        differ = [k for k in ranges["mse"] if ranges["mse"][k] != ranges["minmax"].get(k)]
        check(ranges["mse"].keys() == ranges["minmax"].keys() and differ,
              f"mse and minmax QAT trained with the same ranges: {ranges}")

        r_out, r_rep = quantize(tmp, "qat_recal", cnn, *qat, "--method", "mse", *common,
                                "--qat-recalibrate")
        check(r_rep["qat"]["export_ranges"] == "recalibrated", "recalibrate: export_ranges")
        check(as_f32(r_rep["qat"]["trained_ranges"]) == ranges["mse"],
              "recalibrate: the training ranges must not depend on the export choice")
        check(as_f32(r_rep["calibration"]["tensor_ranges"]) != ranges["mse"],
              "recalibrate: the export kept the training ranges")
        check(file_qparams(r_out) == expected_qparams(r_rep["calibration"]["tensor_ranges"]),
              "recalibrate: exported Q parameters differ from the report's ranges")

        # per-channel activations: the fake quantisation trains with the
        # export's per-channel ranges
        pca = ["--method", "mse", *common, "--per-channel-activations"]
        s_out, s_rep = quantize(tmp, "static_pca", cnn, "--mode", "static", *pca)
        q_out, q_rep = quantize(tmp, "qat_pca", cnn, *qat, *pca)
        tch = q_rep["qat"].get("trained_channel_ranges", {})
        sch = s_rep["calibration"].get("tensor_channel_ranges", {})
        ech = q_rep["calibration"].get("tensor_channel_ranges", {})
        check(q_rep.get("per_channel_activations") is True, "pca: report flag")
        check(len(tch) >= 2, f"pca: {len(tch)} per-channel trained ranges")
        check(as_f32_ch(tch) == as_f32_ch(sch),
              "pca: QAT trained with other per-channel ranges than static calibrates")
        check(as_f32_ch(tch) == as_f32_ch(ech), "pca: export's per-channel ranges != trained")
        got, want = file_axis_qparams(q_out), expected_axis_qparams(tch)
        # file Q inputs are the float tensors (or a renamed '_f' output): match by name stem
        matched = 0
        for name, (axis, sc, zp) in want.items():
            cand = [v for k, v in got.items() if k == name or k.startswith(name + "_f")]
            ok = any(c[0] == axis and c[1] == [float(np.float32(x)) for x in sc] and
                     c[2] == zp for c in cand)
            check(ok, f"pca: per-axis Q of {name} in the file != ORT's formula on the trained "
                  f"channel ranges ({cand[:1]} vs {(axis, sc[:4], zp[:4])}...)")
            matched += ok
        check(matched == len(got) == len(want),
              f"pca: {len(got)} per-axis Q in the file, {len(want)} trained, {matched} matched")
        check(sha(q_out) != sha(s_out), "pca: QAT export equals static: nothing trained")

        # no --calibration: n_calibration training samples (all of them here)
        mlp, data = os.path.join(FIX, "mlp.onnx"), os.path.join(FIX, "mlp_data.npz")
        a, _ = quantize(tmp, "mlp_qat", mlp, "--mode", "qat", "--train", data, "--epochs-qat",
                        "0", "--n-calibration", "256", "--method", "mse", "--per-channel")
        b, _ = quantize(tmp, "mlp_static", mlp, "--mode", "static", "--calibration", data,
                        "--method", "mse", "--per-channel")
        check(sha(a) == sha(b), "mlp: qat mse with 0 epochs != static mse")
    return finish()


if __name__ == "__main__":
    sys.exit(main())
