"""What convolutions and pooling share: per-axis settings and the working per axis."""

from __future__ import annotations

from typing import Any, Callable

from lenet_gui.core import arithmetic as ar
from lenet_gui.core.errors import ShapeError
from lenet_gui.core.ops._common import Call, axis_labels, ints, show


def spatial_attrs(call: Call, count: int, kernel: list[int]) -> dict[str, Any]:
    """kernel, stride, pads, dilation and auto_pad for ``count`` spatial axes.

    strides, dilations and pads have no schema default (their length depends
    on the input), so 1, 1 and 0 per axis are filled in here, as the spec says.
    """
    strides = ints(call.attr("strides") or [1] * count)
    dilations = ints(call.attr("dilations") or [1] * count)
    pads = ints(call.attr("pads") or [0] * (2 * count))
    auto_pad = str(call.attr("auto_pad") or "NOTSET").upper()
    if len(strides) != count or len(dilations) != count or len(pads) != 2 * count or len(kernel) != count:
        raise ShapeError(
            f"kernel {kernel}, strides {strides}, dilations {dilations} and pads {pads} "
            f"do not all match the {count} spatial axes of the input")
    return {"kernel": kernel, "stride": strides, "pads": pads, "dilation": dilations, "auto_pad": auto_pad}


def run_axes(count: int, compute: Callable[[int], ar.AxisResult]) -> list[ar.AxisResult]:
    """``compute(i)`` for every spatial axis; a failure names the axis."""
    labels = axis_labels(count)
    results = []
    for i in range(count):
        try:
            results.append(compute(i))
        except ShapeError as exc:
            axis = {"H": "height", "W": "width", "D": "depth", "L": "length"}.get(labels[i], labels[i])
            raise ShapeError(f"{axis}: {exc}") from None
    return results


def axes_formula(results: list[ar.AxisResult], out_shape: list[int]) -> str:
    """One working when every axis has the same, 'H: …; W: …' otherwise, then the shape."""
    formulas = [r.formula for r in results]
    if len(set(formulas)) == 1:
        text = formulas[0]
    else:
        text = "; ".join(f"{label}: {f}" for label, f in zip(axis_labels(len(formulas)), formulas))
    return f"{text} → {show(out_shape)}"


def notes(results: list[ar.AxisResult]) -> str:
    found = []
    for r in results:
        if r.note and r.note not in found:
            found.append(r.note)
    return "; ".join(found)
