"""Explain rules for fully connected layers: Gemm and MatMul.

A unit is one long sum of weight · input. The largest ``TOP`` products (by
magnitude) are listed with the unit each input came from (through a Flatten or
Reshape, the (channel, row, column) of the layer before it, so one can walk
back through the network); the others are summed into one line; then alpha,
the bias (times beta) and the total.
"""

from __future__ import annotations

import math

from lenet_gui.core.explain_context import (
    DOT, ExplainContext, NotExplained, activation_step, attrs, broadcast_index, full, num, rule,
)
from lenet_gui.core.explanation import Explanation, Step, Term

TOP = 12


@rule()
def explain_gemm(ctx: ExplainContext, layer, node, unit) -> Explanation:
    a_name, b_name = node.input[0], node.input[1]
    c_name = node.input[2] if len(node.input) > 2 else ""
    A = ctx.value(a_name, "the first matrix")
    B = ctx.value(b_name, "the second matrix")
    C = ctx.optional(c_name)
    at = attrs(node)
    trans_a, trans_b = int(at.get("transA", 0)), int(at.get("transB", 0))
    alpha, beta = float(at.get("alpha", 1.0)), float(at.get("beta", 1.0))
    if A.ndim != 2 or B.ndim != 2:
        raise NotExplained("Gemm needs two matrices")
    if len(unit) != 1:
        raise NotExplained("expected a unit with one number (the output column)")
    i, j = full(unit)
    K = A.shape[0] if trans_a else A.shape[1]
    a_cells = [((k, i) if trans_a else (i, k)) for k in range(K)]
    b_cells = [((j, k) if trans_b else (k, j)) for k in range(K)]
    terms = _terms(ctx, a_name, A, a_cells, b_name, B, b_cells)
    bias = None
    if C is not None:
        bias = float(C[broadcast_index((i, j), C.shape)]) if C.ndim else float(C)
    return _dense(ctx, layer, node, unit, terms, alpha, beta, bias)


@rule()
def explain_matmul(ctx: ExplainContext, layer, node, unit) -> Explanation:
    a_name, b_name = node.input[0], node.input[1]
    A = ctx.value(a_name, "the first matrix")
    B = ctx.value(b_name, "the second matrix")
    A2 = A[None, :] if A.ndim == 1 else A
    B2 = B[:, None] if B.ndim == 1 else B
    idx = list(full(unit))
    if A.ndim == 1 and B.ndim == 1:
        idx = [0, 0]
    elif A.ndim == 1:
        idx = idx[:-1] + [0] + idx[-1:]
    elif B.ndim == 1:
        idx = idx + [0]
    lead, i, j = tuple(idx[:-2]), idx[-2], idx[-1]
    a_lead = broadcast_index(lead, A2.shape[:-2]) if A2.ndim > 2 else ()
    b_lead = broadcast_index(lead, B2.shape[:-2]) if B2.ndim > 2 else ()
    K = A2.shape[-1]
    a_cells = [(a_lead + (i, k)) if A.ndim > 1 else (k,) for k in range(K)]
    b_cells = [(b_lead + (k, j)) if B.ndim > 1 else (k,) for k in range(K)]
    terms = _terms(ctx, a_name, A, a_cells, b_name, B, b_cells)
    return _dense(ctx, layer, node, unit, terms, 1.0, 1.0, None)


def _terms(ctx, a_name, A, a_cells, b_name, B, b_cells) -> list[Term]:
    """One term per k: the input from the side that depends on the image, the weight from the other."""
    a_is_input = not ctx.is_constant(a_name) or ctx.is_constant(b_name)
    terms = []
    for ac, bc in zip(a_cells, b_cells):
        if a_is_input:
            name, cell, value, weight = a_name, ac, A[ac], B[bc]
        else:
            name, cell, value, weight = b_name, bc, B[bc], A[ac]
        if len(cell) >= 2 and not ctx.is_constant(name):
            source, source_cell = ctx.walk_back(name, cell)
            terms.append(ctx.term(source, source_cell, weight, value))
        else:
            terms.append(Term(float(weight), float(value), ctx.source_layer(name), tuple(int(c) for c in cell)))
    return terms


def _dense(ctx, layer, node, unit, terms, alpha, beta, bias) -> Explanation:
    ordered = sorted(terms, key=lambda t: -abs(t.product))
    total_products = math.fsum(t.product for t in terms)
    shown = ordered[:TOP]
    rest_terms = ordered[TOP:]
    rest = None
    steps: list[Step] = []
    if rest_terms:
        rest_value = math.fsum(t.product for t in rest_terms)
        rest = Step(f"the other {len(rest_terms)} products sum to {num(rest_value)}", rest_value)
        shown_value = math.fsum(t.product for t in shown)
        steps.append(Step(f"the {len(shown)} largest products sum to {num(shown_value)}", shown_value))
        steps.append(Step(f"+ the other {len(rest_terms)} products {num(rest_value)}", rest_value))
    steps.append(Step(f"sum of {len(terms)} products w {DOT} x = {num(total_products)}", total_products))
    value = total_products
    if alpha != 1.0:
        value = alpha * total_products
        steps.append(Step(f"{DOT} alpha {num(alpha)} = {num(value)}", value))
    if bias is not None:
        added = beta * bias
        value = value + added
        text = f"+ bias {num(bias)}" if beta == 1.0 else f"+ beta {num(beta)} {DOT} bias {num(bias)}"
        steps.append(Step(f"{text} = {num(value)}", value))
    steps.append(Step(f"total = {num(value)}", value))
    after = activation_step(ctx, layer, value)
    if after is not None:
        steps.append(after)
    return Explanation(layer="", op=node.op_type, unit=tuple(unit), value=value, kind="dense", terms=shown,
                       rest=rest, steps=steps, window={"inputs": len(terms), "listed": len(shown)})


EXPLAIN_RULES = {"Gemm": explain_gemm, "MatMul": explain_matmul}
