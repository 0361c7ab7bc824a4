"""Explain rules for ops that move values without changing them: which input unit this is.

Flatten, Reshape, Squeeze and Unsqueeze keep the row-major order (with one
image, the flat position is the same before and after); Identity and Dropout
(at inference) copy; Transpose permutes the index; Concat picks the input the
unit falls in; Pad maps back into its input or says the unit is padding.
"""

from __future__ import annotations

import numpy as np

from lenet_gui.core.explain_context import (
    ExplainContext, NotExplained, attrs, full, num, rule, shape_text, unit_text, where,
)
from lenet_gui.core.explanation import Explanation, Step


def _copy(ctx: ExplainContext, node, unit, x_name: str, cell: tuple[int, ...], how: str) -> Explanation:
    x = ctx.value(x_name, "the input")
    value = float(x[cell])
    steps = [Step(how), Step(f"= {where(ctx, x_name, cell)} = {num(value)}", value)]
    terms = [ctx.term(x_name, cell, 1.0, value)] if not ctx.is_constant(x_name) else []
    return Explanation("", node.op_type, tuple(unit), value=value, kind="reshape", terms=terms, steps=steps)


@rule()
def explain_reshape(ctx: ExplainContext, layer, node, unit) -> Explanation:
    x_name = node.input[0]
    x = ctx.value(x_name, "the input")
    out_shape = tuple(int(d) for d in layer.output_shape)
    out_shape = (1,) + out_shape[1:]
    index = full(unit)
    if int(np.prod(out_shape)) != x.size:
        raise NotExplained("the output and the input hold different numbers of values")
    flat = int(np.ravel_multi_index(index, out_shape))
    cell = tuple(int(i) for i in np.unravel_index(flat, x.shape))
    how = (f"{node.op_type} keeps the order of the values: unit {unit_text(unit)} of {shape_text(out_shape[1:])} "
           f"is value {flat} counted row by row, which is unit {unit_text(cell[1:])} of {shape_text(x.shape[1:])}")
    return _copy(ctx, node, unit, x_name, cell, how)


@rule()
def explain_identity(ctx: ExplainContext, layer, node, unit) -> Explanation:
    index = full(unit)
    how = "Identity copies its input" if node.op_type == "Identity" else \
        "Dropout does nothing at inference: it copies its input"
    return _copy(ctx, node, unit, node.input[0], index, how)


@rule()
def explain_transpose(ctx: ExplainContext, layer, node, unit) -> Explanation:
    x_name = node.input[0]
    x = ctx.value(x_name, "the input")
    perm = [int(p) for p in attrs(node).get("perm") or list(range(x.ndim))[::-1]]
    if perm[0] != 0:
        raise NotExplained("this Transpose moves the batch axis")
    index = full(unit)
    cell = [0] * x.ndim
    for out_axis, in_axis in enumerate(perm):
        cell[in_axis] = index[out_axis]
    cell_t = tuple(cell)
    how = (f"transpose with axis order {perm}: output axis i is input axis perm[i], so unit "
           f"{unit_text(unit)} is unit {unit_text(cell_t[1:])} of the input")
    return _copy(ctx, node, unit, x_name, cell_t, how)


@rule()
def explain_concat(ctx: ExplainContext, layer, node, unit) -> Explanation:
    axis = int(attrs(node).get("axis", 1))
    index = list(full(unit))
    names = [n for n in node.input if n]
    rank = len(index)
    axis = axis + rank if axis < 0 else axis
    if axis == 0:
        raise NotExplained("this Concat joins along the batch axis")
    offset = 0
    for position, name in enumerate(names):
        size = ctx.value(name, f"input {position + 1}").shape[axis]
        if index[axis] < offset + size:
            cell = list(index)
            cell[axis] -= offset
            how = (f"Concat along axis {axis}: positions {offset}–{offset + size - 1} come from input "
                   f"{position + 1}, so unit {unit_text(unit)} is unit {unit_text(cell[1:])} of it")
            return _copy(ctx, node, unit, name, tuple(cell), how)
        offset += size
    raise NotExplained("the unit lies beyond every input")


@rule()
def explain_pad(ctx: ExplainContext, layer, node, unit) -> Explanation:
    x_name = node.input[0]
    x = ctx.value(x_name, "the input")
    a = attrs(node)
    mode = str(a.get("mode", "constant"))
    rank = x.ndim
    if "pads" in a:
        pads = [int(p) for p in a["pads"]]
        axes = list(range(rank))
        constant = float(a.get("value", 0.0))
    else:
        pads = [int(p) for p in ctx.value(node.input[1], "the pads").reshape(-1)]
        constant = 0.0
        if len(node.input) > 2 and node.input[2]:
            constant = float(ctx.value(node.input[2], "the pad value").reshape(-1)[0])
        if len(node.input) > 3 and node.input[3]:
            axes = [int(v) + (rank if v < 0 else 0) for v in ctx.value(node.input[3], "the axes").reshape(-1)]
        else:
            axes = list(range(rank))
    begin = [0] * rank
    for i, ax in enumerate(axes):
        begin[ax] = pads[i]
    index = full(unit)
    cell, outside = [], False
    for ax in range(rank):
        i, n = index[ax] - begin[ax], x.shape[ax]
        if 0 <= i < n:
            cell.append(i)
            continue
        outside = True
        if mode == "edge":
            cell.append(min(max(i, 0), n - 1))
        elif mode == "reflect":
            period = 2 * (n - 1) if n > 1 else 1
            i = i % period
            cell.append(period - i if i >= n else i)
        elif mode == "wrap":
            cell.append(i % n)
        else:
            cell.append(-1)
    if outside and mode == "constant":
        value = constant
        steps = [Step(f"unit {unit_text(unit)} lies in the padding (pads begin at {begin[1:]}): the pad value "
                      f"{num(value)}", value)]
        return Explanation("", "Pad", tuple(unit), value=value, kind="reshape", steps=steps)
    how = (f"Pad ({mode}) shifts by {begin[1:]}: unit {unit_text(unit)} is unit {unit_text(cell[1:])} of the input"
           + (" (mirrored or repeated into the padding)" if outside else ""))
    return _copy(ctx, node, unit, x_name, tuple(cell), how)


EXPLAIN_RULES = {
    "Flatten": explain_reshape,
    "Reshape": explain_reshape,
    "Squeeze": explain_reshape,
    "Unsqueeze": explain_reshape,
    "Identity": explain_identity,
    "Dropout": explain_identity,
    "Transpose": explain_transpose,
    "Concat": explain_concat,
    "Pad": explain_pad,
}
