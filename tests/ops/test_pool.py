"""Pooling: hand-checked examples (shape and working), against onnxruntime too."""

import pytest

from tests.ops.cases import Case, check, check_runtime

CASES = [
    # LeNet-5's S2: (28 − 2)/2 + 1 = 14.
    Case("MaxPool", [[1, 6, 28, 28]], [1, 6, 14, 14], "(28 + 2·0 − 2)/2 + 1 = 14 → 6×14×14",
         attrs={"kernel_shape": [2, 2], "strides": [2, 2]}, name="lenet-s2"),
    # SAME_UPPER, stride 2 on 8: ⌈8/2⌉ = 4 needs (4 − 1)·2 + 3 − 8 = 1 pixel, put at the end.
    Case("MaxPool", [[1, 3, 8, 8]], [1, 3, 4, 4], "SAME_UPPER pads 0 + 1: (8 + 0 + 1 − 3)/2 + 1 = 4 → 3×4×4",
         attrs={"kernel_shape": [3, 3], "strides": [2, 2], "auto_pad": "SAME_UPPER"}, name="same"),
    # ⌈(5 + 2 − 2)/2⌉ + 1 = 4 by the formula, but window 4 would start at padded index 6, in the right padding.
    Case("AveragePool", [[1, 1, 5, 5]], [1, 1, 3, 3],
         "⌈(5 + 2·1 − 2)/2⌉ + 1 − 1 = 3 (the last window would start in the right padding, so onnxruntime "
         "drops it) → 1×3×3", attrs={"kernel_shape": [2, 2], "strides": [2, 2], "pads": [1, 1, 1, 1], "ceil_mode": 1},
         hyper={"ceil_mode": 1, "count_include_pad": 0}, name="ceil-dropped-window"),
    Case("AveragePool", [[1, 3, 8, 8]], [1, 3, 8, 8], "(8 + 2·1 − 3)/1 + 1 = 8 → 3×8×8",
         attrs={"kernel_shape": [3, 3], "pads": [1, 1, 1, 1], "count_include_pad": 1},
         hyper={"count_include_pad": 1, "stride": [1, 1]}, name="count-include-pad"),
    Case("LpPool", [[1, 3, 8, 8]], [1, 3, 4, 6],
         "H: (8 + 2·0 − 2)/2 + 1 = 4; W: (8 + 2·0 − 3)/1 + 1 = 6 → 3×4×6",
         attrs={"kernel_shape": [2, 3], "strides": [2, 1], "p": 3}, hyper={"p": 3}),
    Case("GlobalAveragePool", [[1, 3, 8, 8]], [1, 3, 1, 1], "one average over each 8×8 map → 3×1×1"),
    Case("GlobalMaxPool", [[1, 4, 5, 7]], [1, 4, 1, 1], "one maximum over each 5×7 map → 4×1×1"),
    Case("GlobalLpPool", [[1, 3, 5, 5]], [1, 3, 1, 1], "one Lp norm over each 5×5 map → 3×1×1"),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_example(case):
    check(case)


@pytest.mark.parametrize("case", [c for c in CASES if c.runtime], ids=lambda c: c.id)
def test_example_against_onnxruntime(case):
    check_runtime(case)


def test_lp_pool_p_defaults_to_2_from_the_schema():
    from tests.ops.cases import analysed

    layer = analysed(Case("LpPool", [[1, 1, 4, 4]], [1, 1, 2, 2], "", attrs={"kernel_shape": [3, 3]}))
    assert layer.hyper["p"] == 2
