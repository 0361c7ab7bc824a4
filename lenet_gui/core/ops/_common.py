"""Pieces every op family's shape rule uses: tensors, the call, small shape helpers.

A shape rule is a function ``rule(call) -> Out``. ``call`` is one node seen
by the graph walk (lenet_gui.core.graph): its inputs as ``Tensor`` records,
its attributes with the ONNX schema's defaults filled in, and the model's
opset. A rule raises ShapeError for an impossible configuration and
UnknownShape when an input it needs is not known without running the model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import numpy as np
import onnx
from onnx import helper

from lenet_gui.core import arithmetic as ar
from lenet_gui.core.errors import ShapeError

MUL = ar.MUL
TIMES = "×"

# Receptive field state of a tensor: None (not tied to the image), DENSE (every
# unit sees the whole image), or {axis: (image_axis, size, jump, start)}.
DENSE = "dense"


@dataclass
class Tensor:
    """What the graph walk knows about one tensor."""

    shape: list[int] | None
    value: np.ndarray | None = None  # known value (constants, shape arithmetic)
    static: bool = False  # made from initializers/constants only
    roots: frozenset[str] = frozenset()  # float initializers it is made from (static only)
    rf: Any = None


@dataclass
class Out:
    """What a shape rule found for one node."""

    shapes: list[list[int] | None]
    formula: str
    hyper: dict[str, Any] = field(default_factory=dict)
    convention: str | None = None
    rf: Any = None
    # Inputs holding trainable parameters at this node; None: the rule's own
    # OpRule.param_inputs. Rules set it where it depends on the node (MatMul).
    param_inputs: tuple[int, ...] | None = None
    note: str = ""
    source: str = "formula"  # where the shape comes from: "formula", "ONNX shape inference" or "unknown"


class UnknownShape(Exception):
    """An input's shape (or a constant a rule needs) is unknown, so this node's is too."""


# ---------------------------------------------------------------------------
# attributes


def node_attributes(node: onnx.NodeProto) -> dict[str, Any]:
    """The attributes written in the node, as plain Python values."""
    return {attribute.name: _plain_attribute(attribute) for attribute in node.attribute}


def _plain_attribute(attribute: onnx.AttributeProto) -> Any:
    value = helper.get_attribute_value(attribute)
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    elif isinstance(value, list) and value and isinstance(value[0], bytes):
        value = [v.decode("utf-8", "replace") for v in value]
    return value


@lru_cache(maxsize=None)
def _schema_defaults(op_type: str, opset: int) -> tuple[tuple[str, Any], ...]:
    try:
        schema = onnx.defs.get_schema(op_type, opset, "")
    except onnx.defs.SchemaError:
        # An op newer than the model's opset (or an opset of 0): its first
        # version's defaults are the best guess there is.
        schema = _first_versions().get(op_type)
        if schema is None:
            return ()
    defaults = []
    for name, attribute in schema.attributes.items():
        if attribute.required or not attribute.default_value.type:
            continue
        value = _plain_attribute(attribute.default_value)
        if attribute.default_value.type == onnx.AttributeProto.FLOAT:
            # Schemas store defaults as float32 (1e-5 reads back 9.99999975e-06):
            # the shortest float32 repr gives back the number the spec writes.
            value = float(str(np.float32(value)))
        defaults.append((name, value))
    return tuple(defaults)


@lru_cache(maxsize=1)
def _first_versions() -> dict[str, Any]:
    """The first schema of every op in the default domain."""
    first: dict[str, Any] = {}
    for schema in onnx.defs.get_all_schemas_with_history():
        if not schema.domain and (schema.name not in first or schema.since_version < first[schema.name].since_version):
            first[schema.name] = schema
    return first


def schema_defaults(op_type: str, opset: int) -> dict[str, Any]:
    """Attribute defaults of ``op_type`` in the default domain at ``opset``, from onnx.defs."""
    return dict(_schema_defaults(op_type, opset))


def attributes_with_defaults(node: onnx.NodeProto, opset: int) -> dict[str, Any]:
    """The node's attributes, with the schema's default for every one left out."""
    return {**schema_defaults(node.op_type, opset), **node_attributes(node)}


# ---------------------------------------------------------------------------
# the call


@dataclass
class Call:
    """One node as a shape rule sees it."""

    node: onnx.NodeProto
    ins: list[Tensor | None]  # one per node input; None for an omitted optional input
    attrs: dict[str, Any]  # written attributes over the schema's defaults
    opset: int = 1  # the model's opset for the default domain

    @property
    def op(self) -> str:
        return self.node.op_type

    def attr(self, name: str, fallback: Any = None) -> Any:
        """An attribute; ``fallback`` only where the schema has no default (required ones, older opsets)."""
        return self.attrs.get(name, fallback)

    def need(self, position: int) -> list[int]:
        """The shape of input ``position``; ShapeError when missing, UnknownShape when unknown."""
        if position >= len(self.ins) or self.ins[position] is None:
            raise ShapeError(f"input {position + 1} is missing")
        shape = self.ins[position].shape
        if shape is None:
            raise UnknownShape(f"input '{self.node.input[position]}' has an unknown shape")
        return shape

    def value(self, position: int) -> np.ndarray | None:
        """The known value of input ``position`` (constants), or None."""
        if position >= len(self.ins) or self.ins[position] is None:
            return None
        return self.ins[position].value

    def present(self, position: int) -> bool:
        return position < len(self.ins) and self.ins[position] is not None


# ---------------------------------------------------------------------------
# shapes


def dims(shape) -> str:
    """'6×28×28', or 'scalar' for no axes."""
    return TIMES.join(str(int(d)) for d in shape) if len(shape) else "scalar"


def show(shape: list[int] | None, data: bool = True) -> str:
    """A shape as a person reads it: without the batch axis for data tensors."""
    if shape is None:
        return "?"
    return dims(shape[1:] if data and len(shape) >= 2 else shape)


def prod(values) -> int:
    return int(math.prod(int(v) for v in values))


def ints(values) -> list[int]:
    return [int(v) for v in values]


def norm_axis(axis: int, rank: int, what: str = "axis") -> int:
    if not -rank <= axis < max(rank, 1):
        raise ShapeError(f"{what} {axis} is out of range for a tensor with {rank} axes")
    return axis + rank if axis < 0 else axis


def broadcast(shapes: list[list[int]]) -> list[int]:
    try:
        return [int(d) for d in np.broadcast_shapes(*[tuple(s) for s in shapes])]
    except ValueError:
        raise ShapeError("cannot broadcast " + " with ".join(dims(s) for s in shapes)) from None


def axis_labels(count: int) -> list[str]:
    return {1: ["L"], 2: ["H", "W"], 3: ["D", "H", "W"]}.get(count, [f"axis {i + 2}" for i in range(count)])


# ---------------------------------------------------------------------------
# receptive field


def rf_sliding(tensor: Tensor, kernels, strides, pads_begin, dilations) -> Any:
    """Receptive field after a sliding window over the spatial axes (2…) of ``tensor``."""
    state = tensor.rf
    if state == DENSE:
        return DENSE
    rank = len(tensor.shape or [])
    if not isinstance(state, dict) or any(axis not in state for axis in range(2, rank)):
        return None
    new = {}
    for i, axis in enumerate(range(2, rank)):
        image_axis, size, jump, start = state[axis]
        new[axis] = (image_axis,) + ar.receptive_field_step(
            size, jump, start, kernels[i], strides[i], pads_begin[i], dilations[i])
    return new


def rf_merge(tensors: list[Tensor | None], out_rank: int) -> Any:
    """Receptive field of an element-wise combination: the union of the inputs'."""
    states = []
    for tensor in tensors:
        if tensor is None or tensor.rf is None:
            continue
        if tensor.rf == DENSE:
            return DENSE
        shift = out_rank - len(tensor.shape or [])
        states.append({axis + shift: entry for axis, entry in tensor.rf.items()})
    if not states:
        return None
    merged = dict(states[0])
    for state in states[1:]:
        for axis, (image_axis, size, jump, start) in state.items():
            if axis not in merged:
                merged[axis] = (image_axis, size, jump, start)
                continue
            _, size0, jump0, start0 = merged[axis]
            begin = min(start, start0)
            end = max(start + size, start0 + size0)
            merged[axis] = (image_axis, end - begin, max(jump, jump0), begin)
    return merged


def rf_regroup(tensor: Tensor, out_shape: list[int]) -> Any:
    """Receptive field through a reshape that only adds or removes size-1 axes."""
    state = tensor.rf
    if state is None or state == DENSE:
        return state
    in_shape = tensor.shape or []
    in_axes = [a for a, d in enumerate(in_shape) if d != 1]
    out_axes = [a for a, d in enumerate(out_shape) if d != 1]
    if [in_shape[a] for a in in_axes] != [out_shape[a] for a in out_axes]:
        # Data really moves between axes; a flatten to (N, features) is dense.
        return DENSE if len(out_shape) <= 2 else None
    mapping = dict(zip(in_axes, out_axes))
    if any(axis not in mapping for axis in state):
        # A size-1 image axis was dropped (e.g. squeezing a 120×1×1 map): what
        # is left of the image is a plain vector, so it counts as dense.
        return DENSE if len(out_shape) <= 2 else None
    return {mapping[a]: entry for a, entry in state.items()}


def rf_dense(tensor: Tensor) -> Any:
    """After flattening, every unit depends on the whole image."""
    return DENSE if tensor.rf is not None else None
