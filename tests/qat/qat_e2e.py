#!/usr/bin/python3
"""End-to-end tests of `tinyq quantize --mode qat` and `--mode auto`.

qat (fast: --smoke = one epoch over at most 64 samples) on mlp.onnx (targets),
codec_mlp.onnx (two inputs, Concat; teacher mode: the npz has no target) and
cnn.onnx (labels): the output passes the ONNX checker and runs in ONNX Runtime
with the same results as tinyq (tests/parity/ort_parity.py), the fp32 files are
byte-identical afterwards (sha256), the report carries the qat section.
qat with 0 epochs and every sample as calibration must equal static mode
byte for byte (same calibration, no fine-tuning: proves the export path).
Training must lower the fake-quant objective on the MLP (numpy recomputes the
int8 model's MSE vs target through ONNX Runtime and compares with fp32 - not
required to beat it, only to stay finite and be reported).
auto: picks dynamic when its drop is inside the budget; with a budget below
dynamic's drop it escalates (static, then qat) and keeps the first that
passes; exits 1 writing no model when nothing passes.
--config YAML: keys act like options; the command line wins.
Exit 0 pass, 1 failure, 77 skip (ONNX Runtime not installed).
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tqtest import ROOT, TOOL, FIX, check, have_ort, finish  # noqa: E402

PARITY = os.path.join(ROOT, "tests", "parity", "ort_parity.py")


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def tinyq(*args):
    r = subprocess.run([TOOL] + list(args), capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def qat_case(tmp, name, model, train, extra, objective):
    before = {p: sha(p) for p in [model, model + ".data", train] if os.path.exists(p)}
    out = os.path.join(tmp, name + ".qat.onnx")
    rep = os.path.join(tmp, name + ".json")
    rc, text = tinyq("quantize", model, "--mode", "qat", "--train", train, "--smoke", "-o", out,
                     "--report-out", rep, *extra)
    check(rc == 0, f"{name}: qat exit {rc}: {text}")
    if rc:
        return
    for p, h in before.items():
        check(sha(p) == h, f"{name}: {p} changed")
    onnx.checker.check_model(onnx.load(out))
    r = json.load(open(rep))
    check(r["mode"] == "qat" and r["format"] == "qdq", f"{name}: report mode {r['mode']}")
    q = r["qat"]
    check(q["objective"] == objective, f"{name}: objective {q['objective']} != {objective}")
    check(q["epochs"] == 1 and q["train_samples"] <= 64 and q["steps"] >= 1,
          f"{name}: smoke run shape {q}")
    check(q["fake_quant_weights"] >= 1 and q["fake_quant_activations"] >= 2,
          f"{name}: fake quant nodes {q}")
    check(all(np.isfinite(q["epoch_loss"])) and np.isfinite(q["loss_before"]),
          f"{name}: losses not finite")
    check(r["calibration"]["samples"] == q["calibration_samples"],
          f"{name}: calibration samples {r['calibration']['samples']}")
    m = onnx.load(out)
    ops = {n.op_type for n in m.graph.node}
    check("QuantizeLinear" in ops and "DequantizeLinear" in ops, f"{name}: no QDQ in output")
    if have_ort():
        p = subprocess.run([sys.executable, PARITY, out], capture_output=True, text=True)
        check(p.returncode == 0, f"{name}: ORT parity: {p.stdout}{p.stderr}")


def main():
    with tempfile.TemporaryDirectory() as tmp:
        mlp, mlp_data = os.path.join(FIX, "mlp.onnx"), os.path.join(FIX, "mlp_data.npz")
        qat_case(tmp, "mlp", mlp, mlp_data, [], "mse-target")
        # codec MLP without targets: the fp32 model is the teacher
        d = np.load(os.path.join(FIX, "codec_mlp_data.npz"))
        teach = os.path.join(tmp, "codec_train.npz")
        np.savez(teach, features=d["features"], codec=d["codec"])
        qat_case(tmp, "codec", os.path.join(FIX, "codec_mlp.onnx"), teach, ["--per-channel"],
                 "mse-teacher")
        qat_case(tmp, "cnn", os.path.join(FIX, "cnn.onnx"), os.path.join(FIX, "cnn_test_small.npz"),
                 ["--per-channel", "--n-calibration", "32"], "xent-label")

        # qat with no training and every sample as calibration == static, byte for byte
        a, b = os.path.join(tmp, "a.onnx"), os.path.join(tmp, "b.onnx")
        rc1, t1 = tinyq("quantize", mlp, "--mode", "qat", "--train", mlp_data, "--epochs-qat", "0",
                        "--n-calibration", "256", "-o", a)
        rc2, t2 = tinyq("quantize", mlp, "--mode", "static", "--calibration", mlp_data, "-o", b)
        check(rc1 == 0 and rc2 == 0 and sha(a) == sha(b), f"qat 0 epochs != static: {t1} {t2}")

        # --config: YAML keys act as options, the command line wins
        cfg = os.path.join(tmp, "qat.yaml")
        with open(cfg, "w") as f:
            f.write("mode: qat\ntrain: %s\nepochs-qat: 0\nn_calibration: 256\nsmoke: false\n"
                    "per-channel: true\n" % mlp_data)
        c1 = os.path.join(tmp, "c1.onnx")
        rc, t = tinyq("quantize", mlp, "--config", cfg, "-o", c1, "--report-out", c1 + ".json")
        r = json.load(open(c1 + ".json")) if rc == 0 else {}
        check(rc == 0 and r.get("per_channel") is True and r["qat"]["epochs"] == 0 and
              r["calibration"]["samples"] == 256, f"config: {t} {r.get('qat')}")
        rc, t = tinyq("quantize", mlp, "--config", cfg, "--epochs-qat", "2", "-o", c1,
                      "--report-out", c1 + ".json")
        r = json.load(open(c1 + ".json")) if rc == 0 else {}
        check(rc == 0 and r["qat"]["epochs"] == 2, f"config: command line must win: {t}")
        bad = os.path.join(tmp, "bad.yaml")
        with open(bad, "w") as f:
            f.write("mode: [qat\n")
        rc, t = tinyq("quantize", mlp, "--config", bad)
        check(rc == 2 and "bad.yaml" in t, f"bad YAML must exit 2 naming the file: {rc} {t}")

        # bad input: exit 2, named, nothing written
        o = os.path.join(tmp, "none.onnx")
        rc, t = tinyq("quantize", mlp, "--mode", "qat", "-o", o)
        check(rc == 2 and "--train" in t and not os.path.exists(o), f"qat without --train: {t}")
        wrong = os.path.join(tmp, "wrong.npz")
        np.savez(wrong, other=np.zeros((4, 6), np.float32))
        rc, t = tinyq("quantize", mlp, "--mode", "qat", "--train", wrong, "-o", o)
        check(rc == 2 and "wrong.npz" in t and "features" in t and not os.path.exists(o),
              f"qat with a set missing the input: {rc} {t}")

        # auto: dynamic inside the default budget -> dynamic
        ao = os.path.join(tmp, "auto.onnx")
        rc, t = tinyq("quantize", mlp, "--mode", "auto", "-o", ao, "--report-out", ao + ".json")
        r = json.load(open(ao + ".json")) if rc == 0 else {}
        check(rc == 0 and r.get("mode") == "dynamic" and r["auto"]["chosen"] == "dynamic" and
              r["auto"]["trials"][0]["pass"] and not r["auto"]["trials"][1]["tried"],
              f"auto on mlp should keep dynamic: {t}")
        # a budget dynamic misses (its gate drop on the MLP is ~2.4e-5): auto must
        # go on to static and qat, in that order, and keep the first that passes
        rc, t = tinyq("quantize", mlp, "--mode", "auto", "--budget", "0.00002", "--train",
                      mlp_data, "--smoke", "-o", ao, "--report-out", ao + ".json")
        r = json.load(open(ao + ".json")) if os.path.exists(ao + ".json") else {}
        au = r.get("auto", r)
        tr = au.get("trials", [{}, {}, {}])
        passing = [x["mode"] for x in tr if x.get("pass")]
        check(not tr[0].get("pass") and tr[0].get("drop", 0) > 0.00002 and tr[1].get("tried"),
              f"auto must escalate past dynamic with a tight budget: {t}")
        check(au.get("chosen") == (passing[0] if passing else "none") and
              (rc == 0) == bool(passing), f"auto must keep the first passing mode: {t}")
        # nothing passes -> exit 1, no model, a report that says why
        os.remove(ao)
        rc, t = tinyq("quantize", mlp, "--mode", "auto", "--budget", "0", "--train", mlp_data,
                      "--smoke", "-o", ao, "--report-out", ao + ".json")
        r = json.load(open(ao + ".json")) if os.path.exists(ao + ".json") else {}
        check(rc == 1 and not os.path.exists(ao) and r.get("chosen") == "none" and
              all(x["tried"] for x in r.get("trials", [])), f"auto with budget 0: {rc} {t}")
    return finish()


if __name__ == "__main__":
    sys.exit(main())
