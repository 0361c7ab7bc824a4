"""Normalisations: hand-checked examples (shape, parameters), against onnxruntime too."""

import numpy as np
import pytest

from tests.ops.cases import Case, analysed, check, check_runtime

X = [1, 3, 8, 8]
SAME = "same as input → 3×8×8"


def per_channel(value, n=3):
    return np.full(n, value, np.float32)


BN_INPUTS = [X, per_channel(1.0), per_channel(0.0), per_channel(0.5), per_channel(2.0)]

CASES = [
    # Scale and bias are trained (3 + 3); the running mean and variance are not.
    Case("BatchNormalization", BN_INPUTS, X, SAME, params=6,
         params_formula="3 + 3 = 6 (running mean and variance, 2·3, not trainable, not counted)",
         hyper={"epsilon": 1e-05}, name="default-epsilon"),
    Case("BatchNormalization", BN_INPUTS, X, SAME, attrs={"epsilon": 0.001}, params=6,
         hyper={"epsilon": float(np.float32(0.001))}, name="epsilon"),
    Case("InstanceNormalization", [X, per_channel(1.0), per_channel(0.0)], X, SAME, params=6,
         params_formula="3 + 3 = 6"),
    # Over the last axis (8 values): scale and bias of 8 each; mean and 1/σ keep the other axes.
    Case("LayerNormalization", [X, per_channel(1.0, 8), per_channel(0.0, 8)], X, SAME, outputs=3, params=16),
    Case("LRN", [X], X, SAME, attrs={"size": 3}, hyper={"size": 3}),
    Case("MeanVarianceNormalization", [X], X, SAME),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_example(case):
    check(case)


@pytest.mark.parametrize("case", [c for c in CASES if c.runtime], ids=lambda c: c.id)
def test_example_against_onnxruntime(case):
    check_runtime(case)


def test_layer_normalisation_statistics_keep_the_axes_before_the_normalised_ones():
    layer = analysed(Case("LayerNormalization", [X, per_channel(1.0, 64).reshape(8, 8), per_channel(0.0, 64).reshape(8, 8)],
                          X, SAME, attrs={"axis": 2}, outputs=3))
    assert layer.output_shapes == [X, [1, 3, 1, 1], [1, 3, 1, 1]]
    assert layer.params == 128


def test_batch_norm_statistics_of_the_wrong_size_are_refused():
    from lenet_gui.core.errors import ShapeError

    with pytest.raises(ShapeError, match="input 4 has shape 4, expected 3"):
        analysed(Case("BatchNormalization", BN_INPUTS[:3] + [per_channel(0.5, 4), per_channel(2.0)], X, SAME))
