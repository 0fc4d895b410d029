#!/usr/bin/python3
"""End-to-end quantiser tests against references we did not write.

For every fixture (mlp, codec_mlp, cnn) x {dynamic, static int8, static uint8}
x {per-tensor, per-channel}: `tinyq quantize` must leave the fp32 files
byte-identical (sha256), write a model the ONNX checker accepts and ONNX
Runtime runs, and a report whose sizes match the files. When tinyq's runtime
has the int8 ops, tinyq and ORT must agree on the int8 model within one
output quantisation step:
  static:  the output passes a QuantizeLinear/DequantizeLinear pair with scale
           s, so both runtimes produce multiples of s; a tie rounded the other
           way moves one step: tol = s.
  dynamic: both runtimes do exact integer math; the only freedom is a float
           rounding that flips one input element of the last integer layer by
           one quantum x_scale, which moves an output by at most
           x_scale * max|W|: tol = x_scale * max|W| (x_scale read from ORT).
With --reduce-range (ORT's reduce_range: 7-bit weights) the same checks run,
and every int8 weight initializer must lie in [-64, 64] with 64 reached (the
symmetric scale maps |w|max to 64), where without it 127 is reached.
Calibration is checked against ONNX Runtime (MinMax ranges of every
calibrated tensor, from the fp32 model's intermediates) and numpy (input scale/zero point by ORT's formula,
percentile threshold). Bad calibration data must exit 2 with a named error
and leave no output behind.
With --equalize (static int8 per-channel) the same checks run and the report
names the rescaled sites; with --mode dynamic it is a usage error (exit 2).
Exit 0 pass, 1 failure, 77 skip (ONNX Runtime not installed).
"""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import onnx
from onnx import helper, numpy_helper, TensorProto

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tqtest import TOOL, ORT_RUN, FIX, failures, have_ort, finish, output_step  # noqa: E402


def fail(msg):
    failures.append(msg)
    print("FAIL " + msg)


def sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def tinyq(*args, env=None):
    return subprocess.run([TOOL] + list(args), capture_output=True, text=True,
                          env=None if env is None else {**os.environ, **env})


def ort(model, inp, out):
    p = subprocess.run(["node", ORT_RUN, model, inp, out, "--threads", "1", "--per-sample"],
                       capture_output=True, text=True)
    return p


def build_cnn(d):
    """A small CNN (Conv+Relu, grouped strided Conv+Clip, ConvTranspose,
    GlobalAveragePool, Flatten, Gemm transB) when fixtures/cnn.onnx is absent."""
    rng = np.random.default_rng(1)
    def init(name, shape, s=0.3):
        return numpy_helper.from_array((rng.standard_normal(shape) * s).astype(np.float32), name)
    inits = [init("w1", [8, 3, 3, 3]), init("b1", [8], 0.1), init("w2", [8, 4, 3, 3]),
             init("b2", [8], 0.1), init("w3", [8, 4, 2, 2]), init("b3", [4], 0.1),
             init("wf", [3, 4]), init("bf", [3], 0.1),
             numpy_helper.from_array(np.array(0.0, np.float32), "lo"),
             numpy_helper.from_array(np.array(6.0, np.float32), "hi")]
    nodes = [helper.make_node("Conv", ["image", "w1", "b1"], ["c1"], "conv1", pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c1"], ["r1"], "relu1"),
             helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], "conv2", pads=[1, 1, 1, 1],
                              strides=[2, 2], group=2),
             helper.make_node("Clip", ["c2", "lo", "hi"], ["k2"], "clip2"),
             helper.make_node("ConvTranspose", ["k2", "w3", "b3"], ["t3"], "deconv3",
                              strides=[2, 2]),
             helper.make_node("GlobalAveragePool", ["t3"], ["g"], "gap"),
             helper.make_node("Flatten", ["g"], ["f"], "flat"),
             helper.make_node("Gemm", ["f", "wf", "bf"], ["logits"], "fc", transB=1)]
    g = helper.make_graph(nodes, "cnn", [helper.make_tensor_value_info("image", TensorProto.FLOAT,
                                                                       ["N", 3, 8, 8])],
                          [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 3])],
                          inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)], ir_version=8)
    onnx.checker.check_model(m)
    path = os.path.join(d, "cnn.onnx")
    onnx.save(m, path)
    cal = os.path.join(d, "cnn_calib.npz")
    np.savez(cal, image=rng.random((40, 3, 8, 8), dtype=np.float32))
    return path, cal


def fixtures(d):
    out = []
    for name, data in [("mlp", "mlp_data.npz"), ("codec_mlp", "codec_mlp_data.npz")]:
        m = os.path.join(FIX, name + ".onnx")
        if os.path.exists(m):
            out.append((name, m, os.path.join(FIX, data)))
        else:
            print(f"SKIP fixture {name}: {m} absent")
    cnn = os.path.join(FIX, "cnn.onnx")
    if os.path.exists(cnn):
        out.append(("cnn", cnn, os.path.join(FIX, "cnn_calib.npz")))
    else:
        p, c = build_cnn(d)
        out.append(("cnn", p, c))
    return out


def fp32_files(model):
    files = [model]
    if os.path.exists(model + ".data"):
        files.append(model + ".data")
    return files


def subset(npz, path, n=24):
    d = np.load(npz)
    np.savez(path, **{k: d[k][:n] for k in d.files})
    return path


def dynamic_tolerance(m, int8_path, inp, work):
    """x_scale * max|W| of the last integer layer, per sample, read from ORT."""
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    last = [n for n in m.graph.node if n.op_type in ("MatMulInteger", "ConvInteger")][-1]
    dql = [n for n in m.graph.node if n.op_type == "DynamicQuantizeLinear" and n.output[0] == last.input[0]][0]
    wq = inits[last.input[1]].astype(np.float64)
    scale_mul = [n for n in m.graph.node if n.op_type == "Mul" and dql.output[1] in n.input][0]
    ws = inits[[i for i in scale_mul.input if i != dql.output[1]][0]].astype(np.float64)
    wmax = float(np.max(np.abs(wq)) * np.max(ws))
    probe = onnx.load(int8_path)
    # The scale is a scalar per run; ort_run concatenates per-sample outputs on
    # axis 0, so expose it as [1] (Unsqueeze, opset >= 13 form).
    probe.graph.initializer.append(numpy_helper.from_array(np.array([0], np.int64), "probe_axes"))
    probe.graph.node.append(helper.make_node("Unsqueeze", [dql.output[1], "probe_axes"], ["probe_xs"]))
    probe.graph.output.append(helper.make_tensor_value_info("probe_xs", TensorProto.FLOAT, [1]))
    pp = os.path.join(work, "probe.onnx")
    onnx.save(probe, pp)
    po = os.path.join(work, "probe.out.npz")
    if ort(pp, inp, po).returncode != 0:
        return None
    xs = np.load(po)["probe_xs"].astype(np.float64)  # one scale per sample
    return xs.reshape(-1) * wmax


def check_weight_range(tag, m, rr):
    """int8 weights (rank >= 2 int8 initializers): in [-64, 64] reaching 64
    with reduce_range, reaching 127 without."""
    ws = [numpy_helper.to_array(t) for t in m.graph.initializer
          if t.data_type == TensorProto.INT8 and len(t.dims) >= 2]
    if not ws:
        return fail(f"{tag}: no int8 weight initializers")
    top = max(int(np.max(np.abs(w.astype(np.int32)))) for w in ws)
    want = 64 if rr else 127
    if top != want:
        fail(f"{tag}: largest |int8 weight| is {top}, expected {want}")


def check_one(name, model, cal, mode, at, pc, work, rr=False, eq=False):
    n_fail = len(failures)
    tag = (f"{name} {mode}{' ' + at if mode == 'static' else ''}{' per-channel' if pc else ''}"
           f"{' reduce-range' if rr else ''}{' equalize' if eq else ''}")
    before = {f: sha(f) for f in fp32_files(model)}
    out = os.path.join(work, f"{name}.{mode}.{at}.{int(pc)}.{int(rr)}.{int(eq)}.onnx")
    rep = out + ".json"
    args = ["quantize", model, "--mode", mode, "-o", out, "--report-out", rep]
    if mode == "static":
        args += ["--calibration", cal, "--activation-type", at]
    if pc:
        args.append("--per-channel")
    if rr:
        args.append("--reduce-range")
    if eq:
        args.append("--equalize")
    p = tinyq(*args)
    if {f: sha(f) for f in fp32_files(model)} != before:
        fail(f"{tag}: fp32 files changed")
    if p.returncode != 0:
        fail(f"{tag}: quantize exited {p.returncode}: {p.stderr.strip()}")
        return
    try:
        onnx.checker.check_model(onnx.load(out), full_check=True)
    except Exception as e:  # noqa: BLE001 - report any checker failure
        fail(f"{tag}: ONNX checker: {e}")
        return
    check_weight_range(tag, onnx.load(out), rr)
    r = json.load(open(rep))
    fp32_bytes = sum(os.path.getsize(f) for f in fp32_files(model))
    exp = {"mode": mode, "per_channel": pc, "int8_bytes": os.path.getsize(out),
           "fp32_bytes": fp32_bytes, "output": out, "weight_type": "int8",
           "activation_type": "uint8" if mode == "dynamic" else at}
    for k, v in exp.items():
        if r.get(k) != v:
            fail(f"{tag}: report {k} = {r.get(k)!r}, expected {v!r}")
    e = r.get("equalize")
    if eq and (not isinstance(e, dict) or e.get("inputs", 0) + e.get("pairs", 0) < 1):
        fail(f"{tag}: report equalize = {e!r}, expected at least one rescaled site")
    if not eq and e is not None:
        fail(f"{tag}: report has equalize = {e!r} without --equalize")
    prov = r.get("run_provenance", {})
    for k in ("tool_version", "command_line", "utc_time", "host", "cpu_features"):
        if k not in prov:
            fail(f"{tag}: run_provenance lacks {k}")
    if r["int8_bytes"] >= r["fp32_bytes"]:
        fail(f"{tag}: int8 file ({r['int8_bytes']} B) not smaller than fp32 ({r['fp32_bytes']} B)")
    inp = subset(cal, os.path.join(work, name + ".in.npz"))
    if mode == "static":
        c = r["calibration"]
        n = np.load(cal)
        ins = [i.name for i in onnx.load(model, load_external_data=False).graph.input]
        if c["input_names"] != ins or c["samples"] != len(n[ins[0]]):
            fail(f"{tag}: report calibration {c['input_names']} x {c['samples']}")
    ort_out = out + ".ort.npz"
    p = ort(out, inp, ort_out)
    if p.returncode != 0:
        fail(f"{tag}: ONNX Runtime cannot run it: {p.stderr.strip()[-400:]}")
        return
    tq_out = out + ".tq.npz"
    p = tinyq("run", out, "-i", inp, "-o", tq_out, "--per-sample")
    if p.returncode != 0:
        print(f"SKIP {tag}: tinyq runtime vs ORT (tinyq cannot run the int8 model yet: "
              f"{p.stderr.strip()[-160:]})")
        print(f"ok   {tag}: checker, ORT, report, fp32 untouched")
        return
    m = onnx.load(out)
    ref, got = np.load(ort_out), np.load(tq_out)
    if rr:
        # the integer kernels are exact: AVX2 without VNNI (the u8 x s8
        # vpmaddubsw path reduce-range weights select) and plain C give the
        # same bytes as the default dispatch
        for mask in ("1", "0"):
            alt = out + f".tq{mask}.npz"
            p = tinyq("run", out, "-i", inp, "-o", alt, "--per-sample", env={"TQ_CPU_MASK": mask})
            other = np.load(alt) if p.returncode == 0 else None
            if other is None or any(not np.array_equal(got[o.name], other[o.name])
                                    for o in m.graph.output):
                fail(f"{tag}: TQ_CPU_MASK={mask} output differs from the default dispatch")
    for o in m.graph.output:
        a, b = ref[o.name].astype(np.float64), got[o.name].astype(np.float64)
        if mode == "static":
            step = output_step(m, o.name)
            tol = np.full(a.shape[0], step * (1 + 1e-5)) if step else None
        else:
            tol = dynamic_tolerance(m, out, inp, work)
        if tol is None:
            fail(f"{tag}: cannot derive the output step of {o.name}")
            continue
        diff = np.abs(a - b).reshape(a.shape[0], -1).max(axis=1)
        bound = tol + 1e-6 * np.max(np.abs(a))
        if np.any(diff > bound):
            k = int(np.argmax(diff - bound))
            fail(f"{tag}: {o.name} sample {k}: |tinyq - ORT| = {diff[k]:.3g} > step {bound[k]:.3g}")
    if len(failures) == n_fail:
        print(f"ok   {tag}: checker, ORT, report, fp32 untouched, tinyq == ORT within one step")


def ort_formula(rmin, rmax, qmin, qmax):
    rmin, rmax = min(float(rmin), 0.0), max(float(rmax), 0.0)
    scale = np.float32((rmax - rmin) / (qmax - qmin))
    if scale < np.finfo(np.float32).tiny:
        return np.float32(1.0), 0
    return scale, int(np.clip(np.round(qmin - rmin / np.float64(scale)), qmin, qmax))


def check_calibration(model, cal, work):
    """MinMax ranges vs ONNX Runtime's intermediate tensors; input qparams vs
    ORT's formula; percentile vs numpy."""
    out = os.path.join(work, "calib.onnx")
    p = tinyq("quantize", model, "--mode", "static", "--calibration", cal, "-o", out,
              "--report-out", out + ".json", "--calib-batch", "7")
    if p.returncode != 0:
        return fail(f"calibration: quantize failed: {p.stderr}")
    ranges = json.load(open(out + ".json"))["calibration"]["tensor_ranges"]
    fm = onnx.load(model)
    names = list(ranges)
    known = {o.name for o in fm.graph.output}
    for nm in names:
        if nm not in known:
            fm.graph.output.append(helper.make_tensor_value_info(nm, TensorProto.FLOAT, None))
    probe = os.path.join(work, "calib_probe.onnx")
    onnx.save(fm, probe)
    data = np.load(cal)
    p = ort(probe, cal, probe + ".npz")
    if p.returncode != 0:
        return fail(f"calibration: ORT cannot run the probe: {p.stderr}")
    res = np.load(probe + ".npz")
    x_in = [i.name for i in fm.graph.input]
    res = {**{k: res[k] for k in res.files}, **{k: data[k] for k in x_in}}
    for nm in names:
        lo, hi = float(np.min(res[nm])), float(np.max(res[nm]))
        tol = 1e-5 * max(abs(lo), abs(hi), 1e-6)
        if abs(ranges[nm][0] - lo) > tol or abs(ranges[nm][1] - hi) > tol:
            fail(f"calibration: range of {nm} = {ranges[nm]}, ORT gives [{lo}, {hi}]")
    # The graph input's Q/DQ parameters follow ORT's formula exactly (int8, asymmetric).
    m = onnx.load(out)
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    x = fm.graph.input[0].name
    q = [n for n in m.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == x][0]
    s, zp = ort_formula(data[x].min(), data[x].max(), -128, 127)
    if float(inits[q.input[1]]) != float(s) or int(inits[q.input[2]]) != zp:
        fail(f"calibration: input scale/zp {inits[q.input[1]]}/{inits[q.input[2]]}, ORT formula {s}/{zp}")
    # Percentile: |x| histogram, 2048 bins over [0, max|x|], right edge of the bin
    # where the CDF reaches p; range clamped to the observed min/max.
    pct = 99.0
    p = tinyq("quantize", model, "--mode", "static", "--calibration", cal, "-o", out,
              "--report-out", out + ".json", "--method", "percentile", "--percentile", str(pct))
    r = json.load(open(out + ".json"))["calibration"]["tensor_ranges"][x]
    v = np.abs(data[x].astype(np.float64)).ravel()
    hist, edges = np.histogram(v, bins=2048, range=(0, v.max()))
    idx = int(np.searchsorted(np.cumsum(hist) / v.size, pct / 100.0))
    t = edges[idx + 1]
    want = [max(float(data[x].min()), -t), min(float(data[x].max()), t)]
    if abs(r[1] - want[1]) > 1e-6 * v.max() or abs(r[0] - want[0]) > 1e-6 * v.max():
        fail(f"calibration: percentile range {r}, numpy gives {want}")
    # Entropy: a valid model whose ranges sit inside MinMax's.
    p = tinyq("quantize", model, "--mode", "static", "--calibration", cal, "-o", out,
              "--report-out", out + ".json", "--method", "entropy")
    if p.returncode != 0:
        return fail(f"calibration: entropy failed: {p.stderr}")
    onnx.checker.check_model(onnx.load(out))
    er = json.load(open(out + ".json"))["calibration"]["tensor_ranges"]
    for nm in names:
        if er[nm][0] < ranges[nm][0] - 1e-6 or er[nm][1] > ranges[nm][1] + 1e-6:
            fail(f"calibration: entropy range of {nm} {er[nm]} outside MinMax {ranges[nm]}")
    print("ok   calibration: MinMax == ORT intermediates, input qparams == ORT formula, percentile == numpy")


def check_bad_calibration(model, cal, work):
    data = dict(np.load(cal))
    x = onnx.load(model, load_external_data=False).graph.input[0].name
    cases = {}
    nan = dict(data); nan[x] = data[x].copy(); nan[x][3, 1] = np.nan; cases["nan"] = (nan, "NaN")
    inf = dict(data); inf[x] = data[x].copy(); inf[x][5, 0] = np.inf; cases["inf"] = (inf, "Inf")
    cases["wrong-key"] = ({"not_" + x: data[x]}, f"no entry for model input '{x}'")
    cases["wrong-shape"] = ({**data, x: data[x][:, :-1]}, "has shape")
    cases["zero-samples"] = ({k: v[:0] for k, v in data.items()}, "zero samples")
    before = {f: sha(f) for f in fp32_files(model)}
    for case, (arrays, words) in cases.items():
        path = os.path.join(work, f"bad-{case}.npz")
        np.savez(path, **arrays)
        check_bad(model, path, case, words, work)
    junk = os.path.join(work, "junk.npz")
    open(junk, "wb").write(b"this is not a zip archive\n")
    check_bad(model, junk, "not-an-npz", "junk.npz", work)
    check_bad(model, os.path.join(work, "missing.npz"), "missing-file", "missing.npz", work)
    if {f: sha(f) for f in fp32_files(model)} != before:
        fail("bad calibration: fp32 files changed")


def check_bad(model, cal, case, words, work):
    out = os.path.join(work, f"bad-{case}.onnx")
    p = tinyq("quantize", model, "--mode", "static", "--calibration", cal, "-o", out,
              "--report-out", out + ".json")
    if p.returncode != 2:
        fail(f"bad calibration {case}: exit {p.returncode}, expected 2")
    elif words not in p.stderr:
        fail(f"bad calibration {case}: error does not say '{words}': {p.stderr.strip()}")
    elif os.path.exists(out) or os.path.exists(out + ".json"):
        fail(f"bad calibration {case}: left an output behind")
    elif any(f.startswith(f"bad-{case}.onnx.tmp") for f in os.listdir(work)):
        fail(f"bad calibration {case}: left a temporary file behind")
    else:
        print(f"ok   bad calibration {case}: exit 2, {words!r} named")


def check_cli_options(model, cal, work):
    # Default output beside the input.
    local = os.path.join(work, "copy.onnx")
    shutil.copy(model, local)
    p = tinyq("quantize", local, "--mode", "dynamic")
    if p.returncode != 0 or not os.path.exists(os.path.join(work, "copy.int8.onnx")):
        fail(f"default output: {p.returncode} {p.stderr}")
    # --exclude keeps the node in fp32; --op-types restricts the rewrite.
    fm = onnx.load(model)
    first = [n for n in fm.graph.node if n.op_type in ("Gemm", "MatMul", "Conv")][0]
    out = os.path.join(work, "excl.onnx")
    p = tinyq("quantize", model, "--mode", "static", "--calibration", cal, "-o", out,
              "--exclude", first.name)
    m = onnx.load(out) if p.returncode == 0 else None
    kept = m and [n for n in m.graph.node if n.name == first.name and n.op_type == first.op_type
                  and n.input[1] == first.input[1]]
    if not kept:
        fail(f"--exclude {first.name}: node not left in fp32 ({p.stderr.strip()})")
    p = tinyq("quantize", model, "--mode", "dynamic", "-o", out, "--op-types", "ConvTranspose")
    m = onnx.load(out) if p.returncode == 0 else None
    if not m or any(n.op_type in ("MatMulInteger", "DynamicQuantizeLinear") for n in m.graph.node):
        fail("--op-types ConvTranspose still rewrote MatMul/Gemm")
    for args, why in [(["--mode", "static"], "static without --calibration"),
                      (["--mode", "qat2"], "unknown mode"),
                      (["--mode", "static", "--calibration", cal, "--op-types", "Relu"], "unsupported op type"),
                      (["--mode", "static", "--calibration", cal, "--activation-type", "int16"], "bad type"),
                      (["-o", model], "output = input"),
                      (["--equalize"], "--equalize in dynamic mode"),
                      (["--mode", "static", "--calibration", cal, "--equalize",
                        "--equalize-alpha", "1.5"], "--equalize-alpha outside (0, 1]")]:
        p = tinyq("quantize", model, *args)
        if p.returncode != 2:
            fail(f"{why}: exit {p.returncode}, expected 2")
    print("ok   cli: default output, --exclude, --op-types, usage errors")


def main():
    if not have_ort():
        print("SKIP: onnxruntime-node is not installed (run scripts/install-deps.sh)")
        return 77
    with tempfile.TemporaryDirectory() as work:
        fx = fixtures(work)
        for name, model, cal in fx:
            for mode, at in [("dynamic", "uint8"), ("static", "int8"), ("static", "uint8")]:
                for pc in (False, True):
                    check_one(name, model, cal, mode, at, pc, work)
                # reduce_range: per-channel (the fast AVX2 case) and, for
                # dynamic, per-tensor too
                for pc in ((False, True) if mode == "dynamic" else (True,)):
                    check_one(name, model, cal, mode, at, pc, work, rr=True)
            # --equalize rescales weights and constants before calibration:
            # the result must pass the same checker / ORT / parity checks
            check_one(name, model, cal, "static", "int8", True, work, eq=True)
        name, model, cal = fx[0]
        check_calibration(model, cal, work)
        check_bad_calibration(model, cal, work)
        check_cli_options(model, cal, work)
    return finish()


if __name__ == "__main__":
    sys.exit(main())
