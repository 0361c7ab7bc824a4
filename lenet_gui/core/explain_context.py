"""What an explain rule gets to work with: values, weights, sources and formatting.

Every op family's ``explain.py`` (under ``lenet_gui.core.ops``) holds rules
``rule(ctx, layer, node, unit) -> Explanation``. A rule reads the tensors its
node consumed through ``ctx.value`` (activations of this run and weights, both
as float64 with the batch axis kept, so ONNX axis numbers apply unchanged),
recomputes the unit in numpy, and raises ``NotExplained`` with a one-line
reason for a configuration it does not cover. The Explainer fills in the
runtime value and checks the two agree; rules never read the unit's own
output, so a wrong rule shows up as a disagreement, never as a copy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import onnx
from onnx import helper

from lenet_gui.core.errors import LenetGuiError
from lenet_gui.core.explanation import Explanation, Term

MINUS = "−"
TIMES = "×"
DOT = "·"


class ExplainError(LenetGuiError):
    """A layer or unit that does not exist, or evidence settings that cannot work."""


class NotExplained(Exception):
    """This unit's computation is not covered; ``str(exc)`` says why in one line."""


Rule = Callable[["ExplainContext", Any, onnx.NodeProto, tuple[int, ...]], Explanation]


def rule(check: Callable[[Any, onnx.NodeProto], str | None] | None = None):
    """Mark an explain rule; ``check(layer, node)`` returns a reason when a layer is not covered.

    The check runs without a result, so ``Explainer.can_explain`` can answer before any run.
    """

    def wrap(fn):
        fn.check = check
        return fn

    return wrap


def attrs(node: onnx.NodeProto) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for attribute in node.attribute:
        value = helper.get_attribute_value(attribute)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        out[attribute.name] = value
    return out


def opset(model: onnx.ModelProto) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)


@dataclass
class Source:
    """Where one input tensor came from: a layer of this run, the network input, or a constant."""

    layer: str | None  # layer name (as ``shapes --json`` prints it); None for the network input or a constant
    constant: bool = False


@dataclass
class ExplainContext:
    """One run's tensors, seen from one node."""

    values: Callable[[str], np.ndarray | None]  # tensor name → float64 value with the batch axis, or None
    sources: dict[str, Source]  # tensor name → where it came from
    consumers: dict[str, list[Any]]  # tensor name → layers that read it
    producers: dict[str, Any]  # tensor name → layer that wrote it
    opset: int = 13
    notes: dict[str, Any] = field(default_factory=dict)

    def value(self, name: str, what: str = "an input") -> np.ndarray:
        if not name:
            raise NotExplained(f"{what} is missing")
        v = self.values(name)
        if v is None:
            raise NotExplained(f"the value of {what} ('{name}') is not known from this run")
        return v

    def optional(self, name: str | None) -> np.ndarray | None:
        return None if not name else self.values(name)

    def is_constant(self, name: str) -> bool:
        src = self.sources.get(name)
        return src is not None and src.constant

    def source_layer(self, name: str) -> str | None:
        src = self.sources.get(name)
        return None if src is None or src.constant else src.layer

    def term(self, name: str, full_index: tuple[int, ...], weight: float, value: float,
             padding: bool = False) -> Term:
        """A term whose input is unit ``full_index`` (batch axis first) of tensor ``name``."""
        unbatched = self.notes.get("unbatched")
        index = full_index if unbatched is not None and unbatched(name) else full_index[1:]
        return Term(float(weight), float(value), self.source_layer(name), tuple(int(i) for i in index), padding)

    def walk_back(self, name: str, full_index: tuple[int, ...]) -> tuple[str, tuple[int, ...]]:
        """Follow Flatten/Reshape-like layers back to the unit they copied: (tensor, full index).

        With one image these ops keep the row-major order, so the flat position
        is the same before and after; the UI can then walk back to the
        (channel, row, column) of the conv or pool layer that fed the Flatten.
        """
        while True:
            layer = self.producers.get(name)
            if layer is None or layer.op not in _ORDER_KEEPING or not layer.inputs:
                return name, full_index
            source = layer.inputs[0]
            if self.is_constant(source) or source not in self.sources:
                return name, full_index
            here = self.values(name)
            there = self.values(source)
            if here is None or there is None or here.size != there.size:
                return name, full_index
            flat = int(np.ravel_multi_index(full_index, here.shape))
            name, full_index = source, tuple(int(i) for i in np.unravel_index(flat, there.shape))

    def single_consumer(self, tensor: str):
        users = self.consumers.get(tensor, [])
        return users[0] if len(users) == 1 else None


# Ops that copy their input in row-major order (with a batch of one).
_ORDER_KEEPING = {"Flatten", "Reshape", "Squeeze", "Unsqueeze", "Identity", "Dropout"}


def num(value: float | None) -> str:
    """A number as the working shows it: four decimals, or scientific when tiny or huge."""
    if value is None:
        return "?"
    value = float(value)
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    if 1e-3 <= abs(value) < 1e5:
        text = f"{value:.4f}"
    else:
        text = f"{value:.3e}"
    return text.replace("-", MINUS)


def shape_text(shape) -> str:
    return TIMES.join(str(int(d)) for d in shape) if len(shape) else "scalar"


def unit_text(index) -> str:
    return "[" + ", ".join(str(int(i)) for i in index) + "]"


def where(ctx: ExplainContext, name: str, full_index: tuple[int, ...]) -> str:
    """A tensor cell for the text: ``c3.relu[2, 4, 4]``, ``input[0, 5, 7]`` or ``weight 'w'[3]``."""
    if ctx.is_constant(name):
        return f"'{name}'{unit_text(full_index)}"
    layer = ctx.source_layer(name)
    return f"{layer or 'input'}{unit_text(full_index[1:])}"


def broadcast_index(out_index: tuple[int, ...], shape: tuple[int, ...]) -> tuple[int, ...]:
    """The cell of an operand of ``shape`` that numpy broadcasting pairs with ``out_index``."""
    offset = len(out_index) - len(shape)
    return tuple(0 if d == 1 else out_index[offset + i] for i, d in enumerate(shape))


def full(unit: tuple[int, ...]) -> tuple[int, ...]:
    """Unit (no batch axis) → index with the batch axis."""
    return (0,) + tuple(int(i) for i in unit)


def window_taps(position, stride, pads_begin, dilation, kernel, input_shape):
    """Input coordinates a sliding window reads for one output position.

    Returns (taps, inside, starts): per axis the ``kernel`` coordinates
    ``start + t·dilation`` (start = position·stride − pad_begin, may be
    negative), whether each lies on the input (False: padding), and the starts.
    """
    taps, inside, starts = [], [], []
    for a, k in enumerate(kernel):
        start = int(position[a]) * int(stride[a]) - int(pads_begin[a])
        coords = [start + t * int(dilation[a]) for t in range(int(k))]
        taps.append(coords)
        inside.append([0 <= c < int(input_shape[a]) for c in coords])
        starts.append(start)
    return taps, inside, starts


# Activations that the conv and dense explanations show as the last step, when
# they are the only consumer of the layer's output.
_FOLLOWING = {
    "Relu": ("ReLU", lambda v, a: max(0.0, v), "max(0, {x})"),
    "Tanh": ("tanh", lambda v, a: math.tanh(v), "tanh({x})"),
    "Sigmoid": ("sigmoid", lambda v, a: 1.0 / (1.0 + math.exp(-v)) if v >= 0 else math.exp(v) / (1.0 + math.exp(v)),
                "1/(1 + e^−({x}))"),  # e^−(−2.0000): no double minus for a negative sum
    "LeakyRelu": ("leaky ReLU", lambda v, a: v if v >= 0 else float(a.get("alpha", 0.01)) * v, "leaky ReLU({x})"),
}


def activation_step(ctx: ExplainContext, layer, total: float):
    """"then c1.relu applies ReLU: max(0, 3.2) = 3.2" when an activation alone reads this output."""
    from lenet_gui.core.explanation import Step

    consumer = ctx.single_consumer(layer.output)
    if consumer is None or consumer.op not in _FOLLOWING:
        return None
    label, fn, pattern = _FOLLOWING[consumer.op]
    node = ctx.notes.get("nodes", {}).get(consumer.index)
    a = attrs(node) if node is not None else {}
    after = fn(float(total), a)
    name = consumer.name or consumer.display_name
    return Step(f"then {name} applies {label}: {pattern.format(x=num(total))} = {num(after)}", after)
