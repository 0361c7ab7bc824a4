"""Gemm and MatMul: hand-checked examples (shape, working, parameters), against onnxruntime too."""

import numpy as np
import pytest

from tests.ops.cases import Case, check, check_runtime


def ones(*shape):
    return np.ones(shape, np.float32)


CASES = [
    # LeNet-5's F6: 120 inputs, 84 units, weights stored as 84×120 (transB).
    Case("Gemm", [[1, 120], ones(84, 120), ones(84)], [1, 84], "120 × 84 weights + 84 bias → 84",
         attrs={"transB": 1}, params=10164, params_formula="84·120 + 84 = 10164",
         hyper={"transA": 0, "transB": 1, "alpha": 1.0, "beta": 1.0}, name="lenet-f6"),
    Case("Gemm", [[2, 10], ones(10, 4)], [2, 4], "10 × 4 weights → 4", attrs={"alpha": 0.5}, params=40,
         params_formula="10·4 = 40", hyper={"alpha": 0.5, "beta": 1.0}, name="no-bias"),
    # A bias per sample and unit (2×4) is counted in full.
    Case("Gemm", [[2, 10], ones(10, 4), ones(2, 4)], [2, 4], "10 × 4 weights + 2×4 bias → 4", params=48,
         params_formula="10·4 + 2·4 = 48", name="matrix-bias"),
    Case("Gemm", [[10, 2], ones(4, 10)], [2, 4], "10 × 4 weights → 4", attrs={"transA": 1, "transB": 1},
         params=40, name="both-transposed"),
    Case("MatMul", [[1, 3, 8, 8], ones(8, 5)], [1, 3, 8, 5], "8 × 5 weights → 3×8×5", params=40,
         params_formula="8·5 = 40", name="weights"),
    # Two activations: a batched product, no parameters.
    Case("MatMul", [[2, 3, 4], [2, 4, 5]], [2, 3, 5], "matrix product 2×3×4 · 2×4×5 → 3×5", name="batched"),
    # The weights on the left: still counted.
    Case("MatMul", [ones(5, 3), [3, 7]], [5, 7], "matrix product 5×3 · 3×7 → 7", params=15, name="weights-left"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_example(case):
    check(case)


@pytest.mark.parametrize("case", [c for c in CASES if c.runtime], ids=lambda c: c.id)
def test_example_against_onnxruntime(case):
    check_runtime(case)
