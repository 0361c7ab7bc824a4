"""OpRule: everything the app knows about one ONNX op type, in one record."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from lenet_gui.core.ops._common import Call, Out, Tensor

# Families, one subpackage each.
FAMILIES = ("conv", "pool", "dense", "elementwise", "normalisation", "shape_ops")

# How a unit's receptive field on the input image follows from its inputs'.
RF_SLIDING = "sliding"  # a window over the spatial axes: r + (k_eff − 1)·j, jump·s
RF_SAME = "same"  # unit i sees what input unit i sees (element-wise; none once Slice cuts the image's axes)
RF_MERGE = "merge"  # the union of the inputs' fields (broadcasting combinations)
RF_REGROUP = "regroup"  # axes moved or renamed; whole image once data moves between axes
RF_DENSE = "dense"  # every unit sees the whole image (fully connected, reductions)
RF_NONE = "none"  # no sliding-window field (values spread, or not tied to the image)
RF_KINDS = (RF_SLIDING, RF_SAME, RF_MERGE, RF_REGROUP, RF_DENSE, RF_NONE)

# What the op does to signs, for colour maps and for explaining products.
SIGN_ANY = "any"  # the output may be negative whatever the input
SIGN_NON_NEGATIVE = "non_negative"  # never negative (ReLU, sigmoid, softmax, norms)
SIGN_KEEPS = "keeps"  # non-negative whenever its data inputs are (pooling, moving data, tanh)
SIGN_KINDS = (SIGN_ANY, SIGN_NON_NEGATIVE, SIGN_KEEPS)

NOT_EXPLAINED_YET = "not explained yet"

ShapeRule = Callable[[Call], Out]
# fold(call, values, out): the output values from the inputs' known values
# (None for an omitted input), or None where numpy cannot mirror the op.
FoldRule = Callable[[Call, list[np.ndarray | None], Out], list[np.ndarray] | None]


@dataclass(frozen=True)
class OpRule:
    """One ONNX op type (default domain): shape, folding, words and explain hook.

    ``monotonic`` means non-decreasing in every data input: raising any input
    value never lowers any output value (ReLU, max and average pooling, Add,
    moving data). ``param_inputs`` lists the input positions that hold
    trainable parameters when they are initializers; where that depends on
    the node (MatMul's constant side, the bias of an Add) the shape rule
    decides and ``params_per_node`` is True.
    """

    op_type: str
    family: str
    title: str  # for the layer panel, e.g. "Convolution"
    shape: ShapeRule
    fold: FoldRule | None = None  # numpy evaluation when every input is known
    fold_from_shapes: bool = False  # fold needs only the inputs' shapes (Shape, Size, Constant)
    formula: str | None = None  # one line of what an element-wise op does to each value
    main: bool = False  # the panel gives its row hyper-parameters, formula and parameters
    activation: bool = True  # its output is an activation worth drawing
    receptive_field: str = RF_NONE
    param_inputs: tuple[int, ...] = ()
    params_per_node: bool = False
    # A note for the parameter working about inputs that are not trainable
    # (BatchNormalization's running statistics), from the node's inputs.
    params_note: Callable[[list[Tensor | None]], str] | None = None
    sign: str = SIGN_ANY
    monotonic: bool = False
    explain: Callable[..., Any] | None = None  # the unit inspector's rule
    explain_reason: str = NOT_EXPLAINED_YET  # why there is none, when there is none

    def __post_init__(self):
        if self.family not in FAMILIES:
            raise ValueError(f"{self.op_type}: unknown family {self.family!r}")
        if self.receptive_field not in RF_KINDS:
            raise ValueError(f"{self.op_type}: unknown receptive-field kind {self.receptive_field!r}")
        if self.sign not in SIGN_KINDS:
            raise ValueError(f"{self.op_type}: unknown sign behaviour {self.sign!r}")

    @property
    def explained(self) -> bool:
        return self.explain is not None
