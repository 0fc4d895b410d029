#!/usr/bin/python3
"""Emit op test cases for test_op_cases.c on stdout, one record per line.

Two sources, both references tinyq did not write:
  * the ONNX conformance node tests (model.onnx + test_data_set_*/), for every
    single-node test of an op this family implements (Constant producers of
    inputs are folded in, as tinyq's executor folds them);
  * extra cases built here with numpy (or the ONNX test-suite's own numpy
    Resize reference) for forms the conformance set lacks: older opsets,
    float16, integer types and the broadcast patterns of real models.

Format: see parse_cases() in test_op_cases.c."""
import glob
import os
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper

OPS = {"Add", "Sub", "Mul", "Div", "Pow", "Sqrt", "Erf", "Neg", "Abs", "Exp", "Log",
       "Reciprocal", "Floor", "Ceil", "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Clip",
       "Softmax", "Flatten", "Reshape", "Transpose", "Concat", "Identity", "Constant",
       "Shape", "Gather", "Unsqueeze", "Squeeze", "Cast", "ReduceMean", "ReduceSum",
       "Resize"}
# Conformance tests tinyq refuses on purpose (types it does not have, or
# modes the brief leaves out): they must fail with a message, not crash.
EXPECT_ERROR = ("test_cast_BFLOAT16", "test_cast_FLOAT_to_BFLOAT16", "test_cast_FLOAT_to_STRING",
                "test_cast_STRING")
# The data of these two was made by the onnx 1.12 reference, which uses the
# unfloored input_size * scale as length_resized for align_corners; the spec
# text and ONNX Runtime use the integer output size (checked with
# onnxruntime-node: [1, 4] and [1, 2.5, 4, 7, ...]), and so does tinyq. They
# still must run and give the right shape.
ORT_DIVERGES = ("test_resize_downsample_scales_linear_align_corners",
                "test_resize_downsample_scales_cubic_align_corners")
CONFORMANCE_TOL = (1e-3, 1e-7)  # rtol, atol of onnx.backend.test (assert_allclose)
out = sys.stdout


def hexdata(a):
    b = np.ascontiguousarray(a).tobytes()
    return b.hex() if b else "-"


def dtype_code(a):
    return helper.np_dtype_to_tensor_dtype(a.dtype) if hasattr(helper, "np_dtype_to_tensor_dtype") \
        else onnx.mapping.NP_TYPE_TO_TENSOR_TYPE[a.dtype]


def tensor_fields(a, code=None):
    a = np.asarray(a)
    dims = " ".join(str(d) for d in a.shape)
    return f"{code or dtype_code(a)} {a.ndim}{' ' + dims if dims else ''} {hexdata(a)}"


def emit_attr(a):
    t = a.type
    if t == onnx.AttributeProto.FLOAT:
        out.write(f"attr {a.name} f {a.f!r}\n")
    elif t == onnx.AttributeProto.INT:
        out.write(f"attr {a.name} i {a.i}\n")
    elif t == onnx.AttributeProto.STRING:
        out.write(f"attr {a.name} s {a.s.hex() or '-'}\n")
    elif t == onnx.AttributeProto.FLOATS:
        out.write(f"attr {a.name} fs {len(a.floats)} {' '.join(repr(v) for v in a.floats)}\n")
    elif t == onnx.AttributeProto.INTS:
        out.write(f"attr {a.name} is {len(a.ints)} {' '.join(str(v) for v in a.ints)}\n")
    elif t == onnx.AttributeProto.TENSOR:
        out.write(f"attr {a.name} t {tensor_fields(numpy_helper.to_array(a.t))}\n")
    else:
        raise ValueError(a.name)


def emit(name, node, opset, inputs, outputs, tol, expect="ok", in_codes=None):
    """inputs: list of numpy arrays or None (omitted); outputs: numpy arrays;
    in_codes: ONNX element types where numpy's dtype is not the real one
    (bfloat16 tensors load as uint16)."""
    out.write(f"case {name} {node.op_type} {opset} {len(inputs)} {len(outputs)} "
              f"{tol[0]!r} {tol[1]!r} {expect}\n")
    for a in node.attribute:
        emit_attr(a)
    for i, a in enumerate(inputs):
        if a is None:
            out.write(f"in {i} -\n")
        else:
            code = in_codes[i] if in_codes else None
            out.write(f"in {i} {node.input[i] or 'x'} {tensor_fields(a, code)}\n")
    for i, a in enumerate(outputs):
        out.write(f"out {i} {tensor_fields(a)}\n")
    out.write("end\n")


def read_pb(path):
    t = onnx.TensorProto()
    with open(path, "rb") as f:
        t.ParseFromString(f.read())
    return t


def conformance(root):
    for d in sorted(glob.glob(os.path.join(root, "node", "test_*"))):
        name = os.path.basename(d)
        if name.endswith("_expanded"):
            continue
        try:
            m = onnx.load(os.path.join(d, "model.onnx"))
        except Exception:
            continue
        nodes = list(m.graph.node)
        consts = {}
        if len(nodes) > 1:
            for n in nodes[:-1]:
                if n.op_type != "Constant":
                    break
                consts[n.output[0]] = numpy_helper.to_array(n.attribute[0].t)
            else:
                nodes = nodes[-1:]
        if len(nodes) != 1 or nodes[0].op_type not in OPS or nodes[0].domain not in ("", "ai.onnx"):
            continue
        node = nodes[0]
        opset = next(o.version for o in m.opset_import if o.domain in ("", "ai.onnx"))
        graph_inputs = [i.name for i in m.graph.input]
        expect = "error" if name.startswith(EXPECT_ERROR) else \
            "diverge" if name in ORT_DIVERGES else "ok"
        declared = {i.name: i.type.tensor_type.elem_type for i in m.graph.input}
        for ds in sorted(glob.glob(os.path.join(d, "test_data_set_*"))):
            try:
                feeds = {}
                for k, gname in enumerate(graph_inputs):
                    feeds[gname] = numpy_helper.to_array(read_pb(os.path.join(ds, f"input_{k}.pb")))
                outs = [numpy_helper.to_array(read_pb(os.path.join(ds, f"output_{k}.pb")))
                        for k in range(len(node.output))]
            except Exception as e:
                # Not plain tensors (optional/sequence types in e.g. test_identity_opt):
                # outside what tinyq runs; say so rather than hide it.
                print(f"gen_cases: skipping {name}: {e}", file=sys.stderr)
                break
            if any(a.dtype.kind in "OUS" for a in list(feeds.values()) + outs):
                continue  # string tensors: not representable as raw bytes
            ins = []
            for nm in node.input:
                ins.append(None if nm == "" else feeds[nm] if nm in feeds else consts[nm])
            codes = [declared.get(nm) for nm in node.input]
            emit(f"{name}/{os.path.basename(ds)}", node, opset, ins, outs, CONFORMANCE_TOL, expect,
                 codes)


if __name__ == "__main__":
    root = os.environ.get("TQ_ONNX_TESTDATA", "/usr/share/libonnx-testdata/data")
    if os.path.isdir(os.path.join(root, "node")):
        conformance(root)
    import gen_extra  # noqa: E402  (same folder; numpy-made cases)
    gen_extra.generate(emit)
