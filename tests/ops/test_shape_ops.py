"""Ops that move, pick, reduce or make tensors: hand-checked examples, against onnxruntime too."""

import numpy as np
import pytest
from onnx import numpy_helper

from tests.ops.cases import Case, check, check_runtime

X = [1, 3, 8, 8]


def i64(*values):
    return np.array(values, np.int64)


def f32(value):
    return np.asarray(value, np.float32)


CASES = [
    Case("Flatten", [X], [1, 192], "flatten 3×8×8 = 192"),
    Case("Flatten", [X], [3, 64], "flatten 8×8 = 64", attrs={"axis": 2}, name="axis-2"),
    Case("Reshape", [X, i64(1, -1, 4)], [1, 48, 4], "reshape 3×8×8 → 48×4", hyper={"allowzero": 0}),
    # 0 copies the input's size on that axis.
    Case("Reshape", [X, i64(0, 0, 64)], [1, 3, 64], "reshape 3×8×8 → 3×64", name="copy-axes"),
    Case("Transpose", [X], [1, 8, 8, 3], "transpose (0, 2, 3, 1): 3×8×8 → 8×8×3", attrs={"perm": [0, 2, 3, 1]}),
    Case("Squeeze", [[1, 3, 1, 8], i64(2)], [1, 3, 8], "drop size-1 axes: 3×1×8 → 3×8"),
    Case("Unsqueeze", [X, i64(-1)], [1, 3, 8, 8, 1], "add size-1 axes [4] → 3×8×8×1"),
    Case("Concat", [X, [1, 5, 8, 8]], [1, 8, 8, 8], "join on axis 1: 3 + 5 = 8 → 8×8×8", attrs={"axis": 1}),
    Case("Split", [X, i64(1, 2)], [1, 1, 8, 8], "split axis 1: 3 = 1 + 2", attrs={"axis": 1}, outputs=2),
    # Rows 1, 3 and 5 of 8: range(1, 7, 2).
    Case("Slice", [X, i64(1), i64(7), i64(2), i64(2)], [1, 3, 3, 8], "slice 3×8×8 → 3×3×8"),
    Case("Gather", [X, i64(0, 2)], [1, 2, 8, 8], "pick 2 of 3 along axis 1 → 2×8×8", attrs={"axis": 1}),
    Case("Expand", [[1, 3, 1, 1], i64(2, 3, 8, 8)], [2, 3, 8, 8], "expand 1×3×1×1 → 2×3×8×8"),
    Case("Tile", [X, i64(1, 2, 1, 3)], [1, 6, 8, 24], "tile 1×3×8×8 by [1, 2, 1, 3] → 1×6×8×24"),
    Case("DepthToSpace", [[1, 8, 4, 4]], [1, 2, 8, 8], "channels into 2×2 blocks → 2×8×8", attrs={"blocksize": 2}),
    Case("SpaceToDepth", [X], [1, 12, 4, 4], "2×2 blocks into channels → 12×4×4", attrs={"blocksize": 2}),
    # 1 above and 3 below, 2 left and 4 right.
    Case("Pad", [X, i64(0, 0, 1, 2, 0, 0, 3, 4)], [1, 3, 12, 14],
         "axis 2: 8 + 1 + 3 = 12; axis 3: 8 + 2 + 4 = 14 → 3×12×14", hyper={"mode": "constant"}),
    # ⌊8·2⌋ = 16 rows, ⌊8·1.5⌋ = 12 columns.
    Case("Resize", [X, None, f32([1, 1, 2, 1.5])], [1, 3, 16, 12],
         "resize (nearest, scales [1.0, 1.0, 2.0, 1.5]): 3×8×8 → 3×16×12", name="scales"),
    Case("Resize", [X, None, None, i64(1, 3, 5, 7)], [1, 3, 5, 7], "resize (linear, sizes [1, 3, 5, 7]): 3×8×8 → 3×5×7",
         attrs={"mode": "linear"}, name="sizes"),
    Case("Upsample", [X, f32([1, 1, 2, 2])], [1, 3, 16, 16],
         "resize (nearest, scales [1.0, 1.0, 2.0, 2.0]): 3×8×8 → 3×16×16", opset=9),
    Case("ReduceMean", [X], [1, 3], "mean over axes [2, 3] → 3", attrs={"axes": [2, 3], "keepdims": 0}),
    Case("ReduceSum", [X, i64(1)], [1, 1, 8, 8], "sum over axes [1] → 1×8×8", hyper={"keepdims": 1}),
    Case("ReduceSum", [X], X, "no axes given, same as input → 3×8×8", attrs={"noop_with_empty_axes": 1},
         name="noop"),
    Case("ReduceMax", [X, i64(2, 3)], [1, 3, 1, 1], "max over axes [2, 3] → 3×1×1", opset=18),
    Case("ReduceMin", [X], [1, 1, 1, 1], "min over axes [0, 1, 2, 3] → 1×1×1", name="all-axes"),
    *[Case(op, [X], [1, 8, 8], f"{word} over axes [1] → 8×8", attrs={"axes": [1], "keepdims": 0})
      for op, word in (("ReduceProd", "prod"), ("ReduceL1", "l1"), ("ReduceL2", "l2"), ("ReduceLogSum", "logsum"),
                       ("ReduceLogSumExp", "logsumexp"), ("ReduceSumSquare", "sumsquare"))],
    Case("ArgMax", [X], [1, 8, 8], "index of the largest value along axis 1 → 8×8", attrs={"axis": 1, "keepdims": 0}),
    Case("ArgMin", [X], X, "index of the smallest value along axis 0 → 3×8×8", hyper={"axis": 0, "keepdims": 1}),
    # Values known without the image.
    Case("Shape", [X], [4], "the shape of the input, [1, 3, 8, 8]", constant=True),
    Case("Shape", [X], [2], "the shape of the input, [3, 8]", attrs={"start": 1, "end": 3}, constant=True,
         name="part"),
    Case("Size", [X], [], "number of values in 1×3×8×8 = 192", constant=True),
    Case("ConstantOfShape", [i64(2, 3)], [2, 3], "filled tensor 2×3", constant=True),
    # ⌈(10 − 0)/3⌉ = 4 numbers: 0, 3, 6, 9.
    Case("Range", [np.array(0, np.int64), np.array(10, np.int64), np.array(3, np.int64)], [4], "range of 4 numbers",
         constant=True),
]

A = f32(np.arange(6).reshape(2, 3))
FOLDED = [
    Case("Reshape", [A, i64(3, 2)], [3, 2], "reshape 2×3 → 3×2", constant=True, name="folded"),
    Case("Flatten", [A.reshape(2, 3, 1)], [2, 3], "flatten 3×1 = 3", constant=True, name="folded"),
    Case("Transpose", [A], [3, 2], "transpose (1, 0): 2×3 → 3×2", constant=True, name="folded"),
    Case("Squeeze", [A.reshape(1, 6), i64(0)], [6], "drop size-1 axes: 1×6 → 6", constant=True, name="folded"),
    Case("Unsqueeze", [A, i64(0)], [1, 2, 3], "add size-1 axes [0]: 2×3 → 1×2×3", constant=True, name="folded"),
    Case("Concat", [A, A], [4, 3], "join on axis 0: 2 + 2 = 4 → 4×3", attrs={"axis": 0}, constant=True,
         name="folded"),
    Case("Slice", [A, i64(1), i64(3), i64(1)], [2, 2], "slice 2×3 → 2×2", constant=True, name="folded"),
    # Backwards from before the start: ONNX takes the first value, where Python's [-5:-5:-1] takes none.
    Case("Slice", [f32([1, 2, 3]), i64(-5), i64(-5), i64(0), i64(-1)], [1], "slice 3 → 1", constant=True,
         name="folded-backwards"),
    Case("Gather", [A, i64(2, 0)], [2, 2], "pick 2 of 3 along axis 1 → 2×2", attrs={"axis": 1}, constant=True,
         name="folded"),
    Case("Expand", [f32([1, 2, 3]), i64(2, 3)], [2, 3], "expand 3 → 2×3", constant=True, name="folded"),
    Case("Tile", [A, i64(2, 1)], [4, 3], "tile 2×3 by [2, 1] → 4×3", constant=True, name="folded"),
    Case("Constant", [], [2], "constant 2", attrs={"value_floats": [1.0, 2.0]}, constant=True, name="floats"),
    Case("Constant", [], [2, 2], "constant 2×2", attrs={"value": numpy_helper.from_array(f32(np.eye(2)), "v")},
         constant=True, name="tensor"),
]


@pytest.mark.parametrize("case", CASES + FOLDED, ids=lambda c: c.id)
def test_example(case):
    check(case)


@pytest.mark.parametrize("case", [c for c in CASES + FOLDED if c.runtime], ids=lambda c: c.id)
def test_example_against_onnxruntime(case):
    check_runtime(case)
