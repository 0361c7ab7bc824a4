"""How much memory one run of a model takes, worked out before it runs.

The shape engine (``graph.analyze``) gives every tensor's shape from the
graph alone; times its element size that is the run's footprint. The session
keeps every activation (they are drawn), so the footprint is the sum over all
tensors plus the weights. A model whose input, any single tensor or whole run
would need more than the memory budget is refused with a message naming the
largest tensor and its size.

Some sizes only exist at run time: a ConstantOfShape, Tile, Expand, Resize or
Range whose sizes are computed from the image, or the outputs of a Loop. Those
models are marked ``runtime_sized``; the session then runs them in a worker
process whose address space is limited to the same budget, so a run that
grows past it fails there and the app carries on (see ``safe_run``).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # onnx only when a model is measured: the CLI's option parsing needs none
    import onnx

from lenet_gui.core.errors import LenetGuiError, ModelError

GIB = 1024**3
MIB = 1024**2
DEFAULT_LIMIT = 1 * GIB
MIN_LIMIT = 16 * MIB
#: Control flow: bodies run a number of times known only when the model runs.
CONTROL_FLOW_OPS = {"Loop", "Scan", "If"}

_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1000, "kib": 1024, "m": MIB, "mb": 1000**2, "mib": MIB,
          "g": GIB, "gb": 1000**3, "gib": GIB}


def parse_size(text: str) -> int:
    """``"1GiB"``, ``"512M"``, ``"2.5 GB"`` or a plain byte count → bytes."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([a-zA-Z]*)\s*", str(text))
    unit = match.group(2).lower() if match else ""
    if not match or unit not in _UNITS:
        raise ValueError(f"{text!r} is not a memory size (examples: 512M, 1GiB, 2GB)")
    size = float(match.group(1)) * _UNITS[unit]
    if not math.isfinite(size):  # "1e999G": no size at all, not a small one
        raise ValueError(f"{text!r} is not a memory size (examples: 512M, 1GiB, 2GB)")
    if size < MIN_LIMIT:
        raise ValueError(f"{text!r} is too small a memory limit; give at least {format_size(MIN_LIMIT)}")
    return int(size)


def format_size(size: float) -> str:
    """Bytes for people: 1.5 GiB, 640 MiB, 12 KiB."""
    for unit, scale in (("TiB", 1024**4), ("GiB", GIB), ("MiB", MIB), ("KiB", 1024)):
        if size >= scale:
            value = size / scale
            return f"{value:.1f} {unit}" if value < 100 else f"{value:,.0f} {unit}"
    return f"{int(size)} bytes"


@dataclass
class Tensor:
    name: str
    shape: list[int]
    bytes: int
    node: str = ""  # "Tile 'tile_1'" — what makes it


@dataclass
class Footprint:
    """The memory a single-image run needs, as far as the graph tells."""

    total: int  # weights plus every tensor of the run
    weights: int
    largest: Tensor | None
    #: Nodes whose output size is only known at run time, e.g. "Tile 'grow'".
    runtime_sized: list[str] = field(default_factory=list)

    @property
    def per_image(self) -> int:
        """What each extra image of a batch adds (everything but the weights)."""
        return max(self.total - self.weights, 1)


def _itemsize(elem_type: int) -> int:
    try:
        from onnx import helper

        return max(helper.tensor_dtype_to_np_dtype(elem_type).itemsize, 1)
    except Exception:  # strings and unknown types: count a pointer
        return 8


def _element_types(model: onnx.ModelProto, inferred: dict[str, int] | None = None) -> dict[str, int]:
    """``inferred``: ``weight_file.inferred_types(model)``, when the caller has it already."""
    from lenet_gui.core.weight_file import inferred_types

    types: dict[str, int] = {t.name: t.data_type for t in model.graph.initializer}
    # Where inference gives up, what it could not type counts as float32.
    types.update((name, t) for name, t in (inferred_types(model) if inferred is None else inferred).items() if t)
    for info in list(model.graph.input) + list(model.graph.output):
        if info.type.tensor_type.elem_type:
            types[info.name] = info.type.tensor_type.elem_type
    return types


def _node_label(layer) -> str:
    # Unnamed nodes as the layer list shows them: counted from 1.
    return f"{layer.op} '{layer.name}'" if layer.name else layer.display_name


def footprint(model: onnx.ModelProto, image_input: str | None = None,
              image_shape: tuple[int, ...] | None = None, inferred: dict[str, int] | None = None) -> Footprint:
    """The footprint of one run, from the shape engine's sizes.

    ``image_shape`` fixes the image input's dimensions (height and width that
    the graph leaves open are known from the metadata) for the analysis only.
    ``inferred``: the element types onnx infers (``weight_file.inferred_types``), if known.
    """
    import onnx

    from lenet_gui.core import graph  # the shape engine imports much; only needed here

    saved = None
    if image_input is not None and image_shape is not None:
        info = next(i for i in model.graph.input if i.name == image_input)
        saved = onnx.TypeProto()
        saved.CopyFrom(info.type)
        dims = info.type.tensor_type.shape.dim
        for dim, size in zip(dims, image_shape):
            dim.Clear()
            dim.dim_value = int(size)
    try:
        layers = graph.analyze(model)
    except (LenetGuiError, ArithmeticError, ValueError, TypeError, IndexError, KeyError):
        layers = None  # the arithmetic cannot follow this graph: sizes are known only when it runs
    finally:
        if saved is not None:
            info.type.CopyFrom(saved)
    types = _element_types(model, inferred)
    weights = sum(math.prod(t.dims) * _itemsize(t.data_type) for t in model.graph.initializer)
    tensors: list[Tensor] = []
    for info in model.graph.input:
        if info.name in types and info.name not in {t.name for t in model.graph.initializer}:
            dims = info.type.tensor_type.shape.dim
            shape = list(image_shape) if info.name == image_input and image_shape else [
                d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else 1 for d in dims]
            tensors.append(Tensor(info.name, shape, math.prod(shape) * _itemsize(types[info.name]), "the input"))
    if layers is None:
        return Footprint(weights + sum(t.bytes for t in tensors), weights,
                         max(tensors, key=lambda t: t.bytes, default=None),
                         ["the whole graph (its shapes cannot be worked out without running it)"])
    runtime = []
    for layer in layers:
        unknown = False
        for name, shape in zip(layer.outputs, layer.output_shapes):
            if not name:
                continue
            if shape is None:
                unknown = True
                continue
            size = math.prod(shape) * _itemsize(types.get(name, onnx.TensorProto.FLOAT))
            tensors.append(Tensor(name, list(shape), size, _node_label(layer)))
        if unknown or layer.op in CONTROL_FLOW_OPS:
            runtime.append(_node_label(layer))
    total = weights + sum(t.bytes for t in tensors)
    return Footprint(total, weights, max(tensors, key=lambda t: t.bytes, default=None), runtime)


def check(fp: Footprint, limit: int, name: str) -> None:
    """Refuse a model whose known sizes exceed ``limit`` bytes."""
    over = fp.largest is not None and fp.largest.bytes > limit
    if over or fp.total > limit:
        big = fp.largest
        what = f"one run needs {format_size(fp.total)}"
        if big is not None:  # None: weights and no tensor at all
            shape = "×".join(str(d) for d in big.shape)
            what = (f"its tensor '{big.name}' ({shape}, made by {big.node}) alone needs {format_size(big.bytes)}"
                    if over else f"{what} (the largest tensor, '{big.name}' {shape}, needs {format_size(big.bytes)})")
        raise ModelError(f"{name} is too large to run: {what}, more than the memory limit of {format_size(limit)} "
                         "(--memory-limit sets the limit)")


def max_batch(fp: Footprint, limit: int, wanted: int) -> int:
    """How many images one run may take within ``limit``."""
    return max(1, min(wanted, (limit - fp.weights) // fp.per_image))
