"""Shape ops on generated settings: the worked-out shape is the one onnxruntime produces.

For each op, hypothesis draws an input shape and settings (negative and
out-of-range slice bounds, negative pads, negative axes, scalar indices,
uneven splits, fractional scales…). Where onnxruntime runs the node, the
analysis must give exactly onnxruntime's output shape; where onnxruntime
refuses it, the analysis must refuse it too (ShapeError) or leave the shape
unknown, never show a wrong one.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lenet_gui.core.errors import ShapeError
from tests.ops.cases import Case, Data, analysed, feeds, session

GENERATED = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BIG = 2**62  # the "to the end" bound exporters write


def i64(values):
    return np.array(values, np.int64)


@st.composite
def shapes(draw, min_rank=1, max_rank=4):
    return draw(st.lists(st.integers(1, 6), min_size=min_rank, max_size=max_rank))


def compare(case: Case) -> None:
    try:
        runtime = list(session(case).run(None, feeds(case, np.random.default_rng(0)))[0].shape)
    except Exception:  # onnxruntime refuses the node (load or run): so must we, or say "unknown"
        runtime = None
    try:
        layer = analysed(case)
    except ShapeError:
        assert runtime is None, f"{case.op} refused although onnxruntime gives {runtime}"
        return
    if runtime is not None:
        assert layer.output_shape == runtime, f"{case.op} {case.attrs}: {layer.output_shape} ≠ {runtime}"
    else:
        assert layer.output_shape is None, f"{case.op}: onnxruntime refuses, yet the shape is {layer.output_shape}"


# The first input axis is the batch for the analysis; onnxruntime sees the size given.


@GENERATED
@given(st.data())
def test_slice(data):
    x = data.draw(shapes())
    count = data.draw(st.integers(1, len(x)))
    axes = data.draw(st.lists(st.integers(-len(x), len(x) - 1), min_size=count, max_size=count,
                              unique_by=lambda a: a % len(x)))
    bound = st.one_of(st.integers(-8, 8), st.sampled_from([BIG, -BIG]))
    starts = data.draw(st.lists(bound, min_size=count, max_size=count))
    ends = data.draw(st.lists(bound, min_size=count, max_size=count))
    steps = data.draw(st.lists(st.integers(-3, 3).filter(bool), min_size=count, max_size=count))
    compare(Case("Slice", [x, i64(starts), i64(ends), i64(axes), i64(steps)], [], ""))


@GENERATED
@given(st.data())
def test_pad(data):
    x = data.draw(shapes())
    pads = data.draw(st.lists(st.integers(-3, 3), min_size=2 * len(x), max_size=2 * len(x)))
    mode = data.draw(st.sampled_from(["constant", "edge", "reflect"]))
    compare(Case("Pad", [x, i64(pads)], [], "", attrs={"mode": mode}))


@GENERATED
@given(st.data())
def test_reductions(data):
    x = data.draw(shapes())
    op = data.draw(st.sampled_from(["ReduceSum", "ReduceMax", "ReduceMean", "ReduceL2"]))
    axes = data.draw(st.lists(st.integers(-len(x), len(x) - 1), max_size=len(x), unique_by=lambda a: a % len(x)))
    attrs = {"keepdims": data.draw(st.sampled_from([0, 1])), "noop_with_empty_axes": data.draw(st.sampled_from([0, 1]))}
    inputs = [x, i64(axes)] if axes or data.draw(st.booleans()) else [x]
    compare(Case(op, inputs, [], "", attrs=attrs, opset=18))


@GENERATED
@given(st.data())
def test_gather(data):
    x = data.draw(shapes())
    axis = data.draw(st.integers(-len(x), len(x) - 1))
    size = x[axis]
    index_shape = data.draw(st.lists(st.integers(1, 3), max_size=2))
    count = int(np.prod(index_shape)) if index_shape else 1
    indices = data.draw(st.lists(st.integers(-size, size - 1), min_size=count, max_size=count))
    compare(Case("Gather", [x, i64(indices).reshape(index_shape)], [], "", attrs={"axis": axis}))


@GENERATED
@given(st.data())
def test_split_into_equal_or_uneven_parts(data):
    x = data.draw(shapes())
    axis = data.draw(st.integers(-len(x), len(x) - 1))
    parts = data.draw(st.integers(1, 4))
    compare(Case("Split", [x], [], "", attrs={"axis": axis, "num_outputs": parts}, outputs=parts, opset=18))


@GENERATED
@given(st.data())
def test_flatten_squeeze_unsqueeze_transpose(data):
    x = data.draw(shapes())
    op = data.draw(st.sampled_from(["Flatten", "Squeeze", "Unsqueeze", "Transpose"]))
    if op == "Flatten":
        compare(Case(op, [x], [], "", attrs={"axis": data.draw(st.integers(-len(x), len(x)))}))
    elif op == "Squeeze":
        ones = [a for a, d in enumerate(x) if d == 1]
        axes = data.draw(st.lists(st.sampled_from(ones), unique=True)) if ones else []
        compare(Case(op, [x, i64(axes)] if axes else [x], [], ""))
    elif op == "Unsqueeze":
        rank = len(x) + data.draw(st.integers(1, 2))
        axes = data.draw(st.lists(st.integers(-rank, rank - 1), min_size=rank - len(x), max_size=rank - len(x),
                                  unique_by=lambda a: a % rank))
        compare(Case(op, [x, i64(axes)], [], ""))
    else:
        perm = data.draw(st.permutations(list(range(len(x)))))
        compare(Case(op, [x], [], "", attrs={"perm": list(perm)}))


@GENERATED
@given(st.data())
def test_resize_by_scales_and_sizes(data):
    x = [1, 2] + data.draw(st.lists(st.integers(1, 12), min_size=2, max_size=2))
    if data.draw(st.booleans()):
        scales = [1.0, 1.0] + data.draw(st.lists(st.sampled_from([0.3, 0.5, 0.6, 0.7, 1.1, 1.5, 2.0, 2.5, 3.3]),
                                                 min_size=2, max_size=2))
        inputs = [x, None, np.array(scales, np.float32)]
    else:
        inputs = [x, None, None, i64([1, 2] + data.draw(st.lists(st.integers(1, 20), min_size=2, max_size=2)))]
    compare(Case("Resize", inputs, [], "", attrs={"mode": data.draw(st.sampled_from(["nearest", "linear"]))}))


@GENERATED
@given(st.data())
def test_tile_expand_concat(data):
    x = data.draw(shapes())
    op = data.draw(st.sampled_from(["Tile", "Expand", "Concat"]))
    if op == "Tile":
        repeats = data.draw(st.lists(st.integers(1, 3), min_size=len(x), max_size=len(x)))
        compare(Case(op, [x, i64(repeats)], [], ""))
    elif op == "Expand":
        target = [data.draw(st.sampled_from([d, 1] if d != 1 else [1, 2, 3])) for d in x]
        extra = data.draw(st.lists(st.integers(1, 3), max_size=2))
        compare(Case(op, [x, i64(extra + target)], [], ""))
    else:
        axis = data.draw(st.integers(-len(x), len(x) - 1))
        other = list(x)
        other[axis] = data.draw(st.integers(1, 4))
        compare(Case(op, [x, other], [], "", attrs={"axis": axis}))


@pytest.mark.parametrize("scale, size, expected", [(0.7, 10, 7), (0.6, 5, 3), (1.1, 10, 11), (3.3, 3, 9)])
def test_resize_scale_products_round_as_onnxruntime_s_float_arithmetic(scale, size, expected):
    # 10·0.7 is 6.99999988 with the float32 scale, which onnxruntime's float product rounds to 7.
    case = Case("Resize", [[1, 1, size, size], None, np.array([1, 1, scale, scale], np.float32)],
                [1, 1, expected, expected], "")
    assert analysed(case).output_shape == case.shape
    assert list(session(case).run(None, feeds(case, np.random.default_rng(0)))[0].shape) == case.shape


@GENERATED
@given(st.data())
def test_reshape_with_copied_and_inferred_sizes(data):
    x = data.draw(shapes())
    total = int(np.prod(x))
    target = []
    remaining = total
    for position in range(data.draw(st.integers(1, 4))):
        choice = data.draw(st.sampled_from(["copy", "infer", "factor"]))
        if choice == "copy" and position < len(x):
            target.append(0)
        elif choice == "infer" and -1 not in target:
            target.append(-1)
        else:
            factors = [f for f in range(1, remaining + 1) if remaining % f == 0]
            size = data.draw(st.sampled_from(factors))
            target.append(size)
            remaining //= size
    compare(Case("Reshape", [x, i64(target)], [], ""))


@GENERATED
@given(st.data())
def test_broadcasting_and_matrix_products(data):
    op = data.draw(st.sampled_from(["Add", "Mul", "Where", "MatMul", "Gemm"]))
    if op == "Gemm":
        m, k, n = (data.draw(st.integers(1, 5)) for _ in range(3))
        trans_a, trans_b = data.draw(st.sampled_from([0, 1])), data.draw(st.sampled_from([0, 1]))
        a = [k, m] if trans_a else [m, k]
        b = np.ones([n, k] if trans_b else [k, n], np.float32)
        bias = np.ones(data.draw(st.sampled_from([[n], [1, n], [m, n], [1], []])), np.float32)
        compare(Case(op, [a, b, bias], [], "", attrs={"transA": trans_a, "transB": trans_b}))
        return
    x = data.draw(shapes())
    # The other operand: same rank or shorter, each size the same, 1, or (rarely) different.
    other = [data.draw(st.sampled_from([d, 1, d + 1])) for d in x[len(x) - data.draw(st.integers(1, len(x))):]]
    if op == "MatMul":
        other = other[:-1] + [x[-1]] + [data.draw(st.integers(1, 4))] if len(other) >= 2 else [x[-1]]
        compare(Case(op, [x, other], [], ""))
    elif op == "Where":
        compare(Case(op, [Data(other, np.bool_), x, [x[-1]]], [], ""))
    else:
        compare(Case(op, [x, other], [], ""))


@GENERATED
@given(st.data())
def test_arg_extremes_and_depth_space(data):
    op = data.draw(st.sampled_from(["ArgMax", "ArgMin", "DepthToSpace", "SpaceToDepth"]))
    if op.startswith("Arg"):
        x = data.draw(shapes())
        attrs = {"axis": data.draw(st.integers(-len(x), len(x) - 1)), "keepdims": data.draw(st.sampled_from([0, 1]))}
        compare(Case(op, [x], [], "", attrs=attrs))
    else:
        block = data.draw(st.integers(1, 3))
        x = [1] + [data.draw(st.integers(1, 3)) * data.draw(st.sampled_from([1, block, block * block])) for _ in range(3)]
        compare(Case(op, [x], [], "", attrs={"blocksize": block}))
