"""Shapes of the normalisations: batch, instance, layer, local response, mean-variance."""

from __future__ import annotations

from lenet_gui.core.errors import ShapeError
from lenet_gui.core.ops._common import MUL, Call, Out, Tensor, dims, norm_axis, prod, show


def batch_norm(call: Call) -> Out:
    x = call.need(0)
    channels = x[1] if len(x) > 1 else 1
    for position in range(1, 5):
        if call.present(position) and call.ins[position].shape not in (None, [channels]):
            raise ShapeError(
                f"input {position + 1} has shape {dims(call.ins[position].shape)}, "
                f"expected {channels} (one per channel)")
    shapes = [list(x)] + [[channels]] * (len(call.node.output) - 1)  # training mode: running mean and variance
    return Out(shapes, f"same as input → {show(x)}", {"epsilon": float(call.attr("epsilon"))}, rf=call.ins[0].rf)


def running_statistics_note(ins: list[Tensor | None]) -> str:
    """BatchNormalization's mean and variance are initializers too, but not trained."""
    if len(ins) >= 5 and ins[3] is not None and ins[3].shape:
        return f"running mean and variance, 2{MUL}{prod(ins[3].shape)}, not trainable, not counted"
    return ""


def instance_norm(call: Call) -> Out:
    x = call.need(0)
    return Out([list(x)], f"same as input → {show(x)}", rf=call.ins[0].rf)


def layer_norm(call: Call) -> Out:
    x = call.need(0)
    axis = norm_axis(int(call.attr("axis")), len(x))
    # The optional outputs, mean and inverse standard deviation, keep the axes before ``axis``.
    shapes = [list(x)] + [x[:axis] + [1] * (len(x) - axis)] * (len(call.node.output) - 1)
    return Out(shapes, f"same as input → {show(x)}", rf=call.ins[0].rf)


def lrn(call: Call) -> Out:
    x = call.need(0)
    return Out([list(x)], f"same as input → {show(x)}", {"size": int(call.attr("size", 1))}, rf=call.ins[0].rf)


def mean_variance(call: Call) -> Out:
    x = call.need(0)
    return Out([list(x)], f"same as input → {show(x)}", rf=call.ins[0].rf)
