"""Convolution arithmetic along one axis.

The relationships and worked examples are those of Dumoulin & Visin (2016),
"A guide to convolution arithmetic for deep learning"; the property tests
check the closed forms against counting windows one by one.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lenet_gui.core import arithmetic as ar
from lenet_gui.core.errors import ShapeError


def conv(i, k, s=1, p=0, d=1):
    return ar.conv_output_size(i, k, s, p, p, d).size


def transposed(i, k, s=1, p=0, a=0, d=1):
    return ar.conv_transpose_output_size(i, k, s, p, p, d, a).size


def count_windows(n: int, k_eff: int, s: int, pad_begin: int, pad_end: int) -> int:
    """Slide a window along the padded input and count the positions that fit."""
    positions = 0
    start = 0
    while start + k_eff <= n + pad_begin + pad_end:
        positions += 1
        start += s
    return positions


# ---------------------------------------------------------------------------
# Dumoulin & Visin's relationships and examples


def test_relationship_1_no_padding_unit_strides():
    # o = (i − k) + 1
    assert conv(4, 3) == 2
    for i in range(3, 12):
        for k in range(1, i + 1):
            assert conv(i, k) == i - k + 1


def test_relationship_2_zero_padding_unit_strides():
    # o = (i − k) + 2p + 1
    assert conv(5, 4, p=2) == 6
    for i, k, p in [(5, 4, 2), (7, 3, 1), (4, 4, 3), (10, 1, 2)]:
        assert conv(i, k, p=p) == i - k + 2 * p + 1


def test_relationship_3_half_padding_keeps_the_size():
    # k odd, p = ⌊k/2⌋, s = 1: o = i
    assert conv(5, 3, p=1) == 5
    for i in range(1, 15):
        for k in (1, 3, 5, 7):
            if k <= i + 2 * (k // 2):
                assert conv(i, k, p=k // 2) == i


def test_relationship_4_full_padding_grows_by_k_minus_1():
    # p = k − 1, s = 1: o = i + (k − 1)
    assert conv(5, 3, p=2) == 7
    for i in range(1, 10):
        for k in range(1, 6):
            assert conv(i, k, p=k - 1) == i + k - 1


def test_relationship_5_and_6_non_unit_strides():
    # o = ⌊(i + 2p − k)/s⌋ + 1
    assert conv(5, 3, s=2) == 2
    assert conv(5, 3, s=2, p=1) == 3
    assert conv(6, 3, s=2, p=1) == 3
    for i, k, s, p in [(5, 3, 2, 0), (9, 4, 3, 1), (32, 5, 2, 2), (7, 7, 5, 3)]:
        assert conv(i, k, s, p) == (i + 2 * p - k) // s + 1


def test_pooling_relationship():
    # o = ⌊(i − k)/s⌋ + 1 (no padding)
    assert ar.pool_output_size(5, 3, 1).size == 3
    assert ar.pool_output_size(5, 3, 2).size == 2
    assert ar.pool_output_size(28, 2, 2).size == 14


def test_transposed_relationships():
    # Relationship 8: the transpose of (k, s=1, p=0) is o' = i' + (k − 1).
    assert transposed(2, 3) == 4
    # Relationship 9: the transpose of (k, s=1, p) is o' = i' + (k − 1) − 2p.
    assert transposed(6, 4, p=2) == 6 + 3 - 4 == 5
    # Relationship 10: half padding, transposed: o' = i'.
    assert transposed(5, 3, p=1) == 5
    # Relationship 11: full padding, transposed: o' = i' − (k − 1).
    assert transposed(7, 3, p=2) == 5
    # Relationship 12: (i − k) a multiple of s: o' = s(i' − 1) + k.
    assert transposed(2, 3, s=2) == 5
    # Relationship 13: a = (i + 2p − k) mod s extra pixels: o' = s(i' − 1) + a + k − 2p.
    assert transposed(3, 3, s=2, p=1, a=1) == 6
    assert transposed(3, 3, s=2, p=1, a=0) == 5


@settings(max_examples=150, deadline=None)
@given(i=st.integers(1, 40), k=st.integers(1, 9), s=st.integers(1, 5), p=st.integers(0, 4), d=st.integers(1, 3))
def test_transposed_convolution_gives_back_the_input_size(i, k, s, p, d):
    k_eff = ar.effective_kernel(k, d)
    if k_eff > i + 2 * p:
        return
    o = conv(i, k, s, p, d)
    a = (i + 2 * p - k_eff) % s
    assert transposed(o, k, s, p, a, d) == i


def test_dilation_relationship_15():
    # k̂ = k + (k − 1)(d − 1), o = ⌊(i + 2p − k̂)/s⌋ + 1
    assert conv(7, 3, d=2) == 3
    for k in range(1, 6):
        for d in range(1, 5):
            assert ar.effective_kernel(k, d) == k + (k - 1) * (d - 1)
    result = ar.conv_output_size(7, 3, dilation=2)
    assert result.kernel_eff == 5
    assert result.formula == "dilated kernel 2·(3 − 1) + 1 = 5; (7 + 2·0 − 5)/1 + 1 = 3"


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 50), k=st.integers(1, 9), s=st.integers(1, 6), pb=st.integers(0, 5), pe=st.integers(0, 5),
       d=st.integers(1, 4))
def test_conv_output_counts_the_windows(n, k, s, pb, pe, d):
    k_eff = ar.effective_kernel(k, d)
    if k_eff > n + pb + pe:
        with pytest.raises(ShapeError, match=f"larger than the padded input {n + pb + pe}"):
            ar.conv_output_size(n, k, s, pb, pe, d)
        return
    result = ar.conv_output_size(n, k, s, pb, pe, d)
    assert result.size == count_windows(n, k_eff, s, pb, pe)
    assert result.formula.endswith(f"= {result.size}")


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 50), k=st.integers(1, 9), s=st.integers(1, 6), d=st.integers(1, 3),
       mode=st.sampled_from(["SAME_UPPER", "SAME_LOWER"]))
def test_conv_same_padding_gives_ceil_n_over_s(n, k, s, d, mode):
    result = ar.conv_output_size(n, k, s, dilation=d, auto_pad=mode)
    assert result.size == math.ceil(n / s)
    assert result.pad_begin >= 0 and result.pad_end >= 0
    assert abs(result.pad_begin - result.pad_end) <= 1
    if result.pad_begin != result.pad_end:
        # The odd pixel goes at the end for SAME_UPPER, at the start for SAME_LOWER.
        assert (result.pad_end > result.pad_begin) == (mode == "SAME_UPPER")
    assert count_windows(n, result.kernel_eff, s, result.pad_begin, result.pad_end) == result.size


def test_valid_padding_ignores_pads():
    assert ar.conv_output_size(7, 3, 2, 5, 5, auto_pad="VALID").size == 3
    assert ar.conv_output_size(7, 3, 2, auto_pad="VALID").formula == "VALID (no padding): (7 + 2·0 − 3)/2 + 1 = 3"


# ---------------------------------------------------------------------------
# formulas


def test_lenet_chain_formulas():
    c1 = ar.conv_output_size(32, 5)
    s2 = ar.pool_output_size(c1.size, 2, 2)
    c3 = ar.conv_output_size(s2.size, 5)
    s4 = ar.pool_output_size(c3.size, 2, 2)
    c5 = ar.conv_output_size(s4.size, 5)
    assert [r.size for r in (c1, s2, c3, s4, c5)] == [28, 14, 10, 5, 1]
    assert c1.formula == "(32 + 2·0 − 5)/1 + 1 = 28"
    assert s2.formula == "(28 + 2·0 − 2)/2 + 1 = 14"
    assert c3.formula == "(14 + 2·0 − 5)/1 + 1 = 10"
    assert s4.formula == "(10 + 2·0 − 2)/2 + 1 = 5"
    assert c5.formula == "(5 + 2·0 − 5)/1 + 1 = 1"
    assert s2.convention == ar.POOL_CONVENTION_PER_SIDE
    assert c1.convention is None


def test_floor_ceil_and_asymmetric_padding_formulas():
    assert ar.conv_output_size(6, 3, 2, 1, 1).formula == "⌊(6 + 2·1 − 3)/2⌋ + 1 = 3"
    assert ar.conv_output_size(7, 3, 2, 1, 2).formula == "⌊(7 + 1 + 2 − 3)/2⌋ + 1 = 4"
    assert ar.pool_output_size(5, 2, 2, ceil_mode=True).formula == "⌈(5 + 2·0 − 2)/2⌉ + 1 = 3"
    assert ar.pool_output_size(5, 2, 2).formula == "⌊(5 + 2·0 − 2)/2⌋ + 1 = 2"
    # An exact division needs neither bracket, ceil_mode or not.
    assert ar.pool_output_size(6, 2, 2, ceil_mode=True).formula == "(6 + 2·0 − 2)/2 + 1 = 3"
    same = ar.conv_output_size(7, 4, 2, auto_pad="SAME_LOWER")
    assert (same.pad_begin, same.pad_end) == (2, 1)
    assert same.formula == "SAME_LOWER pads 2 + 1: (7 + 2 + 1 − 4)/2 + 1 = 4"


def test_transposed_formulas():
    assert ar.conv_transpose_output_size(2, 3).formula == "(2 − 1)·1 + 3 − 2·0 = 4"
    assert ar.conv_transpose_output_size(3, 3, 2, 1, 1, output_padding=1).formula == "(3 − 1)·2 + 3 + 1 − 2·1 = 6"
    assert ar.conv_transpose_output_size(3, 3, 2, 0, 1).formula == "(3 − 1)·2 + 3 − 0 − 1 = 6"
    same = ar.conv_transpose_output_size(5, 3, 2, auto_pad="SAME_UPPER")
    assert same.size == 10 and (same.pad_begin, same.pad_end) == (0, 1)  # the odd pixel off the end
    assert same.formula == "SAME_UPPER (5·2 = 10): (5 − 1)·2 + 3 − 1 = 10"
    given_size = ar.conv_transpose_output_size(5, 3, 2, output_size=11)
    assert given_size.size == 11 and given_size.formula == "output_shape 11: (5 − 1)·2 + 3 = 11"


# ---------------------------------------------------------------------------
# pooling conventions and onnxruntime's rules


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 60), k=st.integers(1, 8), s=st.integers(1, 5), p=st.integers(0, 7), ceil=st.booleans())
def test_two_pooling_conventions_agree_for_symmetric_pads(n, k, s, p, ceil):
    if p >= k or k > n + 2 * p:
        return
    per_side = ar.pool_output_size(n, k, s, p, p)
    total = ar.pool_output_size_total_padding(n, k, s, 2 * p)
    assert per_side.size == total.size == (n + 2 * p - k) // s + 1
    assert per_side.convention == ar.POOL_CONVENTION_PER_SIDE
    assert total.convention == ar.POOL_CONVENTION_TOTAL
    if ceil:
        # Without a dropped window, the ceilings agree too.
        per_side_ceil = ar.pool_output_size(n, k, s, p, p, ceil_mode=True)
        total_ceil = ar.pool_output_size_total_padding(n, k, s, 2 * p, ceil_mode=True)
        assert total_ceil.size - per_side_ceil.size in (0, 1)
        assert (total_ceil.size != per_side_ceil.size) == (per_side_ceil.note is not None)


def test_article_convention_formula():
    assert ar.pool_output_size_total_padding(28, 2, 2).formula == "(28 − 2 + 0 + 2)/2 = 14"
    assert ar.pool_output_size_total_padding(7, 2, 2).formula == "⌊(7 − 2 + 0 + 2)/2⌋ = 3"
    assert ar.pool_output_size_total_padding(7, 3, 2, 2).size == ar.pool_output_size(7, 3, 2, 1, 1).size == 4


def test_ceil_mode_drops_a_window_starting_in_the_right_padding():
    # ⌈(5 + 2 − 2)/2⌉ + 1 = 4 windows by the formula; the 4th starts at padded
    # index 6, past the input (indices 1..5), so onnxruntime keeps 3.
    result = ar.pool_output_size(5, 2, 2, 1, 1, ceil_mode=True)
    assert result.size == 3
    assert result.formula.startswith("⌈(5 + 2·1 − 2)/2⌉ + 1 − 1 = 3")
    assert "right padding" in result.note
    # A last window that starts inside the input is kept.
    assert ar.pool_output_size(5, 2, 2, 0, 0, ceil_mode=True).size == 3
    assert ar.pool_output_size(6, 3, 2, 1, 1, ceil_mode=True).size == 4


@settings(max_examples=200, deadline=None)
@given(n=st.integers(1, 40), k=st.integers(1, 6), s=st.integers(1, 5), pb=st.integers(0, 5), pe=st.integers(0, 5),
       d=st.integers(1, 3))
def test_ceil_mode_pooling_counts_windows_that_start_before_the_right_padding(n, k, s, pb, pe, d):
    k_eff = ar.effective_kernel(k, d)
    if pb >= k or pe >= k or k_eff > n + pb + pe:
        return
    result = ar.pool_output_size(n, k, s, pb, pe, d, ceil_mode=True)
    # Windows start at 0, s, 2s, … on the padded axis; keep those that overlap
    # the padded input at all, as long as they start before the right padding.
    starts = [t for t in range(0, n + pb + pe, s) if t < n + pb]
    full = count_windows(n, k_eff, s, pb, pe)
    partial = math.ceil((n + pb + pe - k_eff) / s) + 1
    assert result.size == min(partial, len(starts))
    assert result.size in (full, full + 1)


def test_same_pooling_uses_the_undilated_kernel_like_onnxruntime():
    # onnxruntime pads (⌈10/1⌉ − 1)·1 + 3 − 10 = 2 for k=3, then slides the dilated window of 5.
    result = ar.pool_output_size(10, 3, 1, dilation=2, auto_pad="SAME_UPPER")
    assert (result.pad_begin, result.pad_end) == (1, 1)
    assert result.size == 8
    assert ar.pool_output_size(10, 3, 2, auto_pad="SAME_LOWER").size == 5


# ---------------------------------------------------------------------------
# receptive field


def test_lenet_receptive_fields_and_jumps():
    rf = ar.input_receptive_field(2)
    expected = [("C1", 5, 1, 5, 1), ("S2", 2, 2, 6, 2), ("C3", 5, 1, 14, 2), ("S4", 2, 2, 16, 4), ("C5", 5, 1, 32, 4)]
    for name, k, s, size, jump in expected:
        rf = ar.propagate_receptive_field(rf, [k, k], [s, s], [0, 0])
        assert (rf.size, rf.jump, rf.start) == ((size, size), (jump, jump), (0, 0)), name
    assert rf.centre == (15.5, 15.5)


def test_receptive_field_step_with_padding_and_dilation():
    # r_out = r_in + (k_eff − 1)·j_in, j_out = j_in·s, start moves back by pad·j_in.
    assert ar.receptive_field_step(1, 1, 0, kernel=3, stride=2, pad_begin=1) == (3, 2, -1)
    assert ar.receptive_field_step(3, 2, -1, kernel=3, stride=1, pad_begin=1, dilation=2) == (3 + 4 * 2, 2, -3)


def test_receptive_box_and_clip():
    rf = ar.ReceptiveField(size=(14, 14), jump=(2, 2), start=(0, 0))
    assert ar.receptive_box(rf, 3, 2) == (6, 4, 20, 18)
    padded = ar.ReceptiveField(size=(5, 5), jump=(2, 2), start=(-2, -2))
    assert ar.receptive_box(padded, 0, 0) == (-2, -2, 3, 3)
    assert ar.clip_box((-2, -2, 3, 3), 8, 8) == (0, 0, 3, 3)
    assert ar.clip_box((6, 30, 11, 35), 8, 8) == (6, 8, 8, 8)  # off the right edge: empty width
    with pytest.raises(ShapeError):
        ar.receptive_box(ar.ReceptiveField((3,), (1,), (0,)), 0, 0)
    with pytest.raises(ShapeError):
        ar.receptive_box(None, 0, 0)


# ---------------------------------------------------------------------------
# impossible configurations


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: ar.conv_output_size(4, 5), "kernel 5 is larger than the padded input 4 (4 + 0 + 0)"),
        (lambda: ar.conv_output_size(4, 3, dilation=3),
         "dilated kernel 7 (k=3, d=3) is larger than the padded input 4"),
        (lambda: ar.pool_output_size(3, 6, 1, 0, 0),
         "kernel 6 is larger than the padded input 3 (3 + 0 + 0) and the output size comes out negative (-2)"),
        (lambda: ar.pool_output_size(5, 2, 1, 2, 0), "padding 2 + 0 must be smaller than the kernel 2"),
        (lambda: ar.conv_transpose_output_size(3, 3, 2, output_padding=2), "output_padding 2 must be"),
        (lambda: ar.conv_transpose_output_size(2, 3, 1, 2, 2), "would give 0 pixels"),
        (lambda: ar.conv_transpose_output_size(5, 3, 2, output_size=13), "can make 1 to 12"),
        (lambda: ar.conv_output_size(4, 3, 0), "stride must be at least 1, got 0"),
        (lambda: ar.conv_output_size(0, 3), "input size must be at least 1, got 0"),
        (lambda: ar.conv_output_size(4, 3, 1, -1, 0), "padding cannot be negative"),
        (lambda: ar.conv_output_size(4, 3, auto_pad="SAME"), "unknown auto_pad 'SAME'"),
        (lambda: ar.pool_output_size_total_padding(3, 5, 1, 1), "kernel 5 is larger than the padded input 4"),
    ],
)
def test_impossible_configurations_raise_shape_error(call, message):
    with pytest.raises(ShapeError) as caught:
        call()
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
