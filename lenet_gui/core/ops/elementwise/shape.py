"""Shapes and folding of element-wise ops: activations, arithmetic, comparisons, casts."""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
from onnx import helper

from lenet_gui.core.ops._common import MUL, Call, Out, broadcast, dims, prod, rf_merge, show


def same_as_input(call: Call) -> Out:
    """One output value per input value: the shape passes through."""
    x = call.need(0)
    op = call.op
    shapes: list[list[int] | None] = [list(x)]
    hyper: dict[str, Any] = {}
    if op == "Dropout":
        shapes += [list(x)] * (len(call.node.output) - 1)  # the optional mask
    elif op in ("Softmax", "LogSoftmax", "Hardmax"):
        hyper = {"axis": int(call.attr("axis"))}  # 1 before opset 13, −1 from it (schema)
    elif op == "LeakyRelu":
        hyper = {"alpha": float(call.attr("alpha"))}
    formula = f"same as input → {show(x)}"
    if op in ("Cast", "CastLike"):
        formula = f"change of number type, same shape → {show(x)}"
    return Out(shapes, formula, hyper, rf=call.ins[0].rf)


def broadcasting(call: Call) -> Out:
    """Inputs broadcast against each other (numpy rules); a constant operand may be a bias or scale."""
    ins = call.ins
    present = [i for i, t in enumerate(ins) if t is not None]
    shapes = [call.need(i) for i in present]
    out = broadcast(shapes)
    op = call.op
    param_inputs: tuple[int, ...] = ()
    formula = f"{' ⊕ '.join(dims(s) for s in shapes)} (broadcast) → {show(out)}"
    dynamic = [i for i in present if not ins[i].static]
    if op in ("Add", "Mul") and len(present) == 2 and len(dynamic) == 1:
        other = present[1] if dynamic[0] == present[0] else present[0]
        weight = ins[other]
        # A constant with more than one element is a separate bias or scale (a
        # trainable parameter); a scalar is taken as input normalisation.
        if weight.roots and weight.shape is not None and prod(weight.shape) > 1:
            param_inputs = (other,)
            role = "bias" if op == "Add" else "scale"
            formula = f"+ {role} ({dims(weight.shape)}), broadcast → {show(out)}"
            if op == "Mul":
                formula = f"{MUL} {role} ({dims(weight.shape)}), broadcast → {show(out)}"
    elif all(s == out for s in shapes):
        formula = f"element-wise, same shape → {show(out)}"
    return Out([out], formula, rf=rf_merge(ins, len(out)), param_inputs=param_inputs)


# -- folding ------------------------------------------------------------------


def fold_pass_through(call: Call, values, out: Out):
    return [values[0]]


def fold_cast(call: Call, values, out: Out):
    return [values[0].astype(helper.tensor_dtype_to_np_dtype(int(call.attr("to"))))]


_UNARY = {"Neg": np.negative, "Abs": np.abs, "Sqrt": np.sqrt, "Exp": np.exp, "Floor": np.floor, "Ceil": np.ceil}
_BINARY = {"Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Pow": np.power, "Equal": np.equal,
           "Less": np.less, "Greater": np.greater}
_VARIADIC = {"Max": np.maximum, "Min": np.minimum}
# Arithmetic that keeps the first input's number type (numpy would widen int32 by a float64 scalar).
_KEEP_TYPE = {"Add", "Sub", "Mul", "Max", "Min", "Pow"}


def fold_numpy(call: Call, values, out: Out):
    """Element-wise ops on known values, with ONNX's number types."""
    op, v = call.op, values
    if op == "Div":
        if np.issubdtype(v[0].dtype, np.integer):
            return [np.trunc(v[0] / v[1]).astype(v[0].dtype)]  # ONNX integer division truncates
        return [(v[0] / v[1]).astype(v[0].dtype)]
    if op == "Where":
        return [np.where(v[0], v[1], v[2])]
    if op in _UNARY:
        result = _UNARY[op](v[0])
    elif op in _BINARY:
        result = _BINARY[op](v[0], v[1])
    else:
        result = functools.reduce(_VARIADIC[op], v)
    if op in _KEEP_TYPE and result.dtype != v[0].dtype:
        result = result.astype(v[0].dtype)
    return [result]
