"""numpy-computed cases for forms the ONNX conformance set does not cover."""
import numpy as np
from onnx import helper

rng = np.random.default_rng(1234)
EXACT = (0.0, 0.0)
# Transcendentals: libm float vs numpy float32 may differ by a few ulp.
ULPS = (4 * np.finfo(np.float32).eps, 1e-7)
# float16 results are rounded once from float: allow one half ulp step.
HALF = (np.finfo(np.float16).eps, 1e-7)


def f32(*shape):
    return rng.standard_normal(shape).astype(np.float32)


def generate(emit):
    def case(name, op, opset, ins, outs, tol, expect="ok", in_names=None, **attrs):
        names = in_names or [("" if a is None else f"i{k}") for k, a in enumerate(ins)]
        node = helper.make_node(op, names, [f"o{k}" for k in range(len(outs))], **attrs)
        emit("extra/" + name, node, opset, ins, outs, tol, expect)

    # Broadcast patterns of real models: same shape, scalar both sides,
    # per-channel bias [C,1,1], row vector, and a two-sided broadcast.
    pairs = {
        "same": ((2, 3, 4, 5), (2, 3, 4, 5)),
        "scalar_b": ((2, 3, 4, 5), ()),
        "scalar_a": ((), (2, 3, 4, 5)),
        "chan_bias": ((2, 3, 4, 5), (3, 1, 1)),
        "row": ((6, 7), (7,)),
        "col": ((6, 7), (6, 1)),
        "two_sided": ((4, 1, 5), (3, 1)),
        "mid": ((2, 3, 4, 5), (1, 3, 4, 1)),
        "ones": ((1, 1), (1,)),
        "empty": ((0, 3), (3,)),
    }
    fns = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Div": np.divide}
    for pname, (sa, sb) in pairs.items():
        a, b = f32(*sa), f32(*sb)
        for op, fn in fns.items():
            case(f"{op}_{pname}", op, 14, [a, b], [fn(a, b)], EXACT)
    a, b = f32(2, 3, 4), f32(3, 1)
    for op, fn in fns.items():
        ah, bh = a.astype(np.float16), b.astype(np.float16)
        # numpy computes float16 arithmetic in float32 and rounds once, as tinyq.
        case(f"{op}_f16", op, 14, [ah, bh], [fn(ah, bh)], EXACT)
        case(f"{op}_f64", op, 14, [a.astype(np.float64), b.astype(np.float64)],
             [fn(a.astype(np.float64), b.astype(np.float64))], EXACT)
    ia = rng.integers(-1000, 1000, (3, 4)).astype(np.int64)
    ib = rng.integers(1, 50, (4,)).astype(np.int64) * rng.choice([-1, 1], 4)
    for t in (np.int64, np.int32):
        x, y = ia.astype(t), ib.astype(t)
        case(f"Add_{t.__name__}", "Add", 14, [x, y], [x + y], EXACT)
        case(f"Sub_{t.__name__}", "Sub", 14, [x, y], [x - y], EXACT)
        case(f"Mul_{t.__name__}", "Mul", 14, [x, y], [x * y], EXACT)
        # ONNX integer Div truncates toward zero (C semantics, not floor).
        case(f"Div_{t.__name__}", "Div", 14, [x, y], [np.trunc(x / y).astype(t)], EXACT)
    x = np.abs(f32(3, 4)) + 0.1
    case("Pow_scalar2", "Pow", 15, [x, np.float32(2)], [np.power(x, np.float32(2))], ULPS)
    case("Pow_sqrt", "Pow", 15, [x, np.array([0.5], np.float32)], [np.power(x, 0.5).astype(np.float32)], ULPS)

    # Unary and activations (float32 and float16).
    x = f32(3, 4, 5)
    xh = x.astype(np.float16)
    sig = lambda v: (1 / (1 + np.exp(-v.astype(np.float64))))
    unary = {
        "Sqrt": (np.abs(x), np.sqrt), "Exp": (x, np.exp), "Log": (np.abs(x) + 0.01, np.log),
        "Neg": (x, np.negative), "Abs": (x, np.abs), "Reciprocal": (x, np.reciprocal),
        "Floor": (x * 3, np.floor), "Ceil": (x * 3, np.ceil), "Tanh": (x, np.tanh),
        "Relu": (x, lambda v: np.maximum(v, 0)), "Sigmoid": (x, sig),
    }
    for op, (inp, fn) in unary.items():
        case(f"{op}_f32", op, 14, [inp], [fn(inp).astype(np.float32)], ULPS)
        ih = inp.astype(np.float16)
        case(f"{op}_f16", op, 14, [ih], [fn(ih.astype(np.float64)).astype(np.float16)], HALF)
    import math
    case("Erf_f32", "Erf", 13, [x], [np.vectorize(math.erf)(x.astype(np.float64)).astype(np.float32)], ULPS)
    case("LeakyRelu_alpha", "LeakyRelu", 16, [x], [np.where(x >= 0, x, 0.2 * x).astype(np.float32)],
         EXACT, alpha=0.2)
    for t in (np.int32, np.int64, np.int8):
        v = rng.integers(-100, 100, (7,)).astype(t)
        case(f"Neg_{t.__name__}", "Neg", 13, [v], [-v], EXACT)
        case(f"Abs_{t.__name__}", "Abs", 13, [v], [np.abs(v)], EXACT)

    # Clip: opset 6 attributes, opset 13 inputs (both, min only, max only, none).
    case("Clip_attr_opset6", "Clip", 6, [x], [np.clip(x, -0.5, 0.7)], EXACT, min=-0.5, max=0.7)
    lo, hi = np.float32(-0.3), np.float32(0.4)
    case("Clip_inputs", "Clip", 13, [x, lo, hi], [np.clip(x, lo, hi)], EXACT)
    case("Clip_max_only", "Clip", 13, [x, None, hi], [np.minimum(x, hi)], EXACT)
    case("Clip_none", "Clip", 13, [x], [x], EXACT)
    case("Clip_f16", "Clip", 13, [xh, np.float16(-0.3), np.float16(0.4)],
         [np.clip(xh, np.float16(-0.3), np.float16(0.4))], EXACT)

    # Softmax before opset 13 coerces to 2-D at axis (default 1).
    def softmax2d(v, axis):
        s = v.reshape(int(np.prod(v.shape[:axis])), -1).astype(np.float64)
        e = np.exp(s - s.max(axis=1, keepdims=True))
        return (e / e.sum(axis=1, keepdims=True)).reshape(v.shape).astype(np.float32)

    def softmax(v, axis):
        e = np.exp(v.astype(np.float64) - v.max(axis=axis, keepdims=True))
        return (e / e.sum(axis=axis, keepdims=True)).astype(np.float32)

    case("Softmax_opset11_default", "Softmax", 11, [x], [softmax2d(x, 1)], ULPS)
    case("Softmax_opset11_axis2", "Softmax", 11, [x], [softmax2d(x, 2)], ULPS, axis=2)
    case("Softmax_opset13_axis1", "Softmax", 13, [x], [softmax(x, 1)], ULPS, axis=1)
    case("Softmax_f16", "Softmax", 13, [xh], [softmax(xh.astype(np.float32), -1).astype(np.float16)], HALF)

    # Shape ops in old forms and odd dtypes.
    x4 = f32(2, 3, 1, 4)
    case("Squeeze_attr_opset11", "Squeeze", 11, [x4], [x4.squeeze(2)], EXACT, axes=[2])
    case("Squeeze_all", "Squeeze", 13, [x4], [x4.squeeze()], EXACT)
    case("Unsqueeze_attr_opset11", "Unsqueeze", 11, [x4], [x4[:, None, :, :, :, None]], EXACT, axes=[1, -1])
    case("Reshape_opset1_attr", "Reshape", 1, [x4], [x4.reshape(6, 4)], EXACT, shape=[6, 4])
    case("Reshape_int32_shape", "Reshape", 14, [x4, np.array([0, -1], np.int32)], [x4.reshape(2, 12)], EXACT)
    case("Reshape_allowzero_empty", "Reshape", 14, [np.zeros((0, 3), np.float32), np.array([3, 0], np.int64)],
         [np.zeros((3, 0), np.float32)], EXACT, allowzero=1)
    case("Flatten_opset9_axis0", "Flatten", 9, [x4], [x4.reshape(1, -1)], EXACT, axis=0)
    for perm in ([0, 2, 3, 1], [0, 3, 1, 2], [1, 0, 2, 3], [3, 2, 1, 0]):
        case(f"Transpose_{''.join(map(str, perm))}", "Transpose", 13, [x4], [x4.transpose(perm)], EXACT, perm=perm)
    xi8 = rng.integers(-128, 127, (3, 5, 7)).astype(np.int8)
    case("Transpose_int8", "Transpose", 13, [xi8], [xi8.transpose(2, 0, 1)], EXACT, perm=[2, 0, 1])
    xh4 = x4.astype(np.float16)
    case("Transpose_f16_default", "Transpose", 13, [xh4], [xh4.transpose()], EXACT)
    ints = rng.integers(0, 9, (2, 3)).astype(np.int64)
    case("Concat_int64_shapes", "Concat", 13, [ints, ints[:1], ints[:0]],
         [np.concatenate([ints, ints[:1], ints[:0]], 0)], EXACT, axis=0)
    data = f32(5, 4, 3)
    idx32 = np.array([[0, -1], [2, -5]], np.int32)
    case("Gather_int32_neg_axis1", "Gather", 13, [data, idx32[:, :1].clip(-4, 3)],
         [np.take(data, idx32[:, :1].clip(-4, 3), axis=1)], EXACT, axis=1)
    case("Gather_scalar_index", "Gather", 13, [data, np.array(-1, np.int64)], [data[-1]], EXACT)
    case("Gather_out_of_range", "Gather", 13, [data, np.array([5], np.int64)], [data[:1]], EXACT, "error")
    case("Shape_opset13", "Shape", 13, [x4], [np.array(x4.shape, np.int64)], EXACT)
    case("Shape_start_end", "Shape", 15, [x4], [np.array(x4.shape[1:-1], np.int64)], EXACT, start=1, end=-1)

    # Cast: truncation toward zero, bool, wide ints.
    fv = np.array([-2.7, -0.5, 0.0, 0.5, 1.5, 2.7, 127.9, -128.9], np.float32)
    for t, code in ((np.int32, 6), (np.int64, 7), (np.int8, 3)):
        case(f"Cast_f32_to_{t.__name__}", "Cast", 13, [fv], [np.trunc(fv).astype(t)], EXACT, to=code)
    case("Cast_f32_to_uint8", "Cast", 13, [np.abs(fv)], [np.trunc(np.abs(fv)).astype(np.uint8)], EXACT, to=2)
    case("Cast_f32_to_bool", "Cast", 13, [fv], [fv != 0], EXACT, to=9)
    case("Cast_bool_to_f32", "Cast", 13, [fv != 0], [(fv != 0).astype(np.float32)], EXACT, to=1)
    big = np.array([2**62 + 1, -(2**62) - 3, 7], np.int64)
    case("Cast_int64_to_int32", "Cast", 13, [big], [big.astype(np.int32)], EXACT, to=6)
    case("Cast_int64_to_f32", "Cast", 13, [big], [big.astype(np.float32)], EXACT, to=1)
    case("Cast_int32_to_int64", "Cast", 13, [big.astype(np.int32)], [big.astype(np.int32).astype(np.int64)], EXACT, to=7)
    case("Cast_f16_to_int64", "Cast", 13, [fv.astype(np.float16)], [np.trunc(fv.astype(np.float16)).astype(np.int64)], EXACT, to=7)

    # Reductions: attribute axes (old opsets), int64, float16, no axes.
    x = f32(2, 3, 4, 5)
    # Accumulating in double and rounding once: within float32 rounding of numpy's pairwise sum.
    RED = (1e-5, 1e-6)
    case("ReduceSum_opset11_attr", "ReduceSum", 11, [x], [x.sum(axis=(1, 3), keepdims=True)], RED, axes=[1, 3])
    case("ReduceMean_hw", "ReduceMean", 13, [x], [x.mean(axis=(2, 3), keepdims=True)], RED, axes=[2, 3])
    case("ReduceMean_opset18_input", "ReduceMean", 18, [x, np.array([-1], np.int64)],
         [x.mean(axis=-1)], RED, keepdims=0)
    case("ReduceMean_all", "ReduceMean", 13, [x], [x.mean(keepdims=True)], RED)
    case("ReduceSum_axis0", "ReduceSum", 13, [x, np.array([0], np.int64)], [x.sum(axis=0, keepdims=True)], RED)
    case("ReduceSum_noop", "ReduceSum", 13, [x, np.array([], np.int64)], [x], EXACT, noop_with_empty_axes=1)
    iv = rng.integers(-2**40, 2**40, (3, 4)).astype(np.int64)
    case("ReduceSum_int64", "ReduceSum", 13, [iv, np.array([1], np.int64)], [iv.sum(axis=1)], EXACT, keepdims=0)
    xh = x.astype(np.float16)
    case("ReduceMean_f16", "ReduceMean", 13, [xh], [xh.astype(np.float64).mean(axis=1).astype(np.float16)], HALF,
         axes=[1], keepdims=0)

    # Resize: the ONNX test suite's own numpy reference (interpolate_nd).
    from onnx.backend.test.case.node import resize as ref
    img = f32(1, 2, 5, 7)
    modes = [
        ("linear", "half_pixel", None), ("linear", "align_corners", None),
        ("linear", "pytorch_half_pixel", None), ("linear", "asymmetric", None),
        ("nearest", "half_pixel", "round_prefer_ceil"), ("nearest", "asymmetric", "floor"),
        ("nearest", "align_corners", "ceil"), ("nearest", "pytorch_half_pixel", "round_prefer_floor"),
        ("cubic", "half_pixel", None),
    ]
    for mode, ct, nm in modes:
        for tag, sizes in (("up", [1, 2, 8, 12]), ("down", [1, 2, 3, 4])):
            kw = dict(mode=mode, coordinate_transformation_mode=ct)
            if nm:
                kw["nearest_mode"] = nm
            scale_f = np.array(sizes, np.float32) / np.array(img.shape, np.float32)
            if mode == "nearest":
                coeffs = lambda r, n=nm: ref.nearest_coeffs(r, mode=n)
            elif mode == "linear":
                coeffs = ref.linear_coeffs
            else:
                coeffs = lambda r: ref.cubic_coeffs(r)
            exp = ref.interpolate_nd(img, coeffs, output_size=sizes,
                                     coordinate_transformation_mode=ct).astype(np.float32)
            del scale_f
            # Separable float32 passes vs the reference's float64: a few float ulps.
            case(f"Resize_{mode}_{ct}_{nm}_{tag}_sizes", "Resize", 13,
                 [img, None, None, np.array(sizes, np.int64)], [exp], (1e-5, 1e-6), **kw)
    scales = np.array([1, 1, 2.0, 1.5], np.float32)
    exp = ref.interpolate_nd(img, ref.linear_coeffs, scale_factors=scales).astype(np.float32)
    case("Resize_linear_scales_opset18", "Resize", 18, [img, None, scales], [exp], (1e-5, 1e-6), mode="linear")
    exp = ref.interpolate_nd(img, lambda r: ref.nearest_coeffs(r, mode="floor"), scale_factors=scales,
                             coordinate_transformation_mode="asymmetric").astype(np.float32)
    case("Resize_opset10", "Resize", 10, [img, scales], [exp], EXACT, mode="nearest")
    case("Resize_axes_opset18", "Resize", 18, [img, None, np.array([2.0, 1.5], np.float32)],
         [ref.interpolate_nd(img, ref.linear_coeffs, scale_factors=scales).astype(np.float32)],
         (1e-5, 1e-6), mode="linear", axes=[2, 3])
    imgh = img.astype(np.float16)
    exp = ref.interpolate_nd(imgh.astype(np.float32), ref.linear_coeffs, scale_factors=scales).astype(np.float16)
    case("Resize_linear_f16", "Resize", 13, [imgh, None, scales], [exp], HALF, mode="linear")
    imgi = rng.integers(0, 255, (1, 1, 3, 3)).astype(np.uint8)
    exp = ref.interpolate_nd(imgi, lambda r: ref.nearest_coeffs(r), scale_factors=np.array([1, 1, 2, 2], np.float32))
    case("Resize_nearest_uint8", "Resize", 13, [imgi, None, np.array([1, 1, 2, 2], np.float32)],
         [exp.astype(np.uint8)], EXACT, mode="nearest")
    # tf_crop_and_resize is checked by its conformance test (roi + extrapolation).
