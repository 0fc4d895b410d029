#!/usr/bin/python3
"""The int8 model as ONNX Runtime computes it exactly on every CPU.

On x86 CPUs without AVX512-VNNI / AVX-VNNI, ONNX Runtime's uint8 x int8
integer GEMM (MLAS, vpmaddubsw) sums pairs of products into a saturating
int16: 2 * 255 * 127 > 32767, so MatMulInteger, ConvInteger and the QLinear
kernels it fuses QDQ groups into can return wrong values (ORT-PARITY.md).
Its uint8 x uint8 kernel widens to int16 first and is exact. So the reference
runs an equivalent model with no int8 tensor: every int8 initializer (weights
and zero points alike) becomes uint8 + 128, and a QuantizeLinear,
DequantizeLinear, MatMulInteger or ConvInteger that reads an int8 tensor
without a zero point gets an explicit zero point of 128. Every difference
q - zero_point is unchanged, and QuantizeLinear's saturation bounds move with
the zero point ([-128, 127] + 128 = [0, 255]), so the model computes the same
function; only the integer kernels ONNX Runtime picks change.

usage: exact_int8.py MODEL OUT_DIR
  writes OUT_DIR/probe.onnx (uint8 [255, 255] x int8 [127, 127]: exactly 64770,
  32767 when the kernel saturates) and, when MODEL has int8 tensors to convert,
  OUT_DIR/model.onnx. Exit 0: model.onnx written; 3: MODEL has no int8
  initializers (it is its own exact form); 2: MODEL cannot be read.
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# op type -> (input index of an int8-capable tensor, index of its zero point)
ZERO_POINT_OF = {
    "QuantizeLinear": [(0, 2)],   # the zero point sets the output type
    "DequantizeLinear": [(0, 2)],
    "MatMulInteger": [(0, 2), (1, 3)],
    "ConvInteger": [(0, 2), (1, 3)],
}


def probe_model():
    a = helper.make_tensor_value_info("a", TensorProto.UINT8, [1, 2])
    y = helper.make_tensor_value_info("y", TensorProto.INT32, [1, 1])
    b = numpy_helper.from_array(np.array([[127], [127]], dtype=np.int8), "b")
    node = helper.make_node("MatMulInteger", ["a", "b"], ["y"])
    g = helper.make_graph([node], "u8s8_probe", [a], [y], [b])
    return helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])


def int8_inits(g):
    return {i.name: i for i in g.initializer if i.data_type == TensorProto.INT8}


def convert(m):
    """Rewrites m in place; returns the number of int8 initializers converted."""
    g = m.graph
    inits = int8_inits(g)
    if not inits:
        return 0
    scales = {i.name: numpy_helper.to_array(i) for i in g.initializer}
    # explicit zero points of 128 for int8 inputs that rely on the default 0
    added = 0
    for n in g.node:
        for x_at, zp_at in ZERO_POINT_OF.get(n.op_type, []):
            if x_at >= len(n.input) or n.input[x_at] not in inits:
                continue
            if zp_at < len(n.input) and n.input[zp_at]:
                continue
            shape = ()
            if n.op_type in ("QuantizeLinear", "DequantizeLinear") and len(n.input) > 1:
                shape = scales[n.input[1]].shape if n.input[1] in scales else ()
            name = f"{n.name or n.output[0]}_exact_zp{added}"
            added += 1
            zp = numpy_helper.from_array(np.zeros(shape, dtype=np.int8), name)
            g.initializer.append(zp)
            inits[name] = zp
            ins = list(n.input) + [""] * (zp_at + 1 - len(n.input))
            ins[zp_at] = name
            del n.input[:]
            n.input.extend(ins)
    count = 0
    for i in list(g.initializer):
        if i.data_type != TensorProto.INT8:
            continue
        v = numpy_helper.to_array(i).astype(np.int16) + 128
        i.CopyFrom(numpy_helper.from_array(v.astype(np.uint8), i.name))
        count += 1
    # value_info entries may still say int8: ONNX Runtime infers the types again
    del g.value_info[:]
    return count


def main(argv):
    if len(argv) != 3:
        print("usage: exact_int8.py MODEL OUT_DIR", file=sys.stderr)
        return 2
    model_path, out_dir = argv[1], argv[2]
    onnx.save(probe_model(), os.path.join(out_dir, "probe.onnx"))
    try:
        m = onnx.load(model_path)
    except Exception as e:  # noqa: BLE001 - any parse failure is the same answer
        print(f"exact_int8: {model_path}: cannot read: {e}", file=sys.stderr)
        return 2
    if convert(m) == 0:
        return 3
    onnx.save(m, os.path.join(out_dir, "model.onnx"))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
