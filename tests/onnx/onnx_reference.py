#!/usr/bin/python3
"""Reference dumps made with the official onnx Python package, which the C
tests compare with what tinyq's loader read (same text format, line by line).

  onnx_reference.py model FILE.onnx     one model (external data resolved by onnx)
  onnx_reference.py tensors DATA_DIR    every node/*/test_data_set_*/*.pb of the
                                        ONNX conformance data: path, then the tensor
  onnx_reference.py make-typed OUT.onnx write a model whose initializers use the
                                        typed repeated fields (not raw_data)
"""
import glob
import os

import hashlib
import sys

import onnx
from onnx import numpy_helper


def dims_of(vi):
    t = vi.type.tensor_type
    if not vi.type.HasField("tensor_type") or not t.HasField("shape"):
        return "-1"
    d = [str(x.dim_value) if x.HasField("dim_value") else "-1" for x in t.shape.dim]
    return " ".join([str(len(d))] + d)


SUPPORTED = {1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13}


def tensor_line(t):
    if t.data_type == onnx.TensorProto.STRING:
        return "tensor %s string" % (t.name or "-")
    if t.data_type not in SUPPORTED:
        return "tensor %s unsupported %d" % (t.name or "-", t.data_type)
    a = numpy_helper.to_array(t)
    h = hashlib.sha256(a.astype(a.dtype.newbyteorder("<")).tobytes()).hexdigest()
    return "tensor %s %d %s %s" % (t.name or "-", t.data_type,
                                    " ".join([str(len(t.dims))] + [str(x) for x in t.dims]), h)


def dump_model(path):
    m = onnx.load(path)
    g = m.graph
    inits = {t.name for t in g.initializer}
    out = ["ir_version %d" % m.ir_version]
    out += ["opset %s %d" % (o.domain or "-", o.version) for o in m.opset_import]
    out.append("producer %s %s" % (m.producer_name or "-", m.producer_version or "-"))
    out += ["meta %s=%s" % (p.key, p.value) for p in m.metadata_props]
    n_dup = sum(1 for v in g.value_info if v.name in inits)
    out.append("graph %s nodes %d initializers %d value_info %d duplicates %d" %
               (g.name or "-", len(g.node), len(g.initializer), len(g.value_info), n_dup))
    for n in g.node:
        out.append("node %s %s %s in %s out %s attrs %s" % (
            n.name or "-", n.op_type, n.domain or "-", ",".join(n.input),
            ",".join(n.output), ",".join("%s:%d" % (a.name, a.type) for a in n.attribute)))
    out += [tensor_line(t) for t in g.initializer]
    out += ["input %s %d %s" % (v.name, v.type.tensor_type.elem_type, dims_of(v))
            for v in g.input if v.name not in inits]
    out += ["output %s %d %s" % (v.name, v.type.tensor_type.elem_type, dims_of(v))
            for v in g.output]
    print("\n".join(out))


def dump_tensors(data_dir):
    for p in sorted(glob.glob(os.path.join(data_dir, "node", "*", "test_data_set_*", "*.pb"))):
        t = onnx.TensorProto()
        try:
            with open(p, "rb") as f:
                t.ParseFromString(f.read())
            line = tensor_line(t)
        except Exception:  # sequences/optionals stored in other protos
            line = "error"
        print(p, line)


def make_typed(out):
    """Initializers in the typed fields, one per data type tinyq reads."""
    import numpy as np
    from onnx import helper, TensorProto as TP
    vals = {
        TP.FLOAT: [1.5, -2.25, 3e-3, 0.0, 7.0, -1e10],
        TP.DOUBLE: [1.5, -2.25, 3e-300, 0.0, 7.0, -1e10],
        TP.INT8: [-128, -1, 0, 1, 2, 127],
        TP.UINT8: [0, 1, 2, 128, 254, 255],
        TP.INT16: [-32768, -1, 0, 1, 2, 32767],
        TP.UINT16: [0, 1, 2, 40000, 65534, 65535],
        TP.INT32: [-2**31, -1, 0, 1, 2, 2**31 - 1],
        TP.INT64: [-2**63, -1, 0, 1, 2, 2**63 - 1],
        TP.UINT32: [0, 1, 2, 2**31, 2**32 - 2, 2**32 - 1],
        TP.UINT64: [0, 1, 2, 2**63, 2**64 - 2, 2**64 - 1],
        TP.BOOL: [True, False, True, True, False, False],
        TP.FLOAT16: np.array([1.5, -2.0, 65504.0, 0.0, 6e-8, -0.1], np.float16),
    }
    inits = [helper.make_tensor("t%d" % dt, dt, [2, 3], v, raw=False) for dt, v in vals.items()]
    node = helper.make_node("Identity", ["x"], ["y"])
    g = helper.make_graph([node], "typed", [helper.make_tensor_value_info("x", TP.FLOAT, ["n", 3])],
                          [helper.make_tensor_value_info("y", TP.FLOAT, ["n", 3])], inits)
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 13)])
    m.ir_version = 8
    onnx.checker.check_model(m)
    onnx.save(m, out)


def main():
    if sys.argv[1] == "model":
        dump_model(sys.argv[2])
    elif sys.argv[1] == "tensors":
        dump_tensors(sys.argv[2])
    elif sys.argv[1] == "make-typed":
        make_typed(sys.argv[2])


if __name__ == "__main__":
    main()
