"""The normalisation explain helpers on inputs small enough to work out by hand (no Qt).

Instance and Layer normalisation on a 1×2×2×2 input, checked against onnxruntime; the
BatchNormalization check; Softmax's row (the opset-13 axis and the older 2-D reading)
and its working.
"""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from lenet_gui.core import graph, preprocess
from lenet_gui.core.explain import Explainer
from lenet_gui.core.explain_context import NotExplained
from lenet_gui.core.ops.normalisation.explain import _softmax_vector, _training, softmax_working
from lenet_gui.core.session import ModelSession

# Channel 0 is 1, 1, 5, 5: mean 3, variance 4. Channel 1 is 2, 4, 6, 8: mean 5, variance 5.
X = np.array([1, 1, 5, 5, 2, 4, 6, 8], np.float32).reshape(1, 2, 2, 2)


def _explainer(tmp_path, node, inits, opset=17, x=X):
    # An image model reads 1 or 3 channels: the 1×1×2×4 image is reshaped to 1×2×2×2 first.
    nodes = [helper.make_node("Reshape", ["image", "shape"], ["x"], name="r"), node,
             helper.make_node("Flatten", ["n"], ["out"], name="flat")]
    inits = {k: np.array(v, np.float32) for k, v in inits.items()} | {"shape": np.array([1, 2, 2, 2], np.int64)}
    g = helper.make_graph(nodes, "norm", [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 1, 2, 4])],
                          [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 8])],
                          [numpy_helper.from_array(v, k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    onnx.save_model(m, str(tmp_path / "norm.onnx"))
    session = ModelSession(tmp_path / "norm.onnx")
    image = x.reshape(1, 1, 2, 4)
    prepared = preprocess.Prepared(np.zeros((28, 28), np.float32), np.zeros((2, 4), np.float32), image)
    result = session.run(image, prepared)
    return Explainer(session.model, graph.analyze(session.model)), result


def _explain(explainer, result, unit):
    e = explainer.explain(result, "norm", unit)
    assert e.explained and e.agrees, e.reason
    return e


def test_instance_norm_works_out_each_channel_from_its_own_values(tmp_path):
    # ε = 5: channel 0's spread is √(4 + 5) = 3; γ 3, β −1: x = 5 → 3·(5 − 3)/3 − 1 = 1, x = 1 → −3.
    node = helper.make_node("InstanceNormalization", ["x", "g", "b"], ["n"], name="norm", epsilon=5.0)
    explainer, result = _explainer(tmp_path, node, {"g": [3.0, 0.5], "b": [-1.0, 2.0]})
    e = _explain(explainer, result, (0, 1, 0))
    assert e.value == pytest.approx(1.0, abs=1e-12)
    assert [s.text for s in e.steps] == [
        "x = r[0, 1, 0] = 5.0000",
        "mean μ of the 4 values of channel 0 = 3.0000",
        "variance σ² of those values = 4.0000",
        "(x − μ) / √(σ² + ε) = (5.0000 − 3.0000) / √(4.0000 + 5.0000) = 0.6667",
        "· scale γ 3.0000 + bias β −1.0000 = 1.0000",
    ]
    assert [s.value for s in e.steps] == pytest.approx([5.0, 3.0, 4.0, 2 / 3, 1.0], abs=1e-12)
    assert [(t.weight, t.value, t.source_layer, t.source_unit) for t in e.terms] == [
        (pytest.approx(1.0), 5.0, "r", (0, 1, 0))]  # ∂/∂x = γ/spread = 3/3
    assert e.window == {"epsilon": 5.0} and e.kind == "batchnorm"
    assert _explain(explainer, result, (0, 0, 0)).value == pytest.approx(-3.0, abs=1e-12)
    # Channel 1: mean 5, variance 5, spread √10; x = 8 → 0.5·3/√10 + 2.
    e = _explain(explainer, result, (1, 1, 1))
    assert e.value == pytest.approx(0.5 * 3 / math.sqrt(10) + 2, abs=1e-6)
    assert e.steps[1].text == "mean μ of the 4 values of channel 1 = 5.0000"
    assert e.terms[0].weight == pytest.approx(0.5 / math.sqrt(10), rel=1e-6)


def test_layer_norm_reads_the_axes_from_its_axis_on(tmp_path):
    # axis 1: all 8 values, mean 32/8 = 4, variance (9+9+1+1+4+0+4+16)/8 = 5.5; ε 2.5 → spread √8.
    node = helper.make_node("LayerNormalization", ["x", "g", "b"], ["n"], name="norm", axis=1, epsilon=2.5)
    g = np.arange(1, 9, dtype=np.float32).reshape(2, 2, 2)
    explainer, result = _explainer(tmp_path, node, {"g": g, "b": np.full((2, 2, 2), 0.25, np.float32)})
    e = _explain(explainer, result, (1, 1, 1))  # x = 8, γ 8: 8·4/√8 + 0.25 = √128 + 0.25
    assert e.value == pytest.approx(math.sqrt(128) + 0.25, abs=1e-6)
    assert e.steps[1].text == "mean μ of the 8 values of axes 1–3 = 4.0000"
    assert e.steps[2].value == pytest.approx(5.5, abs=1e-12)
    assert e.terms[0].weight == pytest.approx(8 / math.sqrt(8), rel=1e-6)
    assert _explain(explainer, result, (0, 0, 0)).value == pytest.approx(1 * (1 - 4) / math.sqrt(8) + 0.25, abs=1e-6)


def test_layer_norm_without_a_bias(tmp_path):
    # The default axis −1: pairs. Channel 1's last row is 6, 8: mean 7, variance 1; ε 3 → spread 2.
    node = helper.make_node("LayerNormalization", ["x", "g"], ["n"], name="norm", epsilon=3.0)
    explainer, result = _explainer(tmp_path, node, {"g": [2.0, 4.0]})
    e = _explain(explainer, result, (1, 1, 1))
    assert e.value == pytest.approx(4 * (8 - 7) / 2, abs=1e-12)
    assert e.steps[1].text == "mean μ of the 2 values of axes 3–3 = 7.0000"
    assert e.steps[-1].text == "· scale γ 4.0000 + bias β 0 = 2.0000"


def test_the_statistics_are_worked_out_in_float64_from_the_float32_input(tmp_path):
    x = np.array([0.1, 0.2, 0.3, 0.7, 1, 2, 3, 4], np.float32).reshape(1, 2, 2, 2)
    node = helper.make_node("InstanceNormalization", ["x", "g", "b"], ["n"], name="norm", epsilon=0.5)
    explainer, result = _explainer(tmp_path, node, {"g": [1.0, 1.0], "b": [0.0, 0.0]}, x=x)
    values = [float(v) for v in x[0, 0].ravel()]  # the float32 values, exactly, as Python floats
    mu = math.fsum(values) / 4
    var = math.fsum((v - mu) ** 2 for v in values) / 4  # in float32 it is off by about 1e-8 relative
    e = _explain(explainer, result, (0, 1, 1))
    assert e.steps[1].value == pytest.approx(mu, rel=1e-15)
    assert e.steps[2].value == pytest.approx(var, rel=1e-14)
    assert e.value == pytest.approx((values[3] - mu) / math.sqrt(var + 0.5), rel=1e-14)


def _bn(n_inputs, **attributes):
    return helper.make_node("BatchNormalization", ["x", "g", "b", "m", "v"][:n_inputs], ["n"], **attributes)


def test_batch_norm_check():
    assert _training(None, _bn(5)) is None
    assert _training(None, _bn(5, training_mode=0)) is None
    assert _training(None, _bn(5, training_mode=1)) == (
        "BatchNormalization in training mode uses the batch's statistics; only inference is explained")
    assert _training(None, _bn(4)) == "BatchNormalization needs scale, bias, mean and variance"


X3 = np.arange(6, dtype=np.float32).reshape(1, 2, 3)


def _vector(opset, index, **attributes):
    node = helper.make_node("Softmax", ["x"], ["y"], **attributes)
    return _softmax_vector(SimpleNamespace(opset=opset), node, X3, index)


def test_softmax_runs_over_its_axis_from_opset_13():
    row, position, cells = _vector(13, (0, 1, 2))  # the default: the last axis
    assert row.tolist() == [3, 4, 5] and position == 2 and cells == [(0, 1, 0), (0, 1, 1), (0, 1, 2)]
    row, position, cells = _vector(13, (0, 1, 2), axis=1)
    assert row.tolist() == [2, 5] and position == 1 and cells == [(0, 0, 2), (0, 1, 2)]
    row, position, cells = _vector(13, (0, 1, 0), axis=-2)
    assert row.tolist() == [0, 3] and position == 1 and cells == [(0, 0, 0), (0, 1, 0)]


def test_softmax_before_opset_13_reads_a_2d_input():
    row, position, cells = _vector(12, (0, 1, 1))  # the default axis 1: both rows in one
    assert row.tolist() == [0, 1, 2, 3, 4, 5] and position == 4
    assert cells == [(0, 0, 0), (0, 0, 1), (0, 0, 2), (0, 1, 0), (0, 1, 1), (0, 1, 2)]
    row, position, cells = _vector(12, (0, 1, 1), axis=2)
    assert row.tolist() == [3, 4, 5] and position == 1 and cells == [(0, 1, 0), (0, 1, 1), (0, 1, 2)]
    row, position, cells = _vector(12, (0, 1, 1), axis=-1)
    assert row.tolist() == [3, 4, 5] and position == 1
    row, position, cells = _vector(12, (0, 1, 1), axis=0)  # everything
    assert row.tolist() == list(range(6)) and position == 4 and len(cells) == 6


@pytest.mark.parametrize("opset", [12, 13])
@pytest.mark.parametrize("axis, shown", [(3, 3), (-4, -1)])
def test_softmax_axis_out_of_range_is_refused(opset, axis, shown):
    with pytest.raises(NotExplained, match=rf"^axis {shown} is out of range$"):
        _vector(opset, (0, 0, 0), axis=axis)


def test_softmax_axis_at_the_edges_is_accepted():
    assert _vector(13, (0, 1, 2), axis=2)[1] == 2
    assert _vector(13, (0, 1, 2), axis=-3)[0].tolist() == [5]


def test_softmax_working_by_hand():
    # z = ln 1, ln 2, ln 5 → e^(z − ln 5) = 0.2, 0.4, 1; sum 1.6; unit 1: 0.4 / 1.6 = 0.25.
    z = np.log([1.0, 2.0, 5.0])
    value, steps, rows = softmax_working(z, 1)
    assert value == pytest.approx(0.25, abs=1e-12)
    assert [s.text for s in steps] == [
        "logits z = [0, 0.6931, 1.6094] (3 values)",
        "largest logit = 1.6094 (subtracted first so e^z cannot overflow; it cancels out)",
        "e^(z − max) for unit 1: e^(0.6931 − 1.6094) = 0.4000",
        "sum of the 3 exponentials = 1.6000",
        "probability = 0.4000 / 1.6000 = 0.2500",
    ]
    assert steps[0].value is None
    assert [s.value for s in steps[1:]] == pytest.approx([math.log(5), 0.4, 1.6, 0.25], abs=1e-12)
    (logits, exps, probs), = rows
    assert (logits.title, exps.title, probs.title) == ("logits", "e^(z − max)", "probabilities")
    assert logits.values.shape == (1, 3) and logits.signed and not exps.signed and not probs.signed
    assert exps.values.shape == probs.values.shape == (1, 3)
    assert logits.values[0].tolist() == pytest.approx([0, math.log(2), math.log(5)], abs=1e-12)
    assert exps.values[0].tolist() == pytest.approx([0.2, 0.4, 1.0], abs=1e-12)
    assert probs.values[0].tolist() == pytest.approx([0.125, 0.25, 0.625], abs=1e-12)
    assert logits.highlight == exps.highlight == probs.highlight == (0, 1)


def test_log_softmax_working_by_hand():
    # ln 0.25 = z − max − ln(sum) = (ln 2 − ln 5) − ln 1.6.
    value, steps, rows = softmax_working(np.log([1.0, 2.0, 5.0]), 1, log=True)
    assert value == pytest.approx(math.log(0.25), abs=1e-12)
    assert steps[-1].text == "z − max − ln(sum) = −0.9163 − 0.4700 = −1.3863"
    assert steps[-1].value == value and len(steps) == 5
    assert rows[0][2].values[0].tolist() == pytest.approx([0.125, 0.25, 0.625], abs=1e-12)


def test_softmax_working_lists_twelve_logits_at_most():
    twelve = softmax_working(np.arange(12.0), 0)[1][0].text
    assert twelve == "logits z = [0, " + ", ".join(f"{v}.0000" for v in range(1, 12)) + "] (12 values)"
    thirteen = softmax_working(np.arange(13.0), 0)[1][0].text
    assert thirteen == "logits z = [0, " + ", ".join(f"{v}.0000" for v in range(1, 12)) + ", …] (13 values)"


def test_softmax_working_reads_float32_logits_in_float64():
    z = np.array([0.1, 0.2, 0.7], np.float32)
    exps = [math.exp(float(v) - float(z[2])) for v in z]
    value, steps, _ = softmax_working(z, 1)
    assert value == pytest.approx(exps[1] / math.fsum(exps), rel=1e-14)  # in float32: off by about 2e-8
    assert steps[2].value == pytest.approx(exps[1], rel=1e-15)


def test_softmax_working_does_not_overflow():
    value, steps, _ = softmax_working(np.array([1000.0, 1000.0]), 0)
    assert value == 0.5 and steps[2].value == 1.0 and steps[3].value == 2.0
