#!/usr/bin/python3
"""The Fashion-MNIST CNN fixture's top-1 accuracy on the full 10,000-image test
set must be identical in tinyq and ONNX Runtime (same file, same inputs).

The test set is built from Debian's dataset-fashion-mnist at test time
(scripts/fmnist_to_npz.py). Prints both accuracies and the number of images
whose predicted class differs. Exit 0 pass, 1 fail, 77 skip.
"""
import os
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from tqtest import ROOT, TOOL  # noqa: E402

MODEL = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "fixtures", "cnn.onnx")


def main():
    if not os.path.isdir("/usr/share/datasets/fashion-mnist"):
        print("SKIP: dataset-fashion-mnist is not installed")
        return 77
    with tempfile.TemporaryDirectory() as w:
        data = os.path.join(w, "test.npz")
        subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "fmnist_to_npz.py"), data],
                       check=True, capture_output=True)
        subprocess.run([TOOL, "run", MODEL, "-i", data, "-o", w + "/tq.npz"], check=True,
                       capture_output=True)
        p = subprocess.run(["node", os.path.join(ROOT, "tests", "ort", "ort_run.js"), MODEL, data,
                            w + "/ort.npz", "--threads", "1"], capture_output=True, text=True)
        if p.returncode != 0:
            if "Cannot find module" in p.stderr:
                print("SKIP: onnxruntime-node is not installed")
                return 77
            print(p.stderr)
            return 1
        labels = np.load(data)["label"]
        tq, ort = np.load(w + "/tq.npz"), np.load(w + "/ort.npz")
        pt = np.argmax(tq[tq.files[0]], axis=1)
        po = np.argmax(ort[ort.files[0]], axis=1)
        acc_t, acc_o = np.mean(pt == labels), np.mean(po == labels)
        differ = int(np.count_nonzero(pt != po))
        print(f"{len(labels)} images: top-1 tinyq {acc_t * 100:.2f}%, ONNX Runtime {acc_o * 100:.2f}%, "
              f"{differ} predictions differ")
        return 0 if acc_t == acc_o else 1


if __name__ == "__main__":
    sys.exit(main())
