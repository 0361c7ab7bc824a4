"""Build the Call a shape rule sees, without a model: for tests of one rule's every branch.

``call("Pad", [1, 3, 8, 8], i64(0, 0, 1, 1, 0, 0, 1, 1), mode="edge")``: a list is
a data input of that shape, a numpy array a constant input (its value known,
static), a Tensor is used as given and None is an omitted input. Attributes are
written over the schema's defaults at ``opset``, as the graph walk does.
"""

from __future__ import annotations

import numpy as np
from onnx import helper

from lenet_gui.core.ops._common import Call, Tensor, schema_defaults


def i64(*values) -> np.ndarray:
    return np.array(values, np.int64)


def tensor(spec) -> Tensor | None:
    if spec is None or isinstance(spec, Tensor):
        return spec
    if isinstance(spec, np.ndarray):
        return Tensor(list(spec.shape), value=spec, static=True)
    return Tensor(list(spec))


def call(op: str, *inputs, opset: int = 17, outputs: int = 1, **attrs) -> Call:
    names = [f"x{i}" if spec is not None else "" for i, spec in enumerate(inputs)]
    node = helper.make_node(op, names, [f"y{i}" for i in range(outputs)])
    return Call(node, [tensor(s) for s in inputs], {**schema_defaults(op, opset), **attrs}, opset)


# A receptive field as a conv leaves it: {axis: (image_axis, size, jump, start)}.
RF = {2: (0, 5, 2, -1), 3: (1, 3, 1, 0)}


def with_rf(shape, rf=None) -> Tensor:
    return Tensor(list(shape), rf=dict(RF) if rf is None else rf)
