"""The unit explanations: every number recomputed in numpy equals onnxruntime's.

Models: the shipped LeNet-5 and the small ones in tests/explain_models.py
(BatchNorm, NHWC input, asymmetric pads, dilation, groups, stride > 1, average
pooling with and without count_include_pad, Gemm with transB/alpha/beta,
MatMul, broadcasting Add/Mul, Softmax, 1-D and 3-D convolutions, ...). Inputs
are real pen digits from tests/data.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import onnx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from onnx import TensorProto, helper, numpy_helper

from lenet_gui.core import graph, preprocess
from lenet_gui.core.explain import ExplainError, Explainer, explain_rules
from lenet_gui.core.session import ModelSession
from lenet_gui.train import pendigits
from tests.explain_models import BUILDERS

UNITS_PER_LAYER = 12
FEW = settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow,
                                                                        HealthCheck.function_scoped_fixture])


DIGITS = pendigits.load(Path(__file__).parent / "data" / "pendigits-heldout.tra.gz")


@pytest.fixture(scope="module")
def digits():
    return DIGITS


@pytest.fixture(scope="module")
def lenet():
    session = ModelSession()
    return session, Explainer(session.model, graph.analyze(session.model))


@pytest.fixture(scope="module")
def small_models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("explain-models")
    out = {}
    for name, build in BUILDERS.items():
        session = ModelSession(build(folder / f"{name}.onnx"))
        out[name] = (session, Explainer(session.model, graph.analyze(session.model)))
    return out


def _random_units(shape, rng, count):
    return [tuple(int(rng.integers(d)) for d in shape) for _ in range(count)]


def _check_every_layer(session, explainer, result, rng, units=UNITS_PER_LAYER) -> set[str]:
    """Explain random units of every layer; every one must be explained and agree. Returns the ops seen."""
    seen = set()
    for layer in explainer.layers:
        ok, reason = explainer.can_explain(layer.name)
        assert ok, f"{layer.name} ({layer.op}) not explained: {reason}"
        activation = result.activations[layer.output]
        for unit in _random_units(activation.shape, rng, units):
            e = explainer.explain(result, layer.name, unit)
            assert e.explained, f"{layer.name}{unit}: {e.reason}"
            assert e.runtime_value == pytest.approx(float(activation[unit]))
            assert e.agrees, f"{layer.name} ({layer.op}) {unit}: explained {e.value}, onnxruntime {e.runtime_value}"
            assert e.steps, f"{layer.name}: no working shown"
            if e.steps[-1].text.startswith("then "):  # the activation that follows: checked against its layer
                after = explainer.layer(e.steps[-1].text.split(" ")[1])
                assert e.steps[-1].value == pytest.approx(float(result.activations[after.output][unit]),
                                                          rel=1e-4, abs=1e-4), e.steps[-1].text
                seen.add("then " + after.op)
        seen.add(layer.op)
    return seen


def test_lenet_every_layer_agrees_on_pen_digits(lenet, digits):
    session, explainer = lenet
    rng = np.random.default_rng(1)
    ops = set()
    for digit in digits[::60][:6]:
        result = session.predict_drawing(digit.drawing())
        ops |= _check_every_layer(session, explainer, result, rng)
    assert ops == {"Conv", "Relu", "MaxPool", "Flatten", "Gemm", "then Relu"}


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_small_models_every_layer_agrees(small_models, digits, name):
    session, explainer = small_models[name]
    rng = np.random.default_rng(2)
    seen = set()
    for digit in (digits[5], digits[77]):
        seen |= _check_every_layer(session, explainer, session.predict_drawing(digit.drawing()), rng)
    if name == "nhwc":
        assert "then Tanh" in seen


def test_every_explained_op_has_an_example_case(small_models, lenet):
    """Walks the rules: each op type with an explain rule occurs in one of the test models."""
    covered = {layer.op for _, explainer in list(small_models.values()) + [lenet] for layer in explainer.layers}
    missing = sorted(set(explain_rules()) - covered)
    assert not missing, f"explain rules without an example case: {missing}"


# --- LeNet-5 in detail ----------------------------------------------------------------------


def test_conv_unit_shows_patch_kernel_products_and_relu(lenet, digits):
    session, explainer = lenet
    result = session.predict_drawing(digits[0].drawing())
    c3 = explainer.layer("c3.conv")
    x = result.activations["s2"]
    w = numpy_helper.to_array(next(t for t in session.model.graph.initializer if t.name == c3.inputs[1]))
    e = explainer.explain(result, "c3.conv", (5, 3, 6))
    assert e.kind == "conv" and len(e.rows) == 6 and len(e.terms) == 150
    patch, kernel, products = e.rows[2]
    np.testing.assert_allclose(patch.values, x[2, 3:8, 6:11])
    np.testing.assert_allclose(kernel.values, w[5, 2])
    np.testing.assert_allclose(products.values, x[2, 3:8, 6:11] * w[5, 2], rtol=1e-6)
    assert products.signed and not patch.padding.any()
    assert e.window["start"] == [3, 6] and e.window["kernel"] == [5, 5]
    # c3 sees 14×14 input pixels, two apart: unit (3, 6) starts at row 6, column 12 of the 32×32 input.
    assert e.input_box == (6, 12, 14, 14)
    assert [abs(t.product) for t in e.terms] == sorted((abs(t.product) for t in e.terms), reverse=True)
    assert {t.source_layer for t in e.terms} == {"s2.maxpool"}
    assert e.steps[-1].text.startswith("then c3.relu applies ReLU")
    assert e.steps[-1].value == pytest.approx(max(0.0, e.value))
    relu = result.activations["c3"][5, 3, 6]
    assert e.steps[-1].value == pytest.approx(float(relu), rel=1e-4, abs=1e-4)


def test_first_conv_reads_the_network_input(lenet, digits):
    session, explainer = lenet
    result = session.predict_drawing(digits[1].drawing())
    e = explainer.explain(result, "c1.conv", (0, 12, 14))
    assert all(t.source_layer is None for t in e.terms)
    cells = {t.source_unit: t.value for t in e.terms}
    assert cells[(0, 12, 14)] == pytest.approx(float(result.prepared.tensor[0, 0, 12, 14]))
    assert cells[(0, 16, 18)] == pytest.approx(float(result.prepared.tensor[0, 0, 16, 18]))
    assert e.input_box == (12, 14, 5, 5)


def test_maxpool_highlights_the_winner(lenet, digits):
    session, explainer = lenet
    result = session.predict_drawing(digits[2].drawing())
    c1 = result.activations["c1"]
    window = c1[3, 8:10, 10:12]
    e = explainer.explain(result, "s2.maxpool", (3, 4, 5))
    (grid,) = e.rows[0]
    np.testing.assert_allclose(grid.values, window)
    assert grid.highlight == tuple(int(i) for i in np.unravel_index(np.argmax(window), (2, 2)))
    assert e.value == pytest.approx(float(window.max()))


def test_gemm_lists_top_contributions_back_through_flatten(lenet, digits):
    session, explainer = lenet
    result = session.predict_drawing(digits[3].drawing())
    e = explainer.explain(result, "f6.gemm", (10,))
    assert len(e.terms) == 12 and e.rest is not None
    assert all(t.source_layer == "c5.relu" and len(t.source_unit) == 3 for t in e.terms)
    c5 = result.activations["c5"]
    for t in e.terms:
        assert t.value == pytest.approx(float(c5[t.source_unit]))
    listed = math.fsum(t.product for t in e.terms)
    bias = numpy_helper.to_array(next(i for i in session.model.graph.initializer if i.name == "net.f6.bias"))[10]
    assert listed + e.rest.value + float(bias) == pytest.approx(e.value, rel=1e-9, abs=1e-9)
    smallest_listed = min(abs(t.product) for t in e.terms)
    w = numpy_helper.to_array(next(i for i in session.model.graph.initializer if i.name == "net.f6.weight"))[10]
    products = np.abs(w * c5.ravel())
    assert np.sum(products > smallest_listed + 1e-12) <= 11  # nothing larger was left out
    walked = explainer.explain(result, "c5.relu", e.terms[0].source_unit)
    assert walked.explained and walked.agrees


def test_flatten_says_which_unit_it_copies(lenet, digits):
    session, explainer = lenet
    result = session.predict_drawing(digits[4].drawing())
    e = explainer.explain(result, "flatten", (37,))
    assert e.terms[0].source_layer == "c5.relu" and e.terms[0].source_unit == (37, 0, 0)


def test_a_wrong_runtime_value_is_shown_as_disagreeing(lenet, digits):
    session, explainer = lenet
    result = session.predict_drawing(digits[5].drawing())
    result.activations["/c3/Conv_output_0"] = result.activations["/c3/Conv_output_0"].copy()
    result.activations["/c3/Conv_output_0"][1, 2, 3] += 0.01
    assert explainer.explain(result, "c3.conv", (1, 2, 3)).agrees is False
    assert explainer.explain(result, "c3.conv", (1, 2, 4)).agrees is True


def test_explanation_is_computed_from_the_inputs_not_copied(lenet, digits):
    session, explainer = lenet
    result = session.predict_drawing(digits[6].drawing())
    before = explainer.explain(result, "c3.conv", (0, 0, 0)).value
    result.activations["s2"] = result.activations["s2"].copy()
    result.activations["s2"][:, 0:5, 0:5] += 1.0
    after = explainer.explain(result, "c3.conv", (0, 0, 0))
    assert after.value != pytest.approx(before)
    assert after.agrees is False


def test_unknown_layer_and_bad_units_are_one_clear_error(lenet, digits):
    session, explainer = lenet
    result = session.predict_drawing(digits[0].drawing())
    with pytest.raises(ExplainError, match="no layer named 'c9'.*c1.conv"):
        explainer.explain(result, "c9", (0,))
    with pytest.raises(ExplainError, match=r"6×28×28.*0–5, 0–27, 0–27"):
        explainer.explain(result, "c1.conv", (6, 0, 0))
    with pytest.raises(ExplainError, match="give 3 numbers"):
        explainer.explain(result, "c1.conv", (0, 0))
    with pytest.raises(ExplainError):
        explainer.explain(result, "c1.conv", (0, -1, 0))
    assert explainer.can_explain("c9") == (False, "there is no layer named 'c9'")


# --- hand-checked tiny cases --------------------------------------------------------------------


def _tiny(tmp_path, nodes, inits, in_shape=(1, 1, 3, 3), out="out", classes=4, opset=17):
    g = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(in_shape))],
                          [helper.make_tensor_value_info(out, TensorProto.FLOAT, [1, classes])],
                          [numpy_helper.from_array(_typed(v), k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    path = tmp_path / "tiny.onnx"
    onnx.save_model(m, str(path))
    session = ModelSession(path)
    return session, Explainer(session.model, graph.analyze(session.model))


def _typed(value) -> np.ndarray:
    """int64 arrays stay as they are (shapes, pads); everything else is a float32 weight."""
    if isinstance(value, np.ndarray) and value.dtype == np.int64:
        return value
    return np.asarray(value, np.float32)


def _run(session, x):
    x = np.asarray(x, np.float32)
    prepared = preprocess.Prepared(np.zeros((28, 28), np.float32), np.zeros(x.shape[-2:], np.float32), x)
    return session.run(x, prepared)


THREE = [[[[1, 2, 3], [4, 5, 6], [7, 8, 9]]]]
KERNEL = [[[[1, 0], [-1, 2]]]]


def test_hand_checked_conv_3x3_input_2x2_kernel(tmp_path):
    session, explainer = _tiny(tmp_path, [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv"),
                                          helper.make_node("Flatten", ["c"], ["out"], name="flat")],
                               {"w": KERNEL, "b": [0.5]})
    result = _run(session, THREE)
    e = explainer.explain(result, "conv", (0, 0, 0))
    patch, kernel, products = e.rows[0]
    assert patch.values.tolist() == [[1, 2], [4, 5]]
    assert kernel.values.tolist() == [[1, 0], [-1, 2]]
    assert products.values.tolist() == [[1, 0], [-4, 10]]
    # 1·1 + 2·0 + 4·(−1) + 5·2 = 7, + bias 0.5 = 7.5
    assert [s.value for s in e.steps] == [7.0, 7.5, 7.5]
    assert e.value == 7.5 and e.runtime_value == 7.5 and e.agrees
    assert [(t.product, t.source_unit) for t in e.terms] == [(10.0, (0, 1, 1)), (-4.0, (0, 1, 0)),
                                                             (1.0, (0, 0, 0)), (0.0, (0, 0, 1))]
    e = explainer.explain(result, "conv", (0, 1, 1))  # 5 − 8 + 18 + 0.5
    assert e.value == 15.5 and e.agrees


def test_hand_checked_padded_strided_conv(tmp_path):
    session, explainer = _tiny(tmp_path, [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 0, 0], strides=[2, 2]),
        helper.make_node("Flatten", ["c"], ["out"], name="flat")], {"w": KERNEL, "b": [0.5]})
    result = _run(session, THREE)
    e = explainer.explain(result, "conv", (0, 0, 0))  # window from (−1, −1): only the 1 is on the input
    patch = e.rows[0][0]
    assert patch.padding.tolist() == [[True, True], [True, False]]
    assert patch.values.tolist() == [[0, 0], [0, 1]]
    assert e.value == 1 * 2 + 0.5 and e.agrees
    assert e.window["start"] == [-1, -1] and e.window["stride"] == [2, 2]
    e = explainer.explain(result, "conv", (0, 1, 1))  # window from (1, 1): 5·1 + 6·0 + 8·(−1) + 9·2
    assert e.value == 15.5 and e.agrees and not e.rows[0][0].padding.any()


def test_hand_checked_pools(tmp_path):
    nodes = [
        helper.make_node("MaxPool", ["x"], ["m"], name="max", kernel_shape=[2, 2]),
        helper.make_node("AveragePool", ["x"], ["a0"], name="avg0", kernel_shape=[2, 2], pads=[1, 1, 1, 1]),
        helper.make_node("AveragePool", ["x"], ["a1"], name="avg1", kernel_shape=[2, 2], pads=[1, 1, 1, 1],
                         count_include_pad=1),
        helper.make_node("Flatten", ["m"], ["fm"]), helper.make_node("Flatten", ["a0"], ["f0"]),
        helper.make_node("Flatten", ["a1"], ["f1"]),
        helper.make_node("Concat", ["fm", "f0", "f1"], ["out"], axis=1),
    ]
    session, explainer = _tiny(tmp_path, nodes, {}, classes=4 + 16 + 16)
    result = _run(session, THREE)
    e = explainer.explain(result, "max", (0, 1, 0))  # window [[4, 5], [7, 8]]
    assert e.value == 8 and e.rows[0][0].highlight == (1, 1) and e.agrees
    e0 = explainer.explain(result, "avg0", (0, 0, 0))  # only the 1 is on the input: 1 / 1
    e1 = explainer.explain(result, "avg1", (0, 0, 0))  # padding counts: 1 / 4
    assert (e0.value, e1.value) == (1.0, 0.25) and e0.agrees and e1.agrees
    e0 = explainer.explain(result, "avg0", (0, 1, 2))  # [[2, 3], [5, 6]] and a padding column: 16 / 4
    assert e0.value == 4.0 and e0.agrees
    # Unnamed nodes go by the display name `shapes --json` prints; max is [[5, 6], [8, 9]], flat unit 3 is 9.
    e = explainer.explain(result, "Flatten #4", (3,))
    assert e.layer == "Flatten #4" and e.value == 9 and e.terms[0].source_layer == "max" and e.agrees


def test_hand_checked_gemm_and_softmax(tmp_path):
    nodes = [
        helper.make_node("Flatten", ["x"], ["f"], name="flat"),
        helper.make_node("Gemm", ["f", "w", "b"], ["g"], name="gemm", transB=1, alpha=2.0),
        helper.make_node("Softmax", ["g"], ["out"], name="softmax", axis=1),
    ]
    w = np.zeros((3, 9), np.float32)
    w[0, 0], w[0, 8] = 1.0, -1.0  # 2·(1 − 9) + 1 = −15
    w[1, 4] = 0.5  # 2·(0.5·5) + 0 = 5
    w[2, :] = 0.1  # 2·(0.1·45) − 1 = 8
    session, explainer = _tiny(tmp_path, nodes, {"w": w, "b": [1.0, 0.0, -1.0]}, classes=3)
    result = _run(session, THREE)
    e = explainer.explain(result, "gemm", (0,))
    assert e.value == pytest.approx(-15.0) and e.agrees
    assert [t.source_unit for t in e.terms[:2]] == [(0, 2, 2), (0, 0, 0)]  # through the Flatten, to the input
    assert [s.text.split(" = ")[0] for s in e.steps][:3] == ["sum of 9 products w · x", "· alpha 2.0000",
                                                             "+ bias 1.0000"]
    s = explainer.explain(result, "softmax", (2,))
    logits = np.array([-15.0, 5.0, 8.0])
    assert s.value == pytest.approx(np.exp(8 - 8) / np.exp(logits - 8).sum(), rel=1e-6) and s.agrees
    assert s.rows[0][0].values.ravel().tolist() == pytest.approx(logits.tolist(), rel=1e-6)


# --- not explained, said so ----------------------------------------------------------------------


def test_ops_without_a_rule_and_weight_only_layers_say_why(tmp_path):
    """Also: a weight made inside the graph (a Transpose of an initializer) is folded for the next layer."""
    nodes = [
        helper.make_node("Transpose", ["w_t"], ["w"], name="weights", perm=[1, 0, 2, 3]),
        helper.make_node("ConvTranspose", ["x", "w"], ["c"], name="deconv"),
        helper.make_node("Hardmax", ["c"], ["h"], name="hardmax", axis=1),
        helper.make_node("Flatten", ["h"], ["out"], name="flat"),
    ]
    session, explainer = _tiny(tmp_path, nodes, {"w_t": np.ones((1, 1, 2, 2))}, classes=16)
    result = _run(session, THREE)
    ok, reason = explainer.can_explain("weights")
    assert not ok and "weights alone" in reason
    assert explainer.explain(result, "deconv", (0, 1, 2)).agrees  # its weights come from the folded Transpose
    e = explainer.explain(result, "hardmax", (0, 1, 1))
    assert not e.explained and e.agrees is None and "Hardmax" in e.reason and e.runtime_value is not None
    assert explainer.explain(result, "flat", (5,)).agrees  # the next layer is explained all the same


# --- Hypothesis: convolution and pooling settings ------------------------------------------------


@st.composite
def conv_settings(draw):
    nd = draw(st.sampled_from([1, 2]))
    kernel = [draw(st.integers(1, 4)) for _ in range(nd)]
    dilation = [draw(st.integers(1, 3)) for _ in range(nd)]
    stride = [draw(st.integers(1, 3)) for _ in range(nd)]
    pads = [draw(st.integers(0, 3)) for _ in range(2 * nd)]
    group = draw(st.sampled_from([1, 2]))
    auto_pad = draw(st.sampled_from(["NOTSET", "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"]))
    if auto_pad.startswith("SAME"):
        dilation = [1] * nd  # onnxruntime refuses dilated SAME convolutions
    return nd, kernel, dilation, stride, pads, group, auto_pad


def _signal_model(tmp_path, nd, build):
    """(N,1,28,28) → as (N,2,392) for 1-D or (N,4,14,14) for 2-D → build(...) → summed over positions → 10 scores.

    Summing (not flattening) keeps the classifier independent of the pooled size, where ONNX shape
    inference and onnxruntime differ (ceil_mode).
    """
    target = [0, 2, 392] if nd == 1 else [0, 4, 14, 14]
    axes = [2] if nd == 1 else [2, 3]
    rng = np.random.default_rng(0)
    inits = {"shape": np.array(target, np.int64), "axes": np.array(axes, np.int64),
             "fc": rng.normal(size=(4, 10)).astype(np.float32) * 0.1}
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["r"], name="reshape")]
    nodes += build(inits)
    nodes += [helper.make_node("ReduceSum", ["y", "axes"], ["s"], name="sum", keepdims=0),
              helper.make_node("MatMul", ["s", "fc"], ["out"], name="scores")]
    if nd == 1 and "w" not in inits:  # a pool keeps the 2 channels
        inits["fc"] = inits["fc"][:2]
    g = helper.make_graph(nodes, "h", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 1, 28, 28])],
                          [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 10])],
                          [numpy_helper.from_array(np.asarray(v), k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 19)])
    m.ir_version = 9
    path = tmp_path / "h.onnx"
    onnx.save_model(m, str(path))
    session = ModelSession(path)
    return session, Explainer(session.model, graph.analyze(session.model))


def _all_units_agree(session, explainer, digit, layer, rng, count=30):
    result = session.predict_drawing(digit.drawing())
    out = result.activations[explainer.layer(layer).output]
    for unit in _random_units(out.shape, rng, count) + [tuple(d - 1 for d in out.shape), (0,) * out.ndim]:
        e = explainer.explain(result, layer, unit)
        assert e.explained and e.agrees, (unit, e.reason, e.value, e.runtime_value)


@FEW
@given(conv_settings(), st.integers(0, 300))
def test_conv_settings_agree_with_onnxruntime(tmp_path_factory, cfg, which):
    nd, kernel, dilation, stride, pads, group, auto_pad = cfg
    channels = 2 if nd == 1 else 4
    padding = {"pads": pads} if auto_pad == "NOTSET" else {"auto_pad": auto_pad}

    def build(inits):
        inits["w"] = np.random.default_rng(1).normal(size=[4, channels // group] + kernel).astype(np.float32)
        inits["b"] = np.linspace(-1, 1, 4).astype(np.float32)
        return [helper.make_node("Conv", ["r", "w", "b"], ["y"], name="conv", kernel_shape=kernel, strides=stride,
                                 dilations=dilation, group=group, **padding)]

    session, explainer = _signal_model(tmp_path_factory.mktemp("conv"), nd, build)
    _all_units_agree(session, explainer, DIGITS[which], "conv", np.random.default_rng(which))


@st.composite
def pool_settings(draw):
    nd = draw(st.sampled_from([1, 2]))
    op = draw(st.sampled_from(["MaxPool", "AveragePool"]))
    kernel = [draw(st.integers(1, 4)) for _ in range(nd)]
    stride = [draw(st.integers(1, 3)) for _ in range(nd)]
    pads = [draw(st.integers(0, k - 1)) for k in kernel] + [draw(st.integers(0, k - 1)) for k in kernel]
    dilation = [draw(st.integers(1, 2)) for _ in range(nd)]
    auto_pad = draw(st.sampled_from(["NOTSET", "NOTSET", "NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"]))
    if auto_pad.startswith("SAME"):
        dilation = [1] * nd
        stride = [min(s, k) for s, k in zip(stride, kernel)]  # else onnxruntime's padding is negative, refused
    return nd, op, kernel, stride, pads, dilation, draw(st.booleans()), draw(st.booleans()), auto_pad


@FEW
@given(pool_settings(), st.integers(0, 300))
def test_pool_settings_agree_with_onnxruntime(tmp_path_factory, cfg, which):
    nd, op, kernel, stride, pads, dilation, ceil_mode, include_pad, auto_pad = cfg

    def build(inits):
        extra = {"count_include_pad": int(include_pad)} if op == "AveragePool" else {}
        extra.update({"pads": pads} if auto_pad == "NOTSET" else {"auto_pad": auto_pad})
        return [helper.make_node(op, ["r"], ["y"], name="pool", kernel_shape=kernel, strides=stride,
                                 dilations=dilation, ceil_mode=int(ceil_mode), **extra)]

    session, explainer = _signal_model(tmp_path_factory.mktemp("pool"), nd, build)
    _all_units_agree(session, explainer, DIGITS[which], "pool", np.random.default_rng(which))


@FEW
@given(st.integers(0, 300), st.data())
def test_lenet_random_units_agree(lenet, which, data):
    session, explainer = lenet
    result = session.predict_drawing(DIGITS[which].drawing())
    layer = data.draw(st.sampled_from(explainer.layers))
    shape = result.activations[layer.output].shape
    unit = tuple(data.draw(st.integers(0, d - 1)) for d in shape)
    e = explainer.explain(result, layer.name, unit)
    assert e.explained and e.agrees, (layer.name, unit, e.value, e.runtime_value)


def test_gemm_trans_a_reads_a_tensor_whose_first_axis_is_not_the_batch(tmp_path):
    """Flatten → Transpose → Gemm(transA=1): the run keeps only the first row of the transposed
    tensor, so the explainer fetches it whole; the Transpose itself says why it is not explained."""
    w = np.random.default_rng(3).normal(size=(9, 4)).astype(np.float32)
    nodes = [
        helper.make_node("Flatten", ["x"], ["f"], name="flat"),
        helper.make_node("Transpose", ["f"], ["ft"], name="columns", perm=[1, 0]),
        helper.make_node("Gemm", ["ft", "w", "b"], ["out"], name="gemm", transA=1, beta=0.5),
    ]
    session, explainer = _tiny(tmp_path, nodes, {"w": w, "b": [1.0, 2.0, 3.0, 4.0]})
    result = _run(session, THREE)
    ok, reason = explainer.can_explain("columns")
    assert not ok and "first axis is not the batch" in reason
    for j in range(4):
        e = explainer.explain(result, "gemm", (j,))
        assert e.agrees, (e.reason, e.value, e.runtime_value)
        assert e.value == pytest.approx(float(np.arange(1, 10) @ w[:, j]) + 0.5 * (j + 1), rel=1e-6)
    # Each input is (row k, column 0) of the 9×1 tensor, and holds the k-th pixel.
    assert all(t.source_layer == "columns" and t.source_unit[1] == 0 for t in e.terms)
    assert all(t.value == 1 + t.source_unit[0] for t in e.terms)


def test_probability_bars_are_the_softmax_of_the_logits(lenet, small_models, digits):
    session, explainer = lenet
    result = session.predict_drawing(digits[7].drawing())
    for k in range(10):
        e = explainer.explain_probability(result, k)
        assert e.layer == "probabilities" and e.agrees and e.value == pytest.approx(float(result.probabilities[k]),
                                                                                    rel=1e-5)
    assert e.terms[0].source_layer == "output.gemm" and e.terms[0].source_unit == (result.digit,)
    assert e.rows[0][0].values.ravel() == pytest.approx(result.logits.tolist(), rel=1e-6)
    with pytest.raises(ExplainError, match="classes 0–9"):
        explainer.explain_probability(result, 10)
    # A model that ends in Softmax: the bar is that layer's unit.
    session, explainer = small_models["features"]
    result = session.predict_drawing(digits[7].drawing())
    e = explainer.explain_probability(result, 4)
    assert e.layer == "softmax" and e.agrees and e.value == pytest.approx(float(result.probabilities[4]), rel=1e-5)


def test_dense_sources_walk_back_through_flatten_to_channel_row_column(small_models, digits):
    session, explainer = small_models["features"]
    result = session.predict_drawing(digits[11].drawing())
    leaky = result.activations["leaky"]
    assert leaky.ndim == 3 and min(leaky.shape) > 1  # a real (channel, row, column) map before the Flatten
    for j in range(10):
        e = explainer.explain(result, "scores", (j,))
        assert e.agrees
        for t in e.terms:
            assert t.source_layer == "leaky" and len(t.source_unit) == 3
            assert t.value == pytest.approx(float(leaky[t.source_unit]))


def test_padding_terms_are_marked(tmp_path):
    session, explainer = _tiny(tmp_path, [
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", pads=[1, 1, 0, 0], strides=[2, 2]),
        helper.make_node("Flatten", ["c"], ["out"], name="flat")], {"w": KERNEL, "b": [0.5]})
    e = explainer.explain(_run(session, THREE), "conv", (0, 0, 0))
    padded = sorted(t.source_unit for t in e.terms if t.padding)
    assert padded == [(0, -1, -1), (0, -1, 0), (0, 0, -1)]
    assert all(t.value == 0 for t in e.terms if t.padding)


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
def test_softmax_before_opset_13_runs_over_everything_from_the_axis(tmp_path, op):
    """Opset 11 Softmax(axis=1) on N×C×H×W normalises over all C·H·W values, not over C."""
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
             helper.make_node(op, ["c"], ["s"], name="softmax", axis=1),
             helper.make_node("Flatten", ["s"], ["out"], name="flat")]
    w = np.array([[[[1, 0], [-1, 2]]], [[[0.5, 0.5], [0, -1]]]], np.float32)
    session, explainer = _tiny(tmp_path, nodes, {"w": w}, classes=8, opset=11)
    result = _run(session, np.asarray(THREE, np.float32) / 9)
    c = result.activations["c"].astype(np.float64)
    for unit in [(0, 0, 0), (1, 1, 0), (1, 1, 1)]:
        e = explainer.explain(result, "softmax", unit)
        assert e.agrees and e.window["axis_size"] == 8
        expected = np.exp(c[unit]) / np.exp(c).sum()
        assert e.value == pytest.approx(float(np.log(expected)) if op == "LogSoftmax" else float(expected), rel=1e-6)


def test_element_wise_units_on_a_map_carry_their_receptive_field(lenet, digits):
    session, explainer = lenet
    result = session.predict_drawing(digits[12].drawing())
    conv = explainer.explain(result, "c3.conv", (2, 7, 1))
    relu = explainer.explain(result, "c3.relu", (2, 7, 1))
    assert relu.input_box == conv.input_box == (14, 2, 14, 14)
    assert explainer.explain(result, "f6.relu", (3,)).input_box is None
    assert explainer.explain(result, "f6.gemm", (3,)).input_box == (0, 0, 32, 32)


@pytest.mark.parametrize("mode", ["constant", "reflect", "edge", "wrap"])
def test_pad_modes_say_which_input_unit_fills_the_padding(tmp_path, mode):
    nodes = [helper.make_node("Pad", ["x", "pads", "value"], ["p"], name="pad", mode=mode),
             helper.make_node("Flatten", ["p"], ["out"], name="flat")]
    inits = {"value": np.array(-1.5, np.float32), "pads": np.array([0, 0, 2, 1, 0, 0, 1, 2], np.int64)}
    session, explainer = _tiny(tmp_path, nodes, inits, classes=6 * 6, opset=19)
    result = _run(session, THREE)
    out = result.activations["p"]
    assert out.shape == (1, 6, 6)
    for unit in np.ndindex(out.shape):
        e = explainer.explain(result, "pad", unit)
        assert e.agrees, (unit, e.steps)
    corner = explainer.explain(result, "pad", (0, 0, 0))
    assert (corner.terms == []) == (mode == "constant")


@st.composite
def conv_transpose_settings(draw):
    nd = draw(st.sampled_from([1, 2]))
    kernel = [draw(st.integers(1, 4)) for _ in range(nd)]
    stride = [draw(st.integers(1, 3)) for _ in range(nd)]
    dilation = [draw(st.integers(1, 2)) for _ in range(nd)]
    pads = [draw(st.integers(0, k - 1)) for k in kernel] * 2
    output_padding = [draw(st.integers(0, s - 1)) for s in stride]
    return nd, kernel, stride, dilation, pads, output_padding, draw(st.sampled_from([1, 2]))


@FEW
@given(conv_transpose_settings(), st.integers(0, 300))
def test_conv_transpose_settings_agree_with_onnxruntime(tmp_path_factory, cfg, which):
    nd, kernel, stride, dilation, pads, output_padding, group = cfg
    channels = 2 if nd == 1 else 4

    def build(inits):
        inits["w"] = np.random.default_rng(4).normal(size=[channels, 4 // group] + kernel).astype(np.float32)
        inits["b"] = np.linspace(-1, 1, 4).astype(np.float32)
        return [helper.make_node("ConvTranspose", ["r", "w", "b"], ["y"], name="deconv", kernel_shape=kernel,
                                 strides=stride, dilations=dilation, pads=pads, output_padding=output_padding,
                                 group=group)]

    session, explainer = _signal_model(tmp_path_factory.mktemp("deconv"), nd, build)
    _all_units_agree(session, explainer, DIGITS[which], "deconv", np.random.default_rng(which))


@pytest.mark.parametrize(("op", "extra"), [("MaxPool", {}), ("AveragePool", {"count_include_pad": 1}),
                                           ("AveragePool", {"count_include_pad": 0}), ("LpPool", {})])
def test_a_pooling_window_wider_than_its_padded_input_is_explained_as_onnxruntime_runs_it(op, extra, tmp_path):
    # 26 rows + 2 + 2 against a 32-row window, stride 27: one output row, which onnxruntime's
    # rounding toward zero gives and the textbook formula does not.
    rng = np.random.default_rng(0)
    nodes = [helper.make_node("Conv", ["image", "w"], ["conv"], kernel_shape=[3, 3], name="conv"),
             helper.make_node(op, ["conv"], ["pool"], kernel_shape=[32, 3], strides=[27, 3], pads=[2, 0, 2, 0],
                              name="pool", **extra),
             helper.make_node("Flatten", ["pool"], ["flat"], name="flat"),
             helper.make_node("MatMul", ["flat", "fc"], ["scores"], name="fc")]
    inits = [numpy_helper.from_array(rng.normal(size=(2, 1, 3, 3)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.normal(size=(2 * 1 * 8, 10)).astype(np.float32), "fc")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 1, 28, 28])],
                          [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 10])], inits)
    path = tmp_path / "wide.onnx"
    onnx.save_model(helper.make_model(g, opset_imports=[helper.make_opsetid("", 19)], ir_version=9), str(path))
    session = ModelSession(str(path), provider="cpu")
    layers = graph.analyze(session.model)
    assert layers[1].output_shape == [1, 2, 1, 8] and "toward zero" in layers[1].note
    explainer = Explainer(session.model, layers)
    result = session.run(rng.random((1, 1, 28, 28)).astype(np.float32))
    for unit in [(0, 0, 0), (1, 0, 7)]:
        assert explainer.explain(result, "pool", unit).agrees is True
