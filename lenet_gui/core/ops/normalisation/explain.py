"""Explain rules for normalisation: BatchNormalization, Instance/LayerNormalization, Softmax.

BatchNormalization (inference) is γ·(x − μ)/√(σ² + ε) + β with the channel's
stored statistics; Instance and Layer normalisation compute μ and σ² from this
run's input first. Softmax is written out as logits → e^(z − max) → divided by
their sum → the probability (LogSoftmax ends with z − max − ln(sum)).
"""

from __future__ import annotations

import math

import numpy as np

from lenet_gui.core.explain_context import (
    DOT, MINUS, ExplainContext, NotExplained, attrs, broadcast_index, full, num, rule, where,
)
from lenet_gui.core.explanation import Explanation, Grid, Step

_LISTED = 12


def _training(layer, node) -> str | None:
    if int(attrs(node).get("training_mode", 0)):
        return "BatchNormalization in training mode uses the batch's statistics; only inference is explained"
    if len(node.input) < 5:
        return "BatchNormalization needs scale, bias, mean and variance"
    return None


@rule(check=_training)
def explain_batchnorm(ctx: ExplainContext, layer, node, unit) -> Explanation:
    x_name = node.input[0]
    x = ctx.value(x_name, "the input")
    scale, bias, mean, var = (ctx.value(n, what).reshape(-1) for n, what in
                              zip(node.input[1:5], ("the scale", "the bias", "the mean", "the variance")))
    eps = float(attrs(node).get("epsilon", 1e-5))
    index = full(unit)
    c = index[1] if len(index) > 1 else 0
    xv = float(x[index])
    g, b, mu, v = float(scale[c]), float(bias[c]), float(mean[c]), float(var[c])
    centred = xv - mu
    spread = math.sqrt(v + eps)
    normalised = centred / spread
    value = g * normalised + b
    steps = [
        Step(f"x = {where(ctx, x_name, index)} = {num(xv)}", xv),
        Step(f"x {MINUS} mean μ = {num(xv)} {MINUS} {num(mu)} = {num(centred)}", centred),
        Step(f"√(variance σ² + ε) = √({num(v)} + {num(eps)}) = {num(spread)}", spread),
        Step(f"(x {MINUS} μ) / √(σ² + ε) = {num(centred)} / {num(spread)} = {num(normalised)}", normalised),
        Step(f"{DOT} scale γ {num(g)} = {num(g * normalised)}", g * normalised),
        Step(f"+ bias β {num(b)} = {num(value)}", value),
    ]
    return Explanation("", node.op_type, tuple(unit), value=value, kind="batchnorm",
                       terms=[ctx.term(x_name, index, g / spread, xv)], steps=steps,
                       window={"channel": c, "epsilon": eps})


def _stats_explanation(ctx, node, unit, x_name, x, group, eps, g, b, what) -> Explanation:
    index = full(unit)
    xv = float(x[index])
    values = np.asarray(group, dtype=np.float64).ravel()
    mu = math.fsum(values.tolist()) / values.size
    var = math.fsum(((values - mu) ** 2).tolist()) / values.size
    spread = math.sqrt(var + eps)
    normalised = (xv - mu) / spread
    value = g * normalised + b
    steps = [
        Step(f"x = {where(ctx, x_name, index)} = {num(xv)}", xv),
        Step(f"mean μ of the {values.size} values of {what} = {num(mu)}", mu),
        Step(f"variance σ² of those values = {num(var)}", var),
        Step(f"(x {MINUS} μ) / √(σ² + ε) = ({num(xv)} {MINUS} {num(mu)}) / √({num(var)} + {num(eps)}) "
             f"= {num(normalised)}", normalised),
        Step(f"{DOT} scale γ {num(g)} + bias β {num(b)} = {num(value)}", value),
    ]
    return Explanation("", node.op_type, tuple(unit), value=value, kind="batchnorm",
                       terms=[ctx.term(x_name, index, g / spread, xv)], steps=steps, window={"epsilon": eps})


@rule()
def explain_instancenorm(ctx: ExplainContext, layer, node, unit) -> Explanation:
    x_name = node.input[0]
    x = ctx.value(x_name, "the input")
    scale = ctx.value(node.input[1], "the scale").reshape(-1)
    bias = ctx.value(node.input[2], "the bias").reshape(-1)
    index = full(unit)
    c = index[1]
    eps = float(attrs(node).get("epsilon", 1e-5))
    return _stats_explanation(ctx, node, unit, x_name, x, x[0, c], eps, float(scale[c]), float(bias[c]),
                              f"channel {c}")


@rule()
def explain_layernorm(ctx: ExplainContext, layer, node, unit) -> Explanation:
    x_name = node.input[0]
    x = ctx.value(x_name, "the input")
    a = attrs(node)
    axis = int(a.get("axis", -1))
    axis = axis + x.ndim if axis < 0 else axis
    eps = float(a.get("epsilon", 1e-5))
    index = full(unit)
    inner = index[axis:]
    scale = ctx.value(node.input[1], "the scale")
    g = float(scale[broadcast_index(inner, scale.shape)]) if scale.ndim else float(scale)
    b = 0.0
    if len(node.input) > 2 and node.input[2]:
        bias = ctx.value(node.input[2], "the bias")
        b = float(bias[broadcast_index(inner, bias.shape)]) if bias.ndim else float(bias)
    return _stats_explanation(ctx, node, unit, x_name, x, x[index[:axis]], eps, g, b,
                              f"axes {axis}–{x.ndim - 1}")


def _softmax_vector(ctx, node, x, index):
    """The logits this unit's softmax runs over, and the unit's position among them."""
    a = attrs(node)
    legacy = ctx.opset < 13
    axis = int(a.get("axis", 1 if legacy else -1))
    axis = axis + x.ndim if axis < 0 else axis
    if not 0 <= axis < x.ndim:
        raise NotExplained(f"axis {axis} is out of range")
    if legacy:  # opset < 13: the input is seen as 2-D, everything from ``axis`` on in one row
        row = x[index[:axis]].ravel()
        position = int(np.ravel_multi_index(index[axis:], x.shape[axis:])) if axis < x.ndim else 0
        cells = [index[:axis] + tuple(int(i) for i in np.unravel_index(k, x.shape[axis:])) for k in range(row.size)]
    else:
        sl = list(index)
        sl[axis] = slice(None)
        row = x[tuple(sl)]
        position = index[axis]
        cells = [index[:axis] + (k,) + index[axis + 1:] for k in range(row.size)]
    return row, position, cells


def softmax_working(z: np.ndarray, k: int, log: bool = False) -> tuple[float, list[Step], list[list[Grid]]]:
    """(value, steps, grids) of softmax (or log-softmax) over logits ``z`` for position ``k``."""
    z = np.asarray(z, dtype=np.float64).ravel()
    top = float(z.max())
    exps = np.exp(z - top)
    total = math.fsum(exps.tolist())
    listed = ", ".join(num(v) for v in z[:_LISTED]) + (", …" if z.size > _LISTED else "")
    steps = [
        Step(f"logits z = [{listed}] ({z.size} values)"),
        Step(f"largest logit = {num(top)} (subtracted first so e^z cannot overflow; it cancels out)", top),
        Step(f"e^(z {MINUS} max) for unit {k}: e^({num(z[k])} {MINUS} {num(top)}) = {num(exps[k])}", float(exps[k])),
        Step(f"sum of the {z.size} exponentials = {num(total)}", total),
    ]
    if log:
        value = float(z[k] - top - math.log(total))
        steps.append(Step(f"z {MINUS} max {MINUS} ln(sum) = {num(z[k] - top)} {MINUS} {num(math.log(total))} "
                          f"= {num(value)}", value))
    else:
        value = float(exps[k] / total)
        steps.append(Step(f"probability = {num(exps[k])} / {num(total)} = {num(value)}", value))
    hl = (0, int(k))
    rows = [[Grid("logits", z[None, :], highlight=hl, signed=True),
             Grid(f"e^(z {MINUS} max)", exps[None, :], highlight=hl),
             Grid("probabilities", (exps / total)[None, :], highlight=hl)]]
    return value, steps, rows


@rule()
def explain_softmax(ctx: ExplainContext, layer, node, unit) -> Explanation:
    x_name = node.input[0]
    x = ctx.value(x_name, "the logits")
    index = full(unit)
    z, k, cells = _softmax_vector(ctx, node, x, index)
    value, steps, rows = softmax_working(z, k, log=node.op_type == "LogSoftmax")
    terms = sorted((ctx.term(x_name, cell, 1.0, float(z[i])) for i, cell in enumerate(cells)),
                   key=lambda t: -t.value)
    return Explanation("", node.op_type, tuple(unit), value=value, kind="softmax", rows=rows, terms=terms,
                       steps=steps, window={"axis_size": int(z.size), "position": int(k)})


EXPLAIN_RULES = {
    "BatchNormalization": explain_batchnorm,
    "InstanceNormalization": explain_instancenorm,
    "LayerNormalization": explain_layernorm,
    "Softmax": explain_softmax,
    "LogSoftmax": explain_softmax,
}
