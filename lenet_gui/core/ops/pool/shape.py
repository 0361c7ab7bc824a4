"""Output shapes of pooling: windowed (MaxPool, AveragePool, LpPool) and global."""

from __future__ import annotations

from lenet_gui.core import arithmetic as ar
from lenet_gui.core.errors import ShapeError
from lenet_gui.core.ops._common import Call, Out, dims, ints, rf_sliding, show
from lenet_gui.core.ops._sliding import axes_formula, notes, run_axes, spatial_attrs


def pool(call: Call) -> Out:
    x = call.need(0)
    if len(x) < 3:
        raise ShapeError(f"{call.op} needs an input with batch, channel and spatial axes, got {dims(x)}")
    count = len(x) - 2
    if "kernel_shape" not in call.attrs:
        raise ShapeError("kernel_shape is missing")
    kernel = ints(call.attr("kernel_shape"))
    hyper = spatial_attrs(call, count, kernel)
    ceil_mode = bool(call.attr("ceil_mode", 0))  # MaxPool-1 has no ceil_mode: it floors
    pads = hyper["pads"]
    # Output sizes as onnxruntime computes them; see arithmetic.pool_output_size
    # for where that differs from ONNX shape inference (ceil_mode, SAME).
    results = run_axes(count, lambda i: ar.pool_output_size(
        x[2 + i], kernel[i], hyper["stride"][i], pads[i], pads[i + count], hyper["dilation"][i],
        ceil_mode, hyper["auto_pad"]))
    out = [x[0], x[1]] + [r.size for r in results]
    hyper["pads"] = [r.pad_begin for r in results] + [r.pad_end for r in results]
    if (call.op == "MaxPool" and min(hyper["pads"]) < 0 and set(hyper["dilation"]) == {1}
            and len(call.node.output) == 1):
        # onnxruntime's fast MaxPool (no dilation, no Indices) checks the pads its
        # slower path accepts.
        raise ShapeError(
            f"SAME padding comes out negative here ({hyper['pads']}), and onnxruntime's MaxPool without "
            "dilation or Indices refuses that (\"padding values must be non-negative\")")
    hyper["ceil_mode"] = int(ceil_mode)
    if call.op == "AveragePool":
        hyper["count_include_pad"] = int(call.attr("count_include_pad", 0))
    if call.op == "LpPool":
        hyper["p"] = int(call.attr("p"))
    rf = rf_sliding(call.ins[0], kernel, hyper["stride"], [r.pad_begin for r in results], hyper["dilation"])
    shapes = [out] + [list(out)] * (len(call.node.output) - 1)  # MaxPool's Indices
    return Out(shapes, axes_formula(results, out), hyper, ar.POOL_CONVENTION_PER_SIDE, rf, note=notes(results))


_GLOBAL_KIND = {"GlobalAveragePool": "average", "GlobalMaxPool": "maximum", "GlobalLpPool": "Lp norm"}


def global_pool(call: Call) -> Out:
    x = call.need(0)
    if len(x) < 3:
        raise ShapeError(f"{call.op} needs an input with batch, channel and spatial axes, got {dims(x)}")
    count = len(x) - 2
    out = x[:2] + [1] * count
    formula = f"one {_GLOBAL_KIND[call.op]} over each {dims(x[2:])} map → {show(out)}"
    # One window as large as the input: the field is the union of all units'.
    rf = rf_sliding(call.ins[0], x[2:], [1] * count, [0] * count, [1] * count)
    return Out([out], formula, {"kernel": x[2:]}, rf=rf)
