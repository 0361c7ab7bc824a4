"""Output shapes of the fully connected ops: Gemm and MatMul."""

from __future__ import annotations

from lenet_gui.core.errors import ShapeError
from lenet_gui.core.ops._common import Call, Out, broadcast, dims, prod, rf_dense, show


def gemm(call: Call) -> Out:
    a = call.need(0)
    b = call.need(1)
    if len(a) != 2 or len(b) != 2:
        raise ShapeError(f"Gemm multiplies two matrices, got {dims(a)} and {dims(b)}")
    trans_a, trans_b = int(call.attr("transA")), int(call.attr("transB"))
    m, k = (a[1], a[0]) if trans_a else (a[0], a[1])
    k2, n = (b[1], b[0]) if trans_b else (b[0], b[1])
    if k != k2:
        raise ShapeError(f"cannot multiply {m}×{k} by {k2}×{n}: {k} inputs but weights for {k2}")
    out = [m, n]
    formula = f"{k} × {n} weights"
    if call.present(2):
        c = call.need(2)
        if broadcast([c, out]) != out:
            raise ShapeError(f"bias {dims(c)} does not fit the output {dims(out)}")
        formula += f" + {dims(c)} bias" if prod(c) != n else f" + {n} bias"
    formula += f" → {show(out)}"
    hyper = {"transA": trans_a, "transB": trans_b,
             "alpha": float(call.attr("alpha")), "beta": float(call.attr("beta"))}
    return Out([out], formula, hyper, rf=rf_dense(call.ins[0]))


def matmul(call: Call) -> Out:
    a = call.need(0)
    b = call.need(1)
    if not a or not b:
        raise ShapeError("MatMul does not take scalars")
    left = [1] + a if len(a) == 1 else a
    right = b + [1] if len(b) == 1 else b
    if left[-1] != right[-2]:
        raise ShapeError(f"cannot multiply {dims(a)} by {dims(b)}: {left[-1]} ≠ {right[-2]}")
    out = broadcast([left[:-2], right[:-2]]) + [left[-2], right[-1]]
    if len(a) == 1:
        del out[-2]
    if len(b) == 1:
        del out[-1]
    ins = call.ins
    # Whichever side is made of initializers holds the weights.
    param_inputs = tuple(i for i in (0, 1) if ins[i].static)
    if ins[1].static and len(b) == 2:
        formula = f"{b[0]} × {b[1]} weights → {show(out)}"
    else:
        formula = f"matrix product {dims(a)} · {dims(b)} → {show(out)}"
    rf = rf_dense(ins[0] if not ins[0].static else ins[1])
    return Out([out], formula, rf=rf, param_inputs=param_inputs)
