#!/usr/bin/python3
"""`tinyq train fr-regressor` end to end, through the CLI:
  - --smoke (v1 and --codec-aware v2) registers smoke entries; the registry
    validates; the ONNX files pass onnx.checker and declare a dynamic batch;
  - `tinyq run` == ONNX Runtime on both (tests/parity/ort_parity.py);
  - `tinyq registry score` on RAW features (sidecar scaler applied by the
    loader) == ONNX Runtime fed numpy-scaled features (and, for v2, the codec
    block numpy builds from the sidecar layout); unscaled features must NOT
    match (negative control);
  - a JSONL corpus made here: the report's in-sample PLCC equals numpy's
    corrcoef of the scores the registry loader produces against the targets;
  - a malformed row: exit 2 naming file:line, nothing written;
  - --ship-plcc above what the model reaches: exit 1, registry untouched;
  - same seed twice: identical bytes.
Exit 0 pass, 1 fail, 77 skip (ONNX Runtime not installed)."""
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tqtest import ROOT, TOOL, ORT_RUN, check, have_ort, finish  # noqa: E402

PARITY = os.path.join(ROOT, "tests", "parity", "ort_parity.py")
RTOL = 1e-5  # as ort_parity.py: normwise, max|a - b| <= RTOL * max|ref|
FEATS = ["adm2", "vif_scale0", "vif_scale1", "vif_scale2", "vif_scale3", "motion2"]


def tq(*args, expect=0):
    p = subprocess.run([TOOL, *args], capture_output=True, text=True)
    if p.returncode != expect:
        raise SystemExit(f"FAIL: tinyq {' '.join(args)} exited {p.returncode} (want {expect})\n"
                         f"{p.stdout}{p.stderr}")
    return p


def ort(model, inputs, work, tag):
    src, dst = os.path.join(work, tag + ".in.npz"), os.path.join(work, tag + ".out.npz")
    np.savez(src, **inputs)
    subprocess.run(["node", ORT_RUN, model, src, dst, "--threads", "1"], check=True)
    return np.load(dst)["score"].astype(np.float64)


def close(got, ref):
    return got.shape == ref.shape and np.max(np.abs(got - ref)) <= RTOL * np.max(np.abs(ref))


def registry_score(reg, mid, x, work, extra=()):
    src, dst = os.path.join(work, mid + ".raw.npz"), os.path.join(work, mid + ".scores.npz")
    np.savez(src, features=x)
    tq("registry", "score", mid, "-i", src, "-o", dst, "--registry", reg, *extra)
    out = np.load(dst)
    return out[out.files[0]].astype(np.float64)


def scaled(x, sidecar):
    mean, std = np.array(sidecar["feature_mean"]), np.array(sidecar["feature_std"])
    return ((x.astype(np.float64) - mean) / std).astype(np.float32)


def make_corpus(path, rows_per_source=12, sources=6, seed=5):
    """A JSONL corpus unlike the built-in smoke one (another quality curve)."""
    rng = np.random.default_rng(seed)
    encs = ["libx264", "libx265", "libsvtav1", "h264_nvenc", "weird_enc"]
    presets = ["fast", "slow", "6", "p4", "x"]
    rows = []
    for s in range(sources):
        hard = rng.uniform(0.2, 1.0)
        for k in range(rows_per_source):
            e = k % len(encs)
            crf = float(rng.integers(15, 50))
            score = float(np.clip(98 - (crf - 15) * (0.8 + 1.2 * hard) * (1 + 0.1 * e)
                                  + rng.normal(0, 1.0), 0, 100))
            q = score / 100
            f = [0.75 + 0.25 * q, 0.1 + 0.8 * q ** 1.3, 0.4 + 0.55 * q, 0.55 + 0.43 * q,
                 0.65 + 0.34 * q, 12 * hard]
            f = [v + rng.normal(0, 0.004) for v in f]
            row = {"source": f"clip{s}", "encoder": encs[e], "preset": presets[e], "crf": crf,
                   "bitrate_kbps": float(rng.uniform(300, 9000)), "vmaf_score": score}
            row.update(dict(zip(FEATS, f)))
            rows.append(row)
    with open(path, "w") as fh:
        for r in rows:
            fh.write(json.dumps(r) + "\n")
    return rows


def main():
    if not have_ort():
        print("SKIP: onnxruntime-node is not installed (run scripts/install-deps.sh)")
        return 77
    import onnx
    with tempfile.TemporaryDirectory() as w:
        reg = os.path.join(w, "registry.json")
        v1, v2 = os.path.join(w, "smoke_fr_v1.onnx"), os.path.join(w, "smoke_fr_v2.onnx")
        p = tq("train", "fr-regressor", "--smoke", "-o", v1, "--registry", reg,
               "--report-out", os.path.join(w, "r1.json"))
        check("LOSO PLCC" in p.stdout and "registered as 'smoke_fr_v1' (smoke: true)" in p.stdout,
              "smoke v1 prints LOSO PLCC and registers")
        tq("train", "fr-regressor", "--smoke", "--codec-aware", "-o", v2, "--registry", reg,
           "--report-out", os.path.join(w, "r2.json"))
        r1 = json.load(open(os.path.join(w, "r1.json")))
        check(r1["validation"]["scheme"] == "loso" and len(r1["validation"]["folds"]) == 5
              and r1["registered"] and "run_provenance" in r1
              and r1["validation"]["plcc_mean"] > 0.95,
              f"report: 5 LOSO folds, mean PLCC {r1['validation']['plcc_mean']:.4f}, provenance")
        fold = np.array([f["plcc"] for f in r1["validation"]["folds"]])
        check(abs(fold.mean() - r1["validation"]["plcc_mean"]) < 1e-12
              and abs(fold.std() - r1["validation"]["plcc_std"]) < 1e-12,
              "report mean/std = numpy mean/std (ddof 0) of the fold PLCCs")
        entries = {e["id"]: e for e in json.load(open(reg))["models"]}
        check(entries.get("smoke_fr_v1", {}).get("smoke") is True
              and entries.get("smoke_fr_v2", {}).get("kind") == "fr", "registry entries written")
        out = tq("registry", "validate", reg).stdout
        check("OK: 2 registry entries valid" in out, "registry validates: " + out.strip())

        for path, n_in in ((v1, 1), (v2, 2)):
            m = onnx.load(path)
            onnx.checker.check_model(m, full_check=True)
            dims = [[d.dim_param or d.dim_value for d in i.type.tensor_type.shape.dim]
                    for i in m.graph.input]
            odims = [d.dim_param or d.dim_value for d in m.graph.output[0].type.tensor_type.shape.dim]
            want = [["batch", 6], ["batch", 14]][:n_in]
            check(dims == want and odims == ["batch"] and m.opset_import[0].version == 17
                  and m.graph.output[0].name == "score",
                  f"{os.path.basename(path)}: onnx.checker ok, inputs {dims}, output {odims}")
            rc = subprocess.run([sys.executable, PARITY, path], capture_output=True, text=True)
            check(rc.returncode == 0, f"{os.path.basename(path)}: tinyq run == ONNX Runtime "
                  + rc.stdout.strip().replace("\n", " "))

        # RAW features through the registry loader vs ORT on numpy-scaled ones.
        rng = np.random.default_rng(1)
        x = np.column_stack([rng.uniform(0.75, 1.0, 40), rng.uniform(0.15, 0.9, 40),
                             rng.uniform(0.45, 0.95, 40), rng.uniform(0.6, 0.98, 40),
                             rng.uniform(0.7, 0.99, 40), rng.uniform(2, 15, 40)]).astype(np.float32)
        sc1 = json.load(open(v1[:-5] + ".json"))
        got = registry_score(reg, "smoke_fr_v1", x, w)
        ref = ort(v1, {"features": scaled(x, sc1)}, w, "v1")
        raw = ort(v1, {"features": x}, w, "v1raw")
        check(close(got, ref), f"v1 registry score == ORT(scaled): max diff {np.max(np.abs(got - ref)):.3g}")
        check(not close(got, raw), "v1 negative control: ORT(unscaled) differs")

        sc2 = json.load(open(v2[:-5] + ".json"))
        layout = sc2["codec_block_layout"]
        block = np.zeros((40, len(layout)), np.float32)
        block[:, layout.index("encoder_onehot[libx265]")] = 1
        block[:, layout.index("preset_norm")] = np.float32(6 / 9)   # x265 "slow" = ordinal 6
        block[:, layout.index("crf_norm")] = np.float32(30 / 63)
        got = registry_score(reg, "smoke_fr_v2", x, w,
                             ("--encoder", "x265", "--preset", "slow", "--crf", "30"))
        ref = ort(v2, {"features": scaled(x, sc2), "codec": block}, w, "v2")
        check(close(got, ref), f"v2 registry score (x265/slow/30) == ORT(scaled, codec block): "
              f"max diff {np.max(np.abs(got - ref)):.3g}")
        unk = np.zeros_like(block)
        unk[:, layout.index("encoder_onehot[unknown]")] = 1
        got = registry_score(reg, "smoke_fr_v2", x, w)
        ref = ort(v2, {"features": scaled(x, sc2), "codec": unk}, w, "v2u")
        check(close(got, ref), "v2 registry score without codec context == ORT(unknown one-hot)")

        # A JSONL corpus of ours: in-sample PLCC of the report == numpy's.
        corpus = os.path.join(w, "corpus.jsonl")
        rows = make_corpus(corpus)
        model = os.path.join(w, "fr_corpus.onnx")
        rep = os.path.join(w, "r3.json")
        with open(reg, "rb") as fh:
            reg_before = fh.read()
        p = tq("train", "fr-regressor", "--corpus", corpus, "--codec-aware", "-o", model,
               "--registry", reg, "--ship-plcc", "0.99999", "--report-out", rep, expect=1)
        check("not registered" in p.stderr and open(reg, "rb").read() == reg_before,
              "--ship-plcc not cleared: exit 1, registry unchanged")
        r3 = json.load(open(rep))
        check(len(r3["validation"]["folds"]) == 6 and not r3["registered"] and not r3["ships"],
              f"corpus: 6 LOSO folds, mean PLCC {r3['validation']['plcc_mean']:.4f}, not shipped")
        tq("train", "fr-regressor", "--corpus", corpus, "--codec-aware", "-o", model,
           "--registry", reg, "--ship-plcc", "0.5", "--report-out", rep)
        r3 = json.load(open(rep))
        check(r3["registered"] and json.load(open(reg))["models"][-1]["smoke"] is False,
              "corpus model clears --ship-plcc 0.5: registered with smoke false")
        feats = np.array([[r[k] for k in FEATS] for r in rows], np.float32)
        target = np.array([r["vmaf_score"] for r in rows])
        # score each row with its own codec context through the loader
        preds = []
        for i, r in enumerate(rows):
            preds.append(registry_score(reg, "fr_corpus", feats[i:i + 1], w,
                                        ("--encoder", r["encoder"], "--preset", r["preset"],
                                         "--crf", str(int(r["crf"]))))[0])
        plcc = np.corrcoef(np.array(preds), target)[0, 1]
        check(abs(plcc - r3["in_sample"]["plcc"]) < 1e-4,
              f"in-sample PLCC: report {r3['in_sample']['plcc']:.6f} vs numpy on loader scores {plcc:.6f}")

        # Malformed row: exit 2, file:line named, nothing written.
        bad = os.path.join(w, "bad.jsonl")
        with open(corpus) as fh:
            lines = fh.readlines()
        lines[4] = lines[4].replace('"vmaf_score"', '"vmaf"')
        open(bad, "w").writelines(lines)
        out_bad = os.path.join(w, "never.onnx")
        p = tq("train", "fr-regressor", "--corpus", bad, "-o", out_bad, expect=2)
        check(f"{bad}:5: missing 'vmaf_score'" in p.stderr and not os.path.exists(out_bad),
              "malformed row: exit 2 naming " + p.stderr.strip())

        # Usage and input errors: exit 2 with the problem named.
        missing = os.path.join(w, "absent.jsonl")
        for args, want in ((["train"], "the only trainer is 'fr-regressor'"),
                           (["train", "fr-regressor", "--smoke"], "missing -o MODEL.onnx"),
                           (["train", "fr-regressor", "--smoke", "--hidden", "0", "-o", v1],
                            "--hidden '0'"),
                           (["train", "fr-regressor", "--smoke", "--corpus", corpus, "-o", v1],
                            "exactly one of --corpus, --csv, --smoke"),
                           (["train", "fr-regressor", "--csv", corpus, "--codec-aware", "-o", v1],
                            "--codec-aware needs a corpus"),
                           (["train", "fr-regressor", "--corpus", missing, "-o", out_bad],
                            missing),
                           (["train", "fr-regressor", "--smoke", "-o", os.path.join(w, "m.txt")],
                            "must end in .onnx")):
            p = tq(*args, expect=2)
            check(want in p.stderr, f"usage error {' '.join(args[2:])[:40]!r}: {want}")

        # Determinism through the CLI.
        blobs = []
        for k in range(2):
            d = os.path.join(w, f"det{k}")
            os.mkdir(d)
            tq("train", "fr-regressor", "--corpus", corpus, "--codec-aware", "--seed", "3",
               "--epochs", "50", "-o", os.path.join(d, "m.onnx"))
            blobs.append(open(os.path.join(d, "m.onnx"), "rb").read()
                         + open(os.path.join(d, "m.json"), "rb").read())
        check(blobs[0] == blobs[1], "same seed twice: identical model and sidecar bytes")
    return finish()


if __name__ == "__main__":
    sys.exit(main())
