"""What the unit inspector and ``lenet-gui explain`` show: plain data, no Qt.

An ``Explanation`` is one unit's computation written out with the numbers of one
onnxruntime run; ``Evidence`` is an occlusion map over the network input. The
arithmetic that fills them lives in ``lenet_gui.core.explain`` and the op rules
under ``lenet_gui.core.ops``; views only draw these objects.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

# The layer name that ``explain`` and the inspector use for the probability bars (the
# softmax the app applies to the logits).
PROBABILITIES = "probabilities"


def layer_id(layer) -> str:
    """The name ``shapes --json`` prints for a layer; unnamed nodes go by their display name."""
    return layer.name or layer.display_name


# The explained value and onnxruntime's agree when within this relative tolerance
# (with the same figure as an absolute floor, for values near zero).
RELATIVE_TOLERANCE = 1e-4


@dataclass
class Term:
    """One product ``weight · value`` of a weighted sum."""

    weight: float
    value: float  # the input activation
    source_layer: str | None  # layer that produced the input; None for the network input
    source_unit: tuple[int, ...]  # index of that input unit, without the batch axis
    padding: bool = False  # the input cell lies in the padding (value is the pad value)

    @property
    def product(self) -> float:
        return self.weight * self.value


@dataclass
class Grid:
    """A small 2-D table of numbers drawn as a picture (a patch, a kernel slice, products)."""

    title: str  # e.g. "input channel 3 of 6", "kernel 3", "products"
    values: np.ndarray  # 2-D float
    padding: np.ndarray | None = None  # bool mask: True where the cell is padding
    highlight: tuple[int, int] | None = None  # a cell to mark (the max-pool winner)
    signed: bool = False  # colour by sign (products, weights) rather than by magnitude


@dataclass
class Step:
    """One line of the working, in reading order: "sum of 150 products = 3.2145"."""

    text: str
    value: float | None = None


@dataclass
class Explanation:
    """How one unit of one layer was computed, and whether onnxruntime agrees."""

    layer: str  # layer name as ``shapes --json`` prints it
    op: str
    unit: tuple[int, ...]  # output index without the batch axis
    value: float | None = None  # what the explain arithmetic computed
    runtime_value: float | None = None  # what onnxruntime returned for this unit
    explained: bool = True
    reason: str = ""  # when not explained: one line saying why
    kind: str = ""  # "conv", "pool", "dense", "elementwise", "batchnorm", "add", "reshape", "softmax", …
    rows: list[list[Grid]] = field(default_factory=list)  # e.g. per input channel: patch, kernel, products
    terms: list[Term] = field(default_factory=list)  # sorted by |product|, largest first (all, or the top ones)
    rest: Step | None = None  # terms not listed, summed into one line
    steps: list[Step] = field(default_factory=list)  # sum, bias, total, activation …
    window: dict[str, Any] = field(default_factory=dict)  # where the patch is taken: start, stride, dilation per axis
    input_box: tuple[int, int, int, int] | None = None  # receptive field on the network input: top, left, height, width
    tolerance: float = RELATIVE_TOLERANCE

    @property
    def agrees(self) -> bool | None:
        """True when the explained value matches onnxruntime's; None when there is nothing to compare."""
        if not self.explained or self.value is None or self.runtime_value is None:
            return None
        a, b = float(self.value), float(self.runtime_value)
        if not (math.isfinite(a) and math.isfinite(b)):
            return False
        return abs(a - b) <= self.tolerance * max(1.0, abs(a), abs(b))

    def to_json(self) -> dict[str, Any]:
        """The ``explain --json`` object for one unit."""
        return {
            "layer": self.layer,
            "op": self.op,
            "unit": list(self.unit),
            "explained": self.explained,
            "reason": self.reason or None,
            "value": _number(self.value),
            "runtime_value": _number(self.runtime_value),
            "agrees": self.agrees,
            "tolerance": self.tolerance,
            "terms": [
                {
                    "weight": _number(t.weight),
                    "value": _number(t.value),
                    "product": _number(t.product),
                    "source_layer": t.source_layer,
                    "source_unit": list(t.source_unit),
                    "padding": t.padding,
                }
                for t in self.terms
            ],
            "rest": None if self.rest is None else {"text": self.rest.text, "value": _number(self.rest.value)},
            "steps": [{"text": s.text, "value": _number(s.value)} for s in self.steps],
        }


@dataclass
class Evidence:
    """Occlusion sensitivity: how much blanking each part of the input lowers one class's probability."""

    class_index: int
    label: str
    map: np.ndarray  # (H, W) over the network input, the probability drop (may be negative)
    probability: float  # the class's probability with nothing blanked
    patch: int  # side of the blanked square, in network-input pixels
    stride: int

    def to_json(self) -> dict[str, Any]:
        return {
            "class": self.class_index,
            "label": self.label,
            "probability": _number(self.probability),
            "patch": self.patch,
            "stride": self.stride,
            "map": [[_number(v) for v in row] for row in np.asarray(self.map, dtype=float)],
        }


def _number(value: float | None) -> float | None:
    """JSON has no NaN or inf: those become null."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None
