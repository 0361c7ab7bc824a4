"""Output shapes of Conv and ConvTranspose (the arithmetic is lenet_gui.core.arithmetic)."""

from __future__ import annotations

from lenet_gui.core import arithmetic as ar
from lenet_gui.core.errors import ShapeError
from lenet_gui.core.ops._common import Call, Out, dims, ints, rf_sliding
from lenet_gui.core.ops._sliding import axes_formula, notes, run_axes, spatial_attrs


def conv(call: Call) -> Out:
    x = call.need(0)
    w = call.need(1)
    if len(x) < 3:
        raise ShapeError(f"Conv needs an input with batch, channel and spatial axes, got {dims(x)}")
    if len(w) != len(x):
        raise ShapeError(f"weights {dims(w)} do not match the input {dims(x)} (different number of axes)")
    count = len(x) - 2
    group = int(call.attr("group"))
    kernel = ints(call.attr("kernel_shape") or w[2:])
    if kernel != w[2:]:
        raise ShapeError(f"kernel_shape {kernel} does not match the weights {dims(w)}")
    if x[1] != w[1] * group:
        raise ShapeError(
            f"the input has {x[1]} channels but the weights {dims(w)} with group {group} expect {w[1] * group}")
    if w[0] % group:
        raise ShapeError(f"{w[0]} output channels cannot be split into {group} groups")
    if call.present(2):
        b = call.need(2)
        if b != [w[0]]:
            raise ShapeError(f"bias has shape {dims(b)}, expected {w[0]} (one per output channel)")
    hyper = spatial_attrs(call, count, kernel)
    pads = hyper["pads"]
    results = run_axes(count, lambda i: ar.conv_output_size(
        x[2 + i], kernel[i], hyper["stride"][i], pads[i], pads[i + count], hyper["dilation"][i], hyper["auto_pad"]))
    out = [x[0], w[0]] + [r.size for r in results]
    hyper["pads"] = [r.pad_begin for r in results] + [r.pad_end for r in results]
    hyper["group"] = group
    rf = rf_sliding(call.ins[0], kernel, hyper["stride"], [r.pad_begin for r in results], hyper["dilation"])
    return Out([out], axes_formula(results, out), hyper, rf=rf, note=notes(results))


def conv_transpose(call: Call) -> Out:
    x = call.need(0)
    w = call.need(1)
    if len(x) < 3 or len(w) != len(x):
        raise ShapeError(f"weights {dims(w)} do not match the input {dims(x)}")
    count = len(x) - 2
    group = int(call.attr("group"))
    kernel = ints(call.attr("kernel_shape") or w[2:])
    if kernel != w[2:]:  # onnxruntime refuses it ("kernel_shape is not compatible with W shape")
        raise ShapeError(f"kernel_shape {kernel} does not match the weights {dims(w)}")
    if x[1] != w[0]:
        raise ShapeError(f"the input has {x[1]} channels but the weights {dims(w)} expect {w[0]}")
    out_channels = w[1] * group
    if call.present(2):
        b = call.need(2)
        if b != [out_channels]:
            raise ShapeError(f"bias has shape {dims(b)}, expected {out_channels} (one per output channel)")
    hyper = spatial_attrs(call, count, kernel)
    pads = hyper["pads"]
    output_padding = ints(call.attr("output_padding") or [0] * count)
    output_shape = ints(call.attr("output_shape") or [])
    if output_shape and len(output_shape) == count + 2:
        output_shape = output_shape[2:]  # the full shape is allowed too
    if output_shape and len(output_shape) != count:
        raise ShapeError(f"output_shape {output_shape} does not match the {count} spatial axes")
    if len(output_padding) != count:
        raise ShapeError(f"output_padding {output_padding} does not match the {count} spatial axes")
    results = run_axes(count, lambda i: ar.conv_transpose_output_size(
        x[2 + i], kernel[i], hyper["stride"][i], pads[i], pads[i + count], hyper["dilation"][i],
        output_padding[i], hyper["auto_pad"], output_shape[i] if output_shape else None))
    out = [x[0], out_channels] + [r.size for r in results]
    hyper["pads"] = [r.pad_begin for r in results] + [r.pad_end for r in results]
    hyper["group"] = group
    hyper["output_padding"] = output_padding
    if output_shape:
        hyper["output_shape"] = output_shape
    # A transposed convolution spreads each input pixel over several outputs:
    # its receptive field is not a sliding window, so none is given.
    return Out([out], axes_formula(results, out), hyper, rf=None)
