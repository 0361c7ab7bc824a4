"""The shape_ops rules called directly: both sides of every range check, every message in full,
the receptive field each rule hands on. Every expected value is worked out by hand in the comment
or the name beside it."""

import numpy as np
import pytest

from lenet_gui.core.errors import ShapeError
from lenet_gui.core.ops._common import DENSE, Tensor, UnknownShape
from lenet_gui.core.ops.shape_ops import shape as s
from tests.ops.rule_call import RF, call, i64, with_rf

X = [1, 3, 8, 8]


def error(rule, c) -> str:
    with pytest.raises(ShapeError) as caught:
        rule(c)
    return str(caught.value)


def unknown(rule, c) -> str:
    with pytest.raises(UnknownShape) as caught:
        rule(c)
    return str(caught.value)


# -- Pad ----------------------------------------------------------------------


def test_pad_from_the_opset_2_attribute():
    out = s.pad(call("Pad", X, opset=2, pads=[0, 0, 1, 2, 0, 0, 3, 4]))
    assert out.shapes == [[1, 3, 12, 14]]
    assert out.formula == "axis 2: 8 + 1 + 3 = 12; axis 3: 8 + 2 + 4 = 14 → 3×12×14"
    assert out.hyper == {"pads": [0, 0, 1, 2, 0, 0, 3, 4], "mode": "constant"}


def test_pad_from_the_opset_1_paddings_attribute():
    out = s.pad(call("Pad", X, opset=1, paddings=[0, 0, 0, 1, 0, 0, 0, 0]))
    assert out.shapes == [[1, 3, 8, 9]]


def test_pad_with_axes_pads_only_those_axes():
    # opset 18: pads [1, 2] on axis −1 (= 3): 8 + 1 + 2 = 11.
    out = s.pad(call("Pad", X, i64(1, 2), None, i64(-1), opset=18))
    assert out.shapes == [[1, 3, 8, 11]]
    assert out.formula == "axis 3: 8 + 1 + 2 = 11 → 3×8×11"


def test_pad_without_padding_says_so():
    assert s.pad(call("Pad", X, i64(0, 0, 0, 0, 0, 0, 0, 0))).formula == "no padding → 3×8×8"


def test_pad_needs_constant_pads():
    assert unknown(s.pad, call("Pad", X, [8])) == "the pads input is not a constant"


def test_pad_count_must_be_twice_the_axes():
    assert error(s.pad, call("Pad", X, i64(1, 1, 1, 1, 1, 1, 1))) == \
        "pads [1, 1, 1, 1, 1, 1, 1] do not match the 4 padded axes"
    assert error(s.pad, call("Pad", X, i64(1, 1), None, i64(2, 3), opset=18)) == \
        "pads [1, 1] do not match the 2 padded axes"


def test_negative_pads_may_crop_to_nothing_but_not_beyond():
    # 8 − 5 − 3 = 0 rows is allowed; 8 − 5 − 4 = −1 is not.
    assert s.pad(call("Pad", X, i64(0, 0, -5, 0, 0, 0, -3, 0))).shapes == [[1, 3, 0, 8]]
    assert error(s.pad, call("Pad", X, i64(0, 0, -5, 0, 0, 0, -4, 0))) == \
        "pads -5 and -4 remove more than the 8 pixels of axis 2"


@pytest.mark.parametrize("mode", ["edge", "reflect"])
def test_copying_padding_needs_a_value_left(mode):
    # 8 − 4 − 3 = 1 value left: edge copies it; reflect may mirror 0 of it.
    assert s.pad(call("Pad", X, i64(0, 0, -4, 0, 0, 0, -3, 0), mode=mode)).shapes == [[1, 3, 1, 8]]
    assert error(s.pad, call("Pad", X, i64(0, 0, -4, 0, 0, 0, -4, 0), mode=mode)) == \
        f"{mode} padding copies values, but pads -4 and -4 leave none of the 8 on axis 2"
    # constant padding copies nothing: the same crop is fine.
    assert s.pad(call("Pad", X, i64(0, 0, -4, 0, 0, 0, -4, 0))).shapes == [[1, 3, 0, 8]]


def test_reflect_mirrors_at_most_one_less_than_what_is_left():
    # 8 values: up to 7 mirrored on each side, before or after.
    assert s.pad(call("Pad", X, i64(0, 0, 7, 0, 0, 0, 7, 0), mode="reflect")).shapes == [[1, 3, 22, 8]]
    assert error(s.pad, call("Pad", X, i64(0, 0, 8, 0, 0, 0, 0, 0), mode="reflect")) == \
        "reflect padding mirrors at most 7 of the 8 values on axis 2, pads 8 and 0 ask for more"
    assert error(s.pad, call("Pad", X, i64(0, 0, 0, 0, 0, 0, 8, 0), mode="reflect")) == \
        "reflect padding mirrors at most 7 of the 8 values on axis 2, pads 0 and 8 ask for more"
    # Cropping 2 leaves 6: a pad of 5 fits, 6 does not.
    assert s.pad(call("Pad", X, i64(0, 0, -2, 0, 0, 0, 5, 0), mode="reflect")).shapes == [[1, 3, 11, 8]]
    assert "at most 5 of the 6 values" in error(s.pad, call("Pad", X, i64(0, 0, -2, 0, 0, 0, 6, 0), mode="reflect"))
    # edge padding repeats the border, any amount.
    assert s.pad(call("Pad", X, i64(0, 0, 20, 0, 0, 0, 0, 0), mode="edge")).shapes == [[1, 3, 28, 8]]


def test_pad_moves_the_receptive_field_start_by_the_pad_before_times_the_jump():
    out = s.pad(call("Pad", with_rf(X), i64(0, 0, 1, 2, 0, 0, 3, 4)))
    # axis 2: start −1 − 1·2 = −3; axis 3: start 0 − 2·1 = −2; sizes and jumps unchanged.
    assert out.rf == {2: (0, 5, 2, -3), 3: (1, 3, 1, -2)}
    assert s.pad(call("Pad", Tensor(X, rf=DENSE), i64(0, 0, 1, 1, 0, 0, 1, 1))).rf == DENSE


# -- Flatten ------------------------------------------------------------------


@pytest.mark.parametrize("axis, out", [(-4, [1, 192]), (0, [1, 192]), (1, [1, 192]), (2, [3, 64]), (-2, [3, 64]),
                                       (3, [24, 8]), (-1, [24, 8]), (4, [192, 1])])
def test_flatten_axis_from_minus_rank_to_rank(axis, out):
    assert s.flatten(call("Flatten", X, axis=axis)).shapes == [out]


@pytest.mark.parametrize("axis", [-5, 5])
def test_flatten_axis_outside_minus_rank_to_rank(axis):
    assert error(s.flatten, call("Flatten", X, axis=axis)) == f"axis {axis} is out of range for a tensor with 4 axes"


def test_flatten_formula_and_hyper():
    out = s.flatten(call("Flatten", X, axis=-2))
    assert out.formula == "flatten 8×8 = 64" and out.hyper == {"axis": 2}
    assert s.flatten(call("Flatten", X, axis=0)).formula == "flatten 1×3×8×8 = 192"
    # One axis kept: nothing is joined, the working shows the result.
    assert s.flatten(call("Flatten", X, axis=3)).formula == "flatten → 24×8"
    assert s.flatten(call("Flatten", X, axis=4)).formula == "flatten → 192×1"


@pytest.mark.parametrize("axis", [1, 2, 3, 4])
def test_flatten_of_an_image_map_is_dense(axis):
    # Every flatten of an N×C×H×W map mixes rows (and channels) into one axis: no
    # window on the image is left, and the rank-2 result has no axes 2 and 3.
    assert s.flatten(call("Flatten", with_rf(X), axis=axis)).rf == DENSE
    assert s.flatten(call("Flatten", X, axis=axis)).rf is None


def test_flatten_keeps_a_field_when_only_size_1_axes_go():
    # 1×8×1 flattened at axis 2 is 8×1: the image axis (input axis 1) becomes axis 0.
    out = s.flatten(call("Flatten", with_rf([1, 8, 1], {1: (0, 3, 1, 0)}), axis=2))
    assert out.shapes == [[8, 1]] and out.rf == {0: (0, 3, 1, 0)}
    out = s.flatten(call("Flatten", with_rf([1, 1, 8], {2: (0, 3, 1, 0)}), axis=2))
    assert out.shapes == [[1, 8]] and out.rf == {1: (0, 3, 1, 0)}


# -- Reshape ------------------------------------------------------------------


def test_reshape_from_the_opset_1_attribute():
    out = s.reshape(call("Reshape", X, opset=1, shape=[1, 12, 16]))
    assert out.shapes == [[1, 12, 16]] and out.hyper == {"shape": [1, 12, 16], "allowzero": 0}


def test_reshape_needs_a_constant_target():
    assert unknown(s.reshape, call("Reshape", X, [3])) == "the target shape is not a constant"


def test_reshape_zero_copies_an_axis_the_input_has():
    assert s.reshape(call("Reshape", [2, 3, 4], i64(0, 0, 4))).shapes == [[2, 3, 4]]
    # 0 copies the 3; −1 is 24 / (4·3) = 2.
    assert s.reshape(call("Reshape", [2, 3, 4], i64(4, 0, -1))).shapes == [[4, 3, 2]]
    assert error(s.reshape, call("Reshape", [6, 4], i64(2, 3, 0))) == \
        "target [2, 3, 0] copies axis 2, which the input 6×4 does not have"


def test_reshape_allowzero_makes_zero_a_size():
    out = s.reshape(call("Reshape", [0, 3], i64(3, 0), allowzero=1))
    assert out.shapes == [[3, 0]] and out.hyper["allowzero"] == 1
    assert error(s.reshape, call("Reshape", [2, 3], i64(0, 3), allowzero=1)) == \
        "cannot reshape 2×3 (6 values) into 0×3 (0 values)"
    # Without allowzero the same 0 copies the 2.
    assert s.reshape(call("Reshape", [2, 3], i64(0, 3))).shapes == [[2, 3]]


def test_reshape_minus_one_takes_what_is_left():
    assert s.reshape(call("Reshape", [2, 3, 4], i64(-1, 6))).shapes == [[4, 6]]
    assert error(s.reshape, call("Reshape", [2, 3], i64(-1, -1))) == "target [-1, -1] has more than one -1"
    assert error(s.reshape, call("Reshape", [2, 3], i64(4, -1))) == "cannot reshape 2×3 (6 values) into [4, -1]"
    # −1 beside a 0-size axis: any size would do, so it cannot be worked out.
    assert error(s.reshape, call("Reshape", [0, 3], i64(0, -1))) == "cannot reshape 0×3 (0 values) into [0, -1]"


def test_reshape_refuses_other_negative_sizes_even_when_the_count_matches():
    # (−2)·(−3) = 6 = 2·3, so only the sign check refuses it.
    assert error(s.reshape, call("Reshape", [2, 3], i64(-2, -3))) == \
        "cannot reshape 2×3 (6 values) into -2×-3 (6 values)"
    assert error(s.reshape, call("Reshape", [2, 3], i64(7))) == "cannot reshape 2×3 (6 values) into 7 (7 values)"


def test_reshape_formula_hides_the_batch_axis_of_data_only():
    assert s.reshape(call("Reshape", X, i64(1, 3, 64))).formula == "reshape 3×8×8 → 3×64"
    assert s.reshape(call("Reshape", np.zeros((2, 3), np.float32), i64(3, 2))).formula == "reshape 2×3 → 3×2"


def test_reshape_receptive_field_is_regrouped():
    assert s.reshape(call("Reshape", with_rf(X), i64(1, 3, 1, 8, 8))).rf == {3: RF[2], 4: RF[3]}
    assert s.reshape(call("Reshape", with_rf(X), i64(1, 192))).rf == DENSE


# -- Transpose ----------------------------------------------------------------


def test_transpose_default_reverses_the_axes():
    out = s.transpose(call("Transpose", [1, 3, 8, 5]))
    assert out.shapes == [[5, 8, 3, 1]] and out.hyper == {"perm": [3, 2, 1, 0]}
    assert out.formula == "transpose (3, 2, 1, 0): 3×8×5 → 8×3×1"


@pytest.mark.parametrize("perm", [[0, 1, 1, 2], [0, 1, 2], [0, 1, 2, 3, 4], [1, 2, 3, 4]])
def test_transpose_perm_must_order_every_axis_once(perm):
    assert error(s.transpose, call("Transpose", X, perm=perm)) == \
        f"perm {perm} is not an ordering of the 4 axes"


def test_transpose_moves_the_receptive_field_with_the_axes():
    assert s.transpose(call("Transpose", with_rf(X), perm=[0, 1, 3, 2])).rf == {3: RF[2], 2: RF[3]}
    assert s.transpose(call("Transpose", with_rf(X), perm=[2, 0, 1, 3])).rf == {0: RF[2], 3: RF[3]}
    assert s.transpose(call("Transpose", Tensor(X, rf=DENSE), perm=[0, 1, 3, 2])).rf == DENSE


def test_transpose_of_a_constant_shows_every_axis():
    out = s.transpose(call("Transpose", np.zeros((2, 3), np.float32)))
    assert out.formula == "transpose (1, 0): 2×3 → 3×2"


# -- Squeeze / Unsqueeze ------------------------------------------------------


def test_squeeze_without_axes_drops_every_size_1_axis():
    out = s.squeeze(call("Squeeze", [1, 3, 1, 8]))
    assert out.shapes == [[3, 8]] and out.hyper == {"axes": [0, 2]}
    assert out.formula == "drop size-1 axes: 3×1×8 → 8"


def test_squeeze_axes_from_the_attribute_and_negative_axes():
    assert s.squeeze(call("Squeeze", [1, 3, 1, 8], opset=11, axes=[-2])).shapes == [[1, 3, 8]]
    assert s.squeeze(call("Squeeze", [1, 3, 1, 8], i64(-4, 2))).hyper == {"axes": [0, 2]}


def test_squeeze_refuses_an_axis_that_is_not_size_1():
    assert error(s.squeeze, call("Squeeze", [1, 3, 1, 8], i64(1))) == \
        "cannot squeeze axis 1 of 1×3×1×8: its size is 3, not 1"
    assert error(s.squeeze, call("Squeeze", [1, 3, 1, 8], i64(4))) == "axis 4 is out of range for a tensor with 4 axes"


def test_squeeze_axes_input_must_be_constant():
    assert unknown(s.squeeze, call("Squeeze", [1, 3, 1, 8], [1])) == "the axes input is not a constant"


def test_unsqueeze_inserts_in_the_output_s_axes():
    # Rank 2 + 2 = 4: axes 0 and −1 (= 3) → 1×3×8×1.
    out = s.unsqueeze(call("Unsqueeze", [3, 8], i64(-1, 0)))
    assert out.shapes == [[1, 3, 8, 1]] and out.hyper == {"axes": [0, 3]}
    assert out.formula == "add size-1 axes [0, 3] → 3×8×1"
    out = s.unsqueeze(call("Unsqueeze", np.zeros((3, 8), np.float32), i64(1)))
    assert out.formula == "add size-1 axes [1]: 3×8 → 3×1×8"
    assert s.unsqueeze(call("Unsqueeze", [3, 8], opset=11, axes=[2])).shapes == [[3, 8, 1]]


@pytest.mark.parametrize("axis, ok", [(-3, True), (2, True), (-4, False), (3, False)])
def test_unsqueeze_axis_range_is_the_output_rank(axis, ok):
    c = call("Unsqueeze", [3, 8], i64(axis))
    if ok:
        assert len(s.unsqueeze(c).shapes[0]) == 3
    else:
        assert error(s.unsqueeze, c) == f"axis {axis} is out of range for a tensor with 3 axes"


def test_unsqueeze_needs_axes():
    assert error(s.unsqueeze, call("Unsqueeze", [3, 8])) == "Unsqueeze needs axes"


def test_squeeze_and_unsqueeze_keep_the_field_on_the_moved_axes():
    assert s.squeeze(call("Squeeze", with_rf([1, 1, 8, 8], {2: RF[2], 3: RF[3]}), i64(1))).rf == \
        {1: RF[2], 2: RF[3]}
    assert s.unsqueeze(call("Unsqueeze", with_rf(X), i64(2))).rf == {3: RF[2], 4: RF[3]}


# -- Concat -------------------------------------------------------------------


def test_concat_joins_on_a_negative_axis_and_skips_omitted_inputs():
    out = s.concat(call("Concat", [1, 3, 8, 2], None, [1, 3, 8, 5], axis=-1))
    assert out.shapes == [[1, 3, 8, 7]] and out.hyper == {"axis": 3}
    assert out.formula == "join on axis 3: 2 + 5 = 7 → 3×8×7"


def test_concat_axis_left_out_is_1():
    c = call("Concat", X, [1, 5, 8, 8])
    c.attrs.pop("axis", None)
    assert s.concat(c).shapes == [[1, 8, 8, 8]]


def test_concat_other_axes_and_ranks_must_agree():
    assert error(s.concat, call("Concat", X, [1, 3, 8, 7], axis=1)) == \
        "cannot join 1×3×8×8 and 1×3×8×7 on axis 1: other axes differ"
    assert error(s.concat, call("Concat", X, [1, 3, 8], axis=1)) == \
        "cannot join 1×3×8×8 and 1×3×8 on axis 1: other axes differ"
    assert error(s.concat, call("Concat", X, X, axis=4)) == "axis 4 is out of range for a tensor with 4 axes"


def test_concat_of_constants_shows_every_axis():
    a = np.zeros((2, 3), np.float32)
    assert s.concat(call("Concat", a, a, axis=0)).formula == "join on axis 0: 2 + 2 = 4 → 4×3"
    assert s.concat(call("Concat", X, np.zeros(X, np.float32), axis=0)).formula == \
        "join on axis 0: 1 + 1 = 2 → 3×8×8"


def test_concat_receptive_field():
    # Joining channels keeps the window; joining rows of the image leaves none.
    assert s.concat(call("Concat", with_rf(X), with_rf(X), axis=1)).rf == RF
    assert s.concat(call("Concat", with_rf(X), with_rf(X), axis=2)).rf is None
    assert s.concat(call("Concat", Tensor(X, rf=DENSE), with_rf(X), axis=2)).rf == DENSE
    assert s.concat(call("Concat", X, with_rf(X), axis=2)).rf == RF  # the first has none: the merge of the rest


# -- Shape, Size, Constant, ConstantOfShape ------------------------------------


def test_shape_of_with_start_and_end():
    assert s.shape_of(call("Shape", X)).shapes == [[4]]
    out = s.shape_of(call("Shape", X, opset=15, start=-3, end=-1))
    assert out.shapes == [[2]] and out.formula == "the shape of the input, [3, 8]"
    assert s.shape_of(call("Shape", X, opset=15, start=2)).formula == "the shape of the input, [8, 8]"
    folded = s.fold_shape_of(call("Shape", X, opset=15, start=1, end=3), [None], s.shape_of(call("Shape", X)))
    assert folded[0].tolist() == [3, 8] and folded[0].dtype == np.int64


def test_shape_of_an_unknown_shape_is_not_folded():
    c = call("Shape", X)
    assert s.fold_shape_of(call("Shape", Tensor(None)), [None], s.shape_of(c)) is None


def test_size_of():
    out = s.size_of(call("Size", [2, 3, 4]))
    assert out.shapes == [[]] and out.formula == "number of values in 2×3×4 = 24"
    folded = s.fold_size_of(call("Size", [2, 3, 4]), [None], out)
    assert folded[0].tolist() == 24 and folded[0].dtype == np.int64
    assert s.fold_size_of(call("Size", Tensor(None)), [None], out) is None


@pytest.mark.parametrize("attrs, shape, dtype, value", [
    ({"value_float": 2.5}, [], np.float32, 2.5),
    ({"value_floats": [1.0, 2.0]}, [2], np.float32, [1.0, 2.0]),
    ({"value_int": 7}, [], np.int64, 7),
    ({"value_ints": [1, 2, 3]}, [3], np.int64, [1, 2, 3]),
])
def test_constant_value_kinds(attrs, shape, dtype, value):
    found = s.constant_value(attrs)
    assert list(found.shape) == shape and found.dtype == dtype and found.tolist() == value
    out = s.constant_node(call("Constant", **attrs))
    assert out.shapes == [shape] and out.formula == f"constant {'scalar' if not shape else shape[0]}"


def test_constant_of_a_kind_not_read():
    assert s.constant_value({"value_string": "a"}) is None
    out = s.constant_node(call("Constant", value_string="a"))
    assert out.shapes == [None] and out.formula == "constant (of a kind not read here)"
    assert s.fold_constant_node(call("Constant", value_string="a"), [], out) is None


def test_constant_of_shape():
    out = s.constant_of_shape(call("ConstantOfShape", i64(2, 3)))
    assert out.shapes == [[2, 3]] and out.formula == "filled tensor 2×3"
    assert unknown(s.constant_of_shape, call("ConstantOfShape", [2])) == "its shape input is not a constant"
    zeros = s.fold_constant_of_shape(call("ConstantOfShape", i64(2, 3)), [i64(2, 3)], out)[0]
    assert zeros.dtype == np.float32 and zeros.shape == (2, 3) and not zeros.any()
    from onnx import numpy_helper
    sevens = s.fold_constant_of_shape(
        call("ConstantOfShape", i64(2), value=numpy_helper.from_array(np.array([7], np.int32))), [i64(2)], out)[0]
    assert sevens.dtype == np.int32 and sevens.tolist() == [7, 7]


# -- Gather -------------------------------------------------------------------


def test_gather_replaces_the_axis_by_the_indices_shape():
    out = s.gather(call("Gather", X, i64(0, 2), axis=-3))
    assert out.shapes == [[1, 2, 8, 8]] and out.hyper == {"axis": 1}
    assert out.formula == "pick 2 of 3 along axis 1 → 2×8×8"
    out = s.gather(call("Gather", X, np.array(1, np.int64), axis=3))
    assert out.shapes == [[1, 3, 8]] and out.formula == "pick one of 8 along axis 3 → 3×8"
    assert error(s.gather, call("Gather", X, i64(0), axis=-5)) == "axis -5 is out of range for a tensor with 4 axes"


def test_gather_of_constants_and_short_results_shows_every_axis():
    out = s.gather(call("Gather", np.zeros((2, 3), np.float32), i64(2, 0), axis=1))
    assert out.formula == "pick 2 of 3 along axis 1 → 2×2"
    # A data vector picked down to one axis: nothing to hide.
    assert s.gather(call("Gather", [5], i64(1, 2), axis=0)).formula == "pick 2 of 5 along axis 0 → 2"
    folded = s.fold_gather(None, [np.arange(6.0).reshape(2, 3), np.array([2.0, 0.0])], out)[0]
    assert folded.tolist() == [[2.0, 0.0], [5.0, 3.0]]


# -- Slice --------------------------------------------------------------------


@pytest.mark.parametrize("start, end, step, picked", [
    (1, 4, 1, [1, 2, 3]),
    (-2, 5, 1, [3, 4]),
    (-10, 2, 1, [0, 1]),  # a start before the axis is 0
    (2, 100, 1, [2, 3, 4]),  # an end past it is the size
    (5, 100, 1, []),
    (0, -10, 1, []),
    (4, -100, -1, [4, 3, 2, 1, 0]),  # backwards to before the start: all of it
    (100, 0, -1, [4, 3, 2, 1]),  # a start past the end is the last value
    (-1, -6, -2, [4, 2, 0]),
    (0, 0, -1, []),
    (-100, -100, -1, [0]),  # ONNX takes the first value; Python's [-100:-100:-1] takes none
    (3, -1, -1, []),  # end −1 is the last value (4), after the start
    (3, 3, -1, []),
    (4, 3, -1, [4]),
    (4, -5, -1, [4, 3, 2, 1]),  # end −5 is value 0, excluded
])
def test_onnx_slice_clamps_like_onnx(start, end, step, picked):
    assert list(range(5))[s.onnx_slice(5, start, end, step)] == picked
    # The rule counts the same values on axis 2.
    c = call("Slice", [1, 3, 5, 8], i64(start), i64(end), i64(2), i64(step))
    assert s.slice_op(c).shapes == [[1, 3, len(picked), 8]]


def test_slice_from_the_opset_1_attributes():
    out = s.slice_op(call("Slice", X, opset=1, starts=[1, 2], ends=[3, 8]))
    # Axes left out: 0 and 1. Axis 0 has one value, [1:3] of it is none.
    assert out.shapes == [[0, 1, 8, 8]]
    out = s.slice_op(call("Slice", X, opset=1, starts=[1, 2], ends=[3, 8], axes=[-1, 2]))
    assert out.shapes == [[1, 3, 6, 2]]
    folded = s.fold_slice(call("Slice", X, opset=1, starts=[1], ends=[3], axes=[1]), [np.arange(4.0)[None]], out)
    assert folded[0].tolist() == [[1.0, 2.0]]


def test_slice_inputs_must_be_constants():
    for position in (1, 2, 3, 4):
        inputs = [X, i64(0), i64(2), i64(2), i64(1)]
        inputs[position] = [1]
        assert unknown(s.slice_op, call("Slice", *inputs)) == "its starts/ends/axes/steps are not constants"


def test_slice_axes_and_steps_left_out():
    assert s.slice_op(call("Slice", [6, 5], i64(1, 1), i64(5, 3))).shapes == [[4, 2]]
    assert s.slice_op(call("Slice", [6, 5], i64(1), i64(5), None, i64(3))).shapes == [[2, 5]]  # rows 1, 4
    out = s.slice_op(call("Slice", [6, 5], i64(1), i64(5)))
    v = [np.arange(30.0).reshape(6, 5), i64(1), i64(5)]
    assert s.fold_slice(call("Slice", [6, 5], i64(1), i64(5)), v, out)[0].shape == (4, 5)
    v = [np.arange(30.0).reshape(6, 5), i64(4), i64(0), i64(-1), i64(-2)]
    assert s.fold_slice(call("Slice", *v), v, out)[0][0].tolist() == [4.0, 2.0]


def test_slice_step_0_and_axis_range():
    assert error(s.slice_op, call("Slice", X, i64(0), i64(2), i64(2), i64(0))) == "a slice step cannot be 0"
    assert error(s.slice_op, call("Slice", X, i64(0), i64(2), i64(4), i64(1))) == \
        "axis 4 is out of range for a tensor with 4 axes"
    assert s.slice_op(call("Slice", X, i64(0), i64(2), i64(-4), i64(1))).shapes == [X]


def test_slice_keeps_the_field_only_while_the_image_axes_are_whole():
    assert s.slice_op(call("Slice", with_rf(X), i64(0), i64(2), i64(1), i64(1))).rf == RF
    assert s.slice_op(call("Slice", with_rf(X), i64(0), i64(7), i64(3), i64(1))).rf is None
    out = s.slice_op(call("Slice", with_rf(X), i64(0), i64(2), i64(1), i64(1)))
    assert out.formula == "slice 3×8×8 → 2×8×8"


# -- Split --------------------------------------------------------------------


def test_split_sizes_from_attribute_input_or_count():
    # [1, 2], not the [2, 1] equal parts would give.
    assert s.split(call("Split", X, opset=11, outputs=2, axis=1, split=[1, 2])).shapes == \
        [[1, 1, 8, 8], [1, 2, 8, 8]]
    out = s.split(call("Split", X, i64(5, 3), outputs=2, axis=-1))
    assert out.shapes == [[1, 3, 8, 5], [1, 3, 8, 3]] and out.hyper == {"axis": 3}
    assert out.formula == "split axis 3: 8 = 5 + 3"
    # 8 in 3 parts: ⌈8/3⌉ = 3, 3 and what is left, 2.
    assert [sh[2] for sh in s.split(call("Split", X, opset=18, outputs=3, axis=2, num_outputs=3)).shapes] == [3, 3, 2]
    # Before opset 18: as many equal parts as outputs.
    assert [sh[2] for sh in s.split(call("Split", X, opset=13, outputs=4, axis=2)).shapes] == [2, 2, 2, 2]


def test_split_sizes_must_add_up_and_match_the_outputs():
    assert error(s.split, call("Split", X, i64(1, 1), outputs=2, axis=1)) == "cannot split 3 into [1, 1]"
    assert error(s.split, call("Split", X, i64(1, 1, 1), outputs=2, axis=1)) == "cannot split 3 into [1, 1, 1]"
    assert unknown(s.split, call("Split", X, [2], outputs=2, axis=1)) == "the split sizes are not a constant"


def test_split_hands_on_the_field():
    assert s.split(call("Split", with_rf(X), i64(1, 2), outputs=2, axis=1)).rf == RF


# -- reductions, ArgMax -------------------------------------------------------


def test_reduce_axes_keepdims_and_empty_axes():
    out = s.reduce(call("ReduceSum", X, i64(-1, 1, 3), keepdims=0))
    assert out.shapes == [[1, 8]] and out.hyper == {"axes": [1, 3], "keepdims": 0}
    assert out.formula == "sum over axes [1, 3] → 8"
    assert s.reduce(call("ReduceMean", X, opset=13, axes=[2])).shapes == [[1, 3, 1, 8]]
    # Empty axes: all of them, unless noop_with_empty_axes.
    assert s.reduce(call("ReduceSum", X, np.zeros(0, np.int64))).shapes == [[1, 1, 1, 1]]
    out = s.reduce(call("ReduceSum", with_rf(X), np.zeros(0, np.int64), noop_with_empty_axes=1))
    assert out.shapes == [X] and out.rf == RF and out.formula == "no axes given, same as input → 3×8×8"


def test_reduce_over_the_image_is_dense():
    assert s.reduce(call("ReduceMax", with_rf(X), i64(3))).rf == DENSE
    assert s.reduce(call("ReduceMax", with_rf(X), i64(1))).rf == RF
    assert s.reduce(call("ReduceMax", Tensor(X), i64(3))).rf is None


@pytest.mark.parametrize("op, word", [("ArgMax", "largest"), ("ArgMin", "smallest")])
def test_arg_extreme(op, word):
    out = s.arg_extreme(call(op, X, axis=-1, keepdims=0))
    assert out.shapes == [[1, 3, 8]] and out.hyper == {"axis": 3, "keepdims": 0}
    assert out.formula == f"index of the {word} value along axis 3 → 3×8"
    assert s.arg_extreme(call(op, X, axis=2)).shapes == [[1, 3, 1, 8]]
    assert s.arg_extreme(call(op, with_rf(X), axis=1)).rf == DENSE
    assert error(s.arg_extreme, call(op, X, axis=4)) == "axis 4 is out of range for a tensor with 4 axes"


# -- Expand, Tile, Range ------------------------------------------------------


def test_expand():
    out = s.expand(call("Expand", with_rf([1, 1, 8, 8]), i64(3, 1, 1)))
    assert out.shapes == [[1, 3, 8, 8]] and out.formula == "expand 1×1×8×8 → 1×3×8×8" and out.rf == RF
    assert unknown(s.expand, call("Expand", X, [4])) == "the target shape is not a constant"
    assert error(s.expand, call("Expand", X, i64(2, 1))) == "cannot broadcast 1×3×8×8 with 2×1"
    assert s.fold_expand(None, [np.array([1.0, 2.0])], s.expand(call("Expand", [2], i64(2, 2))))[0].tolist() == \
        [[1.0, 2.0], [1.0, 2.0]]


def test_tile():
    out = s.tile(call("Tile", X, i64(1, 2, 1, 3)))
    assert out.shapes == [[1, 6, 8, 24]] and out.formula == "tile 1×3×8×8 by [1, 2, 1, 3] → 1×6×8×24"
    assert out.rf is None
    assert error(s.tile, call("Tile", X, i64(1, 2, 3))) == "3 repeats for a tensor with 4 axes"
    assert unknown(s.tile, call("Tile", X, [4])) == "the repeats are not a constant"
    assert s.fold_tile(None, [np.array([1, 2]), i64(2)], out)[0].tolist() == [1, 2, 1, 2]


@pytest.mark.parametrize("start, limit, delta, length", [
    (0, 10, 3, 4), (0, 9, 3, 3), (10, 0, 1, 0), (10, 0, -3, 4), (1.0, 2.0, 0.25, 4), (0, 1, 5, 1),
])
def test_range_length(start, limit, delta, length):
    out = s.range_op(call("Range", np.array(start), np.array(limit), np.array(delta)))
    assert out.shapes == [[length]] and out.formula == f"range of {length} numbers"
    folded = s.fold_range(None, [np.array(start), np.array(limit), np.array(delta)], out)[0]
    assert len(folded) == length and folded.dtype == np.array(start).dtype


def test_range_refusals():
    assert error(s.range_op, call("Range", np.array(0), np.array(5), np.array(0))) == "Range delta cannot be 0"
    assert unknown(s.range_op, call("Range", np.array(0), [], np.array(1))) == \
        "start, limit and delta are not constants"


# -- Resize -------------------------------------------------------------------


def test_resize_scales_multiply_in_float32():
    # 10·0.7 in float32 is 7.0 (in double from a float32 0.7 it is 6.9999998).
    out = s.resize(call("Resize", [1, 1, 10, 10], None, np.array([1, 1, 0.7, 2], np.float32)))
    assert out.shapes == [[1, 1, 7, 20]] and out.hyper == {"mode": "nearest"}
    assert out.formula == "resize (nearest, scales [1.0, 1.0, 0.699999988079071, 2.0]): 1×10×10 → 1×7×20"


def test_resize_sizes_and_axes():
    out = s.resize(call("Resize", X, None, None, i64(5, 7), opset=18, axes=[-2, 3], mode="linear"))
    assert out.shapes == [[1, 3, 5, 7]] and out.formula == "resize (linear, sizes [5, 7]): 3×8×8 → 3×5×7"
    assert unknown(s.resize, call("Resize", X, None, None, i64(5, 7), opset=18, axes=[2, 3],
                                  keep_aspect_ratio_policy="not_larger")) == \
        "keep_aspect_ratio_policy not_larger is not analysed"


def test_resize_empty_or_unknown_scales():
    # An empty scales input (shape [0]) beside sizes: the sizes count.
    empty = np.zeros(0, np.float32)
    assert s.resize(call("Resize", X, None, empty, i64(1, 3, 4, 4))).shapes == [[1, 3, 4, 4]]
    assert s.resize(call("Resize", X, None, Tensor([0]), i64(1, 3, 4, 4))).shapes == [[1, 3, 4, 4]]
    assert unknown(s.resize, call("Resize", X, None, [4])) == "its scales or sizes are not constants"
    assert error(s.resize, call("Resize", X, None, empty)) == "neither scales nor sizes is given"
    assert error(s.resize, call("Resize", X)) == "neither scales nor sizes is given"


def test_resize_and_upsample_of_older_opsets():
    scales = np.array([1, 1, 2, 3], np.float32)
    assert s.resize(call("Resize", X, scales, opset=10)).shapes == [[1, 3, 16, 24]]
    assert s.resize(call("Upsample", X, scales, opset=9)).shapes == [[1, 3, 16, 24]]
    assert s.resize(call("Upsample", X, opset=7, scales=[1.0, 1.0, 3.0, 2.0])).shapes == [[1, 3, 24, 16]]


# -- DepthToSpace, SpaceToDepth -----------------------------------------------


def test_depth_to_space():
    out = s.depth_to_space(call("DepthToSpace", [1, 8, 4, 5], blocksize=2))
    assert out.shapes == [[1, 2, 8, 10]] and out.hyper == {"blocksize": 2}
    assert out.formula == "channels into 2×2 blocks → 2×8×10"
    assert error(s.depth_to_space, call("DepthToSpace", [1, 6, 4, 4], blocksize=2)) == \
        "6 channels cannot be spread into 2×2 blocks"
    assert error(s.depth_to_space, call("DepthToSpace", [1, 8, 4], blocksize=2)) == \
        "8 channels cannot be spread into 2×2 blocks"
    assert error(s.depth_to_space, call("DepthToSpace", [8], blocksize=2)) == \
        "? channels cannot be spread into 2×2 blocks"


def test_space_to_depth():
    out = s.space_to_depth(call("SpaceToDepth", [1, 3, 6, 9], blocksize=3))
    assert out.shapes == [[1, 27, 2, 3]] and out.formula == "3×3 blocks into channels → 27×2×3"
    assert error(s.space_to_depth, call("SpaceToDepth", [1, 3, 8, 7], blocksize=2)) == \
        "8×7 cannot be cut into 2×2 blocks"
    assert error(s.space_to_depth, call("SpaceToDepth", [1, 3, 7, 8], blocksize=2)) == \
        "7×8 cannot be cut into 2×2 blocks"
    assert error(s.space_to_depth, call("SpaceToDepth", [1, 8, 8], blocksize=2)) == \
        "8 cannot be cut into 2×2 blocks"


# -- folding ------------------------------------------------------------------


def test_fold_reshape_without_a_shape_gives_nothing():
    out = s.reshape(call("Reshape", [2, 3], i64(3, 2)))
    assert s.fold_reshape(None, [np.arange(6)], out)[0].shape == (3, 2)
    out.shapes = [None]
    assert s.fold_reshape(None, [np.arange(6)], out) is None


def test_fold_transpose_and_concat_use_the_rule_s_hyper():
    a = np.arange(6).reshape(2, 3)
    out = s.transpose(call("Transpose", a, perm=[1, 0]))
    assert s.fold_transpose(None, [a], out)[0].tolist() == [[0, 3], [1, 4], [2, 5]]
    out = s.concat(call("Concat", a, None, a, axis=-1))
    assert s.fold_concat(None, [a, None, a], out)[0].tolist() == [[0, 1, 2, 0, 1, 2], [3, 4, 5, 3, 4, 5]]


def test_resize_11_reads_scales_after_roi():
    # Opset 11 is the first with (X, roi, scales, sizes); opset 10 reads input 2 as the scales.
    scales = np.array([1, 1, 2, 3], np.float32)
    assert s.resize(call("Resize", X, np.zeros(0, np.float32), scales, opset=11)).shapes == [[1, 3, 16, 24]]
    assert s.resize(call("Resize", X, scales, opset=10)).shapes == [[1, 3, 16, 24]]


def test_resize_mode_left_out_is_nearest():
    c = call("Resize", X, None, np.array([1, 1, 2, 2], np.float32))
    c.attrs.pop("mode", None)
    out = s.resize(c)
    assert out.hyper == {"mode": "nearest"} and out.formula.startswith("resize (nearest, ")


def test_split_num_outputs_must_match_the_outputs():
    # num_outputs 2 on a node with 3 outputs: 8 in two parts is [4, 4], one part short.
    assert error(s.split, call("Split", X, opset=18, outputs=3, axis=2, num_outputs=2)) == "cannot split 8 into [4, 4]"


def test_concat_of_one_input():
    assert s.concat(call("Concat", X, axis=1)).shapes == [X]


def test_shape_before_opset_15_is_all_of_it():
    out = s.shape_of(call("Shape", X, opset=13))
    assert out.shapes == [[4]] and out.formula == "the shape of the input, [1, 3, 8, 8]"
    assert s.fold_shape_of(call("Shape", X, opset=13), [None], out)[0].tolist() == [1, 3, 8, 8]


def test_depth_and_space_give_whole_numbers():
    for out in (s.depth_to_space(call("DepthToSpace", [1, 8, 4, 4], blocksize=2)),
                s.space_to_depth(call("SpaceToDepth", [1, 2, 4, 6], blocksize=2))):
        assert all(type(d) is int for d in out.shapes[0]) and out.hyper == {"blocksize": 2}
    assert error(s.depth_to_space, call("DepthToSpace", [1, 8], blocksize=2)) == \
        "8 channels cannot be spread into 2×2 blocks"


def test_fold_slice_of_opset_1_without_axes():
    c = call("Slice", [2, 4], opset=1, starts=[1, 1], ends=[2, 3])
    v = [np.arange(8.0).reshape(2, 4)]
    assert s.fold_slice(c, v, s.slice_op(c))[0].tolist() == [[5.0, 6.0]]


def test_gather_result_of_two_axes_hides_the_batch():
    assert s.gather(call("Gather", [1, 3, 5], np.array(1, np.int64), axis=1)).formula == \
        "pick one of 3 along axis 1 → 5"


def test_pad_on_some_axes_leaves_the_others_field():
    # opset 18, axes [3]: only axis 3's start moves, by 2·1.
    out = s.pad(call("Pad", with_rf(X), i64(2, 0), None, i64(3), opset=18))
    assert out.rf == {2: RF[2], 3: (1, 3, 1, -2)}
    assert out.formula == "axis 3: 8 + 2 + 0 = 10 → 3×8×10"
    assert s.pad(call("Pad", X, i64(0, 0, 0, 0, 0, 0, 0, 3))).formula == "axis 3: 8 + 0 + 3 = 11 → 3×8×11"


def test_squeeze_of_a_constant_shows_every_axis():
    out = s.squeeze(call("Squeeze", np.zeros((1, 2, 3), np.float32), i64(0)))
    assert out.formula == "drop size-1 axes: 1×2×3 → 2×3"
