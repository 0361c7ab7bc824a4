"""Conv and ConvTranspose: hand-checked examples (shape, working, parameters), against onnxruntime too."""

import numpy as np
import pytest

from tests.ops.cases import Case, check, check_runtime


def ones(*shape):
    return np.ones(shape, np.float32)


CASES = [
    # LeNet-5's C1: (32 − 5)/1 + 1 = 28; 6 kernels of 1·5·5 plus 6 biases.
    Case("Conv", [[1, 1, 32, 32], ones(6, 1, 5, 5), ones(6)], [1, 6, 28, 28],
         "(32 + 2·0 − 5)/1 + 1 = 28 → 6×28×28", params=156, params_formula="6·1·5·5 + 6 = 156", name="lenet-c1"),
    # Dilation 2 widens a 3-kernel to 2·2 + 1 = 5 pixels; (8 + 2 − 5)/2 = 2.5 floors to 2, + 1 = 3.
    Case("Conv", [[1, 3, 8, 8], ones(4, 3, 3, 3)], [1, 4, 3, 3],
         "dilated kernel 2·(3 − 1) + 1 = 5; ⌊(8 + 2·1 − 5)/2⌋ + 1 = 3 → 4×3×3",
         attrs={"strides": [2, 2], "pads": [1, 1, 1, 1], "dilations": [2, 2]}, params=108,
         params_formula="4·3·3·3 = 108", name="dilated"),
    # Two groups of 2 input channels; pads 1 above, 0 left, 0 below, 2 right.
    Case("Conv", [[1, 4, 7, 9], ones(6, 2, 3, 3)], [1, 6, 6, 9],
         "H: (7 + 1 + 0 − 3)/1 + 1 = 6; W: (9 + 0 + 2 − 3)/1 + 1 = 9 → 6×6×9",
         attrs={"group": 2, "pads": [1, 0, 0, 2]}, params=108, hyper={"group": 2, "pads": [1, 0, 0, 2]},
         name="groups-asymmetric"),
    # SAME_UPPER, stride 2 on 7: ⌈7/2⌉ = 4 outputs need (4 − 1)·2 + 3 − 7 = 2 pixels of padding, 1 + 1.
    Case("Conv", [[1, 1, 7, 7], ones(2, 1, 3, 3)], [1, 2, 4, 4],
         "SAME_UPPER pads 1 + 1: (7 + 2·1 − 3)/2 + 1 = 4 → 2×4×4",
         attrs={"auto_pad": "SAME_UPPER", "strides": [2, 2]}, params=18, hyper={"pads": [1, 1, 1, 1]}, name="same"),
    # 1-D: (10 − 3)/3 = 2.33 floors to 2, + 1 = 3.
    Case("Conv", [[1, 2, 10], ones(3, 2, 3)], [1, 3, 3], "⌊(10 + 2·0 − 3)/3⌋ + 1 = 3 → 3×3",
         attrs={"strides": [3]}, params=18, name="1d"),
    # (4 − 1)·2 + 3 = 9 pixels spread, + 1 output padding = 10.
    Case("ConvTranspose", [[1, 3, 4, 4], ones(3, 2, 3, 3)], [1, 2, 10, 10],
         "(4 − 1)·2 + 3 + 1 − 2·0 = 10 → 2×10×10", attrs={"strides": [2, 2], "output_padding": [1, 1]},
         params=54, params_formula="3·2·3·3 = 54", name="output-padding"),
    # (5 − 1)·2 + 4 = 12, cropped by 1 on each side = 10; bias per output channel.
    Case("ConvTranspose", [[1, 2, 5, 5], ones(2, 1, 4, 4), ones(1)], [1, 1, 10, 10],
         "(5 − 1)·2 + 4 − 2·1 = 10 → 1×10×10", attrs={"strides": [2, 2], "pads": [1, 1, 1, 1]},
         params=33, params_formula="2·1·4·4 + 1 = 33", name="pads"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_example(case):
    check(case)


@pytest.mark.parametrize("case", [c for c in CASES if c.runtime], ids=lambda c: c.id)
def test_example_against_onnxruntime(case):
    check_runtime(case)
