"""Element-wise ops: activations, arithmetic, comparisons, casts, softmax.

Unary ops keep the input's shape and carry a one-line formula of what they do
to every value; broadcasting ops combine inputs by numpy's rules and show the
broadcast working instead (their rows need the shapes more than a formula).
"""

from lenet_gui.core.ops._rule import RF_MERGE, RF_SAME, SIGN_ANY, SIGN_KEEPS, SIGN_NON_NEGATIVE, OpRule
from lenet_gui.core.ops.elementwise import shape


def _unary(op, title, formula, sign=SIGN_ANY, monotonic=False, **extra) -> OpRule:
    return OpRule(op, "elementwise", title, shape.same_as_input, formula=formula, receptive_field=RF_SAME,
                  sign=sign, monotonic=monotonic, **extra)


def _broadcasting(op, title, sign=SIGN_ANY, monotonic=False, **extra) -> OpRule:
    return OpRule(op, "elementwise", title, shape.broadcasting, receptive_field=RF_MERGE, sign=sign,
                  monotonic=monotonic, params_per_node=op in ("Add", "Mul"), **extra)


_NON_NEG, _KEEPS = SIGN_NON_NEGATIVE, SIGN_KEEPS
_NUMPY = {"fold": shape.fold_numpy}

RULES = [
    # activations
    _unary("Relu", "ReLU", "max(0, x) on every value", _NON_NEG, True),
    # Monotonic for α ≥ 0, the range every trained model uses.
    _unary("LeakyRelu", "Leaky ReLU", "x, or α·x below 0, on every value", monotonic=True),
    _unary("PRelu", "Parametric ReLU", "x, or slope·x below 0, on every value", param_inputs=(1,)),
    _unary("Sigmoid", "Sigmoid", "1 / (1 + e^−x) on every value", _NON_NEG, True),
    _unary("Tanh", "Tanh", "tanh(x) on every value", _KEEPS, True),
    _unary("Elu", "ELU", "x, or α·(e^x − 1) below 0, on every value", _KEEPS, True),
    _unary("Selu", "SELU", "γ·x, or γ·α·(e^x − 1) below 0, on every value", _KEEPS, True),
    _unary("Celu", "CELU", "max(0, x) + min(0, α·(e^(x/α) − 1)) on every value", _KEEPS, True),
    _unary("Softplus", "Softplus", "ln(1 + e^x) on every value", _NON_NEG, True),
    _unary("Softsign", "Softsign", "x / (1 + |x|) on every value", _KEEPS, True),
    _unary("HardSigmoid", "Hard sigmoid", "max(0, min(1, α·x + β)) on every value", _NON_NEG, True),
    _unary("HardSwish", "Hard swish", "x·max(0, min(1, x/6 + 1/2)) on every value"),
    _unary("Gelu", "GELU", "x·Φ(x) (Φ: the normal distribution) on every value"),
    _unary("Mish", "Mish", "x·tanh(ln(1 + e^x)) on every value"),
    _unary("ThresholdedRelu", "Thresholded ReLU", "x above α, else 0, on every value", _KEEPS),
    _unary("Shrink", "Shrink", "x − bias above λ, x + bias below −λ, else 0, on every value"),
    _unary("Clip", "Clip", "min(max(x, low), high) on every value", monotonic=True),
    _unary("Softmax", "Softmax", "e^x / Σ e^x: values that sum to 1", _NON_NEG),
    _unary("LogSoftmax", "Log-softmax", "log of the softmax"),
    _unary("Hardmax", "Hardmax", "1 at the largest value along the axis, 0 elsewhere", _NON_NEG),
    # passing values through
    _unary("Identity", "Identity", "passes values through", _KEEPS, True, fold=shape.fold_pass_through),
    _unary("Dropout", "Dropout", "passes values through (inference)", _KEEPS, True, fold=shape.fold_pass_through),
    _unary("Cast", "Cast", "changes the number type of every value", _KEEPS, True, fold=shape.fold_cast),
    _unary("CastLike", "Cast", "changes the number type of every value", _KEEPS, True),
    # mathematics on every value
    _unary("Sqrt", "Square root", "√x on every value", _NON_NEG, True, **_NUMPY),
    _unary("Exp", "Exponential", "e^x on every value", _NON_NEG, True, **_NUMPY),
    _unary("Log", "Logarithm", "ln x on every value", monotonic=True),
    _unary("Abs", "Absolute value", "|x| on every value", _NON_NEG, **_NUMPY),
    _unary("Neg", "Negate", "−x on every value", **_NUMPY),
    _unary("Reciprocal", "Reciprocal", "1/x on every value", _KEEPS),
    _unary("Floor", "Floor", "⌊x⌋ on every value", _KEEPS, True, **_NUMPY),
    _unary("Ceil", "Ceiling", "⌈x⌉ on every value", _KEEPS, True, **_NUMPY),
    _unary("Round", "Round", "x rounded to the nearest integer (halves to even)", _KEEPS, True),
    _unary("Sign", "Sign", "−1, 0 or 1, the sign of every value", _KEEPS, True),
    _unary("Erf", "Error function", "erf(x) on every value", _KEEPS, True),
    _unary("Sin", "Sine", "sin x on every value"),
    _unary("Cos", "Cosine", "cos x on every value"),
    _unary("Not", "Logical not", "not x on every value"),
    _unary("IsNaN", "Is NaN", "true where a value is NaN"),
    _unary("IsInf", "Is infinite", "true where a value is ±∞"),
    # combining inputs
    _broadcasting("Add", "Add", monotonic=True, **_NUMPY),
    _broadcasting("Sub", "Subtract", **_NUMPY),
    _broadcasting("Mul", "Multiply", **_NUMPY),
    _broadcasting("Div", "Divide", **_NUMPY),
    _broadcasting("Pow", "Power", **_NUMPY),
    _broadcasting("Mod", "Remainder"),
    _broadcasting("Max", "Maximum", _KEEPS, True, **_NUMPY),  # never below its first input
    _broadcasting("Min", "Minimum", monotonic=True, **_NUMPY),
    _broadcasting("Sum", "Sum", monotonic=True),
    _broadcasting("Mean", "Mean", monotonic=True),
    _broadcasting("Where", "Select (where)", **_NUMPY),
    _broadcasting("Equal", "Equal", **_NUMPY),
    _broadcasting("Less", "Less than", **_NUMPY),
    _broadcasting("Greater", "Greater than", **_NUMPY),
    _broadcasting("LessOrEqual", "Less than or equal"),
    _broadcasting("GreaterOrEqual", "Greater than or equal"),
    _broadcasting("And", "Logical and"),
    _broadcasting("Or", "Logical or"),
    _broadcasting("Xor", "Logical exclusive or"),
    _broadcasting("BitShift", "Bit shift"),
]


# Why the unit inspector has no working for these (shown in one line instead).
NOT_EXPLAINED = {
    **{op: "a yes/no test of each value (its output is 0 or 1), not a computation to trace"
       for op in ("And", "Or", "Xor", "Not", "Equal", "Greater", "GreaterOrEqual", "Less", "LessOrEqual",
                  "IsInf", "IsNaN")},
    "Where": "picks each value from one of two inputs by a yes/no condition; not traced unit by unit yet",
    "BitShift": "shifts the bits of integers; integer bookkeeping, not part of what the network computes",
    "Mod": "the remainder of a division; not traced unit by unit yet",
    "Cast": "changes only the number type: each value is its input's",
    "CastLike": "changes only the number type: each value is its input's",
    "Round": "rounds each value to the nearest integer; not traced unit by unit yet",
    "Shrink": "sets values near zero to zero and moves the rest towards it; not traced unit by unit yet",
    "Hardmax": "marks the largest value of each row with 1 and the rest with 0; not traced unit by unit yet",
}
