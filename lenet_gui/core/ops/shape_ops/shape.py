"""Shapes and folding of the ops that move, pick, reduce or make tensors.

Flatten, Reshape, Transpose, (Un)Squeeze, Concat, Split, Slice, Gather, Pad,
Expand, Tile, Resize, DepthToSpace/SpaceToDepth change where values sit;
reductions and ArgMax/ArgMin summarise axes; Shape, Size, Constant,
ConstantOfShape and Range make tensors whose values are known without the
image, which the graph walk folds.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from onnx import numpy_helper

from lenet_gui.core.errors import ShapeError
from lenet_gui.core.ops._common import (
    DENSE, Call, Out, UnknownShape, broadcast, dims, ints, norm_axis, prod, rf_dense, rf_merge, rf_regroup, show,
)


def pad(call: Call) -> Out:
    x = call.need(0)
    rank = len(x)
    if "pads" in call.attrs or "paddings" in call.attrs:
        pads = ints(call.attr("pads", call.attr("paddings")))
        axes = list(range(rank))
    else:
        pads_value = call.value(1)
        if pads_value is None:
            raise UnknownShape("the pads input is not a constant")
        pads = ints(pads_value.ravel())
        axes_value = call.value(3)
        axes = list(range(rank))
        if axes_value is not None:
            axes = [norm_axis(int(a), rank) for a in axes_value.ravel()]
    if len(pads) != 2 * len(axes):
        raise ShapeError(f"pads {pads} do not match the {len(axes)} padded axes")
    out = list(x)
    parts = []
    begins = {}
    mode = call.attr("mode")
    for i, axis in enumerate(axes):
        before, after = pads[i], pads[i + len(axes)]
        out[axis] = x[axis] + before + after
        if out[axis] < 0:
            raise ShapeError(f"pads {before} and {after} remove more than the {x[axis]} pixels of axis {axis}")
        _check_copied_padding(mode, axis, x[axis], before, after)
        begins[axis] = before
        if before or after:
            parts.append(f"axis {axis}: {x[axis]} + {before} + {after} = {out[axis]}")
    formula = f"{'; '.join(parts) or 'no padding'} → {show(out)}"
    rf = call.ins[0].rf
    if isinstance(rf, dict):
        rf = {a: (e[0], e[1], e[2], e[3] - begins.get(a, 0) * e[2]) for a, e in rf.items()}
    return Out([out], formula, {"pads": pads, "mode": mode}, rf=rf)


def _check_copied_padding(mode: str, axis: int, size: int, before: int, after: int) -> None:
    """Edge and reflect padding copy input values, so some must be left after negative pads (a crop).

    Reflect mirrors without repeating the border value: at most (values left − 1)
    on each side, as onnxruntime enforces.
    """
    if mode not in ("edge", "reflect"):
        return
    left = size + min(before, 0) + min(after, 0)
    if left < 1:
        raise ShapeError(f"{mode} padding copies values, but pads {before} and {after} leave none of the "
                         f"{size} on axis {axis}")
    if mode == "reflect" and max(before, after) > left - 1:
        raise ShapeError(f"reflect padding mirrors at most {left - 1} of the {left} values on axis {axis}, "
                         f"pads {before} and {after} ask for more")


def flatten(call: Call) -> Out:
    x = call.need(0)
    axis = int(call.attr("axis"))
    if not -len(x) <= axis <= len(x):
        raise ShapeError(f"axis {axis} is out of range for a tensor with {len(x)} axes")
    axis = axis + len(x) if axis < 0 else axis
    out = [prod(x[:axis]), prod(x[axis:])]
    kept = x[axis:]
    formula = f"flatten {dims(kept)} = {out[1]}" if len(kept) > 1 else f"flatten → {dims(out)}"
    # Keeping one axis still joins the ones before it, and the result has two axes:
    # the input's field (keyed by its axes 2, 3) is regrouped, not handed on as is.
    rf = rf_dense(call.ins[0]) if len(kept) > 1 else rf_regroup(call.ins[0], out)
    return Out([out], formula, {"axis": axis}, rf=rf)


def reshape(call: Call) -> Out:
    x = call.need(0)
    if "shape" in call.attrs:  # opset < 5
        target = ints(call.attrs["shape"])
    else:
        value = call.value(1)
        if value is None:
            raise UnknownShape("the target shape is not a constant")
        target = ints(value.ravel())
    allow_zero = int(call.attr("allowzero", 0))  # new in opset 14
    out = []
    for i, d in enumerate(target):
        if d == 0 and not allow_zero:
            if i >= len(x):
                raise ShapeError(f"target {target} copies axis {i}, which the input {dims(x)} does not have")
            out.append(x[i])
        else:
            out.append(d)
    total = prod(x)
    if out.count(-1) > 1:
        raise ShapeError(f"target {target} has more than one -1")
    if -1 in out:
        known = prod(d for d in out if d != -1)
        if known == 0 or total % known:
            raise ShapeError(f"cannot reshape {dims(x)} ({total} values) into {target}")
        out[out.index(-1)] = total // known
    if any(d < 0 for d in out) or prod(out) != total:
        raise ShapeError(f"cannot reshape {dims(x)} ({total} values) into {dims(out)} ({prod(out)} values)")
    data = not call.ins[0].static
    formula = f"reshape {show(x, data)} → {show(out, data)}"
    return Out([out], formula, {"shape": target, "allowzero": allow_zero}, rf=rf_regroup(call.ins[0], out))


def transpose(call: Call) -> Out:
    x = call.need(0)
    perm = ints(call.attr("perm") or list(range(len(x)))[::-1])
    if sorted(perm) != list(range(len(x))):
        raise ShapeError(f"perm {perm} is not an ordering of the {len(x)} axes")
    out = [x[p] for p in perm]
    rf = call.ins[0].rf
    if isinstance(rf, dict):
        rf = {new: rf[old] for new, old in enumerate(perm) if old in rf}
    data = not call.ins[0].static
    formula = f"transpose ({', '.join(map(str, perm))}): {show(x, data)} → {show(out, data)}"
    return Out([out], formula, {"perm": perm}, rf=rf)


def _axes_from(call: Call, position: int) -> list[int] | None:
    if "axes" in call.attrs:
        return ints(call.attrs["axes"])
    value = call.value(position)
    if value is not None:
        return ints(value.ravel())
    if position < len(call.ins) and call.ins[position] is not None:
        raise UnknownShape("the axes input is not a constant")
    return None


def squeeze(call: Call) -> Out:
    x = call.need(0)
    axes = _axes_from(call, 1)
    if axes is None:
        drop = {i for i, d in enumerate(x) if d == 1}
    else:
        drop = {norm_axis(a, len(x)) for a in axes}
        for axis in drop:
            if x[axis] != 1:
                raise ShapeError(f"cannot squeeze axis {axis} of {dims(x)}: its size is {x[axis]}, not 1")
    out = [d for i, d in enumerate(x) if i not in drop]
    data = not call.ins[0].static
    formula = f"drop size-1 axes: {show(x, data)} → {show(out, data)}"
    return Out([out], formula, {"axes": sorted(drop)}, rf=rf_regroup(call.ins[0], out))


def unsqueeze(call: Call) -> Out:
    x = call.need(0)
    axes = _axes_from(call, 1)
    if axes is None:
        raise ShapeError("Unsqueeze needs axes")
    rank = len(x) + len(axes)
    axes = sorted(norm_axis(a, rank) for a in axes)
    out = list(x)
    for axis in axes:
        out.insert(axis, 1)
    data = not call.ins[0].static
    formula = f"add size-1 axes {axes}: {dims(x)} → {dims(out)}"
    if data:
        formula = f"add size-1 axes {axes} → {show(out)}"
    return Out([out], formula, {"axes": axes}, rf=rf_regroup(call.ins[0], out))


def concat(call: Call) -> Out:
    present = [i for i, t in enumerate(call.ins) if t is not None]
    shapes = [call.need(i) for i in present]
    rank = len(shapes[0])
    axis = norm_axis(int(call.attr("axis", 1)), rank)  # required by the spec; 1 if left out
    for shape in shapes:
        if len(shape) != rank or any(shape[i] != shapes[0][i] for i in range(rank) if i != axis):
            raise ShapeError(
                f"cannot join {' and '.join(dims(s) for s in shapes)} on axis {axis}: other axes differ")
    out = list(shapes[0])
    out[axis] = sum(s[axis] for s in shapes)
    sizes = " + ".join(str(s[axis]) for s in shapes)
    first_rf = call.ins[present[0]].rf
    if first_rf == DENSE:
        rf = DENSE
    elif isinstance(first_rf, dict) and axis in first_rf:
        rf = None  # joined along the image's own axes: no single window any more
    else:
        rf = rf_merge(call.ins, rank)
    data = not all(call.ins[i].static for i in present)
    return Out([out], f"join on axis {axis}: {sizes} = {out[axis]} → {show(out, data)}", {"axis": axis},
                rf=rf)


def shape_of(call: Call) -> Out:
    x = call.need(0)
    start = int(call.attr("start", 0))  # no start before opset 15
    end = call.attr("end")
    part = x[slice(start, int(end) if end is not None else None)]
    return Out([[len(part)]], f"the shape of the input, {list(part)}")


def size_of(call: Call) -> Out:
    x = call.need(0)
    return Out([[]], f"number of values in {dims(x)} = {prod(x)}")


def constant_node(call: Call) -> Out:
    value = constant_value(call.attrs)
    if value is None:
        return Out([None], "constant (of a kind not read here)")
    return Out([list(value.shape)], f"constant {dims(value.shape)}")


def constant_of_shape(call: Call) -> Out:
    value = call.value(0)
    if value is None:
        raise UnknownShape("its shape input is not a constant")
    out = ints(value.ravel())
    return Out([out], f"filled tensor {dims(out)}")


def gather(call: Call) -> Out:
    x = call.need(0)
    indices = call.need(1)
    axis = norm_axis(int(call.attr("axis")), len(x))
    out = x[:axis] + list(indices) + x[axis + 1:]
    data = not call.ins[0].static
    return Out([out], f"pick {dims(indices) if indices else 'one'} of {x[axis]} along axis {axis} → "
                       f"{show(out, data and len(out) > 1)}", {"axis": axis})


def slice_op(call: Call) -> Out:
    x = call.need(0)
    if "starts" in call.attrs:  # opset < 10
        starts, ends = ints(call.attrs["starts"]), ints(call.attrs["ends"])
        axes = ints(call.attr("axes") or range(len(starts)))
        steps = [1] * len(starts)
    else:
        values = [call.value(i) for i in (1, 2, 3, 4)]
        for position in (1, 2, 3, 4):
            if position < len(call.ins) and call.ins[position] is not None and values[position - 1] is None:
                raise UnknownShape("its starts/ends/axes/steps are not constants")
        starts, ends = ints(values[0].ravel()), ints(values[1].ravel())
        axes = ints(values[2].ravel()) if values[2] is not None else list(range(len(starts)))
        steps = ints(values[3].ravel()) if values[3] is not None else [1] * len(starts)
    out = list(x)
    for start, end, axis, step in zip(starts, ends, axes, steps):
        axis = norm_axis(axis, len(x))
        if step == 0:
            raise ShapeError("a slice step cannot be 0")
        chosen = onnx_slice(x[axis], start, end, step)
        out[axis] = len(range(*chosen.indices(x[axis])))
    data = not call.ins[0].static
    return Out([out], f"slice {show(x, data)} → {show(out, data)}",
                rf=call.ins[0].rf if out[2:] == x[2:] else None)


def onnx_slice(size: int, start: int, end: int, step: int) -> slice:
    """The Python slice that picks what ONNX Slice picks on an axis of ``size``.

    ONNX clamps differently from Python for a negative step: a start before the
    axis becomes 0 (the first value is taken), where Python takes nothing.
    """
    start = start + size if start < 0 else start
    end = end + size if end < 0 else end
    if step > 0:
        return slice(min(max(start, 0), size), min(max(end, 0), size), step)
    start = min(max(start, 0), size - 1)
    end = min(max(end, -1), size - 1)
    return slice(start, None if end < 0 else end, step)


def split(call: Call) -> Out:
    x = call.need(0)
    axis = norm_axis(int(call.attr("axis")), len(x))
    count = len(call.node.output)
    if "split" in call.attrs:
        sizes = ints(call.attrs["split"])
    elif len(call.ins) > 1 and call.ins[1] is not None:
        value = call.value(1)
        if value is None:
            raise UnknownShape("the split sizes are not a constant")
        sizes = ints(value.ravel())
    else:
        count = int(call.attr("num_outputs", count))
        each = -(-x[axis] // count)
        sizes = [min(each, x[axis] - each * i) for i in range(count)]
    if sum(sizes) != x[axis] or len(sizes) != len(call.node.output):
        raise ShapeError(f"cannot split {x[axis]} into {sizes}")
    shapes = []
    for size in sizes:
        shape = list(x)
        shape[axis] = size
        shapes.append(shape)
    return Out(shapes, f"split axis {axis}: {x[axis]} = {' + '.join(map(str, sizes))}", {"axis": axis},
                rf=call.ins[0].rf)


def reduce(call: Call) -> Out:
    x = call.need(0)
    axes = _axes_from(call, 1)
    keepdims = int(call.attr("keepdims"))
    if axes is None or not axes:
        if int(call.attr("noop_with_empty_axes", 0)):
            return Out([list(x)], f"no axes given, same as input → {show(x)}", rf=call.ins[0].rf)
        axes = list(range(len(x)))
    axes = sorted({norm_axis(a, len(x)) for a in axes})
    if keepdims:
        out = [1 if i in axes else d for i, d in enumerate(x)]
    else:
        out = [d for i, d in enumerate(x) if i not in axes]
    rf = call.ins[0].rf
    if isinstance(rf, dict) and any(a in rf for a in axes):
        rf = DENSE  # summing over the image: every output sees all of it
    return Out([out], f"{call.op[6:].lower()} over axes {axes} → {show(out)}",
                {"axes": axes, "keepdims": keepdims}, rf=rf)


def arg_extreme(call: Call) -> Out:
    x = call.need(0)
    axis = norm_axis(int(call.attr("axis")), len(x))
    keepdims = int(call.attr("keepdims"))
    if keepdims:
        out = [1 if i == axis else d for i, d in enumerate(x)]
    else:
        out = [d for i, d in enumerate(x) if i != axis]
    which = "smallest" if call.op == "ArgMin" else "largest"
    return Out([out], f"index of the {which} value along axis {axis} → {show(out)}",
                {"axis": axis, "keepdims": keepdims}, rf=rf_dense(call.ins[0]))


def expand(call: Call) -> Out:
    x = call.need(0)
    value = call.value(1)
    if value is None:
        raise UnknownShape("the target shape is not a constant")
    out = broadcast([x, ints(value.ravel())])
    return Out([out], f"expand {dims(x)} → {dims(out)}", rf=rf_merge(call.ins[:1], len(out)))


def tile(call: Call) -> Out:
    x = call.need(0)
    value = call.value(1)
    if value is None:
        raise UnknownShape("the repeats are not a constant")
    repeats = ints(value.ravel())
    if len(repeats) != len(x):
        raise ShapeError(f"{len(repeats)} repeats for a tensor with {len(x)} axes")
    out = [d * r for d, r in zip(x, repeats)]
    return Out([out], f"tile {dims(x)} by {repeats} → {dims(out)}")


def range_op(call: Call) -> Out:
    values = [call.value(i) for i in range(3)]
    if any(v is None for v in values):
        raise UnknownShape("start, limit and delta are not constants")
    start, limit, delta = (float(v) for v in values)
    if delta == 0:
        raise ShapeError("Range delta cannot be 0")
    length = max(math.ceil((limit - start) / delta), 0)
    return Out([[length]], f"range of {length} numbers")


def resize(call: Call) -> Out:
    x = call.need(0)
    rank = len(x)
    axes = [norm_axis(a, rank) for a in ints(call.attr("axes") or range(rank))]

    def constant(position: int | None) -> list[float] | None:
        if position is None or position >= len(call.ins) or call.ins[position] is None:
            return None
        value = call.value(position)
        if value is None:
            if call.ins[position].shape == [0]:
                return None
            raise UnknownShape("its scales or sizes are not constants")
        return value.ravel().tolist() if value.size else None

    if call.op == "Upsample" and "scales" in call.attrs:  # Upsample-7
        scales, sizes = [float(v) for v in call.attrs["scales"]], None
    elif call.op == "Upsample" or call.opset < 11:  # Upsample-9, Resize-10: (X, scales)
        scales, sizes = constant(1), None
    else:  # Resize-11+: (X, roi, scales, sizes)
        scales, sizes = constant(2), constant(3)
    policy = str(call.attr("keep_aspect_ratio_policy", "stretch"))  # new in opset 18
    out = list(x)
    if sizes is not None:
        if policy != "stretch":
            raise UnknownShape(f"keep_aspect_ratio_policy {policy} is not analysed")
        for axis, size in zip(axes, sizes):
            out[axis] = size
        how = f"sizes {sizes}"
    elif scales is not None:
        for axis, scale in zip(axes, scales):
            # In float32, as onnxruntime multiplies: 10·0.7 is 6.99999988 in double
            # arithmetic (0.7 stored as float32) but rounds to 7.0 in float32.
            out[axis] = int(math.floor(np.float32(x[axis]) * np.float32(scale)))
        how = f"scales {scales}"
    else:
        raise ShapeError("neither scales nor sizes is given")
    mode = call.attr("mode", "nearest")
    return Out([out], f"resize ({mode}, {how}): {show(x)} → {show(out)}", {"mode": mode})


def depth_to_space(call: Call) -> Out:
    x = call.need(0)
    b = int(call.attrs["blocksize"])
    if len(x) != 4 or x[1] % (b * b):
        raise ShapeError(f"{x[1] if len(x) > 1 else '?'} channels cannot be spread into {b}×{b} blocks")
    out = [x[0], x[1] // (b * b), x[2] * b, x[3] * b]
    return Out([out], f"channels into {b}×{b} blocks → {show(out)}", {"blocksize": b})


def space_to_depth(call: Call) -> Out:
    x = call.need(0)
    b = int(call.attrs["blocksize"])
    if len(x) != 4 or x[2] % b or x[3] % b:
        raise ShapeError(f"{dims(x[2:])} cannot be cut into {b}×{b} blocks")
    out = [x[0], x[1] * b * b, x[2] // b, x[3] // b]
    return Out([out], f"{b}×{b} blocks into channels → {show(out)}", {"blocksize": b})


def constant_value(attrs: dict[str, Any]) -> np.ndarray | None:
    if "value" in attrs:
        return numpy_helper.to_array(attrs["value"])
    if "value_float" in attrs:
        return np.array(attrs["value_float"], dtype=np.float32)
    if "value_floats" in attrs:
        return np.array(attrs["value_floats"], dtype=np.float32)
    if "value_int" in attrs:
        return np.array(attrs["value_int"], dtype=np.int64)
    if "value_ints" in attrs:
        return np.array(attrs["value_ints"], dtype=np.int64)
    return None


# -- folding ------------------------------------------------------------------


def fold_reshape(call: Call, values, out: Out):
    """Reshape, Flatten, Squeeze, Unsqueeze: the same values in the worked-out shape."""
    if out.shapes[0] is None:
        return None
    return [values[0].reshape(out.shapes[0])]


def fold_transpose(call: Call, values, out: Out):
    return [np.transpose(values[0], out.hyper["perm"])]


def fold_concat(call: Call, values, out: Out):
    return [np.concatenate([v for v in values if v is not None], axis=out.hyper["axis"])]


def fold_gather(call: Call, values, out: Out):
    return [np.take(values[0], values[1].astype(np.int64), axis=out.hyper["axis"])]


def fold_slice(call: Call, values, out: Out):
    v = values
    if "starts" in call.attrs:  # opset < 10
        starts, ends = call.attrs["starts"], call.attrs["ends"]
        axes = call.attr("axes") or range(len(starts))
        steps = [1] * len(starts)
    else:
        starts, ends = v[1].ravel(), v[2].ravel()
        axes = v[3].ravel() if len(v) > 3 and v[3] is not None else range(len(starts))
        steps = v[4].ravel() if len(v) > 4 and v[4] is not None else [1] * len(starts)
    index = [slice(None)] * v[0].ndim
    for start, end, axis, step in zip(starts, ends, axes, steps):
        axis = int(axis) % v[0].ndim
        index[axis] = onnx_slice(v[0].shape[axis], int(start), int(end), int(step))
    return [v[0][tuple(index)]]


def fold_constant_of_shape(call: Call, values, out: Out):
    value = call.attr("value")
    fill = numpy_helper.to_array(value).ravel() if value is not None else np.zeros(1, np.float32)
    return [np.full(ints(values[0].ravel()), fill[0], dtype=fill.dtype)]


def fold_range(call: Call, values, out: Out):
    return [np.arange(values[0], values[1], values[2]).astype(values[0].dtype)]


def fold_expand(call: Call, values, out: Out):
    return [np.broadcast_to(values[0], out.shapes[0]).copy()]


def fold_tile(call: Call, values, out: Out):
    return [np.tile(values[0], ints(values[1].ravel()))]


# These need only the inputs' shapes (or the node's attributes), not values.


def fold_shape_of(call: Call, values, out: Out):
    if out.shapes[0] is None or call.ins[0].shape is None:
        return None
    end = call.attr("end")
    part = call.ins[0].shape[slice(int(call.attr("start", 0)), int(end) if end is not None else None)]
    return [np.array(part, np.int64)]


def fold_size_of(call: Call, values, out: Out):
    if call.ins[0].shape is None:
        return None
    return [np.array(prod(call.ins[0].shape), np.int64)]


def fold_constant_node(call: Call, values, out: Out):
    value = constant_value(call.attrs)
    return [value] if value is not None else None
