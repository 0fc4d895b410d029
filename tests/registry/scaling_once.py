#!/usr/bin/python3
"""Scaling exactly once: RAW canonical-6 features scored through tinyq's
registry loader (`tinyq registry score`) must equal ONNX Runtime fed the
correctly scaled features:
  - fr_regressor_v1/v2 (scaler only in the sidecar): ORT gets
    ((x - mean) / std) computed by numpy in float64, rounded to float32;
    v2's codec block is the pre-seeded "unknown encoder" one-hot.
  - vmaf_tiny_v2, vmaf_tiny_v4 (scaler in the sidecar AND baked into the
    graph): ORT gets the raw features, the graph scales them.
vmaf_tiny_v4 is checked on the file the loader opens for its registry entry
(the int8 sibling) and, through a temp registry marking it fp32, on the fp32
file. Negative controls prove the check can fail: scaling zero times (v1) or
twice (v4 fp32) must NOT match.

Tolerance: as tests/parity/ort_parity.py, |tinyq - ort| <= 1e-5 * max(|ort|,
1e-3 * peak). Exit 0 pass, 1 mismatch, 77 skip (no seed models / no ORT).
"""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tqtest import ROOT, TOOL  # noqa: E402

SEED = os.environ.get("TQ_SEED_MODELS", "")
ORT_RUN = os.environ.get("TQ_ORT_RUN", os.path.join(ROOT, "tests", "ort", "ort_run.js"))
RTOL = 1e-5


def have_reference():
    if not os.path.exists(ORT_RUN):
        return False
    try:
        subprocess.run(["node", "-e", "require('onnxruntime-node')"], check=True,
                       cwd=os.path.dirname(ORT_RUN), capture_output=True)
        return True
    except (OSError, subprocess.CalledProcessError):
        return False


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"command failed ({p.returncode}): {' '.join(cmd)}\n{p.stdout}{p.stderr}")
    return p.stdout


def ort(model, inputs, work, tag):
    src, dst = os.path.join(work, tag + ".in.npz"), os.path.join(work, tag + ".out.npz")
    np.savez(src, **inputs)
    run(["node", ORT_RUN, model, src, dst, "--threads", "1"])
    out = np.load(dst)
    return out[out.files[0]].reshape(-1)


def worst(got, ref):
    r, g = ref.astype(np.float64), got.astype(np.float64)
    tol = RTOL * np.maximum(np.abs(r), 1e-3 * np.max(np.abs(r)))
    return float(np.max(np.abs(g - r) - tol)), float(np.max(np.abs(g - r)))


def main():
    if not os.path.exists(os.path.join(SEED, "registry.json")):
        print(f"SKIP: seed models absent ({SEED!r})")
        return 77
    if not have_reference():
        print(f"SKIP: ONNX Runtime reference not available ({ORT_RUN})")
        return 77
    failures = 0
    with tempfile.TemporaryDirectory() as work:
        # A registry copy where vmaf_tiny_v4 is fp32 (the loader then opens the fp32 file).
        regdir = os.path.join(work, "reg")
        os.mkdir(regdir)
        for f in os.listdir(SEED):
            os.symlink(os.path.join(SEED, f), os.path.join(regdir, f))
        os.unlink(os.path.join(regdir, "registry.json"))
        reg = json.load(open(os.path.join(SEED, "registry.json")))
        for m in reg["models"]:
            if m["id"] == "vmaf_tiny_v4":
                m.pop("quant_mode"); m.pop("int8_sha256")
        json.dump(reg, open(os.path.join(regdir, "registry.json"), "w"), indent=2, sort_keys=True)

        cases = [  # (registry, id, scaler applied by, control)
            (SEED, "fr_regressor_v1", "loader", "unscaled"),
            (SEED, "fr_regressor_v2", "loader", None),
            (SEED, "vmaf_tiny_v2", "graph", None),
            (regdir, "vmaf_tiny_v4", "graph", "double"),
            (SEED, "vmaf_tiny_v4", "graph", None),
        ]
        for regd, mid, site, control in cases:
            reg_path = os.path.join(regd, "registry.json")
            model = run([TOOL, "registry", "resolve", mid, "--registry", reg_path]).strip()
            side = json.load(open(os.path.join(SEED, mid + ".json")))
            mean = np.array(side.get("feature_mean", side.get("input_mean")), dtype=np.float64)
            std = np.array(side.get("feature_std", side.get("input_std")), dtype=np.float64)
            rng = np.random.default_rng(7)
            raw = np.clip(mean + std * rng.standard_normal((64, 6)), 0, None).astype(np.float32)
            scaled = ((raw.astype(np.float64) - mean) / std).astype(np.float32)
            raw_path = os.path.join(work, mid + ".raw.npz")
            np.savez(raw_path, features=raw)
            out_path = os.path.join(work, mid + ".tq.npz")
            try:
                run([TOOL, "registry", "score", mid, "--registry", reg_path, "-i", raw_path,
                     "-o", out_path])
            except RuntimeError as e:
                print(f"FAIL {mid} ({os.path.basename(model)}): tinyq could not score it:\n{e}")
                failures += 1
                continue
            t = np.load(out_path)
            got = t[t.files[0]].reshape(-1)
            feed = {"features": scaled if site == "loader" else raw}
            if mid == "fr_regressor_v2":
                codec = np.zeros((64, 14), np.float32)
                codec[:, 11] = 1.0  # "unknown" encoder, nothing else
                feed["codec"] = codec
            ref = ort(model, feed, work, mid)
            excess, diff = worst(got, ref)
            ok = excess <= 0
            print(f"{'ok' if ok else 'FAIL'} {mid} ({os.path.basename(model)}, scaler: {site}): "
                  f"max |tinyq - ORT| = {diff:.3g}")
            failures += not ok
            if control:
                bad = raw if control == "unscaled" else scaled
                cref = ort(model, {"features": bad}, work, mid + ".control")
                cexcess, cdiff = worst(got, cref)
                if cexcess <= 0:
                    print(f"FAIL {mid}: scaling {'zero times' if control == 'unscaled' else 'twice'}"
                          f" also matches (max diff {cdiff:.3g}); the check cannot tell")
                    failures += 1
                else:
                    print(f"ok {mid}: scaling {'zero times' if control == 'unscaled' else 'twice'} "
                          f"differs by up to {cdiff:.3g} (control)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
