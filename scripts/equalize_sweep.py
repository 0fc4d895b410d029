#!/usr/bin/python3
"""Pick --equalize's default alphas on a selection set, never on the gate.

For every seed model with an equalisation site (learned_filter_v1: layer
pairs; vmaf_tiny_v3/v4: a standardised input and layer pairs), quantise
statically as section 2b does (--method mse --per-channel --float-outputs
--equalize, calibration = the seed-1 set) over a grid of
--equalize-alpha / --equalize-alpha-layers, and print the PLCC drop on the
seed-4 selection set (the set QAT's hyperparameters were picked on; uniform
[0, 1) like the gate, 4096 rows / 64 images), with the drop's ratio to the
ONNX-Runtime-made file's drop on the same set:

    /usr/bin/python3 scripts/equalize_sweep.py [--tool T] [--seed-models DIR]
"""
import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import quant_table as qt  # noqa: E402
import seed_quant as sq  # noqa: E402

GRID_INPUT = [0.5, 0.75, 1.0]
GRID_LAYERS = [0.25, 0.5, 0.75, 1.0]
MODELS = {"learned_filter_v1": False, "vmaf_tiny_v3": True, "vmaf_tiny_v4": True}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", default="build/tools/tinyq/tinyq")
    ap.add_argument("--seed-models", default="../shared/seed-models")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as work:
        q = qt.Runner(os.path.abspath(a.tool), work)
        print("| model | alpha input | alpha layers | selection drop | / ORT |")
        print("|---|---|---|---|---|")
        for m, has_input in MODELS.items():
            fp32 = os.path.join(a.seed_models, f"{m}.onnx")
            cal = sq.uniform_set(q, a.seed_models, m, 1, 256, 64, "cal")
            sel = sq.uniform_set(q, a.seed_models, m, 4, 4096, 64, "sel")
            cache = {}
            ort = sq.held_out_drop(q, fp32, os.path.join(a.seed_models, f"{m}.int8.onnx"), sel,
                                   cache)
            for ai in GRID_INPUT if has_input else [0.75]:
                for al in GRID_LAYERS:
                    out = q.path(f"{m}.eq.onnx")
                    q.quantize(fp32, out, "--mode", "static", "--method", "mse", "--per-channel",
                               "--float-outputs", "--equalize", "--equalize-alpha", ai,
                               "--equalize-alpha-layers", al, "--calibration", cal)
                    d = sq.held_out_drop(q, fp32, out, sel, cache)
                    print(f"| {m} | {ai if has_input else '-'} | {al} | {d:.6f} | "
                          f"{d / ort:.2f} |", flush=True)


if __name__ == "__main__":
    main()
