"""Explain rules for convolutions: one unit = patch · kernel, summed, plus the bias.

The patch is taken where onnxruntime takes it: window start = unit · stride −
pad_begin on each axis, taps ``dilation`` apart, cells outside the input are
padding (zeros). Grouped convolutions read only the input channels of the
unit's group. 1-D, 2-D and 3-D convolutions are explained (a 3-D patch is shown
as one row of grids per depth slice). A transposed convolution's unit is the
sum over the input cells whose kernel footprint covers it.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from lenet_gui.core.explain_context import (
    DOT, ExplainContext, NotExplained, activation_step, num, rule, shape_text, window_taps,
)
from lenet_gui.core.explanation import Explanation, Grid, Step


def _check(layer, node) -> str | None:
    hyper = layer.hyper or {}
    kernel = hyper.get("kernel")
    if not kernel or "pads" not in hyper:
        return "the convolution's settings could not be worked out"
    if len(kernel) > 3:
        return f"a {len(kernel)}-D convolution is not explained (1-D, 2-D and 3-D are)"
    if len(node.input) < 2:
        return "the convolution has no weights"
    return None


@rule(check=_check)
def explain_conv(ctx: ExplainContext, layer, node, unit) -> Explanation:
    x_name, w_name = node.input[0], node.input[1]
    b_name = node.input[2] if len(node.input) > 2 else ""
    x = ctx.value(x_name, "the convolution's input")
    w = ctx.value(w_name, "the weights")
    b = ctx.optional(b_name)
    hyper = layer.hyper
    nd = x.ndim - 2
    kernel = [int(k) for k in w.shape[2:]]
    stride = [int(s) for s in hyper["stride"]]
    dilation = [int(d) for d in hyper["dilation"]]
    pads = [int(p) for p in hyper["pads"]]
    group = int(hyper.get("group", 1))
    if len(unit) != nd + 1:
        raise NotExplained(f"expected a unit with {nd + 1} numbers (channel and {nd} positions)")
    m, position = int(unit[0]), [int(i) for i in unit[1:]]
    out_channels, group_channels = w.shape[0], w.shape[1]
    per_group = out_channels // group
    g = m // per_group
    first = g * group_channels
    taps, inside, starts = window_taps(position, stride, pads[:nd], dilation, kernel, x.shape[2:])

    rows: list[list[Grid]] = []
    terms = []
    total_products = 0.0
    count = 0
    for local in range(group_channels):
        c = first + local
        patch = np.zeros(kernel)
        for offsets in itertools.product(*(range(k) for k in kernel)):
            if all(inside[a][o] for a, o in enumerate(offsets)):
                patch[offsets] = x[(0, c) + tuple(taps[a][o] for a, o in enumerate(offsets))]
        weights = w[m, local]
        products = patch * weights
        total_products += math.fsum(products.ravel().tolist())
        count += products.size
        padding = _padding_mask(inside, kernel)
        for offsets in itertools.product(*(range(k) for k in kernel)):
            index = (0, c) + tuple(taps[a][o] for a, o in enumerate(offsets))
            terms.append(ctx.term(x_name, index, weights[offsets], patch[offsets], bool(padding[offsets])))
        rows.extend(_grid_rows(f"input channel {c} of {x.shape[1]}", f"kernel {m}, channel {local}",
                               patch, weights, products, padding, nd))
    terms.sort(key=lambda t: -abs(t.product))

    bias = float(b.reshape(-1)[m]) if b is not None else 0.0
    total = total_products + bias
    steps = [Step(f"sum of {count} products ({group_channels} channel{'s' if group_channels != 1 else ''} "
                  f"{DOT} {shape_text(kernel)}) = {num(total_products)}", total_products)]
    if b is not None:
        steps.append(Step(f"+ bias {num(bias)} = {num(total)}", total))
    steps.append(Step(f"total = {num(total)}", total))
    after = activation_step(ctx, layer, total)
    if after is not None:
        steps.append(after)
    window = {
        "start": starts, "stride": stride, "dilation": dilation, "kernel": kernel,
        "pads": pads, "input_channels": [first, first + group_channels], "group": g,
    }
    return Explanation(layer="", op=node.op_type, unit=tuple(unit), value=total, kind="conv", rows=rows,
                       terms=terms, steps=steps, window=window)


def _padding_mask(inside: list[list[bool]], kernel: list[int]) -> np.ndarray:
    mask = np.zeros(kernel, dtype=bool)
    for offsets in itertools.product(*(range(k) for k in kernel)):
        mask[offsets] = not all(inside[a][o] for a, o in enumerate(offsets))
    return mask


def _grid_rows(name, kernel_name, patch, weights, products, padding, nd) -> list[list[Grid]]:
    """Patch, kernel slice and products as 2-D pictures (1-D: one row; 3-D: one row of grids per depth)."""
    if nd == 1:
        return [[Grid(name, patch[None, :], padding[None, :]),
                 Grid(kernel_name, weights[None, :], signed=True),
                 Grid("products", products[None, :], signed=True)]]
    if nd == 2:
        return [[Grid(name, patch, padding), Grid(kernel_name, weights, signed=True),
                 Grid("products", products, signed=True)]]
    return [[Grid(f"{name}, depth tap {d}", patch[d], padding[d]),
             Grid(f"{kernel_name}, depth {d}", weights[d], signed=True),
             Grid("products", products[d], signed=True)] for d in range(patch.shape[0])]


@rule(check=_check)
def explain_conv_transpose(ctx: ExplainContext, layer, node, unit) -> Explanation:
    """A transposed convolution spreads each input cell over a kernel-sized area; one output unit
    collects, per input channel, the cells whose spread lands on it: input i with kernel tap t where
    unit = i·stride − pad_begin + t·dilation."""
    x_name, w_name = node.input[0], node.input[1]
    b_name = node.input[2] if len(node.input) > 2 else ""
    x = ctx.value(x_name, "the input")
    w = ctx.value(w_name, "the weights")
    b = ctx.optional(b_name)
    hyper = layer.hyper
    nd = x.ndim - 2
    kernel = [int(k) for k in w.shape[2:]]
    stride = [int(s) for s in hyper["stride"]]
    dilation = [int(d) for d in hyper["dilation"]]
    pads = [int(p) for p in hyper["pads"]]
    group = int(hyper.get("group", 1))
    if len(unit) != nd + 1:
        raise NotExplained(f"expected a unit with {nd + 1} numbers (channel and {nd} positions)")
    m, position = int(unit[0]), [int(i) for i in unit[1:]]
    per_group = w.shape[1]
    g, m_local = m // per_group, m % per_group
    in_per_group = x.shape[1] // group
    # Per axis and tap: the input cell that lands on this unit, or None.
    sources = []
    for a in range(nd):
        cells = []
        for t in range(kernel[a]):
            offset = position[a] + pads[a] - t * dilation[a]
            i = offset // stride[a]
            cells.append(i if offset % stride[a] == 0 and 0 <= i < x.shape[2 + a] else None)
        sources.append(cells)
    rows, terms = [], []
    total_products, count = 0.0, 0
    for local in range(in_per_group):
        c = g * in_per_group + local
        landed = np.zeros(kernel)
        absent = np.zeros(kernel, dtype=bool)
        for offsets in itertools.product(*(range(k) for k in kernel)):
            cell = [sources[a][o] for a, o in enumerate(offsets)]
            if any(i is None for i in cell):
                absent[offsets] = True
                continue
            index = (0, c) + tuple(cell)
            landed[offsets] = x[index]
            terms.append(ctx.term(x_name, index, w[c, m_local][offsets], landed[offsets]))
            count += 1
        products = landed * w[c, m_local]
        total_products += math.fsum(products.ravel().tolist())
        rows.extend(_grid_rows(f"landing from input channel {c} of {x.shape[1]}",
                               f"kernel of input channel {c}, output {m_local}", landed, w[c, m_local], products,
                               absent, nd))
    terms.sort(key=lambda t: -abs(t.product))
    bias = float(b.reshape(-1)[m]) if b is not None else 0.0
    total = total_products + bias
    steps = [Step(f"{count} input cells land on this unit through the kernel (grey: no cell lands there); "
                  f"sum of their products = {num(total_products)}", total_products)]
    if b is not None:
        steps.append(Step(f"+ bias {num(bias)} = {num(total)}", total))
    steps.append(Step(f"total = {num(total)}", total))
    after = activation_step(ctx, layer, total)
    if after is not None:
        steps.append(after)
    window = {"stride": stride, "dilation": dilation, "kernel": kernel, "pads": pads, "group": g,
              "input_channels": [g * in_per_group, (g + 1) * in_per_group]}
    return Explanation(layer="", op=node.op_type, unit=tuple(unit), value=total, kind="conv_transpose", rows=rows,
                       terms=terms, steps=steps, window=window)


EXPLAIN_RULES = {"Conv": explain_conv, "ConvTranspose": explain_conv_transpose}
