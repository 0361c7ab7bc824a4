"""Convolution arithmetic on the cases that tell one rule from a near miss.

test_arithmetic.py checks sizes; a wrong side for SAME padding, a receptive
box whose rows follow the column settings, or a bound off by one can leave
every size right. Here: pads and receptive fields against values worked out by
hand on asymmetric cases, onnxruntime's actual output values as the oracle for
which side gets the odd pixel, and every range check on both sides of its bound.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from lenet_gui.core import arithmetic as ar
from lenet_gui.core.errors import ShapeError

# ---------------------------------------------------------------------------
# onnxruntime as the oracle: run one 1-D layer on 1, 2, 3, … and find the pads
# that reproduce its output with a plain numpy reference.


def run_1d(op: str, n: int, weights: np.ndarray | None = None, **attrs) -> np.ndarray:
    inputs, inits = ["x"], []
    if weights is not None:
        inputs.append("w")
        inits.append(numpy_helper.from_array(weights.astype(np.float32).reshape(1, 1, -1), "w"))
    graph = helper.make_graph(
        [helper.make_node(op, inputs, ["y"], **attrs)], "one_layer",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, n])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)])
    model.ir_version = 9
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    x = np.arange(1, n + 1, dtype=np.float32).reshape(1, 1, n)
    return session.run(None, {"x": x})[0].ravel()


def max_pool_reference(n, k, s, pads, size):
    padded = np.concatenate([np.full(pads[0], -np.inf), np.arange(1, n + 1), np.full(pads[1], -np.inf)])
    return np.array([padded[o * s: o * s + k].max() for o in range(size)])


def conv_reference(n, w, s, pads, size):
    padded = np.concatenate([np.zeros(pads[0]), np.arange(1, n + 1), np.zeros(pads[1])])
    return np.array([padded[o * s: o * s + len(w)] @ w for o in range(size)])


def conv_transpose_reference(n, w, s, pad_begin, size):
    full = np.zeros((n - 1) * s + len(w) + size)  # room for an output_shape beyond the natural size
    for i in range(n):
        full[i * s: i * s + len(w)] += (i + 1) * w
    return full[pad_begin: pad_begin + size]


WEIGHTS = {3: np.array([1.0, 10.0, 100.0]), 4: np.array([1.0, 10.0, 100.0, 1000.0])}


@pytest.mark.parametrize("mode", ["SAME_UPPER", "SAME_LOWER"])
@pytest.mark.parametrize(("n", "k", "s"), [(5, 2, 1), (6, 3, 2), (7, 4, 1), (8, 5, 2), (5, 5, 1)])
def test_same_pooling_pads_reproduce_onnxruntime_values(mode, n, k, s):
    result = ar.pool_output_size(n, k, s, auto_pad=mode)
    expected = run_1d("MaxPool", n, kernel_shape=[k], strides=[s], auto_pad=mode)
    assert result.size == len(expected)
    assert np.array_equal(max_pool_reference(n, k, s, (result.pad_begin, result.pad_end), result.size), expected)


@pytest.mark.parametrize("mode", ["SAME_UPPER", "SAME_LOWER"])
@pytest.mark.parametrize(("n", "k", "s"), [(6, 3, 2), (7, 4, 2), (5, 4, 1), (6, 3, 1)])
def test_same_conv_pads_reproduce_onnxruntime_values(mode, n, k, s):
    result = ar.conv_output_size(n, k, s, auto_pad=mode)
    expected = run_1d("Conv", n, WEIGHTS[k], kernel_shape=[k], strides=[s], auto_pad=mode)
    assert result.size == len(expected)
    assert np.array_equal(conv_reference(n, WEIGHTS[k], s, (result.pad_begin, result.pad_end), result.size), expected)


@pytest.mark.parametrize(("n", "k", "s", "mode"), [
    (5, 3, 2, "SAME_UPPER"), (5, 3, 2, "SAME_LOWER"), (3, 4, 1, "SAME_UPPER"), (3, 4, 1, "SAME_LOWER"),
    (4, 4, 2, "SAME_UPPER"),
])
def test_same_conv_transpose_pads_reproduce_onnxruntime_values(n, k, s, mode):
    result = ar.conv_transpose_output_size(n, k, s, auto_pad=mode)
    expected = run_1d("ConvTranspose", n, WEIGHTS[k], kernel_shape=[k], strides=[s], auto_pad=mode)
    assert result.size == len(expected) == n * s
    assert np.array_equal(conv_transpose_reference(n, WEIGHTS[k], s, result.pad_begin, result.size), expected)
    assert result.pad_begin + result.pad_end == (n - 1) * s + k - n * s


@pytest.mark.parametrize("output_size", [1, 2, 9, 10, 11, 12])
def test_conv_transpose_output_shape_pads_reproduce_onnxruntime_values(output_size):
    # n=5, k=3, s=2: the natural size is (5 − 1)·2 + 3 = 11; onnxruntime makes 1 to 12.
    result = ar.conv_transpose_output_size(5, 3, 2, output_size=output_size)
    expected = run_1d("ConvTranspose", 5, WEIGHTS[3], kernel_shape=[3], strides=[2], output_shape=[output_size])
    assert result.size == len(expected) == output_size
    assert np.array_equal(conv_transpose_reference(5, WEIGHTS[3], 2, result.pad_begin, output_size), expected)


@pytest.mark.parametrize("output_size", [0, 13])
def test_conv_transpose_output_shape_beyond_the_bounds_is_refused_by_both(output_size):
    with pytest.raises(ShapeError) as caught:
        ar.conv_transpose_output_size(5, 3, 2, output_size=output_size)
    assert str(caught.value) == f"output_shape asks for size {output_size}, but this layer can make 1 to 12"
    with pytest.raises(Exception, match="(?i)output"):
        run_1d("ConvTranspose", 5, WEIGHTS[3], kernel_shape=[3], strides=[2], output_shape=[output_size])


# ---------------------------------------------------------------------------
# pads by hand


@pytest.mark.parametrize(("n", "k", "s", "upper", "lower"), [
    (5, 2, 1, (0, 1), (1, 0)),  # total 1: the odd pixel at the end for UPPER, at the start for LOWER
    (7, 4, 1, (1, 2), (2, 1)),  # total 3
    (5, 3, 1, (1, 1), (1, 1)),  # total 2: even, no odd pixel
    (5, 5, 1, (2, 2), (2, 2)),  # total 4
    (10, 3, 2, (0, 1), (1, 0)),  # ⌈10/2⌉ = 5 windows: (5 − 1)·2 + 3 − 10 = 1
    (4, 1, 2, (0, -1), (0, -1)),  # total −1: a crop; C++ truncation gives both the same
    (8, 1, 4, (-1, -2), (-1, -2)),  # total −3
])
def test_pool_same_pads_by_hand(n, k, s, upper, lower):
    assert ar.resolve_pool_pads(n, k, s, "SAME_UPPER") == upper
    assert ar.resolve_pool_pads(n, k, s, "SAME_LOWER") == lower
    assert ar.resolve_pool_pads(n, k, s, "same_lower") == lower  # attribute case does not matter


@pytest.mark.parametrize(("n", "k", "s", "d", "upper", "lower"), [
    (6, 3, 2, 1, (0, 1), (1, 0)),
    (7, 4, 2, 1, (1, 2), (2, 1)),
    (6, 3, 1, 1, (1, 1), (1, 1)),
    (6, 3, 1, 2, (2, 2), (2, 2)),  # dilated: 2·(3 − 1) + 1 = 5 pixels, total 4
    (4, 1, 2, 1, (0, 0), (0, 0)),  # a Conv never pads a negative amount
])
def test_conv_same_pads_by_hand(n, k, s, d, upper, lower):
    assert ar.resolve_conv_pads(n, k, s, d, "SAME_UPPER") == upper
    assert ar.resolve_conv_pads(n, k, s, d, "SAME_LOWER") == lower


def test_pad_resolution_defaults_and_explicit_pads():
    assert ar.resolve_conv_pads(6, 3) == (0, 0)
    assert ar.resolve_conv_pads(6, 3, auto_pad="SAME_UPPER") == (1, 1)  # stride and dilation default to 1
    assert ar.resolve_conv_pads(6, 3, 2, 1, "NOTSET", 3, 1) == (3, 1)
    assert ar.resolve_conv_pads(6, 3, 2, 1, "VALID", 3, 1) == (0, 0)
    assert ar.resolve_conv_pads(6, 3, auto_pad=None) == (0, 0)
    assert ar.resolve_pool_pads(6, 3) == (0, 0)
    assert ar.resolve_pool_pads(6, 3, auto_pad="SAME_UPPER") == (1, 1)
    assert ar.resolve_pool_pads(6, 3, 2, "NOTSET", 2, 1) == (2, 1)
    assert ar.resolve_pool_pads(6, 3, 2, "VALID", 2, 1) == (0, 0)


def test_empty_auto_pad_means_notset_and_case_is_ignored():
    for empty in ("", None):
        result = ar.conv_output_size(6, 3, 1, 1, 1, auto_pad=empty)
        assert (result.size, result.pad_begin, result.pad_end) == (6, 1, 1)
        assert result.formula == "(6 + 2·1 − 3)/1 + 1 = 6"
        assert ar.pool_output_size(6, 3, 1, 1, 1, auto_pad=empty).size == 6
        assert ar.conv_transpose_output_size(3, 3, 1, 1, 1, auto_pad=empty).size == 3
    assert ar.conv_output_size(6, 3, 2, auto_pad="same_lower").formula == "SAME_LOWER pads 1 + 0: (6 + 1 + 0 − 3)/2 + 1 = 3"


# ---------------------------------------------------------------------------
# pooling: notes, negative pads, the kernel and padding bounds


def test_same_pooling_with_a_kernel_smaller_than_the_stride_crops_and_says_so():
    # ⌈4/2⌉ = 2 windows: (2 − 1)·2 + 1 − 4 = −1 pixels of padding, all taken from the end.
    result = ar.pool_output_size(4, 1, 2, auto_pad="SAME_UPPER")
    assert (result.size, result.pad_begin, result.pad_end) == (2, 0, -1)
    assert result.note == "SAME with a kernel smaller than the stride crops the input (negative padding)"
    assert result.formula == ("SAME_UPPER pads 0 + (−1): (4 + 0 + (−1) − 1)/2 + 1 = 2 "
                              "(SAME with a kernel smaller than the stride crops the input (negative padding))")
    both = ar.pool_output_size(8, 1, 4, auto_pad="SAME_LOWER")
    assert (both.pad_begin, both.pad_end) == (-1, -2)
    assert both.formula.startswith("SAME_LOWER pads (−1) + (−2): (8 + (−1) + (−2) − 1)/4 + 1 = 2")
    assert ar.pool_output_size(4, 2, 2, auto_pad="SAME_UPPER").note is None


def test_dropped_ceil_window_note_is_exact():
    result = ar.pool_output_size(5, 2, 2, 1, 1, ceil_mode=True)
    assert result.note == "the last window would start in the right padding, so onnxruntime drops it"
    assert result.formula == ("⌈(5 + 2·1 − 2)/2⌉ + 1 − 1 = 3 "
                              "(the last window would start in the right padding, so onnxruntime drops it)")
    kept = ar.pool_output_size(5, 2, 2, 0, 1, ceil_mode=True)  # the 3rd window starts at 4, inside the input
    assert (kept.size, kept.note) == (3, None)


@pytest.mark.parametrize(("pads", "ok"), [((1, 1), True), ((2, 1), False), ((1, 2), False), ((0, 0), True)])
def test_pooling_padding_must_be_smaller_than_the_kernel_on_each_side(pads, ok):
    if ok:
        assert ar.pool_output_size(5, 2, 1, *pads).size == 5 + sum(pads) - 1
    else:
        with pytest.raises(ShapeError) as caught:
            ar.pool_output_size(5, 2, 1, *pads)
        assert str(caught.value) == (f"pooling padding {pads[0]} + {pads[1]} must be smaller than the kernel 2 "
                                     "on each side")


def test_pooling_defaults_and_what_it_reports():
    result = ar.pool_output_size(5, 3)  # stride 1, no padding
    assert (result.size, result.pad_begin, result.pad_end, result.kernel_eff) == (3, 0, 0, 3)
    assert result.convention == ar.POOL_CONVENTION_PER_SIDE and result.note is None
    dilated = ar.pool_output_size(10, 3, 2, 1, 0, dilation=2)
    assert (dilated.size, dilated.kernel_eff) == (4, 5)
    assert dilated.formula == "dilated kernel 2·(3 − 1) + 1 = 5; (10 + 1 + 0 − 5)/2 + 1 = 4"


@pytest.mark.parametrize(("n", "k", "fits"), [(4, 4, True), (4, 5, False)])
def test_kernel_as_large_as_the_padded_input_fits_one_larger_does_not(n, k, fits):
    # Pooling takes a kernel that does not fit too (see the onnxruntime rounding tests below).
    for call in (lambda: ar.conv_output_size(n, k), lambda: ar.pool_output_size_total_padding(n, k, 1)):
        if fits:
            assert call().size == 1
        else:
            with pytest.raises(ShapeError, match=f"kernel {k} is larger than the padded input {n}"):
                call()
    pooled = ar.pool_output_size(n, k)
    assert pooled.size == (1 if fits else 0)
    assert (pooled.note is None) == fits


# ---------------------------------------------------------------------------
# the total-padding convention


def test_total_padding_splits_the_pads_and_reports_the_kernel():
    result = ar.pool_output_size_total_padding(7, 3, 2, 3)
    assert (result.size, result.pad_begin, result.pad_end, result.kernel_eff) == (4, 1, 2, 3)
    assert isinstance(result.pad_begin, int)
    assert result.formula == "⌊(7 − 3 + 3 + 2)/2⌋ = 4"
    four = ar.pool_output_size_total_padding(7, 3, 2, 4)
    assert (four.pad_begin, four.pad_end) == (2, 2)
    assert ar.pool_output_size_total_padding(7, 2, 2, ceil_mode=True).formula == "⌈(7 − 2 + 0 + 2)/2⌉ = 4"


def test_total_padding_bounds():
    assert ar.pool_output_size_total_padding(3, 3, 1, 0).size == 1
    with pytest.raises(ShapeError) as caught:
        ar.pool_output_size_total_padding(3, 3, 1, -1)
    assert str(caught.value) == "padding cannot be negative, got -1"
    with pytest.raises(ShapeError, match="stride must be at least 1, got 0"):
        ar.pool_output_size_total_padding(3, 3, 0)


# ---------------------------------------------------------------------------
# every range check on both sides


@pytest.mark.parametrize("label, index", [("input size", 0), ("kernel", 1), ("stride", 2), ("dilation", 3)])
@pytest.mark.parametrize("function", [ar.conv_output_size, ar.pool_output_size, ar.conv_transpose_output_size])
def test_each_size_must_be_at_least_one(function, label, index):
    good = [6, 3, 1, 1]
    kwargs = dict(zip(("n", "kernel", "stride", "dilation"), good))
    assert function(**kwargs).size >= 1  # 1 is allowed
    kwargs[list(kwargs)[index]] = 0
    with pytest.raises(ShapeError) as caught:
        function(**kwargs)
    assert str(caught.value) == f"{label} must be at least 1, got 0"


@pytest.mark.parametrize("function", [ar.conv_output_size, ar.pool_output_size, ar.conv_transpose_output_size])
def test_padding_zero_is_allowed_minus_one_is_not(function):
    assert function(6, 3, 1, 0, 0).size >= 1
    for pads in ((-1, 0), (0, -1)):
        with pytest.raises(ShapeError) as caught:
            function(6, 3, 1, *pads)
        assert str(caught.value) == f"padding cannot be negative, got {pads[0]} before and {pads[1]} after"


def test_unknown_auto_pad_names_every_mode():
    with pytest.raises(ShapeError) as caught:
        ar.pool_output_size(6, 3, auto_pad="same")  # lower case is fine; a bare SAME is not a mode
    assert str(caught.value) == "unknown auto_pad 'SAME' (expected one of NOTSET, SAME_UPPER, SAME_LOWER, VALID)"


@pytest.mark.parametrize(("a", "ok"), [(0, True), (1, True), (2, False), (-1, False)])
def test_output_padding_below_the_stride(a, ok):
    if ok:
        assert ar.conv_transpose_output_size(3, 3, 2, output_padding=a).size == 7 + a
    else:
        with pytest.raises(ShapeError) as caught:
            ar.conv_transpose_output_size(3, 3, 2, output_padding=a)
        assert str(caught.value) == f"output_padding {a} must be at least 0 and smaller than the stride 2"


def test_conv_transpose_padding_may_leave_one_pixel_but_not_none():
    one = ar.conv_transpose_output_size(2, 3, 1, 1, 2)  # natural 4, minus 3
    assert (one.size, one.pad_begin, one.pad_end, one.kernel_eff) == (1, 1, 2, 3)
    assert one.formula == "(2 − 1)·1 + 3 − 1 − 2 = 1"
    with pytest.raises(ShapeError) as caught:
        ar.conv_transpose_output_size(2, 3, 1, 2, 2)
    assert str(caught.value) == "padding 2 + 2 removes everything: the transposed convolution would give 0 pixels"


# ---------------------------------------------------------------------------
# transposed convolution: what it reports


def test_conv_transpose_output_shape_formulas_and_pads():
    # n=5, k=3, s=2: natural (5 − 1)·2 + 3 = 11; up to s − 1 = 1 more is allowed.
    cases = {
        12: ("output_shape 12: (5 − 1)·2 + 3 + 1 = 12", (0, 0)),
        11: ("output_shape 11: (5 − 1)·2 + 3 = 11", (0, 0)),
        10: ("output_shape 10: (5 − 1)·2 + 3 − 1 = 10", (1, 0)),  # the odd pixel comes off the start
        1: ("output_shape 1: (5 − 1)·2 + 3 − 10 = 1", (5, 5)),
    }
    for size, (formula, pads) in cases.items():
        result = ar.conv_transpose_output_size(5, 3, 2, output_size=size)
        assert (result.size, result.formula, (result.pad_begin, result.pad_end)) == (size, formula, pads)
        assert result.kernel_eff == 3
    dilated = ar.conv_transpose_output_size(5, 3, 3, dilation=2, output_size=19)  # (5 − 1)·3 + 5 = 17, + 2
    assert (dilated.size, dilated.kernel_eff) == (19, 5)
    assert dilated.formula == "output_shape 19: dilated kernel 2·(3 − 1) + 1 = 5; (5 − 1)·3 + 5 + 2 = 19"
    with pytest.raises(ShapeError, match="can make 1 to 19"):
        ar.conv_transpose_output_size(5, 3, 3, dilation=2, output_size=20)


def test_conv_transpose_same_and_valid():
    upper = ar.conv_transpose_output_size(5, 3, 2, auto_pad="SAME_UPPER")
    lower = ar.conv_transpose_output_size(5, 3, 2, auto_pad="SAME_LOWER")
    assert (upper.pad_begin, upper.pad_end) == (0, 1)  # the odd pixel at the end, as for every op
    assert (lower.pad_begin, lower.pad_end) == (1, 0)
    assert lower.formula == "SAME_LOWER (5·2 = 10): (5 − 1)·2 + 3 − 1 = 10"
    assert upper.kernel_eff == lower.kernel_eff == 3
    valid = ar.conv_transpose_output_size(3, 3, 2, 1, 1, auto_pad="VALID")
    assert (valid.size, valid.pad_begin, valid.pad_end) == (7, 0, 0)
    assert valid.formula == "VALID (no padding): (3 − 1)·2 + 3 − 2·0 = 7"
    plain = ar.conv_transpose_output_size(3, 3, 2, 1, 2, dilation=2, output_padding=1)
    assert (plain.size, plain.pad_begin, plain.pad_end, plain.kernel_eff) == (7, 1, 2, 5)


# ---------------------------------------------------------------------------
# conv notes and defaults


def test_same_conv_with_dilation_carries_a_note_and_nothing_else_does():
    note = "onnxruntime cannot run a Conv with SAME padding and a dilation; this is the ONNX spec's size"
    assert ar.conv_output_size(9, 3, 1, dilation=2, auto_pad="SAME_UPPER").note == note
    assert ar.conv_output_size(9, 3, 1, dilation=2, auto_pad="SAME_LOWER").note == note
    assert ar.conv_output_size(9, 3, 1, dilation=2).note is None
    assert ar.conv_output_size(9, 3, 1, auto_pad="SAME_UPPER").note is None
    assert ar.conv_output_size(9, 3, 1, dilation=2, auto_pad="VALID").note is None


def test_defaults_are_the_plain_case():
    assert ar.effective_kernel(5) == 5
    assert ar.effective_kernel(5, 3) == 13
    assert ar.input_receptive_field() == ar.ReceptiveField((1, 1), (1, 1), (0, 0))
    assert ar.input_receptive_field(3).size == (1, 1, 1)
    assert ar.receptive_field_step(1, 1, 0, 3) == (3, 1, 0)
    result = ar.conv_output_size(6, 3)
    assert (result.pad_begin, result.pad_end, result.kernel_eff, result.note) == (0, 0, 3, None)


# ---------------------------------------------------------------------------
# receptive fields and boxes on asymmetric settings (rows and columns differ)


def test_receptive_field_per_axis_by_hand():
    rf = ar.input_receptive_field(2)
    # Layer 1: kernel 3×4, stride 1×2, pads 1 (top) and 2 (left), dilation 2×1.
    rf = ar.propagate_receptive_field(rf, [3, 4], [1, 2], [1, 2], [2, 1])
    # rows: k_eff 5, r = 1 + 4·1 = 5, j = 1, start −1; columns: k_eff 4, r = 4, j = 2, start −2.
    assert (rf.size, rf.jump, rf.start) == ((5, 4), (1, 2), (-1, -2))
    # Layer 2: kernel 2×3, stride 2×1, pads 0 and 1, dilation 1×2.
    rf = ar.propagate_receptive_field(rf, [2, 3], [2, 1], [0, 1], [1, 2])
    # rows: r = 5 + 1·1 = 6, j = 2, start −1; columns: k_eff 5, r = 4 + 4·2 = 12, j = 2, start −2 − 1·2 = −4.
    assert (rf.size, rf.jump, rf.start) == ((6, 12), (2, 2), (-1, -4))
    assert rf.centre == (-1 + 2.5, -4 + 5.5)
    no_dilation = ar.propagate_receptive_field(ar.input_receptive_field(2), [3, 5], [2, 1], [1, 0])
    assert (no_dilation.size, no_dilation.start) == ((3, 5), (-1, 0))


def test_receptive_box_takes_rows_from_the_row_axis():
    rf = ar.ReceptiveField(size=(5, 7), jump=(2, 3), start=(-1, -4))
    # row 2: y0 = −1 + 2·2 = 3, y1 = 3 + 5 = 8; column 1: x0 = −4 + 1·3 = −1, x1 = −1 + 7 = 6.
    assert ar.receptive_box(rf, 2, 1) == (3, -1, 8, 6)
    assert ar.receptive_box(rf, 0, 4) == (-1, 8, 4, 15)

    class Layer:  # anything carrying .rf, like graph.Layer
        pass

    layer = Layer()
    layer.rf = rf
    assert ar.receptive_box(layer, 2, 1) == (3, -1, 8, 6)


def test_receptive_box_refuses_what_has_no_image_field():
    with pytest.raises(ShapeError) as caught:
        ar.receptive_box(None, 0, 0)
    assert str(caught.value) == "this layer has no receptive field on the input image"
    with pytest.raises(ShapeError) as caught:
        ar.receptive_box(ar.ReceptiveField((3, 3, 3), (1, 1, 1), (0, 0, 0)), 0, 0)
    assert str(caught.value) == "receptive_box needs two spatial axes, this layer has 3"


@pytest.mark.parametrize(("box", "clipped"), [
    ((-10, -10, -3, -3), (0, 0, 0, 0)),  # wholly above and left: empty at the corner
    ((20, 30, 25, 40), (8, 10, 8, 10)),  # wholly below and right
    ((-2, 3, 5, 12), (0, 3, 5, 10)),  # crossing the top and right edges
    ((1, -1, 9, 4), (1, 0, 8, 4)),  # crossing the bottom and left edges
    ((0, 0, 8, 10), (0, 0, 8, 10)),  # exactly the image
])
def test_clip_box_on_a_non_square_image(box, clipped):
    assert ar.clip_box(box, 8, 10) == clipped
