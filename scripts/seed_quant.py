#!/usr/bin/python3
"""Section 2b of docs/QUANTIZATION.md: tinyq's quantisation of the seed models
next to the ONNX-Runtime-made int8 files they ship with. scripts/quant_table.py
calls seed_section() when it writes the whole document; run alone, this script
rewrites (or --check's) only section 2b:

    /usr/bin/python3 scripts/seed_quant.py [--tool build/tools/tinyq/tinyq]
        [--seed-models ../shared/seed-models] [--out docs/QUANTIZATION.md]
        [--check] [--keep DIR]

Every number is deterministic: seeded data (numpy), tinyq quantises, runs and
gates; QAT is seeded and single-threaded. Data sets, all uniform [0, 1) like
the SPEC §4 synthetic set, each from its own numpy seed:
  seed 0  the gate itself (`tinyq drop FP32 INT8`, 16 samples; not built here)
  seed 1  static calibration (256 feature rows / 64 images), also the QAT export's
  seed 2  QAT training (4096 rows / 1024 nr_metric images / 64 learned_filter images)
  seed 3  a larger held-out check (4096 rows / 256 nr_metric / 64 learned_filter images)
"""
import argparse
import os
import sys
import tempfile

import numpy as np

import quant_table as qt

SEED_MODELS = ["learned_filter_v1", "nr_metric_v1", "vmaf_tiny_v3", "vmaf_tiny_v4"]
OLD_METHODS = ["minmax", "entropy", "percentile"]
# QAT recipe, one for every model: distil from the fp32 model (no labels
# exist) through the fake quantisation of the best static configuration
# (mse, per-channel, float-outputs, equalize; the equalisation is applied
# before the training, so QAT starts from the rescaled weights), with
# the centred MSE (--qat-centered: a constant output offset, which PLCC
# ignores, made up 80-87 % of nr_metric_v1's plain MSE and QAT spent itself
# correcting it). The fake quantisation uses the export's own ranges: the
# static mse calibration on the same seed-1 set, computed once before the
# training, kept frozen, and written to the exported file (--qat-recalibrate,
# calibrating again after the training, gave a higher drop on a seed-4
# selection set for every model: learned_filter_v1 0.000084 vs 0.000085,
# nr_metric_v1 0.002099 vs 0.002253, vmaf_tiny_v3 0.000055 vs 0.000060,
# vmaf_tiny_v4 0.000051 vs 0.000060, at lr 1e-5). Adam's learning rate and the
# epochs per model were picked on that seed-4 set (never on the gate's seed 0
# or the reported seed 3): vmaf_tiny_v3/v4 at lr 1e-4 x 30 epochs 0.000043 /
# 0.000042 (1e-5 x 10: 0.000055 / 0.000051; 3e-4 x 30: 0.000048 / 0.000041);
# learned_filter_v1 1e-5 0.000084 (3e-5: 0.000099, 1e-4: 0.000283);
# nr_metric_v1 1e-5 0.002099 (3e-5: 0.002449).
QAT_PLAN = {  # model: (training samples, epochs, batch, lr) - images cost ~1.5 s/sample/epoch
    "learned_filter_v1": (64, 1, 8, "1e-5"),
    "nr_metric_v1": (1024, 2, 8, "1e-5"),
    "vmaf_tiny_v3": (4096, 30, 32, "1e-4"),
    "vmaf_tiny_v4": (4096, 30, 32, "1e-4"),
}


def input_specs(seed_dir, m):
    import onnx
    g = onnx.load(os.path.join(seed_dir, f"{m}.onnx"), load_external_data=False).graph
    inits = {i.name for i in g.initializer}
    return [(i.name, [d.dim_value if d.dim_value > 0 else 1 for d in i.type.tensor_type.shape.dim])
            for i in g.input if i.name not in inits]


def uniform_set(q, seed_dir, m, seed, n_rows, n_images, tag):
    rng = np.random.default_rng(seed)
    arrays = {}
    for name, dims in input_specs(seed_dir, m):
        n = n_images if len(dims) == 4 else n_rows
        arrays[name] = rng.random((n, *dims[1:]), dtype=np.float32)
    path = q.path(f"{m}_{tag}.npz")
    np.savez(path, **arrays)
    return path


def held_out_drop(q, fp32, int8, data, cache):
    """1 - PLCC between the fp32 and int8 outputs over the seed-3 set (all
    output values of all samples, as the gate), both run by tinyq per sample."""
    if fp32 not in cache:
        out = q.path("ho_fp32.npz")
        q("run", fp32, "-i", data, "--per-sample", "-o", out)
        f = np.load(out)
        cache[fp32] = f[list(f.keys())[0]].astype(np.float64).ravel()
    out = q.path("ho_int8.npz")
    q("run", int8, "-i", data, "--per-sample", "-o", out)
    f = np.load(out)
    y = f[list(f.keys())[0]].astype(np.float64).ravel()
    return 1.0 - float(np.corrcoef(cache[fp32], y)[0, 1])


def seed_section(q, seed_dir):
    L = ["The seed models are real models of the system tinyq replaces; their `.int8.onnx` "
         "files were made by ONNX Runtime's dynamic quantiser. The first table is the SPEC §4 "
         "gate, `tinyq drop FP32 INT8` (numpy `default_rng(0)`, 16 uniform [0,1) samples, one "
         "at a time, drop = 1 - PLCC over all output values). Sixteen samples make a noisy "
         "judge of differences of 1e-4, so the second table repeats every configuration on a "
         "larger held-out uniform set (`default_rng(3)`: 4,096 feature rows, 256 nr_metric "
         "images, 64 learned_filter images = 3.2 M output pixels; outputs from `tinyq run "
         "--per-sample`, PLCC by numpy). Static models are calibrated on uniform samples from "
         "`default_rng(1)` (256 rows or 64 images); QAT trains on `default_rng(2)` samples. "
         "`scripts/seed_quant.py` builds all of them and writes this section.\n",
         "Columns: **ORT** the shipped file; **dyn** / **dyn-pc** tinyq dynamic, per-tensor "
         "(ORT's graph) / per-channel weights; **static (old best)** the best of MinMax, "
         "Entropy and Percentile, per-tensor or per-channel (all in the table further down); "
         "**static mse** `--method mse --per-channel` (clipping threshold minimising the "
         "estimated quantisation MSE); **+float-outputs** the same with `--float-outputs` "
         "(Q/DQ only on the inputs of quantised nodes, as the dynamic graph; every weight "
         "still int8); **+equalize** the same with `--equalize` (channels rescaled before "
         "calibration, exactly in float; see below the tables); **QAT** `--mode qat` with "
         "the +equalize column's settings, distilled from the fp32 model through the "
         "export's own ranges; **static +pc-act** `--method mse --per-channel "
         "--float-outputs --per-channel-activations` with or without `--equalize`, whichever "
         "has the lower gate drop (named in the cell; both are in the table of all static "
         "configurations): every quantised node's activation input gets one scale and zero "
         "point per channel; **QAT +pc-act** the QAT column's recipe with "
         "`--per-channel-activations` (it trains with the per-channel ranges it exports). "
         "Each gate cell: PLCC drop, file size.\n"]
    rows, held = [], []
    detail = ["| model | static config | gate PLCC drop | held-out drop | size |",
              "|---|---|---|---|---|"]
    verdict = []
    for m in SEED_MODELS:
        fp32 = os.path.join(seed_dir, f"{m}.onnx")
        cal = uniform_set(q, seed_dir, m, 1, 256, 64, "cal")
        n_train, epochs, batch, lr = QAT_PLAN[m]
        train = uniform_set(q, seed_dir, m, 2, n_train, n_train, "train")
        hold = uniform_set(q, seed_dir, m, 3, 4096, 256 if m == "nr_metric_v1" else 64, "held")
        cache = {}

        def measure(path):
            r = q.drop(fp32, path)
            return dict(gate=r["drop"] if r["plcc"] is not None else None,
                        held=held_out_drop(q, fp32, path, hold, cache), size=qt.fsize(path))

        res = {"ORT": measure(os.path.join(seed_dir, f"{m}.int8.onnx"))}
        for name, opts in (("dyn", ["--mode", "dynamic"]),
                           ("dyn-pc", ["--mode", "dynamic", "--per-channel"])):
            out = q.path(f"{m}.{name}.int8.onnx")
            q.quantize(fp32, out, *opts)
            res[name] = measure(out)
        statics = []
        for fo, eq, pca in ((False, False, False), (True, False, False), (True, True, False),
                            (True, False, True), (True, True, True)):
            for pc in ((True,) if eq or pca else (False, True)):
                for meth in OLD_METHODS + ["mse"]:
                    if fo and meth != "mse":
                        continue
                    out = q.path(f"{m}.static.int8.onnx")
                    opts = ["--mode", "static", "--method", meth, "--calibration", cal]
                    opts += (["--per-channel"] if pc else []) + (["--float-outputs"] if fo else [])
                    opts += (["--equalize"] if eq else []) + (["--per-channel-activations"]
                                                             if pca else [])
                    report = q.quantize(fp32, out, *opts)
                    r = measure(out)
                    r["sites"] = report.get("equalize")
                    cfg = (f"{meth} {'per-channel' if pc else 'per-tensor'}"
                           f"{' float-outputs' if fo else ''}{' equalize' if eq else ''}"
                           f"{' per-channel-activations' if pca else ''}")
                    statics.append((cfg, r))
                    g = "nan (constant output)" if r["gate"] is None else f"{r['gate']:.6f}"
                    detail.append(f"| {m} | {cfg} | {g} | {r['held']:.6f} | {qt.kb(r['size'])} |")
        old = [s for s in statics if s[0].split()[0] in OLD_METHODS and s[1]["gate"] is not None]
        best_old = min(old, key=lambda s: s[1]["gate"])
        res["old"] = dict(best_old[1], cfg=best_old[0])
        res["mse"] = dict(statics)["mse per-channel"]
        res["fo"] = dict(statics)["mse per-channel float-outputs"]
        res["eq"] = dict(statics)["mse per-channel float-outputs equalize"]
        # --per-channel-activations with and without --equalize: the lower
        # gate drop is the column (ties: with --equalize); both are in the
        # detail table
        pca = [(c, dict(statics)[f"mse per-channel float-outputs{e} per-channel-activations"])
               for c, e in (("equalize", " equalize"), ("no equalize", ""))]
        best = min(pca, key=lambda x: x[1]["gate"])
        res["pca"] = dict(best[1], cfg=best[0])
        for key, extra in (("qat", []), ("qat-pca", ["--per-channel-activations"])):
            out = q.path(f"{m}.qat.int8.onnx")
            rep = q.quantize(fp32, out, "--mode", "qat", "--method", "mse", "--per-channel",
                             "--float-outputs", "--equalize", *extra, "--train", train,
                             "--calibration", cal, "--epochs-qat", epochs, "--batch-qat", batch,
                             "--lr-qat", lr, "--qat-centered")
            res[key] = measure(out)
            res[key]["loss"] = (rep["qat"]["loss_before"], rep["qat"]["epoch_loss"][-1])
        cols = ["ORT", "dyn", "dyn-pc", "old", "mse", "fo", "eq", "qat", "pca", "qat-pca"]
        cell = {k: f"{res[k]['gate']:.6f}, {qt.kb(res[k]['size'])}" for k in cols}
        cell["old"] += f" ({res['old']['cfg']})"
        cell["pca"] += f" ({res['pca']['cfg']})"
        rows.append(f"| {m} ({qt.kb(qt.fsize(fp32))}) | " + " | ".join(cell[k] for k in cols) + " |")
        held.append(f"| {m} | " + " | ".join(f"{res[k]['held']:.6f}" for k in cols) + " |")
        verdict.append((m, res))
    head = ("| model | ORT | dyn | dyn-pc | static (old best) | static mse | +float-outputs "
            "| +equalize | QAT | static +pc-act | QAT +pc-act |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|")
    L.append("**SPEC §4 gate** (16 samples):\n")
    L.append(head)
    L.extend(rows)
    L.append("\n**Held-out check** (`default_rng(3)`, sizes as above; same files):\n")
    L.append(head)
    L.extend(held)
    L.append("")
    L.append(verdict_text(verdict))
    L.append("\nQAT training, per model (objective = centred MSE against the fp32 model's "
             "outputs with fake quantisation on, on the training set, before -> last epoch): " + "; ".join(
                 f"{m} {QAT_PLAN[m][0]} samples x {QAT_PLAN[m][1]} epoch(s), batch "
                 f"{QAT_PLAN[m][2]}, lr {QAT_PLAN[m][3]}: {r['qat']['loss'][0]:.4g} -> "
                 f"{r['qat']['loss'][1]:.4g}"
                 for m, r in verdict) + ". Adam, `--qat-centered`, `--seed 0`; learning rate and epochs per "
             "model chosen on a separate uniform set (`default_rng(4)`), never on the gate or the "
             "held-out set. The fake quantisation trains with the export's own activation "
             "ranges: `tinyq quantize --mode qat` calibrates them once before the training "
             "with the static export's code and options (here MSE on the seed-1 set), keeps "
             "them frozen and writes them to the file (`--qat-recalibrate` calibrates again "
             "after the training; it was worse on the seed-4 set for every model). "
             "learned_filter_v1 "
             "trains on 64 images for one epoch only because each 224x224 training step "
             "(forward and backward through ten full-resolution convolutions) takes seconds "
             "on this machine.\n")
    L.append("All static configurations (int8 activations; uint8 gives identical numbers, see "
             "section 2):\n")
    L.extend(detail)
    L.append("\nEntropy calibration fails on these regressors for a reason that is visible in "
             "the graphs: a regression head's output holds one value per sample (64 or 256 "
             "calibration values spread over 2048 histogram bins), and the KL search picks a "
             "threshold far below the scores. On nr_metric_v1 the output `mos` (fp32 scores "
             "about 3.2–3.4) gets the range [0, 0.45], so every int8 output is the same value "
             "and the PLCC is undefined — the gate fails it, as it must. See section 3 for the "
             "second Entropy problem (ReLU outputs). Use MinMax, Percentile or MSE for "
             "regressors (MSE, like Entropy, keeps the MinMax range of graph outputs).")
    return "\n".join(L)


def verdict_text(verdict):
    T = []
    dyn_ok = all(r["dyn"]["gate"] <= r["ORT"]["gate"] + 5e-7 for _, r in verdict)
    T.append(f"**Target: our dynamic drop no worse than theirs on every model — "
             f"{'met' if dyn_ok else 'NOT met'}.** tinyq's default dynamic mode builds ONNX "
             "Runtime's graph (per-tensor weights, uint8 DynamicQuantizeLinear), so its drops "
             "equal the shipped files' to the 6th decimal; `--per-channel` (which ORT's dynamic "
             "quantiser does not offer for Conv) lowers the drop on every model, in both "
             "tables: " + ", ".join(
                 f"{m} {r['ORT']['gate']:.6f} -> {r['dyn-pc']['gate']:.6f} (held-out "
                 f"{r['ORT']['held']:.6f} -> {r['dyn-pc']['held']:.6f})" for m, r in verdict)
             + ".")
    for key, label in (("eq", "static (mse, per-channel, float-outputs, equalize)"),
                       ("qat", "QAT"),
                       ("pca", "static with --per-channel-activations"),
                       ("qat-pca", "QAT with --per-channel-activations")):
        clear = [m for m, r in verdict if r[key]["gate"] <= 0.5 * r["ORT"]["gate"]]
        better = [m for m, r in verdict
                  if 0.5 * r["ORT"]["gate"] < r[key]["gate"] < r["ORT"]["gate"]]
        worse = [m for m, r in verdict if r[key]["gate"] >= r["ORT"]["gate"]]
        held_clear = [m for m, r in verdict if r[key]["held"] <= 0.5 * r["ORT"]["held"]]
        ok = len(clear) == len(verdict)
        T.append(f"\n**Target: our {label} clearly better than theirs (here: at most half their "
                 f"gate drop) — {'met' if ok else 'NOT met on every model'}.** Clearly better "
                 f"on: {', '.join(clear) or 'none'}; better, not clearly: "
                 f"{', '.join(better) or 'none'}; not better: {', '.join(worse) or 'none'}. "
                 f"On the held-out set, at most half of ORT's drop on: "
                 f"{', '.join(held_clear) or 'none'}.")
    # per model, the better file of each mode with or without the option
    for keys, label in ((("eq", "pca"), "static (+equalize or +pc-act)"),
                        (("qat", "qat-pca"), "QAT (without or with --per-channel-activations)")):
        pick = [(m, min(keys, key=lambda k: r[k]["gate"])) for m, r in verdict]
        clear = [f"{m} ({'with' if k in ('pca', 'qat-pca') else 'without'} the option, "
                 f"{r[k]['gate'] / r['ORT']['gate']:.2f} of ORT's drop)"
                 for (m, k), (_, r) in zip(pick, verdict) if r[k]["gate"] <= 0.5 * r["ORT"]["gate"]]
        rest = [f"{m} ({r[k]['gate'] / r['ORT']['gate']:.2f})"
                for (m, k), (_, r) in zip(pick, verdict) if r[k]["gate"] > 0.5 * r["ORT"]["gate"]]
        T.append(f"\n**Target per model, {label}, the lower gate drop of the two — "
                 f"{'met' if not rest else 'NOT met on every model'}.** At most half of ORT's "
                 f"drop: {', '.join(clear) or 'none'}; not: {', '.join(rest) or 'none'}. (Picking "
                 "per model by the gate flatters the gate column; the held-out table judges each "
                 "file on 4 to 256 times the samples.)")
    old_vs = [(m, r["old"]["gate"], r["fo"]["gate"], r["eq"]["gate"], r["qat"]["gate"])
              for m, r in verdict]
    T.append("\nStatic, old best -> mse + float-outputs -> + equalize -> QAT, gate drops: " +
             "; ".join(f"{m} {a:.6f} -> {b:.6f} -> {c:.6f} -> {d:.6f}"
                       for m, a, b, c, d in old_vs) + ".")
    T.append("\n**Per-channel activations (`--per-channel-activations`).** A per-tensor "
             "activation scale must span every channel of the tensor; with one scale and zero "
             "point per channel each channel's 256 levels cover only its own range. Effect, "
             "+equalize -> static +pc-act -> QAT +pc-act, gate (held-out): " + "; ".join(
                 f"{m} {r['eq']['gate']:.6f} -> {r['pca']['gate']:.6f} -> "
                 f"{r['qat-pca']['gate']:.6f} ({r['eq']['held']:.6f} -> {r['pca']['held']:.6f} "
                 f"-> {r['qat-pca']['held']:.6f})" for m, r in verdict) +
             ". It pays where every channel's range is measured on many values: "
             "learned_filter_v1's residual-stream tensors hold 64 x 224 x 224 calibration "
             "values per channel, so each channel's range is as safe as the tensor's, and "
             "their channels sit at different offsets (per tensor about [-2.3, 1.7], per channel "
             "1 to 2.3 wide). It loses on the feature models: a channel of a [N, F] tensor has "
             "only the 256 calibration rows, and a new value exceeds the largest of n samples "
             "with probability 1/(n + 1) whatever the distribution, so each hidden unit clips "
             "about 0.4 % of unseen values at each end, by as much as its tail reaches; under "
             "one per-tensor scale only the widest channel is that tight and every other "
             "channel keeps headroom. The cost of those clipped values outweighs the finer "
             "steps on vmaf_tiny_v3/v4. On nr_metric_v1 (Conv -> Clip chains, many values per "
             "channel) it changes little and not for the better; the cause is not isolated "
             "(leaving its Gemm head in fp32 does not change the sign). Layers with per-channel "
             "inputs run in tinyq as dequantise -> float op (the int8 fusions need one "
             "activation scale), as in ONNX Runtime. Where ONNX Runtime would fuse a group into "
             "an integer op that rejects per-axis activation parameters (DQ -> Conv -> Q into "
             "QLinearConv, DQ -> MatMul), the option leaves that input per tensor: "
             "learned_filter_v1's first Conv writes the first residual tensor through its own "
             "Q/DQ pair, so that tensor stays per tensor (the other four are per channel).")
    T.append("\nQAT's training objective (centred MSE against the fp32 outputs, fake "
             "quantisation on) changed by " + ", ".join(
                 f"{m} {100 * (r['qat']['loss'][1] / r['qat']['loss'][0] - 1):+.0f} %"
                 for m, r in verdict) + " (details below the tables).")
    sites = "; ".join(
        f"{m}: {r['eq']['sites']['inputs']} standardised input(s) "
        f"({r['eq']['sites']['centered_inputs']} centred), {r['eq']['sites']['pairs']} layer pair(s)"
        for m, r in verdict)
    T.append("\n**The equalisation (`--equalize`, src/quant/equalize.c).** A static graph gives "
             "each activation tensor one scale, so when the channels of a quantised node's "
             "input span very different ranges the narrow ones get a handful of the 256 "
             "levels. vmaf_tiny_v3/v4 standardise their features in the graph (Sub mean, Div "
             "std, Gemm), which maps uniform [0, 1) features to spans from 0.14 (one feature) "
             "to about 29 (another, -26.4 to 2.4) under one scale. `--equalize` moves range "
             "between an activation channel and the matching weight column, which per-channel "
             "weights quantise per output row and so have levels to spare: x'_j = x_j / s_j, "
             "W'[:, j] = W[:, j] s_j, with s_j = max|x_j|^a / max|W[:, j]|^(1-a) (SmoothQuant; "
             "ranges from one fp32 pass over the calibration set). The factor folds into the "
             "Div's std, and the Sub's mean plus the Gemm bias centre each feature, so features "
             "of different offsets share one zero point; in Conv/Gemm -> Relu -> Conv/Gemm "
             "chains whose middle tensors have one reader it folds into the producer's output "
             "channel (cross-layer equalisation, Nagel et al. 2019; Relu is positively "
             "homogeneous, Clip with fixed bounds is not and is never crossed, residual Adds "
             "are left alone). a = 0.75 for standardised inputs (their ranges are exact on any "
             "uniform sample) and 0.5 for hidden tensors (a channel's maximum over a few "
             "hundred samples is an estimate, and equalising fully would put every channel "
             "at its estimated maximum, where unseen samples clip). The two defaults hold up "
             "on the seed-4 selection set (scripts/equalize_sweep.py, drop as a share of the "
             "ORT file's on that set; never the gate or the held-out set): input 0.5 / 0.75 / "
             "1.0 x layers 0.25 / 0.5 / 0.75 / 1.0 put learned_filter_v1 (layer pairs only) at "
             "0.87 / 0.84 / 0.79 / 0.89, vmaf_tiny_v3 at 0.53 to 0.68 for layers <= 0.75 (0.56 "
             "at the defaults) and vmaf_tiny_v4 at 0.40 to 0.60 (0.42 at the defaults); layers "
             "1.0 gives about 3x ORT's drop on both feature models, and no pair beats the "
             "defaults on all "
             "three. The fp32 function is "
             "unchanged up to float rounding (tests/quant/equalize_test.py bounds it). Sites "
             "found: " + sites + ". Off by default: it changes no other table. Its effect, "
             "+float-outputs -> +equalize, gate (16 samples) and held-out (seed 3): " + "; ".join(
                 f"{m} {r['fo']['gate']:.6f} -> {r['eq']['gate']:.6f} (held-out "
                 f"{r['fo']['held']:.6f} -> {r['eq']['held']:.6f})" for m, r in verdict) +
             ". Where the two tables disagree, the held-out set (256 times the gate's samples "
             "for the feature models) is the steadier judge; the gate is what SPEC §4 asks.")
    T.append("\nWhere the margin is missing and why. By default a static QDQ graph also rounds "
             "every quantised node's output, and every reader of a quantised tensor reads the "
             "rounded value; learned_filter_v1's skip Adds carry the input image and each "
             "residual sum straight to the output, so they put that rounding into the output "
             "image. The dynamic graph rounds only what its integer kernels read. "
             "`--float-outputs` removes exactly that difference (columns 'static mse' -> "
             "'+float-outputs'). What is left is the rounding both graphs share, each quantised "
             "node's input: on learned_filter_v1 it is most of ONNX Runtime's drop too (per-"
             "channel weights take dynamic mode only from 0.000117 to 0.000108). Most of it is "
             "the residual stream (the five tensors that feed both a Conv and the next Add), "
             "which `--equalize` does not touch: its channels span comparable ranges (about 1 "
             "to 2.3) at different offsets, and centring them is not exact because the Convs "
             "zero-pad (a shifted channel would pad with the shift, not with zero); the four "
             "Conv -> Relu -> Conv pairs inside the blocks are equalised. On vmaf_tiny_v3/v4 "
             "the rest is the static graph's fixed ranges: one sample's hidden vector spans "
             "much less than the whole calibration set, so dynamic mode's per-sample scale is "
             "finer; tinyq's dynamic `--per-channel` is the clearly better file there (a "
             "quarter of ORT's drop or less in both tables). QAT adjusts the weights to the "
             "rounding at exactly the exported ranges but cannot change their resolution. On "
             "nr_metric_v1 ORT's drop comes from per-tensor Conv weights, which every "
             "per-channel mode removes; its Clip (hardtanh) chains offer no equalisation site.")
    return "\n".join(T)


SECTION = "## 2b. Seed models: tinyq's quantisation next to ONNX Runtime's shipped int8 files"


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tool", default=os.environ.get(
        "TQ_TOOL", os.path.join(qt.ROOT, "build", "tools", "tinyq", "tinyq")))
    ap.add_argument("--seed-models", default=os.environ.get(
        "TQ_SEED_MODELS", os.path.join(qt.ROOT, "..", "shared", "seed-models")))
    ap.add_argument("--out", default=os.path.join(qt.ROOT, "docs", "QUANTIZATION.md"))
    ap.add_argument("--check", action="store_true")
    ap.add_argument("--keep", help="keep the intermediate files in this folder")
    args = ap.parse_args(argv)
    if not os.path.exists(os.path.join(args.seed_models, "registry.json")):
        sys.exit(f"seed_quant: no seed models in {args.seed_models} (--seed-models DIR)")
    doc = open(args.out).read()
    start = doc.find(SECTION)
    end = doc.find("\n## 3.", start)
    if start < 0 or end < 0:
        sys.exit(f"seed_quant: {args.out} has no section 2b followed by section 3")
    if args.keep:
        os.makedirs(args.keep, exist_ok=True)
        body = seed_section(qt.Runner(args.tool, os.path.abspath(args.keep)), args.seed_models)
    else:
        with tempfile.TemporaryDirectory(prefix="tq_seed_quant_") as work:
            body = seed_section(qt.Runner(args.tool, work), args.seed_models)
    new = doc[:start] + SECTION + "\n\n" + body + "\n" + doc[end:]
    if args.check:
        if new != doc:
            import difflib
            sys.stdout.writelines(difflib.unified_diff(doc.splitlines(True), new.splitlines(True),
                                                       args.out, "regenerated"))
            return 1
        print(f"{args.out}: section 2b reproduced")
        return 0
    with open(args.out + ".tmp", "w") as f:
        f.write(new)
    os.replace(args.out + ".tmp", args.out)
    print(f"wrote section 2b of {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
