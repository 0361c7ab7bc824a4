"""Element-wise ops: hand-checked examples, against onnxruntime too; defaults from the schema."""

import numpy as np
import pytest

from tests.ops.cases import Case, Data, analysed, check, check_runtime

X = [1, 3, 8, 8]
SAME = "same as input → 3×8×8"


def unary(op, opset=17, **attrs):
    return Case(op, [X], X, SAME, attrs=attrs, opset=opset)


def f32(value):
    return np.asarray(value, np.float32)


CASES = [
    unary("Relu"), unary("Sigmoid"), unary("Tanh"), unary("Elu"), unary("Selu"), unary("Celu"),
    unary("Softplus"), unary("Softsign"), unary("HardSigmoid"), unary("HardSwish"), unary("Mish", opset=18),
    unary("Gelu", opset=20), unary("ThresholdedRelu"), unary("Shrink"), unary("Erf"), unary("Sqrt"),
    unary("Exp"), unary("Log"), unary("Abs"), unary("Neg"), unary("Reciprocal"), unary("Floor"), unary("Ceil"),
    unary("Round"), unary("Sign"), unary("Sin"), unary("Cos"), unary("Identity"), unary("LogSoftmax"),
    unary("Hardmax"), unary("IsNaN"), unary("IsInf"),
    Case("LeakyRelu", [X], X, SAME, hyper={"alpha": 0.01}, name="default-alpha"),
    Case("LeakyRelu", [X], X, SAME, attrs={"alpha": 0.25}, hyper={"alpha": 0.25}, name="alpha"),
    # Softmax's axis default moved from 1 to −1 in opset 13.
    Case("Softmax", [X], X, SAME, opset=11, hyper={"axis": 1}, name="opset-11"),
    Case("Softmax", [X], X, SAME, opset=13, hyper={"axis": -1}, name="opset-13"),
    Case("PRelu", [X, f32(np.full((3, 1, 1), 0.1))], X, SAME, params=3, params_formula="3·1·1 = 3"),
    Case("Clip", [X, f32(0.0), f32(6.0)], X, SAME, name="relu6"),
    Case("Dropout", [X], X, SAME, outputs=2, name="with-mask"),
    Case("Cast", [X], X, "change of number type, same shape → 3×8×8", attrs={"to": 11}),
    Case("CastLike", [X, np.zeros(1, np.float64)], X, "change of number type, same shape → 3×8×8"),
    Case("Not", [Data(X, np.bool_)], X, SAME),
    # A per-channel constant is a bias (or scale), a trainable parameter; a scalar is not.
    Case("Add", [X, f32(np.ones((3, 1, 1)))], X, "+ bias (3×1×1), broadcast → 3×8×8", params=3,
         params_formula="3·1·1 = 3", name="bias"),
    Case("Add", [X, f32(0.5)], X, "1×3×8×8 ⊕ scalar (broadcast) → 3×8×8", name="scalar"),
    Case("Mul", [X, f32(np.ones((3, 1, 1)))], X, "· scale (3×1×1), broadcast → 3×8×8", params=3, name="scale"),
    Case("Sub", [X, X], X, "element-wise, same shape → 3×8×8"),
    Case("Div", [X, [8]], X, "1×3×8×8 ⊕ 8 (broadcast) → 3×8×8"),
    Case("Pow", [X, f32(2.0)], X, "1×3×8×8 ⊕ scalar (broadcast) → 3×8×8"),
    Case("Mod", [Data(X, np.int32), Data([1, 1, 1, 8], np.int32)], X, "1×3×8×8 ⊕ 1×1×1×8 (broadcast) → 3×8×8",
         runtime=False),  # random integer divisors may be 0
    Case("Max", [X, [3, 1, 1], [8]], X, "1×3×8×8 ⊕ 3×1×1 ⊕ 8 (broadcast) → 3×8×8"),
    Case("Min", [X, [3, 1, 1]], X, "1×3×8×8 ⊕ 3×1×1 (broadcast) → 3×8×8"),
    Case("Sum", [X, X, X], X, "element-wise, same shape → 3×8×8"),
    Case("Mean", [X, [1, 3, 1, 1]], X, "1×3×8×8 ⊕ 1×3×1×1 (broadcast) → 3×8×8"),
    Case("Where", [Data([1, 1, 8, 8], np.bool_), X, [1, 3, 1, 1]], X,
         "1×1×8×8 ⊕ 1×3×8×8 ⊕ 1×3×1×1 (broadcast) → 3×8×8"),
    Case("Equal", [X, X], X, "element-wise, same shape → 3×8×8"),
    Case("Less", [X, [8]], X, "1×3×8×8 ⊕ 8 (broadcast) → 3×8×8"),
    Case("Greater", [X, X], X, "element-wise, same shape → 3×8×8"),
    Case("LessOrEqual", [X, X], X, "element-wise, same shape → 3×8×8"),
    Case("GreaterOrEqual", [X, X], X, "element-wise, same shape → 3×8×8"),
    Case("And", [Data(X, np.bool_), Data([8], np.bool_)], X, "1×3×8×8 ⊕ 8 (broadcast) → 3×8×8"),
    Case("Or", [Data(X, np.bool_), Data(X, np.bool_)], X, "element-wise, same shape → 3×8×8"),
    Case("Xor", [Data(X, np.bool_), Data(X, np.bool_)], X, "element-wise, same shape → 3×8×8"),
    Case("BitShift", [Data(X, np.uint8), Data(X, np.uint8)], X, "element-wise, same shape → 3×8×8",
         attrs={"direction": "LEFT"}),
]

# Nodes whose inputs are all initializers: folded with numpy, so their value is known
# without the image (the shape of the data axis is shown whole, as for weights).
A = f32(np.arange(6).reshape(2, 3) - 2.5)
FOLDED = [
    Case("Identity", [A], [2, 3], "same as input → 3", constant=True, name="folded"),
    Case("Dropout", [A], [2, 3], "same as input → 3", constant=True, name="folded"),
    Case("Cast", [A], [2, 3], "change of number type, same shape → 3", attrs={"to": 7}, constant=True,
         name="folded"),
    *[Case(op, [A], [2, 3], "same as input → 3", constant=True, name="folded")
      for op in ("Neg", "Abs", "Floor", "Ceil", "Exp")],
    Case("Sqrt", [np.abs(A)], [2, 3], "same as input → 3", constant=True, name="folded"),
    *[Case(op, [A, f32([1.5, -2.0, 4.0])], [2, 3], "2×3 ⊕ 3 (broadcast) → 3", constant=True, name="folded")
      for op in ("Add", "Sub", "Mul", "Div", "Max", "Min", "Equal", "Less", "Greater")],
    Case("Pow", [np.abs(A), f32(2.0)], [2, 3], "2×3 ⊕ scalar (broadcast) → 3", constant=True, name="folded"),
    # Integer division truncates towards zero in ONNX: −7/2 = −3, not numpy's −4.
    Case("Div", [np.array([-7, 7, 9], np.int64), np.array([2, 2, -4], np.int64)], [3],
         "element-wise, same shape → 3", constant=True, name="folded-int"),
    Case("Max", [A, A * 2, -A], [2, 3], "element-wise, same shape → 3", constant=True, name="folded-three"),
    Case("Where", [A > 0, A, -A], [2, 3], "element-wise, same shape → 3", constant=True, name="folded"),
]


@pytest.mark.parametrize("case", CASES + FOLDED, ids=lambda c: c.id)
def test_example(case):
    check(case)


@pytest.mark.parametrize("case", [c for c in CASES + FOLDED if c.runtime], ids=lambda c: c.id)
def test_example_against_onnxruntime(case):
    check_runtime(case)


def test_explicit_float_attributes_are_kept_as_written_in_the_file():
    # Only the schema's own defaults are rounded back to their written form.
    layer = analysed(Case("LeakyRelu", [X], X, SAME, attrs={"alpha": 0.1}))
    assert layer.hyper["alpha"] == float(np.float32(0.1))
