#!/usr/bin/python3
"""exact_int8.py keeps the model's function: the uint8 (+128) rewrite of int8
models, run by tinyq (exact for uint8 and int8 alike), gives bit-identical
outputs to the original; the rewrite has no int8 initializer left; and the
probe model computes 255 * 127 * 2 = 64770 in tinyq. Models: fixtures/cnn.onnx
and fixtures/mlp.onnx quantised by tinyq (dynamic; static int8 and uint8
activations, per-channel), and the ONNX-Runtime-made seed int8 files when
TQ_SEED_MODELS has them. Skips (77) without numpy/onnx."""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tqtest import ROOT, TOOL, SEED  # noqa: E402

try:
    import numpy as np
    import onnx
except ImportError:
    print("SKIP: /usr/bin/python3 lacks numpy/onnx")
    sys.exit(77)

REWRITE = os.path.join(ROOT, "tests", "ort", "exact_int8.py")
FX = os.path.join(ROOT, "fixtures")


def run(*args):
    r = subprocess.run(args, capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"FAIL: {' '.join(args)}: exit {r.returncode}: {r.stderr.strip()}")
    return r


def tinyq_outputs(model, inputs, work, tag):
    out = os.path.join(work, f"{tag}.npz")
    run(TOOL, "run", model, "-i", inputs, "-o", out)
    return dict(np.load(out))


def check(name, model, inputs, work):
    d = tempfile.mkdtemp(dir=work)
    r = subprocess.run([sys.executable, REWRITE, model, d], capture_output=True, text=True)
    if r.returncode != 0:
        return f"{name}: rewrite exit {r.returncode} {r.stderr.strip()}"
    rewritten = os.path.join(d, "model.onnx")
    m = onnx.load(rewritten)
    left = [i.name for i in m.graph.initializer if i.data_type == onnx.TensorProto.INT8]
    if left:
        return f"{name}: int8 initializers left: {left[:3]}"
    a = tinyq_outputs(model, inputs, d, "orig")
    b = tinyq_outputs(rewritten, inputs, d, "exact")
    for k in a:
        if a[k].shape != b[k].shape or not np.array_equal(a[k], b[k]):
            diff = np.abs(a[k].astype(np.float64) - b[k].astype(np.float64)).max()
            return f"{name}: output '{k}' differs after the rewrite (max |diff| {diff:g})"
    print(f"ok   {name}: no int8 left, tinyq outputs bit-identical ({sum(v.size for v in a.values())} values)")
    return None


def main():
    failures = []
    with tempfile.TemporaryDirectory() as work:
        probe_dir = tempfile.mkdtemp(dir=work)
        r = subprocess.run([sys.executable, REWRITE, os.path.join(FX, "cnn.onnx"), probe_dir])
        if r.returncode != 3:  # fp32 model: nothing to rewrite, probe written
            failures.append(f"fp32 cnn.onnx: expected exit 3, got {r.returncode}")
        pin = os.path.join(work, "probe_in.npz")
        np.savez(pin, a=np.array([[255, 255]], dtype=np.uint8))
        y = tinyq_outputs(os.path.join(probe_dir, "probe.onnx"), pin, work, "probe")["y"]
        if int(y.ravel()[0]) != 64770:
            failures.append(f"probe: tinyq gives {y.ravel()[0]}, not 64770")
        else:
            print("ok   probe: uint8 255 x int8 127 twice = 64770 in tinyq")

        cnn_in = os.path.join(work, "cnn_in.npz")
        x = np.load(os.path.join(FX, "cnn_test_small.npz"))
        key = [k for k in x.files if x[k].dtype == np.float32][0]
        cnn_name = onnx.load(os.path.join(FX, "cnn.onnx")).graph.input[0].name
        np.savez(cnn_in, **{cnn_name: x[key][:8]})
        configs = [("dynamic", ["--mode", "dynamic"]),
                   ("dynamic per-channel", ["--mode", "dynamic", "--per-channel"]),
                   ("static int8 per-channel", ["--mode", "static", "--per-channel",
                                                "--calibration", os.path.join(FX, "cnn_calib.npz")]),
                   ("static uint8", ["--mode", "static", "--activation-type", "uint8",
                                     "--calibration", os.path.join(FX, "cnn_calib.npz")])]
        for tag, opts in configs:
            q = os.path.join(work, f"cnn_{tag.replace(' ', '_')}.int8.onnx")
            run(TOOL, "quantize", os.path.join(FX, "cnn.onnx"), *opts, "-o", q)
            failures.append(check(f"cnn {tag}", q, cnn_in, work))
        seeds = {"vmaf_tiny_v4": ("features", (16, 6)), "nr_metric_v1": ("frame", (1, 1, 224, 224))}
        rng = np.random.default_rng(0)
        for m, (inp, shape) in seeds.items():
            path = os.path.join(SEED, f"{m}.int8.onnx")
            if not os.path.exists(path):
                print(f"skip {m}: {path} not present")
                continue
            sin = os.path.join(work, f"{m}_in.npz")
            np.savez(sin, **{inp: rng.random(shape, dtype=np.float32)})
            failures.append(check(f"{m}.int8.onnx (ONNX Runtime's)", path, sin, work))
    failures = [f for f in failures if f]
    for f in failures:
        print(f"FAIL {f}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
