"""Conv, ConvTranspose and pooling rules called directly: every refusal in full, asymmetric
pads, the receptive field they hand on. Sizes are worked by hand: ⌊(n + pb + pe − k)/s⌋ + 1."""

import pytest

from lenet_gui.core import arithmetic as ar
from lenet_gui.core.errors import ShapeError
from lenet_gui.core.ops._common import Tensor
from lenet_gui.core.ops._sliding import axes_formula, notes, run_axes
from lenet_gui.core.ops.conv import shape as conv
from lenet_gui.core.ops.pool import shape as pool
from tests.ops.rule_call import call

X = [1, 3, 8, 8]
W = [4, 3, 3, 3]
# The field of the image itself: one pixel, jump 1, start 0 on each axis.
IMAGE = {2: (0, 1, 1, 0), 3: (1, 1, 1, 0)}


def error(rule, c) -> str:
    with pytest.raises(ShapeError) as caught:
        rule(c)
    return str(caught.value)


def image(shape=X) -> Tensor:
    return Tensor(list(shape), rf=dict(IMAGE))


# -- Conv ---------------------------------------------------------------------


def test_conv_input_and_weight_ranks():
    assert error(conv.conv, call("Conv", [1, 3], [4, 3])) == \
        "Conv needs an input with batch, channel and spatial axes, got 1×3"
    assert conv.conv(call("Conv", [1, 3, 10], [4, 3, 3])).shapes == [[1, 4, 8]]  # 10 − 3 + 1
    assert error(conv.conv, call("Conv", X, [4, 3, 3])) == \
        "weights 4×3×3 do not match the input 1×3×8×8 (different number of axes)"


def test_conv_kernel_shape_must_be_the_weights():
    assert conv.conv(call("Conv", X, W, kernel_shape=[3, 3])).shapes == [[1, 4, 6, 6]]
    assert error(conv.conv, call("Conv", X, [4, 3, 5, 5], kernel_shape=[3, 3])) == \
        "kernel_shape [3, 3] does not match the weights 4×3×5×5"


def test_conv_channels_and_groups():
    assert error(conv.conv, call("Conv", [1, 6, 8, 8], W)) == \
        "the input has 6 channels but the weights 4×3×3×3 with group 1 expect 3"
    out = conv.conv(call("Conv", [1, 6, 8, 8], W, group=2))
    assert out.shapes == [[1, 4, 6, 6]] and out.hyper["group"] == 2
    assert error(conv.conv, call("Conv", [1, 6, 8, 8], [5, 2, 3, 3], group=3)) == \
        "5 output channels cannot be split into 3 groups"
    assert conv.conv(call("Conv", [1, 6, 8, 8], [6, 2, 3, 3], group=3)).shapes == [[1, 6, 6, 6]]


def test_conv_bias_is_one_per_output_channel():
    assert conv.conv(call("Conv", X, W, [4])).shapes == [[1, 4, 6, 6]]
    assert error(conv.conv, call("Conv", X, W, [5])) == "bias has shape 5, expected 4 (one per output channel)"
    assert error(conv.conv, call("Conv", X, W, [1, 4])) == "bias has shape 1×4, expected 4 (one per output channel)"


def test_conv_asymmetric_pads_and_strides():
    # pads [top 1, left 0, bottom 2, right 1], stride 2:
    # H ⌊(8 + 1 + 2 − 3)/2⌋ + 1 = 5, W ⌊(8 + 0 + 1 − 3)/2⌋ + 1 = 4.
    out = conv.conv(call("Conv", image(), W, pads=[1, 0, 2, 1], strides=[2, 2]))
    assert out.shapes == [[1, 4, 5, 4]]
    assert out.hyper["pads"] == [1, 0, 2, 1] and out.hyper["stride"] == [2, 2] and out.hyper["dilation"] == [1, 1]
    assert out.formula.startswith("H: ") and "; W: " in out.formula and out.formula.endswith(" → 4×5×4")
    # Field: 1 + (3 − 1)·1 = 3 pixels, jump 2, starting 1 (top pad) or 0 pixels before the image.
    assert out.rf == {2: (0, 3, 2, -1), 3: (1, 3, 2, 0)}


def test_conv_same_working_on_both_axes_is_written_once():
    out = conv.conv(call("Conv", X, W, pads=[1, 1, 1, 1]))
    assert out.shapes == [[1, 4, 8, 8]] and "H:" not in out.formula and out.formula.endswith(" → 4×8×8")


def test_conv_dilation_widens_the_field():
    # Dilation 2: the kernel spans 5 pixels; 8 − 5 + 1 = 4.
    out = conv.conv(call("Conv", image(), W, dilations=[2, 2]))
    assert out.shapes == [[1, 4, 4, 4]] and out.rf == {2: (0, 5, 1, 0), 3: (1, 5, 1, 0)}


def test_conv_auto_pad_fills_the_pads():
    # SAME_UPPER, stride 1, kernel 3 on 8: one pixel on each side, 8 out.
    out = conv.conv(call("Conv", X, W, auto_pad="SAME_UPPER"))
    assert out.shapes == [[1, 4, 8, 8]] and out.hyper["pads"] == [1, 1, 1, 1]
    # Kernel 2: the odd pad goes at the end (upper) or the beginning (lower).
    assert conv.conv(call("Conv", X, [4, 3, 2, 2], auto_pad="SAME_UPPER")).hyper["pads"] == [0, 0, 1, 1]
    assert conv.conv(call("Conv", X, [4, 3, 2, 2], auto_pad="SAME_LOWER")).hyper["pads"] == [1, 1, 0, 0]


def test_settings_must_match_the_spatial_axes():
    assert error(conv.conv, call("Conv", X, W, strides=[1])) == (
        "kernel [3, 3], strides [1], dilations [1, 1] and pads [0, 0, 0, 0] "
        "do not all match the 2 spatial axes of the input")
    assert "pads [1, 1]" in error(conv.conv, call("Conv", X, W, pads=[1, 1]))
    assert "dilations [1, 1, 1]" in error(conv.conv, call("Conv", X, W, dilations=[1, 1, 1]))


@pytest.mark.parametrize("x, w, axis", [
    ([1, 3, 2], [4, 3, 3], "length"),
    ([1, 3, 2, 8], W, "height"),
    ([1, 3, 8, 2], W, "width"),
    ([1, 3, 2, 8, 8], [4, 3, 3, 3, 3], "depth"),
    ([1, 3, 8, 8, 8, 2], [4, 3, 3, 3, 3, 3], "axis 5"),
])
def test_a_failing_axis_is_named(x, w, axis):
    message = error(conv.conv, call("Conv", x, w))
    assert message.startswith(f"{axis}: ") and not message.startswith(f"{axis}: {axis}")


# -- ConvTranspose ------------------------------------------------------------


def test_conv_transpose_ranks_and_channels():
    assert error(conv.conv_transpose, call("ConvTranspose", [1, 3], [3, 2])) == "weights 3×2 do not match the input 1×3"
    assert error(conv.conv_transpose, call("ConvTranspose", X, [3, 2, 3])) == \
        "weights 3×2×3 do not match the input 1×3×8×8"
    assert error(conv.conv_transpose, call("ConvTranspose", [1, 3, 4, 4], [2, 5, 3, 3])) == \
        "the input has 3 channels but the weights 2×5×3×3 expect 2"


def test_conv_transpose_kernel_shape_must_be_the_weights():
    # onnxruntime (1.32) runs kernel_shape [3, 3] on 2×1×3×3 weights ((4 − 1) + 3 = 6 per axis)
    # and refuses [2, 2] and [5, 5]: "kernel_shape is not compatible with W shape".
    x, w = [1, 2, 4, 4], [2, 1, 3, 3]
    assert conv.conv_transpose(call("ConvTranspose", x, w, kernel_shape=[3, 3])).shapes == [[1, 1, 6, 6]]
    for kernel in ([2, 2], [5, 5]):
        assert error(conv.conv_transpose, call("ConvTranspose", x, w, kernel_shape=kernel)) == \
            f"kernel_shape {kernel} does not match the weights 2×1×3×3"


def test_conv_transpose_groups_multiply_the_output_channels():
    # (4 − 1)·1 + 3 = 6 per axis; 3 output channels per group, 2 groups.
    out = conv.conv_transpose(call("ConvTranspose", [1, 4, 4, 4], [4, 3, 3, 3], group=2))
    assert out.shapes == [[1, 6, 6, 6]] and out.hyper["group"] == 2 and out.rf is None
    assert out.hyper["output_padding"] == [0, 0] and "output_shape" not in out.hyper
    assert conv.conv_transpose(call("ConvTranspose", [1, 4, 4, 4], [4, 3, 3, 3], [6], group=2)).shapes == \
        [[1, 6, 6, 6]]
    assert error(conv.conv_transpose, call("ConvTranspose", [1, 4, 4, 4], [4, 3, 3, 3], [3], group=2)) == \
        "bias has shape 3, expected 6 (one per output channel)"


def test_conv_transpose_stride_pads_and_output_padding():
    # (4 − 1)·2 + 3 − 1 − 0 + 1 = 9 rows; (4 − 1)·2 + 3 − 0 − 2 + 0 = 7 columns.
    out = conv.conv_transpose(call("ConvTranspose", [1, 2, 4, 4], [2, 1, 3, 3], strides=[2, 2],
                                   pads=[1, 0, 0, 2], output_padding=[1, 0]))
    assert out.shapes == [[1, 1, 9, 7]] and out.hyper["output_padding"] == [1, 0]
    assert out.hyper["pads"] == [1, 0, 0, 2]


def test_conv_transpose_output_shape():
    c = call("ConvTranspose", [1, 2, 4, 4], [2, 1, 3, 3], strides=[2, 2], output_shape=[1, 1, 10, 9])
    out = conv.conv_transpose(c)
    assert out.shapes == [[1, 1, 10, 9]] and out.hyper["output_shape"] == [10, 9]
    assert conv.conv_transpose(call("ConvTranspose", [1, 2, 4, 4], [2, 1, 3, 3], strides=[2, 2],
                                    output_shape=[10, 9])).shapes == [[1, 1, 10, 9]]
    assert error(conv.conv_transpose, call("ConvTranspose", [1, 2, 4, 4], [2, 1, 3, 3], output_shape=[10])) == \
        "output_shape [10] does not match the 2 spatial axes"
    assert error(conv.conv_transpose, call("ConvTranspose", [1, 2, 4, 4], [2, 1, 3, 3], output_padding=[1])) == \
        "output_padding [1] does not match the 2 spatial axes"


# -- pooling ------------------------------------------------------------------


@pytest.mark.parametrize("op", ["MaxPool", "AveragePool", "LpPool"])
def test_pool_refusals(op):
    assert error(pool.pool, call(op, [1, 3], kernel_shape=[2])) == \
        f"{op} needs an input with batch, channel and spatial axes, got 1×3"
    assert error(pool.pool, call(op, X)) == "kernel_shape is missing"


def test_pool_ceil_mode_and_asymmetric_pads():
    # 8, kernel 3, stride 2: ⌊5/2⌋ + 1 = 3, or ⌈5/2⌉ + 1 = 4 with ceil_mode.
    assert pool.pool(call("MaxPool", X, kernel_shape=[3, 3], strides=[2, 2])).shapes == [[1, 3, 3, 3]]
    out = pool.pool(call("MaxPool", image(), kernel_shape=[3, 3], strides=[2, 2], ceil_mode=1, pads=[1, 0, 0, 0]))
    # H: ⌈(8 + 1 − 3)/2⌉ + 1 = 4; W: ⌈(8 − 3)/2⌉ + 1 = 4.
    assert out.shapes == [[1, 3, 4, 4]] and out.hyper["ceil_mode"] == 1
    assert out.rf == {2: (0, 3, 2, -1), 3: (1, 3, 2, 0)}
    assert out.convention == ar.POOL_CONVENTION_PER_SIDE


def test_maxpool_1_has_no_ceil_mode_and_floors():
    c = call("MaxPool", X, opset=1, kernel_shape=[3, 3], strides=[2, 2])
    assert "ceil_mode" not in c.attrs
    out = pool.pool(c)
    assert out.shapes == [[1, 3, 3, 3]] and out.hyper["ceil_mode"] == 0


def test_pool_hyper_per_op_and_indices():
    avg = pool.pool(call("AveragePool", X, kernel_shape=[2, 2], count_include_pad=1))
    assert avg.hyper["count_include_pad"] == 1 and "p" not in avg.hyper and avg.shapes == [[1, 3, 7, 7]]
    lp = pool.pool(call("LpPool", X, kernel_shape=[2, 2], p=3))
    assert lp.hyper["p"] == 3 and "count_include_pad" not in lp.hyper
    mx = pool.pool(call("MaxPool", X, kernel_shape=[2, 2], outputs=2))
    assert mx.shapes == [[1, 3, 7, 7], [1, 3, 7, 7]] and "p" not in mx.hyper and "count_include_pad" not in mx.hyper
    c = call("AveragePool", X, kernel_shape=[2, 2])
    c.attrs.pop("count_include_pad", None)
    assert pool.pool(c).hyper["count_include_pad"] == 0


@pytest.mark.parametrize("op, kind", [("GlobalAveragePool", "average"), ("GlobalMaxPool", "maximum"),
                                      ("GlobalLpPool", "Lp norm")])
def test_global_pool(op, kind):
    out = pool.global_pool(call(op, image([1, 3, 8, 6])))
    assert out.shapes == [[1, 3, 1, 1]] and out.hyper == {"kernel": [8, 6]}
    assert out.formula == f"one {kind} over each 8×6 map → 3×1×1"
    # One window over the whole 8×6 map: 8 and 6 pixels from 0.
    assert out.rf == {2: (0, 8, 1, 0), 3: (1, 6, 1, 0)}
    assert error(pool.global_pool, call(op, [1, 3])) == f"{op} needs an input with batch, channel and spatial axes, got 1×3"
    assert pool.global_pool(call(op, [1, 3, 5])).shapes == [[1, 3, 1]]


# -- the shared per-axis helpers ------------------------------------------------


def test_axes_formula_and_notes():
    a = ar.AxisResult(size=4, pad_begin=0, pad_end=0, kernel_eff=2, formula="f", note="n1")
    b = ar.AxisResult(size=4, pad_begin=0, pad_end=0, kernel_eff=2, formula="g", note="")
    c = ar.AxisResult(size=4, pad_begin=0, pad_end=0, kernel_eff=2, formula="f", note="n2")
    assert axes_formula([a, a], [1, 2, 4, 4]) == "f → 2×4×4"
    assert axes_formula([a, b], [1, 2, 4, 4]) == "H: f; W: g → 2×4×4"
    assert notes([a, b, a, c]) == "n1; n2"
    assert notes([b]) == ""
    assert [r.size for r in run_axes(2, lambda i: a)] == [4, 4]


def test_auto_pad_left_out_is_notset():
    c = call("Conv", X, W, pads=[1, 0, 1, 0])
    c.attrs.pop("auto_pad", None)
    out = conv.conv(c)
    assert out.shapes == [[1, 4, 8, 6]] and out.hyper["auto_pad"] == "NOTSET"
