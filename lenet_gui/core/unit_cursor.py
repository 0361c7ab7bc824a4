"""Stepping from one unit of a layer to the next, the way a kernel slides.

A unit is its index in the layer's output without the batch axis, e.g.
``(map, row, column)``. Units follow in row-major order: along a row, then down
the map, then on to the next map. Play stops at the end of a row or of a map,
whichever the person chose. No Qt here: the inspector and its tests share it.
"""

from __future__ import annotations

import math

import numpy as np

ROW = "row"
MAP = "map"
SCOPES = (ROW, MAP)


def clamp_unit(shape: tuple[int, ...], unit: tuple[int, ...]) -> tuple[int, ...]:
    """``unit`` moved inside ``shape`` (missing axes are 0, extra ones dropped)."""
    unit = tuple(unit)[: len(shape)] + (0,) * max(0, len(shape) - len(unit))
    return tuple(min(max(int(i), 0), max(int(n) - 1, 0)) for i, n in zip(unit, shape))


def flat_index(shape: tuple[int, ...], unit: tuple[int, ...]) -> int:
    index = 0
    for i, n in zip(unit, shape):
        index = index * int(n) + int(i)
    return index


def unit_at(shape: tuple[int, ...], index: int) -> tuple[int, ...]:
    """The unit with row-major position ``index`` (kept inside the layer)."""
    index = min(max(int(index), 0), max(math.prod(shape) - 1, 0))
    unit = []
    for n in reversed(shape):
        n = max(int(n), 1)
        unit.append(index % n)
        index //= n
    return tuple(reversed(unit))


def step(shape: tuple[int, ...], unit: tuple[int, ...], delta: int = 1) -> tuple[int, ...]:
    """The unit ``delta`` places after ``unit`` in row-major order; the layer's ends hold."""
    return unit_at(shape, flat_index(shape, clamp_unit(shape, unit)) + delta)


def scope_axes(shape: tuple[int, ...], scope: str) -> int:
    """How many trailing axes one Play run covers: a row is the last axis, a map the last two."""
    if scope == ROW:
        return 1
    return min(2, len(shape))


def scope_end(shape: tuple[int, ...], unit: tuple[int, ...], scope: str) -> bool:
    """True when ``unit`` is the last one of its row (or map): Play stops there."""
    unit = clamp_unit(shape, unit)
    axes = scope_axes(shape, scope)
    tail = range(len(shape) - axes, len(shape))
    return all(unit[a] == int(shape[a]) - 1 for a in tail)


def scope_start(shape: tuple[int, ...], unit: tuple[int, ...], scope: str) -> tuple[int, ...]:
    """The first unit of the row (or map) that ``unit`` lies in: where a replay begins."""
    unit = list(clamp_unit(shape, unit))
    for a in range(len(shape) - scope_axes(shape, scope), len(shape)):
        unit[a] = 0
    return tuple(unit)


def describe(shape: tuple[int, ...], unit: tuple[int, ...]) -> str:
    """Words for a unit: "map 3, row 4, column 7" for C×H×W, "unit 12" for vectors."""
    spatial = [i for i, n in enumerate(shape) if n > 1]
    if len(shape) == 3 and shape[1] * shape[2] > 1:
        return f"map {unit[0]}, row {unit[1]}, column {unit[2]}"
    if len(shape) == 2 and shape[0] > 1 and shape[1] > 1:
        return f"row {unit[0]}, column {unit[1]}"
    if len(spatial) <= 1:
        return f"unit {flat_index(shape, unit)}"
    return "unit (" + ", ".join(str(i) for i in unit) + ")"


def from_tile(shape: tuple[int, ...], kind: str, tile: int, row: int, col: int) -> tuple[int, ...]:
    """The unit a heatmap cell stands for: ``kind`` "maps" draws H×W tiles, "strip" one cell per unit."""
    if kind == "maps":
        if len(shape) == 3:
            return clamp_unit(shape, (tile, row, col))
        if len(shape) == 2:
            return clamp_unit(shape, (row, col))
    return unit_at(shape, tile)


def to_tile(shape: tuple[int, ...], kind: str, unit: tuple[int, ...]) -> tuple[int, int, int]:
    """The heatmap cell (tile, row, column) that shows ``unit``; the inverse of from_tile."""
    unit = clamp_unit(shape, unit)
    if kind == "maps" and len(shape) == 3:
        return unit[0], unit[1], unit[2]
    if kind == "maps" and len(shape) == 2:
        return 0, unit[0], unit[1]
    return flat_index(shape, unit), 0, 0


def describe_window(window: dict, source: str = "its input") -> str:
    """Where a conv or pool took its patch: "Patch from S2: rows 3 to 7, columns 4 to 8 (stride 1, dilation 1)."

    With stride and dilation written out, a student sees the kernel jump and spread.
    """
    try:
        (y, x), (ky, kx) = window["start"], window["kernel"]
        dy, dx = window.get("dilation") or (1, 1)
        sy, sx = window.get("stride") or (1, 1)
    except (KeyError, TypeError, ValueError):
        return ""

    def span(start: int, size: int, step: int) -> str:  # "to", not a dash: the start may be negative
        text = f"{start} to {start + (size - 1) * step}".replace("-", "−")
        return text + (f" every {step}" if step != 1 else "")

    rows, cols = f"rows {span(y, ky, dy)}", f"columns {span(x, kx, dx)}"
    stride = f"stride {sy}" if sy == sx else f"stride {sy}×{sx}"
    dilation = f"dilation {dy}" if dy == dx else f"dilation {dy}×{dx}"
    padded = any(int(p) for p in window.get("pads") or ())
    note = "; rows and columns outside it are padding" if padded else ""
    return f"Patch from {source}: {rows}, {cols} ({stride}, {dilation}{note})."


POOLS = ("MaxPool", "AveragePool", "LpPool")
COPIES = ("Flatten", "Reshape", "Squeeze", "Unsqueeze", "Identity")


def forward_unit(shape: tuple[int, ...], unit: tuple[int, ...], consumer_op: str, consumer_shape: tuple[int, ...],
                 hyper: dict | None = None, consumer_values=None) -> tuple[tuple[int, ...], str]:
    """The unit of the next layer to look at after ``unit``, and why that one.

    Element-wise layers keep the unit; Flatten-like ones copy it to the same
    row-major position; a pooling layer takes it into the window that holds it;
    a layer mixing many units (a convolution, a dense layer) is entered at its
    strongest unit for this drawing, which for the output layer is the answer.
    """
    unit = clamp_unit(shape, unit)
    if tuple(consumer_shape) == tuple(shape):
        return unit, "the same unit"
    size = math.prod(shape)
    if consumer_op in COPIES and math.prod(consumer_shape) == size:
        return unit_at(consumer_shape, flat_index(shape, unit)), "where it is copied to"
    if consumer_op in POOLS and len(unit) == 3 and len(consumer_shape) == 3:
        hyper = hyper or {}
        stride = list(hyper.get("stride") or [1, 1])
        pads = list(hyper.get("pads") or [0, 0, 0, 0])
        row = (unit[1] + int(pads[0])) // max(int(stride[0]), 1)
        col = (unit[2] + int(pads[1])) // max(int(stride[1]), 1)
        return clamp_unit(consumer_shape, (unit[0], row, col)), "the window that holds it"
    if consumer_values is not None and getattr(consumer_values, "size", 0):
        return unit_at(consumer_shape, int(np.argmax(consumer_values))), "its strongest unit for this drawing"
    return tuple(0 for _ in consumer_shape), "its first unit"
