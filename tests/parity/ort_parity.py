#!/usr/bin/python3
"""ONNX Runtime parity: tinyq's `run` output against ONNX Runtime (npm
onnxruntime-node, the reference) on the same file and the same inputs.

usage: ort_parity.py MODEL [MODEL...] [--input IN.npz] [--per-sample] [--rtol R]
       ort_parity.py --onnx-test DIR   (an ONNX conformance test folder: its
                                        model.onnx on test_data_set_0's inputs)

Without --input the inputs are the SPEC §4 synthetic set drawn here by numpy
itself (default_rng(0), 16 samples, rng.random(shape, float32) per input in
order, dynamic dims = 1, one sample at a time), so the check also proves that
`tinyq run` without -i draws exactly numpy's numbers.

Tolerance: normwise relative error, max|tinyq - ort| <= rtol * max|ort| over
each output (rtol 1e-5). Element-wise relative error is the wrong yardstick for
fp32: a value that is a small difference of large terms (a residual, a logit
near zero) carries the absolute rounding error of those terms, which is of the
order of the output's magnitude times machine epsilon times the depth of the
sums, not of the value itself. Integer outputs must be equal.
Exit 0 pass, 1 mismatch, 77 skip (reference not installed), 2 usage/tool error.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tqtest import ROOT, TOOL, ORT_RUN  # noqa: E402


def have_reference():
    try:
        subprocess.run(["node", "-e", "require('onnxruntime-node')"], check=True,
                       cwd=os.path.join(ROOT, "tests", "ort"), capture_output=True)
        return True
    except (OSError, subprocess.CalledProcessError):
        return False


def synthetic_inputs(model_path):
    import onnx
    m = onnx.load(model_path, load_external_data=False)
    inits = {t.name for t in m.graph.initializer}
    rng = np.random.default_rng(0)
    specs = []
    for inp in m.graph.input:
        if inp.name in inits:
            continue
        dims = [d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else 1
                for d in inp.type.tensor_type.shape.dim]
        specs.append((inp.name, dims))
    samples = {name: [] for name, _ in specs}
    for _ in range(16):
        for name, dims in specs:
            samples[name].append(rng.random(dims, dtype=np.float32))
    return {name: np.concatenate(v, axis=0) for name, v in samples.items()}


def onnx_test_inputs(test_dir, out_path):
    import onnx
    from onnx import numpy_helper
    m = onnx.load(os.path.join(test_dir, "model.onnx"))
    inits = {t.name for t in m.graph.initializer}
    names = [i.name for i in m.graph.input if i.name not in inits]
    arrays = {}
    for k, name in enumerate(names):
        t = onnx.TensorProto()
        with open(os.path.join(test_dir, "test_data_set_0", f"input_{k}.pb"), "rb") as f:
            t.ParseFromString(f.read())
        arrays[name] = numpy_helper.to_array(t)
    np.savez(out_path, **arrays)


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.stderr.write(f"command failed ({p.returncode}): {' '.join(cmd)}\n{p.stdout}{p.stderr}")
        sys.exit(2)
    return p.stdout


def compare(name, ref, got, rtol):
    if ref.shape != got.shape or ref.dtype != got.dtype:
        return f"{name}: tinyq {got.dtype}{list(got.shape)} vs ORT {ref.dtype}{list(ref.shape)}"
    if ref.dtype.kind in "iub":
        bad = np.count_nonzero(ref != got)
        return f"{name}: {bad} integer elements differ" if bad else None
    r = ref.astype(np.float64)
    g = got.astype(np.float64)
    if not r.size:
        return None
    tol = rtol * np.max(np.abs(r))
    err = np.abs(g - r)
    worst = int(np.argmax(err))
    if not np.all(np.isfinite(g) == np.isfinite(r)) or err.flat[worst] > tol:
        return (f"{name}: element {worst}: tinyq {g.flat[worst]:.9g} vs ORT {r.flat[worst]:.9g} "
                f"(|diff| {err.flat[worst]:.3g} > {rtol:g} x max|ORT| = {tol:.3g})")
    return None


def main():
    args = sys.argv[1:]
    models, inp, per_sample, rtol, onnx_test = [], None, False, 1e-5, None
    i = 0
    while i < len(args):
        if args[i] == "--onnx-test":
            onnx_test = args[i + 1]; i += 2
            models.append(os.path.join(onnx_test, "model.onnx"))
        elif args[i] == "--input":
            inp = args[i + 1]; i += 2
        elif args[i] == "--per-sample":
            per_sample = True; i += 1
        elif args[i] == "--rtol":
            rtol = float(args[i + 1]); i += 2
        else:
            models.append(args[i]); i += 1
    if not models:
        print(__doc__)
        return 2
    if not have_reference():
        print("SKIP: onnxruntime-node is not installed (run scripts/install-deps.sh)")
        return 77
    missing = [m for m in models if not os.path.exists(m)]
    if missing:
        print(f"SKIP: model files absent: {', '.join(missing)}")
        return 77
    failures = 0
    with tempfile.TemporaryDirectory() as work:
        if onnx_test:
            inp = os.path.join(work, "onnx_test_inputs.npz")
            onnx_test_inputs(onnx_test, inp)
        for model in models:
            base = os.path.join(work, os.path.basename(model))
            in_path, synthetic = inp, inp is None
            if synthetic:
                in_path = base + ".in.npz"
                np.savez(in_path, **synthetic_inputs(model))
            flag = ["--per-sample"] if (per_sample or synthetic) else []
            run([TOOL, "run", model, "-i", in_path, "-o", base + ".tq.npz"] + flag)
            run(["node", ORT_RUN, model, in_path, base + ".ort.npz", "--threads", "1"] + flag)
            tq, ort = np.load(base + ".tq.npz"), np.load(base + ".ort.npz")
            problems = []
            for k in ort.files:
                p = compare(k, ort[k], tq[k], rtol) if k in tq.files else f"{k}: missing in tinyq output"
                if p:
                    problems.append(p)
            if synthetic:
                # `tinyq run` without -i must draw exactly these inputs.
                run([TOOL, "run", model, "-o", base + ".syn.npz"])
                syn = np.load(base + ".syn.npz")
                for k in tq.files:
                    if not np.array_equal(syn[k], tq[k]):
                        problems.append(f"{k}: `tinyq run` without -i differs from numpy's synthetic set")
            worst = max((float(np.max(np.abs(ort[k].astype(np.float64) - tq[k].astype(np.float64))))
                         for k in ort.files if k in tq.files and ort[k].size), default=0.0)
            status = "FAIL" if problems else "ok"
            print(f"{status} {model}: {len(ort.files)} output(s), max |tinyq - ORT| = {worst:.3g}")
            for p in problems:
                print("    " + p)
            failures += bool(problems)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
