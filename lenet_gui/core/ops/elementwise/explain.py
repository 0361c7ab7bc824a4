"""Explain rules for element-wise ops: activations and broadcasting arithmetic.

An activation's unit is its formula applied to the same unit of its input. For
Add, Sub, Mul, Div, Pow, Max, Min, Sum and Mean the rule says which cell of
each operand numpy-style broadcasting pairs with the unit (a per-channel bias
of shape C×1×1 gives cell [c, 0, 0] to every unit of channel c).
"""

from __future__ import annotations

import math

from lenet_gui.core.explain_context import (
    DOT, ExplainContext, NotExplained, attrs, broadcast_index, full, num, rule, where,
)
from lenet_gui.core.explanation import Explanation, Step

_SELU_ALPHA = 1.6732632423543772
_SELU_GAMMA = 1.0507009873554805


def _sigmoid(v: float) -> float:
    return 1.0 / (1.0 + math.exp(-v)) if v >= 0 else math.exp(v) / (1.0 + math.exp(v))


def _softplus(v: float) -> float:
    return max(v, 0.0) + math.log1p(math.exp(-abs(v)))


# op → (function of (x, attributes), formula with {x}, attribute names shown)
UNARY = {
    "Relu": (lambda x, a: max(0.0, x), "max(0, {x})"),
    "LeakyRelu": (lambda x, a: x if x >= 0 else a.get("alpha", 0.01) * x,
                  "{x} if {x} ≥ 0, else alpha {alpha} · {x}"),
    "Sigmoid": (lambda x, a: _sigmoid(x), "1 / (1 + e^−({x}))"),
    "Tanh": (lambda x, a: math.tanh(x), "tanh({x})"),
    "Elu": (lambda x, a: x if x > 0 else a.get("alpha", 1.0) * math.expm1(x),
            "{x} if {x} > 0, else alpha {alpha} · (e^{x} − 1)"),
    "Selu": (lambda x, a: a.get("gamma", _SELU_GAMMA) * (x if x > 0 else a.get("alpha", _SELU_ALPHA) * math.expm1(x)),
             "gamma {gamma} · ({x} if {x} > 0, else alpha {alpha} · (e^{x} − 1))"),
    "Celu": (lambda x, a: max(0.0, x) + min(0.0, a.get("alpha", 1.0) * math.expm1(x / a.get("alpha", 1.0))),
             "max(0, {x}) + min(0, alpha {alpha} · (e^({x}/alpha) − 1))"),
    "Softplus": (lambda x, a: _softplus(x), "ln(1 + e^{x})"),
    "Softsign": (lambda x, a: x / (1.0 + abs(x)), "{x} / (1 + |{x}|)"),
    "HardSigmoid": (lambda x, a: max(0.0, min(1.0, a.get("alpha", 0.2) * x + a.get("beta", 0.5))),
                    "max(0, min(1, alpha {alpha} · {x} + beta {beta}))"),
    "HardSwish": (lambda x, a: x * max(0.0, min(1.0, x / 6.0 + 0.5)), "{x} · max(0, min(1, {x}/6 + 0.5))"),
    "ThresholdedRelu": (lambda x, a: x if x > a.get("alpha", 1.0) else 0.0, "{x} if {x} > alpha {alpha}, else 0"),
    "Mish": (lambda x, a: x * math.tanh(_softplus(x)), "{x} · tanh(ln(1 + e^{x}))"),
    "Gelu": (lambda x, a: (0.5 * x * (1.0 + math.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * x ** 3))))
             if a.get("approximate", "none") == "tanh" else 0.5 * x * (1.0 + math.erf(x / math.sqrt(2.0))),
             "{x}/2 · (1 + erf({x}/√2))"),
    "Exp": (lambda x, a: math.exp(x), "e^{x}"),
    "Log": (lambda x, a: math.log(x) if x > 0 else (-math.inf if x == 0 else math.nan), "ln({x})"),
    "Sqrt": (lambda x, a: math.sqrt(x) if x >= 0 else math.nan, "√{x}"),
    "Abs": (lambda x, a: abs(x), "|{x}|"),
    "Neg": (lambda x, a: -x, "−({x})"),
    "Reciprocal": (lambda x, a: 1.0 / x if x else math.copysign(math.inf, x), "1 / {x}"),
    "Erf": (lambda x, a: math.erf(x), "erf({x})"),
    "Sign": (lambda x, a: float((x > 0) - (x < 0)), "sign({x})"),
    "Floor": (lambda x, a: float(math.floor(x)), "⌊{x}⌋"),
    "Ceil": (lambda x, a: float(math.ceil(x)), "⌈{x}⌉"),
    "Sin": (lambda x, a: math.sin(x), "sin({x})"),
    "Cos": (lambda x, a: math.cos(x), "cos({x})"),
}
_NAMES = {"Relu": "ReLU", "LeakyRelu": "leaky ReLU", "Elu": "ELU", "Selu": "SELU", "Celu": "CELU",
          "HardSigmoid": "hard sigmoid", "HardSwish": "hard swish", "ThresholdedRelu": "thresholded ReLU",
          "Gelu": "GELU"}


@rule()
def explain_unary(ctx: ExplainContext, layer, node, unit) -> Explanation:
    x_name = node.input[0]
    x = ctx.value(x_name, "the input")
    index = full(unit)
    xv = float(x[broadcast_index(index, x.shape)])
    fn, pattern = UNARY[node.op_type]
    a = {k: v for k, v in attrs(node).items()}
    value = float(fn(xv, a))
    shown = {k: num(v) if isinstance(v, (int, float)) else v for k, v in a.items()}
    defaults = {"alpha": {"LeakyRelu": 0.01, "Elu": 1.0, "Celu": 1.0, "HardSigmoid": 0.2, "ThresholdedRelu": 1.0,
                          "Selu": _SELU_ALPHA}.get(node.op_type), "beta": 0.5, "gamma": _SELU_GAMMA}
    for key, default in defaults.items():
        shown.setdefault(key, num(default))
    formula = pattern.format(x=num(xv), **shown)
    steps = [Step(f"input {where(ctx, x_name, index)} = {num(xv)}", xv),
             Step(f"{_NAMES.get(node.op_type, node.op_type)}: {formula} = {num(value)}", value)]
    return Explanation("", node.op_type, tuple(unit), value=value, kind="elementwise",
                       terms=[ctx.term(x_name, index, 1.0, xv)], steps=steps)


def _clip_bounds(ctx: ExplainContext, node) -> tuple[float, float]:
    a = attrs(node)
    low, high = a.get("min", -math.inf), a.get("max", math.inf)
    if len(node.input) > 1 and node.input[1]:
        low = float(ctx.value(node.input[1], "the lower bound").reshape(-1)[0])
    if len(node.input) > 2 and node.input[2]:
        high = float(ctx.value(node.input[2], "the upper bound").reshape(-1)[0])
    return float(low), float(high)


@rule()
def explain_clip(ctx: ExplainContext, layer, node, unit) -> Explanation:
    x_name = node.input[0]
    x = ctx.value(x_name, "the input")
    index = full(unit)
    xv = float(x[broadcast_index(index, x.shape)])
    low, high = _clip_bounds(ctx, node)
    value = min(max(xv, low), high)
    steps = [Step(f"input {where(ctx, x_name, index)} = {num(xv)}", xv),
             Step(f"clip to [{num(low)}, {num(high)}]: min(max({num(xv)}, {num(low)}), {num(high)}) = {num(value)}",
                  value)]
    return Explanation("", "Clip", tuple(unit), value=value, kind="elementwise",
                       terms=[ctx.term(x_name, index, 1.0, xv)], steps=steps)


@rule()
def explain_prelu(ctx: ExplainContext, layer, node, unit) -> Explanation:
    x_name, s_name = node.input[0], node.input[1]
    x = ctx.value(x_name, "the input")
    slope = ctx.value(s_name, "the slope")
    index = full(unit)
    xv = float(x[broadcast_index(index, x.shape)])
    cell = broadcast_index(index, slope.shape)
    sv = float(slope[cell])
    value = xv if xv >= 0 else sv * xv
    steps = [Step(f"input {where(ctx, x_name, index)} = {num(xv)}", xv),
             Step(f"slope {where(ctx, s_name, cell)} = {num(sv)}", sv),
             Step(f"PReLU: {num(xv)} if ≥ 0, else {num(sv)} {DOT} {num(xv)} = {num(value)}", value)]
    return Explanation("", "PRelu", tuple(unit), value=value, kind="elementwise",
                       terms=[ctx.term(x_name, index, sv if xv < 0 else 1.0, xv)], steps=steps)


_BINARY = {
    "Add": ("+", lambda a, b: a + b),
    "Sub": ("−", lambda a, b: a - b),
    "Mul": (DOT, lambda a, b: a * b),
    "Div": ("/", lambda a, b: a / b if b else (math.copysign(math.inf, a) if a else math.nan)),
    "Pow": ("^", lambda a, b: math.pow(a, b) if a > 0 or float(b).is_integer() else math.nan),
}
_VARIADIC = {"Max": max, "Min": min, "Sum": math.fsum, "Mean": lambda v: math.fsum(v) / len(v)}


@rule()
def explain_broadcast(ctx: ExplainContext, layer, node, unit) -> Explanation:
    op = node.op_type
    index = full(unit)
    names = [n for n in node.input if n]
    operands = []
    for position, name in enumerate(names):
        v = ctx.value(name, f"input {position + 1}")
        if v.ndim > len(index):
            raise NotExplained(f"input {position + 1} has more axes than the output")
        cell = broadcast_index(index, v.shape)
        operands.append((name, cell, float(v[cell]) if v.ndim else float(v)))
    steps = [Step(f"{'input' if not ctx.is_constant(n) else 'constant'} {where(ctx, n, c)} = {num(v)}", v)
             for n, c, v in operands]
    values = [v for _, _, v in operands]
    if op in _BINARY:
        if len(values) != 2:
            raise NotExplained(f"{op} takes two inputs")
        sign, fn = _BINARY[op]
        value = float(fn(*values))
        steps.append(Step(f"{num(values[0])} {sign} {num(values[1])} = {num(value)}", value))
    else:
        value = float(_VARIADIC[op](values))
        label = {"Max": "largest", "Min": "smallest", "Sum": "sum", "Mean": "mean"}[op]
        steps.append(Step(f"{label} of {', '.join(num(v) for v in values)} = {num(value)}", value))
    terms = [ctx.term(n, c, 1.0, v) for n, c, v in operands if not ctx.is_constant(n) and len(c) == len(index)]
    return Explanation("", op, tuple(unit), value=value, kind="add" if op in ("Add", "Sub", "Sum") else "elementwise",
                       terms=terms, steps=steps)


EXPLAIN_RULES = {op: explain_unary for op in UNARY}
EXPLAIN_RULES.update({"Clip": explain_clip, "PRelu": explain_prelu})
EXPLAIN_RULES.update({op: explain_broadcast for op in list(_BINARY) + list(_VARIADIC)})
