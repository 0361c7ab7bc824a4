"""Gemm, MatMul, the element-wise and normalisation rules called directly: every message in
full, both sides of each check, hand-worked shapes."""

import numpy as np
import pytest

from lenet_gui.core.errors import ShapeError
from lenet_gui.core.ops._common import DENSE, Tensor
from lenet_gui.core.ops.dense import shape as dense
from lenet_gui.core.ops.elementwise import shape as ew
from lenet_gui.core.ops.normalisation import shape as norm
from tests.ops.rule_call import RF, call, with_rf


def error(rule, c) -> str:
    with pytest.raises(ShapeError) as caught:
        rule(c)
    return str(caught.value)


def weights(*shape) -> Tensor:
    """A constant made from a float initializer, as the graph walk marks one."""
    return Tensor(list(shape), static=True, roots=frozenset({"w"}))


# -- Gemm ---------------------------------------------------------------------


def test_gemm_needs_two_matrices():
    assert error(dense.gemm, call("Gemm", [2, 3, 4], [4, 5])) == "Gemm multiplies two matrices, got 2×3×4 and 4×5"
    assert error(dense.gemm, call("Gemm", [2, 4], [4, 5, 1])) == "Gemm multiplies two matrices, got 2×4 and 4×5×1"


def test_gemm_transposes_either_side():
    # A is 4×2 read as 2×4 (transA), B is 5×4 read as 4×5 (transB): 2×5.
    out = dense.gemm(call("Gemm", [4, 2], [5, 4], [5], transA=1, transB=1))
    assert out.shapes == [[2, 5]] and out.formula == "4 × 5 weights + 5 bias → 5"
    assert out.hyper == {"transA": 1, "transB": 1, "alpha": 1.0, "beta": 1.0}
    assert dense.gemm(call("Gemm", [2, 4], [4, 5])).shapes == [[2, 5]]
    assert error(dense.gemm, call("Gemm", [2, 4], [5, 4])) == "cannot multiply 2×4 by 5×4: 4 inputs but weights for 5"
    assert error(dense.gemm, call("Gemm", [4, 2], [4, 5])) == "cannot multiply 4×2 by 4×5: 2 inputs but weights for 4"


def test_gemm_bias_shapes():
    # 1×5 holds n = 5 values: written as "5 bias"; 2×1 broadcasts but is not n values.
    assert dense.gemm(call("Gemm", [2, 4], [4, 5], [1, 5])).formula == "4 × 5 weights + 5 bias → 5"
    assert dense.gemm(call("Gemm", [2, 4], [4, 5], [2, 1])).formula == "4 × 5 weights + 2×1 bias → 5"
    assert dense.gemm(call("Gemm", [2, 4], [4, 5], [])).formula == "4 × 5 weights + scalar bias → 5"
    # 3×5 broadcasts with the 1×5 output, but to 3×5: it does not fit.
    assert error(dense.gemm, call("Gemm", [1, 4], [4, 5], [3, 5])) == "bias 3×5 does not fit the output 1×5"
    assert error(dense.gemm, call("Gemm", [1, 4], [4, 5], [3])) == "cannot broadcast 3 with 1×5"


def test_gemm_alpha_beta_and_field():
    out = dense.gemm(call("Gemm", with_rf([1, 4]), [4, 5], alpha=0.5, beta=2.0))
    assert out.hyper["alpha"] == 0.5 and out.hyper["beta"] == 2.0 and out.rf == DENSE
    assert dense.gemm(call("Gemm", [1, 4], [4, 5])).rf is None


# -- MatMul -------------------------------------------------------------------


def test_matmul_refuses_scalars_on_either_side():
    assert error(dense.matmul, call("MatMul", [], [3, 4])) == "MatMul does not take scalars"
    assert error(dense.matmul, call("MatMul", [3], [])) == "MatMul does not take scalars"


@pytest.mark.parametrize("a, b, out", [
    ([3], [3, 4], [4]),  # 1-D on the left: a row, dropped again
    ([2, 3], [3], [2]),  # 1-D on the right: a column, dropped again
    ([3], [3], []),
    ([5, 2, 3], [3, 4], [5, 2, 4]),
    ([5, 1, 2, 3], [6, 3, 4], [5, 6, 2, 4]),  # batch axes broadcast
    ([3], [7, 3, 4], [7, 4]),
])
def test_matmul_shapes(a, b, out):
    assert dense.matmul(call("MatMul", a, b)).shapes == [out]


def test_matmul_mismatch_names_the_inner_sizes():
    assert error(dense.matmul, call("MatMul", [7, 2, 3], [6, 4, 5])) == "cannot multiply 7×2×3 by 6×4×5: 3 ≠ 4"
    assert error(dense.matmul, call("MatMul", [2, 3], [4])) == "cannot multiply 2×3 by 4: 3 ≠ 4"
    assert error(dense.matmul, call("MatMul", [2, 2, 3], [3, 3, 4])) == "cannot broadcast 2 with 3"


def test_matmul_weights_are_the_constant_side():
    out = dense.matmul(call("MatMul", with_rf([1, 4]), weights(4, 5)))
    assert out.param_inputs == (1,) and out.formula == "4 × 5 weights → 5" and out.rf == DENSE
    out = dense.matmul(call("MatMul", weights(5, 4), with_rf([4, 3])))
    assert out.param_inputs == (0,) and out.formula == "matrix product 5×4 · 4×3 → 3" and out.rf == DENSE
    out = dense.matmul(call("MatMul", [2, 4], [4, 5]))
    assert out.param_inputs == () and out.rf is None
    assert dense.matmul(call("MatMul", with_rf([1, 4]), weights(4))).formula == "matrix product 1×4 · 4 → 1"


# -- element-wise -------------------------------------------------------------


def test_same_as_input_hyper_per_op():
    assert ew.same_as_input(call("Relu", [1, 3, 8, 8])).hyper == {}
    for op in ("Softmax", "LogSoftmax", "Hardmax"):
        assert ew.same_as_input(call(op, [1, 10])).hyper == {"axis": -1}
        assert ew.same_as_input(call(op, [1, 10], opset=11)).hyper == {"axis": 1}
    assert ew.same_as_input(call("LeakyRelu", [1, 3])).hyper == {"alpha": pytest.approx(0.01)}
    out = ew.same_as_input(call("Cast", with_rf([1, 3, 8, 8]), to=7))
    assert out.formula == "change of number type, same shape → 3×8×8" and out.rf == RF


def test_dropout_mask_only_when_asked_for():
    assert ew.same_as_input(call("Dropout", [1, 3])).shapes == [[1, 3]]
    assert ew.same_as_input(call("Dropout", [1, 3], outputs=2)).shapes == [[1, 3], [1, 3]]


def test_broadcasting_without_constants_has_no_parameters():
    out = ew.broadcasting(call("Add", [1, 3, 8, 8], [1, 3, 8, 8]))
    assert out.param_inputs == () and out.formula == "element-wise, same shape → 3×8×8"
    out = ew.broadcasting(call("Sub", [1, 3, 8, 8], [3, 1, 1]))
    assert out.param_inputs == () and out.formula == "1×3×8×8 ⊕ 3×1×1 (broadcast) → 3×8×8"


@pytest.mark.parametrize("op, sign", [("Add", "+"), ("Mul", "·")])
def test_a_constant_operand_on_either_side_is_a_bias_or_scale(op, sign):
    role = "bias" if op == "Add" else "scale"
    out = ew.broadcasting(call(op, [1, 3, 8, 8], weights(3, 1, 1)))
    assert out.param_inputs == (1,) and out.formula == f"{sign} {role} (3×1×1), broadcast → 3×8×8"
    out = ew.broadcasting(call(op, weights(3, 1, 1), [1, 3, 8, 8]))
    assert out.param_inputs == (0,) and out.formula == f"{sign} {role} (3×1×1), broadcast → 3×8×8"
    # Two values are already a parameter; one is input normalisation.
    assert ew.broadcasting(call(op, [1, 2], weights(2))).param_inputs == (1,)
    assert ew.broadcasting(call(op, [1, 2], weights(1))).param_inputs == ()


def test_fold_keeps_the_first_input_s_type():
    add = ew.fold_numpy(call("Add", [2], []), [np.array([1, 2], np.int32), np.array(1.5)], None)[0]
    assert add.dtype == np.int32 and add.tolist() == [2, 3]
    # Integer division truncates towards 0; float division does not.
    div = ew.fold_numpy(call("Div", [2], [2]), [np.array([-7, 7], np.int64), np.array([2, 2], np.int64)], None)[0]
    assert div.dtype == np.int64 and div.tolist() == [-3, 3]
    div = ew.fold_numpy(call("Div", [2], [2]), [np.array([-7, 7], np.float32), np.array([2, 2], np.float32)], None)[0]
    assert div.dtype == np.float32 and div.tolist() == [-3.5, 3.5]
    assert ew.fold_numpy(call("Equal", [2], [2]), [np.array([1, 2]), np.array([1, 3])], None)[0].tolist() == \
        [True, False]


# -- normalisation ------------------------------------------------------------


def test_batch_norm_inputs_hold_one_value_per_channel():
    c = [3]
    out = norm.batch_norm(call("BatchNormalization", with_rf([1, 3, 8, 8]), c, c, c, c))
    assert out.shapes == [[1, 3, 8, 8]] and out.rf == RF and out.hyper == {"epsilon": pytest.approx(1e-5)}
    for position in range(1, 5):
        inputs = [[1, 3, 8, 8], c, c, c, c]
        inputs[position] = [4]
        assert error(norm.batch_norm, call("BatchNormalization", *inputs)) == \
            f"input {position + 1} has shape 4, expected 3 (one per channel)"


def test_batch_norm_channels_of_low_ranks():
    # Rank 2: the channels are axis 1; rank 1 has one channel.
    assert norm.batch_norm(call("BatchNormalization", [2, 3], [3], [3], [3], [3])).shapes == [[2, 3]]
    assert norm.batch_norm(call("BatchNormalization", [5], [1], [1], [1], [1])).shapes == [[5]]
    assert error(norm.batch_norm, call("BatchNormalization", [5], [2], [1], [1], [1])) == \
        "input 2 has shape 2, expected 1 (one per channel)"


def test_batch_norm_training_outputs():
    c = [3]
    out = norm.batch_norm(call("BatchNormalization", [1, 3, 8, 8], c, c, c, c, outputs=3))
    assert out.shapes == [[1, 3, 8, 8], [3], [3]]


def test_running_statistics_note():
    c = Tensor([3])
    assert norm.running_statistics_note([Tensor([1, 3, 8, 8]), c, c, c, c]) == \
        "running mean and variance, 2·3, not trainable, not counted"
    assert norm.running_statistics_note([Tensor([1, 3, 8, 8]), c, c]) == ""
    assert norm.running_statistics_note([Tensor([1, 3, 8, 8]), c, c, None, c]) == ""
    assert norm.running_statistics_note([Tensor([1, 3, 8, 8]), c, c, Tensor([]), c]) == ""


def test_layer_norm_statistics_keep_the_axes_before_axis():
    out = norm.layer_norm(call("LayerNormalization", [2, 3, 4], [4], outputs=3))
    assert out.shapes == [[2, 3, 4], [2, 3, 1], [2, 3, 1]]
    out = norm.layer_norm(call("LayerNormalization", [2, 3, 4], [3, 4], axis=-2, outputs=2))
    assert out.shapes == [[2, 3, 4], [2, 1, 1]]
    assert norm.layer_norm(call("LayerNormalization", [2, 3, 4], [4])).shapes == [[2, 3, 4]]
    assert error(norm.layer_norm, call("LayerNormalization", [2, 3, 4], [4], axis=3)) == \
        "axis 3 is out of range for a tensor with 3 axes"


def test_lrn_size_and_the_others_pass_the_field_on():
    assert norm.lrn(call("LRN", [1, 3, 8, 8], size=5)).hyper == {"size": 5}
    c = call("LRN", [1, 3, 8, 8])
    c.attrs.pop("size", None)
    assert norm.lrn(c).hyper == {"size": 1}
    for rule, op in ((norm.instance_norm, "InstanceNormalization"), (norm.mean_variance, "MeanVarianceNormalization"),
                     (norm.lrn, "LRN")):
        out = rule(call(op, with_rf([1, 3, 8, 8]), size=3))
        assert out.shapes == [[1, 3, 8, 8]] and out.rf == RF and out.formula == "same as input → 3×8×8"
