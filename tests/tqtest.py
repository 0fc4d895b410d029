"""What every Python test needs: where the source tree, the tinyq binary,
the ONNX Runtime reference and the seed models are (meson passes them in the
environment, tests/meson.build; the defaults serve a manual run from a
checkout), whether ONNX Runtime is installed, and a failure collector. A
test in tests/<group>/ puts tests/ on sys.path and imports from here."""
import os
import subprocess

ROOT = os.environ.get("TQ_SOURCE_ROOT",
                      os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
BUILD = os.environ.get("TQ_BUILD_ROOT", os.path.join(ROOT, "build"))
TOOL = os.environ.get("TQ_TOOL", os.path.join(BUILD, "tools", "tinyq", "tinyq"))
ORT_DIR = os.path.join(ROOT, "tests", "ort")
ORT_RUN = os.path.join(ORT_DIR, "ort_run.js")
FIX = os.path.join(ROOT, "fixtures")
SEED = os.environ.get("TQ_SEED_MODELS", os.path.join(ROOT, "..", "shared", "seed-models"))

failures = []


def check(cond, what):
    """Record a failed condition (the test exits 1 when any did); returns cond."""
    if not cond:
        failures.append(what)
        print("FAIL " + what)
    return cond


def finish():
    """The test's exit code: 1 after any failed check (with their count), else 0."""
    if failures:
        print(f"{len(failures)} failure(s)")
        return 1
    print("ok")
    return 0


def output_step(m, out_name):
    """Scale of the per-tensor DequantizeLinear that graph output out_name of
    the onnx model m comes from (through shape-only ops): one output
    quantisation step. None when there is none, or it is per axis."""
    from onnx import numpy_helper
    prod = {o: n for n in m.graph.node for o in n.output}
    inits = {t.name: numpy_helper.to_array(t) for t in m.graph.initializer}
    name = out_name
    while name in prod:
        n = prod[name]
        if n.op_type == "DequantizeLinear":
            s = inits[n.input[1]]
            return float(s) if s.size == 1 else None
        if n.op_type not in ("Squeeze", "Unsqueeze", "Reshape", "Flatten", "Identity"):
            return None
        name = n.input[0]
    return None


def have_ort():
    """onnxruntime-node is installed under tests/ort (make test installs it)."""
    try:
        subprocess.run(["node", "-e", "require('onnxruntime-node')"], check=True, cwd=ORT_DIR,
                       capture_output=True)
        return os.path.exists(ORT_RUN)
    except (OSError, subprocess.CalledProcessError):
        return False
