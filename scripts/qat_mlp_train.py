#!/usr/bin/python3
"""Training set for QAT of fixtures/mlp.onnx: 2048 fresh samples of the
synthetic function make_mlp.py trained the model on (numpy default_rng(2024),
a seed neither its training nor its evaluation draw uses), so the comparison
in docs/QUANTIZATION.md never fine-tunes on the evaluation set.

usage: qat_mlp_train.py OUT.npz
"""
import os
import sys

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures"))
from make_mlp import smooth_target  # noqa: E402

x = np.random.default_rng(2024).random((2048, 6), dtype=np.float32)
np.savez(sys.argv[1], features=x, target=smooth_target(x))
