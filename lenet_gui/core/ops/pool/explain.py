"""Explain rules for pooling and reductions: the window over the input, its maximum or its mean.

Windows are taken as onnxruntime takes them: start = unit · stride − pad_begin,
taps ``dilation`` apart. Padding never wins a max. An average divides by the
cells on the input (``count_include_pad=0``) or by the cells on the padded input
(``count_include_pad=1``); a ``ceil_mode`` window that runs past the padded
input is clipped there, and those cells count for nothing.
"""

from __future__ import annotations

import itertools
import math

import numpy as np

from lenet_gui.core.explain_context import (
    ExplainContext, NotExplained, attrs, num, rule, shape_text, window_taps,
)
from lenet_gui.core.explanation import Explanation, Grid, Step

_LISTED = 16  # values written out in a mean before "…"


def _check(layer, node) -> str | None:
    hyper = layer.hyper or {}
    if node.op_type.startswith("Global"):
        return None
    if not hyper.get("kernel") or "pads" not in hyper:
        return "the pooling settings could not be worked out"
    if len(hyper["kernel"]) > 3:
        return f"{len(hyper['kernel'])}-D pooling is not explained (1-D, 2-D and 3-D are)"
    return None


@rule(check=_check)
def explain_pool(ctx: ExplainContext, layer, node, unit) -> Explanation:
    x_name = node.input[0]
    x = ctx.value(x_name, "the pooling input")
    nd = x.ndim - 2
    op = node.op_type
    if len(unit) != nd + 1:
        raise NotExplained(f"expected a unit with {nd + 1} numbers (channel and {nd} positions)")
    c, position = int(unit[0]), [int(i) for i in unit[1:]]
    a = attrs(node)
    if op.startswith("Global"):
        kernel = [int(n) for n in x.shape[2:]]
        stride, dilation, pads = [1] * nd, [1] * nd, [0] * (2 * nd)
        include_pad = False
    else:
        hyper = layer.hyper
        kernel = [int(k) for k in hyper["kernel"]]
        stride = [int(s) for s in hyper["stride"]]
        dilation = [int(d) for d in hyper.get("dilation") or [1] * nd]
        pads = [int(p) for p in hyper["pads"]]
        include_pad = bool(int(a.get("count_include_pad", 0)))
    n = [int(v) for v in x.shape[2:]]
    taps, inside, starts = window_taps(position, stride, pads[:nd], dilation, kernel, n)
    # Cells within the padded input: they count in a count_include_pad average.
    padded = [[-pads[ax] <= t < n[ax] + pads[nd + ax] for t in taps[ax]] for ax in range(nd)]

    values = np.zeros(kernel)
    on_input = np.zeros(kernel, dtype=bool)
    on_padded = np.zeros(kernel, dtype=bool)
    terms = []
    for offsets in itertools.product(*(range(k) for k in kernel)):
        on_input[offsets] = all(inside[ax][o] for ax, o in enumerate(offsets))
        on_padded[offsets] = all(padded[ax][o] for ax, o in enumerate(offsets))
        if on_input[offsets]:
            index = (0, c) + tuple(taps[ax][o] for ax, o in enumerate(offsets))
            values[offsets] = x[index]
            terms.append(ctx.term(x_name, index, 1.0, values[offsets]))
    if not on_input.any():
        raise NotExplained("this window lies entirely in the padding")
    cells = [values[o] for o in itertools.product(*(range(k) for k in kernel)) if on_input[o]]

    steps: list[Step] = []
    highlight_at = None
    if op in ("MaxPool", "GlobalMaxPool"):
        kind_name = "maximum"
        masked = np.where(on_input, values, -np.inf)
        flat = int(np.argmax(masked))
        highlight_at = tuple(int(i) for i in np.unravel_index(flat, kernel))
        value = float(masked[highlight_at])
        terms.sort(key=lambda t: -t.value)
        steps.append(Step(f"largest of {len(cells)} value{'s' if len(cells) != 1 else ''} in the "
                          f"{shape_text(kernel)} window = {num(value)}", value))
    elif op in ("AveragePool", "GlobalAveragePool"):
        kind_name = "mean"
        divisor = int(on_padded.sum()) if include_pad else len(cells)
        total = math.fsum(cells)
        value = total / divisor
        for t in terms:
            t.weight = 1.0 / divisor
        terms.sort(key=lambda t: -abs(t.product))
        listed = " + ".join(num(v) for v in cells[:_LISTED]) + (" + …" if len(cells) > _LISTED else "")
        pad_cells = divisor - len(cells)
        steps.append(Step(f"sum of {len(cells)} value{'s' if len(cells) != 1 else ''}: {listed} = {num(total)}",
                          total))
        if include_pad and pad_cells:
            steps.append(Step(f"count_include_pad = 1: the {pad_cells} padding cell{'s' if pad_cells != 1 else ''} "
                              f"count as zeros, so divide by {divisor}"))
        elif not include_pad and not on_input.all() and not op.startswith("Global"):
            steps.append(Step(f"count_include_pad = 0: padding cells are left out, so divide by {divisor}"))
        steps.append(Step(f"mean = {num(total)} / {divisor} = {num(value)}", value))
    elif op in ("LpPool", "GlobalLpPool"):
        p = float(a.get("p", 2))
        kind_name = f"L{p:g} norm"
        powered = math.fsum(abs(v) ** p for v in cells)
        value = powered ** (1.0 / p)
        terms.sort(key=lambda t: -abs(t.value))
        steps.append(Step(f"sum of |x|^{p:g} over {len(cells)} values = {num(powered)}", powered))
        steps.append(Step(f"({num(powered)})^(1/{p:g}) = {num(value)}", value))
    else:  # pragma: no cover - only registered ops reach here
        raise NotExplained(f"{op} is not a pooling op this explains")
    if not on_padded.all():
        steps.insert(0, Step("ceil_mode: the window runs past the padded input and is clipped there"))

    rows = _grids(c, x.shape[1], values, ~on_input, highlight_at, nd)
    window = {"start": starts, "stride": stride, "dilation": dilation, "kernel": kernel, "pads": pads,
              "count_include_pad": int(include_pad), "reduce": kind_name}
    return Explanation(layer="", op=op, unit=tuple(unit), value=value, kind="pool", rows=rows, terms=terms,
                       steps=steps, window=window)


def _grids(c, channels, values, padding, highlight_at, nd) -> list[list[Grid]]:
    title = f"window on input channel {c} of {channels}"
    if nd == 1:
        hl = None if highlight_at is None else (0, highlight_at[0])
        return [[Grid(title, values[None, :], padding[None, :], hl)]]
    if nd == 2:
        return [[Grid(title, values, padding, highlight_at)]]
    rows = []
    for d in range(values.shape[0]):
        hl = None if highlight_at is None or highlight_at[0] != d else highlight_at[1:]
        rows.append([Grid(f"{title}, depth tap {d}", values[d], padding[d], hl)])
    return rows


_REDUCE = {
    "ReduceMean": ("mean", lambda v: math.fsum(v) / len(v)),
    "ReduceSum": ("sum", math.fsum),
    "ReduceMax": ("largest", max),
    "ReduceMin": ("smallest", min),
    "ReduceProd": ("product", math.prod),
    "ReduceL1": ("sum of |x|", lambda v: math.fsum(abs(x) for x in v)),
    "ReduceL2": ("√(sum of x²)", lambda v: math.sqrt(math.fsum(x * x for x in v))),
    "ReduceSumSquare": ("sum of x²", lambda v: math.fsum(x * x for x in v)),
    "ReduceLogSum": ("ln(sum)", lambda v: math.log(math.fsum(v))),
    "ReduceLogSumExp": ("ln(sum of e^x)", lambda v: max(v) + math.log(math.fsum(math.exp(x - max(v)) for x in v))),
}


@rule()
def explain_reduce(ctx: ExplainContext, layer, node, unit) -> Explanation:
    """A reduction: the cells of the input that share the unit's kept coordinates, and their mean, sum, …"""
    x_name = node.input[0]
    x = ctx.value(x_name, "the input")
    a = attrs(node)
    if "axes" in a:
        axes = [int(v) for v in a["axes"]]
    elif len(node.input) > 1 and node.input[1]:
        axes = [int(v) for v in ctx.value(node.input[1], "the axes").reshape(-1)]
    else:
        axes = []
    if not axes:
        if int(a.get("noop_with_empty_axes", 0)):
            raise NotExplained("a reduction over no axes copies its input")
        axes = list(range(x.ndim))
    axes = sorted(ax + x.ndim if ax < 0 else ax for ax in axes)
    if 0 in axes:
        raise NotExplained("this reduction runs over the batch axis")
    keep = bool(int(a.get("keepdims", 1)))
    out_index = list((0,) + tuple(int(i) for i in unit))
    if not keep:
        for ax in axes:
            out_index.insert(ax, 0)
    ranges = [range(x.shape[d]) if d in axes else [out_index[d]] for d in range(x.ndim)]
    cells = list(itertools.product(*ranges))
    values = [float(x[c]) for c in cells]
    label, fn = _REDUCE[node.op_type]
    value = float(fn(values))
    listed = ", ".join(num(v) for v in values[:_LISTED]) + (", …" if len(values) > _LISTED else "")
    steps = [Step(f"the {len(values)} values over axes {', '.join(str(ax) for ax in axes)}: {listed}"),
             Step(f"{label} = {num(value)}", value)]
    terms = sorted((ctx.term(x_name, c, 1.0, v) for c, v in zip(cells, values)), key=lambda t: -abs(t.value))
    return Explanation(layer="", op=node.op_type, unit=tuple(unit), value=value, kind="pool", terms=terms,
                       steps=steps, window={"axes": axes, "keepdims": int(keep), "reduce": label})


EXPLAIN_RULES = {op: explain_reduce for op in _REDUCE}
EXPLAIN_RULES |= {
    op: explain_pool
    for op in ("MaxPool", "AveragePool", "LpPool", "GlobalMaxPool", "GlobalAveragePool", "GlobalLpPool")
}
