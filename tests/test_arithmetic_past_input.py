"""Windows wider than the padded input: the sizes onnxruntime really gives.

The textbook formula needs the (dilated) window to fit in the padded input.
onnxruntime does not check that for pooling: it divides the negative numerator
n + pb + pe − k_eff by the stride with C's integer division, which rounds
toward zero, and adds 1. Each case below is worked by hand, then checked
against onnxruntime itself.
"""

from __future__ import annotations

import numpy as np
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from lenet_gui.core import arithmetic as ar
from lenet_gui.core.errors import ShapeError
from lenet_gui.core.graph import analyze


def one_layer(op: str, shape: list[int], **attrs):
    inputs, inits = ["x"], []
    if op == "Conv":
        kernel = attrs["kernel_shape"]
        inits.append(numpy_helper.from_array(np.ones([1, shape[1], *kernel], np.float32), "w"))
        inputs.append("w")
    graph = helper.make_graph(
        [helper.make_node(op, inputs, ["y"], name="pool", **attrs)], "one_layer",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 19)], ir_version=9)


def onnxruntime_shape(model, shape: list[int]) -> tuple[int, ...]:
    options = ort.SessionOptions()
    options.log_severity_level = 4
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    return session.run(None, {"x": np.ones(shape, np.float32)})[0].shape


# (n, k, s, pb, pe, d, ceil_mode) → size, working, note; worked by hand.
CASES = [
    # MaxPool, height 1, pads 1+1, kernel 3, dilation 2, stride 3: the window covers 5 of 3 pixels.
    ((1, 3, 3, 1, 1, 2, False), 1,
     "dilated kernel 2·(3 − 1) + 1 = 5; trunc((1 + 2·1 − 5)/3) + 1 = trunc((−2)/3) + 1 = 0 + 1 = 1",
     "onnxruntime rounds −2/3 toward zero, so this axis has 1 output where the textbook ⌊ ⌋ gives none"),
    # AveragePool with ceil_mode, width 5 + 1 + 0 against a kernel of 7, stride 2.
    ((5, 7, 2, 1, 0, 1, True), 1,
     "⌈(5 + 1 + 0 − 7)/2⌉ + 1 = ⌈(−1)/2⌉ + 1 = 0 + 1 = 1",
     "the 7-pixel window is wider than the padded input (6), which the textbook formula does not allow; "
     "onnxruntime still gives 1 output"),
    # The numerator a whole number of strides below zero: exact division, no rounding, no window.
    ((1, 4, 3, 0, 0, 1, False), 0,
     "(1 + 2·0 − 4)/3 + 1 = (−1) + 1 = 0",
     "the 4-pixel window is wider than the padded input (1): onnxruntime gives an empty output (size 0)"),
    # −4/3 rounds toward zero to −1 (the textbook floor: −2, a size of −1).
    ((1, 5, 3, 0, 0, 1, False), 0,
     "trunc((1 + 2·0 − 5)/3) + 1 = trunc((−4)/3) + 1 = (−1) + 1 = 0",
     "the 5-pixel window is wider than the padded input (1): onnxruntime gives an empty output (size 0)"),
    # ceil_mode rounds −4/3 up to −1 as well: the same 0.
    ((1, 5, 3, 0, 0, 1, True), 0,
     "⌈(1 + 2·0 − 5)/3⌉ + 1 = ⌈(−4)/3⌉ + 1 = (−1) + 1 = 0",
     "the 5-pixel window is wider than the padded input (1): onnxruntime gives an empty output (size 0)"),
]


@pytest.mark.parametrize(("args", "size", "formula", "note"), CASES)
def test_pool_window_wider_than_the_padded_input_by_hand(args, size, formula, note):
    n, k, s, pb, pe, d, ceil_mode = args
    result = ar.pool_output_size(n, k, s, pb, pe, d, ceil_mode)
    assert (result.size, result.formula, result.note) == (size, formula, note)
    assert (result.pad_begin, result.pad_end, result.kernel_eff) == (pb, pe, d * (k - 1) + 1)
    assert result.convention == ar.POOL_CONVENTION_PER_SIDE


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool", "LpPool"])
@pytest.mark.parametrize(("args", "size", "formula", "note"), CASES)
def test_pool_window_wider_than_the_padded_input_matches_onnxruntime(op, args, size, formula, note):
    n, k, s, pb, pe, d, ceil_mode = args
    shape = [1, 1, n, 4]
    model = one_layer(op, shape, kernel_shape=[k, 1], strides=[s, 1], pads=[pb, 0, pe, 0], dilations=[d, 1],
                      ceil_mode=int(ceil_mode))
    layer = analyze(model)[0]
    assert layer.output_shape == [1, 1, size, 4]
    assert tuple(layer.output_shape) == onnxruntime_shape(model, shape)
    assert layer.note == note
    assert layer.formula == f"H: {formula}; W: (4 + 2·0 − 1)/1 + 1 = 4 → 1×{size}×4"


def test_the_same_window_in_every_axis_of_a_3d_pool():
    shape = [1, 2, 1, 1, 1]
    model = one_layer("MaxPool", shape, kernel_shape=[3, 3, 3], strides=[3, 3, 3], pads=[1, 1, 1, 1, 1, 1],
                      dilations=[2, 2, 2])
    layer = analyze(model)[0]
    assert layer.output_shape == [1, 2, 1, 1, 1] and onnxruntime_shape(model, shape) == (1, 2, 1, 1, 1)
    assert layer.formula == ("dilated kernel 2·(3 − 1) + 1 = 5; trunc((1 + 2·1 − 5)/3) + 1 = trunc((−2)/3) + 1 "
                             "= 0 + 1 = 1 → 2×1×1×1")
    assert layer.note == CASES[0][3]  # one note, not one per axis
    # The receptive field has three axes too: 5 pixels from 1 before the input, clipped to the 1 there is.
    assert (layer.rf.size, layer.rf.jump, layer.rf.start) == ((5, 5, 5), (3, 3, 3), (-1, -1, -1))
    assert (layer.receptive_field, layer.receptive_field_padded) == (1, 5)


def test_a_negative_size_is_refused_as_onnxruntime_refuses_it():
    # n=1, k=3, s=1: (1 − 3)/1 + 1 = −1.
    with pytest.raises(ShapeError) as caught:
        ar.pool_output_size(1, 3)
    assert str(caught.value) == ("kernel 3 is larger than the padded input 1 (1 + 0 + 0) and the output size "
                                 "comes out negative (-1); onnxruntime refuses it too")
    model = one_layer("MaxPool", [1, 1, 1, 1], kernel_shape=[3, 1])
    with pytest.raises(Exception, match="negative"):
        onnxruntime_shape(model, [1, 1, 1, 1])


def test_one_more_pixel_of_window_turns_one_output_into_none():
    # s=3: numerators −1 and −2 round to 0 (1 output), −3 is exactly −1 (0 outputs), −6 gives −1 (refused).
    assert [ar.pool_output_size(4, k, 3).size for k in (5, 6, 7)] == [1, 1, 0]
    assert ar.pool_output_size(4, 9, 3).size == 0  # −5/3 rounds toward zero to −1
    with pytest.raises(ShapeError, match="negative"):
        ar.pool_output_size(4, 10, 3)
    # A window that just fits is the textbook case, with no note.
    fits = ar.pool_output_size(4, 4, 3)
    assert (fits.size, fits.formula, fits.note) == (1, "(4 + 2·0 − 4)/3 + 1 = 1", None)


def test_same_pooling_with_a_dilation_can_leave_the_window_wider_than_the_input():
    # SAME pads from the undilated kernel 3: total (1 − 1)·3 + 3 − 2 = 1, so 0 + 1;
    # the dilated window covers 5 pixels of 3.
    result = ar.pool_output_size(2, 3, 3, dilation=2, auto_pad="SAME_UPPER")
    assert (result.size, result.pad_begin, result.pad_end) == (1, 0, 1)
    assert result.formula == ("SAME_UPPER pads 0 + 1: dilated kernel 2·(3 − 1) + 1 = 5; "
                              "trunc((2 + 0 + 1 − 5)/3) + 1 = trunc((−2)/3) + 1 = 0 + 1 = 1")
    shape = [1, 1, 2, 2]
    model = one_layer("AveragePool", shape, kernel_shape=[3, 3], strides=[3, 3], dilations=[2, 2],
                      auto_pad="SAME_UPPER")
    assert analyze(model)[0].output_shape == [1, 1, 1, 1] and onnxruntime_shape(model, shape) == (1, 1, 1, 1)


def test_conv_with_a_window_wider_than_the_padded_input_is_refused_like_onnxruntime():
    with pytest.raises(ShapeError) as caught:
        ar.conv_output_size(1, 3, 3, 1, 1, 2)
    assert str(caught.value) == ("dilated kernel 5 (k=3, d=2) is larger than the padded input 3 (1 + 1 + 1); "
                                 "onnxruntime refuses such a Conv too")
    model = one_layer("Conv", [1, 1, 1, 1], kernel_shape=[3, 1], strides=[3, 1], pads=[1, 0, 1, 0],
                      dilations=[2, 1])
    with pytest.raises(Exception, match="Invalid input shape"):
        onnxruntime_shape(model, [1, 1, 1, 1])


def test_maxpool_refuses_negative_same_padding_without_dilation_like_onnxruntime():
    # n=2, k=1, s=2, SAME_UPPER: total (1 − 1)·2 + 1 − 2 = −1, a crop of one pixel at the end.
    shape = [1, 1, 2, 2]
    plain = one_layer("MaxPool", shape, kernel_shape=[1, 1], strides=[2, 2], auto_pad="SAME_UPPER")
    with pytest.raises(ShapeError) as caught:
        analyze(plain)
    assert str(caught.value) == (
        "Layer 'pool' (MaxPool): SAME padding comes out negative here ([0, 0, -1, -1]), and onnxruntime's "
        "MaxPool without dilation or Indices refuses that (\"padding values must be non-negative\")")
    with pytest.raises(Exception, match="padding values must be non-negative"):
        onnxruntime_shape(plain, shape)
    # With a dilation (another code path in onnxruntime) and for AveragePool, the crop is run.
    for op, extra in (("MaxPool", {"dilations": [1, 2]}), ("AveragePool", {})):
        model = one_layer(op, shape, kernel_shape=[1, 1], strides=[2, 2], auto_pad="SAME_UPPER", **extra)
        layer = analyze(model)[0]
        assert tuple(layer.output_shape) == onnxruntime_shape(model, shape) == (1, 1, 1, 1)
        assert layer.note == "SAME with a kernel smaller than the stride crops the input (negative padding)"
