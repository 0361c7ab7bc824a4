"""The Explainer around the op rules: which tensors it finds where, what it says when it cannot, and the
fields it fills in (no Qt).

Tiny hand-built models: a 3×3 input 1…9, a 2×2 kernel [[1, 0], [−1, 2]] (its first unit is
1·1 + 2·0 + 4·(−1) + 5·2 = 7), so every value below is worked out by hand or read from onnxruntime.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from lenet_gui.core import graph, preprocess
from lenet_gui.core.explain import ExplainError, Explainer, _check_unit, _class_output, _image_input
from lenet_gui.core.explain_context import Source
from lenet_gui.core.session import ModelSession

THREE = np.arange(1, 10, dtype=np.float32).reshape(1, 1, 3, 3)
KERNEL = np.array([[[[1, 0], [-1, 2]]]], np.float32)


def _model(nodes, inits, in_shape=(1, 1, 3, 3), out="out", out_shape=(1, 4), opset=17, domains=(), value_info=()):
    g = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(in_shape))],
                          [helper.make_tensor_value_info(out, TensorProto.FLOAT, list(out_shape))],
                          [numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in inits.items()],
                          value_info=list(value_info))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)] + [helper.make_opsetid(d, 1)
                                                                                 for d in domains])
    m.ir_version = 8
    return m


def _session(tmp_path, model, name="tiny.onnx"):
    path = tmp_path / name
    onnx.save_model(model, str(path))
    session = ModelSession(path)
    return session, Explainer(session.model, graph.analyze(session.model))


def _explainer(model):
    """An explainer without a session, for models onnxruntime would not open."""
    return Explainer(model, graph.analyze(model))


def _prepared(x):
    return preprocess.Prepared(np.zeros((28, 28), np.float32), np.zeros(x.shape[-2:], np.float32), x)


def _run(session, x=THREE, prepared=True):
    return session.run(x, _prepared(x) if prepared else None)


CONV_GEMM = [
    helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv"),
    helper.make_node("Flatten", ["c"], ["f"], name="flat"),
    helper.make_node("Gemm", ["f", "g"], ["out"], name="gemm", transB=1),
]
G = np.arange(16, dtype=np.float32).reshape(4, 4) / 10


def _conv_gemm(tmp_path, **kw):
    return _session(tmp_path, _model(CONV_GEMM, {"w": KERNEL, "b": [0.5], "g": G}, **kw))


# --- finding the image input, the class output and the batch ---------------------------------------


def _io_model(inputs, outputs, inits=()):
    g = helper.make_graph([], "io", [helper.make_tensor_value_info(n, t, s) for n, t, s in inputs],
                          [helper.make_tensor_value_info(n, t, s) for n, t, s in outputs],
                          [numpy_helper.from_array(np.zeros(2, np.float32), n) for n in inits])
    return helper.make_model(g)


F, I64 = TensorProto.FLOAT, TensorProto.INT64


def test_the_image_is_the_first_input_of_three_or_more_axes_that_is_not_a_weight():
    model = _io_model([("w", F, [2]), ("ids", F, [1, 5]), ("image", F, [1, 28, 28]), ("b", F, [1, 1, 8, 8])], [],
                      inits=["w"])
    assert _image_input(model, {"w"}).name == "image"  # three axes are enough
    model = _io_model([("w", F, [2]), ("a", F, [1, 5]), ("b", F, [1, 7])], [], inits=["w"])
    assert _image_input(model, {"w"}).name == "a"  # no image-like input: the first one
    assert _image_input(_io_model([("w", F, [2])], [], inits=["w"]), {"w"}) is None


def test_the_class_output_is_the_preferred_or_the_first_two_axis_float_output():
    outputs = [("ids", I64, [1, 10]), ("maps", F, [1, 10, 1]), ("first", F, [1, 10]), ("second", F, [1, 10])]
    model = _io_model([], outputs)
    assert _class_output(model) == "first"
    model.metadata_props.add(key="logits_output", value="second")
    assert _class_output(model) == "second"
    assert _class_output(_io_model([], outputs[:2])) is None


def test_a_fixed_batch_of_two_is_the_batch_and_tensors_it_does_not_lead_are_fetched_whole(tmp_path):
    """Flatten → Transpose → Gemm(transA=1) with a fixed batch of 2: the transposed tensor (9×2) is not
    batched, so the explainer runs the model again, the image repeated to fill the batch."""
    w = np.random.default_rng(3).normal(size=(9, 4)).astype(np.float32)
    nodes = [
        helper.make_node("Flatten", ["x"], ["f"], name="flat"),
        helper.make_node("Transpose", ["f"], ["ft"], name="columns", perm=[1, 0]),
        helper.make_node("Gemm", ["ft", "w", "b"], ["out"], name="gemm", transA=1, beta=0.5),
    ]
    session, explainer = _session(tmp_path, _model(nodes, {"w": w, "b": [1.0, 2.0, 3.0, 4.0]}, in_shape=(2, 1, 3, 3),
                                                   out_shape=(2, 4)))
    assert explainer.batch == 2
    assert explainer.can_explain("flat") == (True, "")  # 2×9: its first axis is the batch
    assert explainer.can_explain("columns") == (
        False, "its first axis is not the batch, so its units cannot be counted per drawing")
    result = _run(session)
    for j in range(4):
        e = explainer.explain(result, "gemm", (j,))
        assert e.explained and e.agrees, e.reason
        assert e.value == pytest.approx(float(np.arange(1, 10) @ w[:, j]) + 0.5 * (j + 1), rel=1e-6)
    assert explainer.explain(result, "flat", (4,)).value == 5.0
    side = explainer._values(result)("ft")
    assert side.shape == (9, 2) and side.dtype == np.float64  # whole, not cut to one row
    np.testing.assert_array_equal(side[:, 0], np.arange(1, 10))
    del result.activations["f"]  # a batched tensor fetched again: its first image only, as the run keeps it
    f = explainer._values(result)("f")
    assert f.shape == (1, 9)
    np.testing.assert_array_equal(f[0], np.arange(1, 10))


# --- where each tensor comes from ----------------------------------------------------------------------


def test_weights_the_input_layers_and_weight_only_layers_have_their_sources(tmp_path):
    nodes = [helper.make_node("Transpose", ["w0"], ["wt"], name="wt", perm=[0, 1, 3, 2]),
             helper.make_node("Conv", ["x", "wt"], ["c"], name="conv"),
             helper.make_node("Flatten", ["c"], ["out"], name="flat")]
    session, explainer = _session(tmp_path, _model(nodes, {"w0": np.transpose(KERNEL, (0, 1, 3, 2))}))
    assert explainer.sources["w0"] == Source(None, True)
    assert explainer.sources["x"] == Source(None, False)
    assert explainer.sources["wt"] == Source("wt", True)  # made from a weight alone: a weight too
    assert explainer.sources["c"] == Source("conv", False)
    e = explainer.explain(_run(session), "conv", (0, 0, 0))
    assert e.value == 7.0 and e.agrees  # the folded weight is the kernel again
    w = explainer._values(_run(session))("wt")
    assert w.dtype == np.float64 and not w.flags.writeable  # read once, shared by every unit: kept read-only
    np.testing.assert_array_equal(w, KERNEL)
    w0 = explainer._values(_run(session))("w0")
    assert w0.dtype == np.float64 and not w0.flags.writeable


def test_weights_folded_with_the_models_own_opset(tmp_path):
    """Opset 11 Squeeze takes its axes as an attribute; folded under a newer opset it would not."""
    nodes = [helper.make_node("Squeeze", ["w0"], ["ws"], name="ws", axes=[0]),
             helper.make_node("Conv", ["x", "ws"], ["c"], name="conv"),
             helper.make_node("Flatten", ["c"], ["out"], name="flat")]
    session, explainer = _session(tmp_path, _model(nodes, {"w0": KERNEL[None]}, opset=11))
    e = explainer.explain(_run(session), "conv", (0, 0, 0))
    assert e.explained and e.value == 7.0 and e.agrees


def test_a_weight_that_cannot_be_read_makes_the_unit_say_so():
    """A weight made by an op the reference evaluator does not know: its value is not known."""
    nodes = [helper.make_node("Scramble", ["w0"], ["wf"], name="scramble", domain="com.example"),
             helper.make_node("Conv", ["x", "wf"], ["c"], name="conv"),
             helper.make_node("Flatten", ["c"], ["out"], name="flat")]
    model = _model(nodes, {"w0": KERNEL}, domains=["com.example"],
                   value_info=[helper.make_tensor_value_info("wf", F, [1, 1, 2, 2])])
    explainer = _explainer(model)
    assert explainer.can_explain("conv") == (True, "")
    result = SimpleNamespace(activations={}, prepared=_prepared(THREE))
    e = explainer.explain(result, "conv", (0, 1, 1))
    assert not e.explained and e.reason == "the value of the weights ('wf') is not known from this run"
    assert e.runtime_value is None and e.input_box is None


@pytest.mark.parametrize("through", ["", "Identity"])
def test_a_weight_of_strings_is_not_a_number_to_explain_with(through):
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"), helper.make_node("Flatten", ["c"], ["out"])]
    if through:  # the same weight, through a node the reference evaluator folds
        nodes.insert(0, helper.make_node("Identity", ["w0"], ["w"], name="copy"))
    model = _model(nodes, {})
    strings = helper.make_tensor("w0" if through else "w", TensorProto.STRING, [1, 1, 2, 2], [b"a", b"b", b"c", b"d"])
    model.graph.initializer.append(strings)
    explainer = _explainer(model)
    e = explainer.explain(SimpleNamespace(activations={}, prepared=_prepared(THREE)), "conv", (0, 0, 0))
    assert not e.explained and e.reason == "the value of the weights ('w') is not known from this run"


# --- what the run holds, and what it does not ------------------------------------------------------------


def test_values_are_float64_with_the_batch_axis(tmp_path):
    session, explainer = _conv_gemm(tmp_path)
    values = explainer._values(_run(session))
    x, c = values("x"), values("c")
    assert x.dtype == c.dtype == np.float64 and x.shape == (1, 1, 3, 3) and c.shape == (1, 1, 2, 2)
    np.testing.assert_array_equal(c[0, 0], [[7.5, 9.5], [13.5, 15.5]])  # 7, 9, 13, 15 plus the bias 0.5


def test_without_the_prepared_input_the_first_layer_says_its_input_is_not_known(tmp_path):
    session, explainer = _conv_gemm(tmp_path)
    result = _run(session, prepared=False)
    e = explainer.explain(result, "conv", (0, 0, 0))
    assert e.explained is False and e.reason == "the value of the convolution's input ('x') is not known from this run"
    assert (e.layer, e.op, e.unit, e.runtime_value, e.input_box) == ("conv", "Conv", (0, 0, 0), 7.5, None)
    assert e.agrees is None
    # A tensor missing from the run cannot be fetched again without the image either.
    del result.activations["f"]
    e = explainer.explain(result, "gemm", (1,))
    assert e.explained is False and "is not known from this run" in e.reason


def test_a_unit_whose_own_value_the_run_lacks_is_still_explained(tmp_path):
    session, explainer = _conv_gemm(tmp_path)
    result = _run(session)
    del result.activations["c"]
    e = explainer.explain(result, "conv", (0, 1, 1))
    assert e.explained and e.value == 15.5 and e.runtime_value is None and e.agrees is None  # 5 − 8 + 18 + 0.5
    with pytest.raises(ExplainError, match=r"^unit 0,2,0 does not exist in conv, whose output is 1×2×2"):
        explainer.explain(result, "conv", (0, 2, 0))


def test_tensors_the_run_lacks_are_computed_once_per_run(tmp_path):
    session, explainer = _conv_gemm(tmp_path)
    first = _run(session)
    del first.activations["f"]
    e = explainer.explain(first, "gemm", (2,))
    # gemm unit 2 = G[2] · (7.5, 9.5, 13.5, 15.5) = 0.8·7.5 + 0.9·9.5 + 1.0·13.5 + 1.1·15.5
    assert e.explained and e.value == pytest.approx(45.1) and e.agrees
    runs = []
    side = explainer._side
    explainer._side = SimpleNamespace(get_outputs=side.get_outputs, get_inputs=side.get_inputs,
                                      run=lambda *a: runs.append(1) or side.run(*a))
    explainer.explain(first, "gemm", (3,))
    explainer.explain(first, "gemm", (0,))
    assert runs == []  # the first run's tensors are kept
    second = _run(session, THREE * 2)
    del second.activations["f"]
    e = explainer.explain(second, "gemm", (2,))
    assert runs == [1] and e.agrees  # a new run: computed again, not the first run's values
    assert e.value == pytest.approx(2 * 45.1 - 0.5 * (0.8 + 0.9 + 1.0 + 1.1))  # the bias is not doubled
    explainer.explain(second, "gemm", (1,))
    assert runs == [1]


# --- what can be explained, and why not ------------------------------------------------------------------


def test_reasons_for_layers_that_are_not_explained():
    nodes = [helper.make_node("Scramble", ["x"], ["s"], name="scramble", domain="com.example"),
             helper.make_node("Relu", ["s"], ["r"], name="after_custom"),
             helper.make_node("Relu", ["x"], ["r2"], name="relu", domain="ai.onnx"),
             helper.make_node("Shape", ["x"], ["shape"], name="shape"),
             helper.make_node("Cast", ["x"], ["cast"], name="cast", to=TensorProto.FLOAT),
             helper.make_node("Einsum", ["x"], ["e"], name="einsum", equation="nchw->nchw"),
             helper.make_node("Flatten", ["r2"], ["out"], name="flat")]
    explainer = _explainer(_model(nodes, {}, out_shape=(1, 9), domains=["com.example"]))
    assert explainer.can_explain("scramble") == (False, "Scramble is a custom op; its arithmetic is not known here")
    assert explainer.can_explain("after_custom") == (False, "its output shape is unknown, so its units cannot be named")
    assert explainer.can_explain("relu") == (True, "")  # "ai.onnx" is the default domain by its full name
    assert explainer.can_explain("shape") == (False, "this layer is worked out from the weights alone (or from "
                                                     "shapes); it does not depend on the drawing")
    assert explainer.can_explain("cast") == (
        False, "Cast: changes only the number type: each value is its input's (its output is still shown)")
    assert explainer.can_explain("einsum") == (False, "Einsum is not explained yet (its output is still shown)")
    assert explainer.can_explain("nothing") == (False, "there is no layer named 'nothing'")


def test_a_rules_own_check_is_asked():
    nodes = [helper.make_node("MaxPool", ["x"], ["p"], name="pool4d", kernel_shape=[1, 1, 1, 1]),
             helper.make_node("Flatten", ["p"], ["out"], name="flat")]
    explainer = _explainer(_model(nodes, {}, in_shape=(1, 1, 2, 2, 2, 2), out_shape=(1, 16)))
    assert explainer.can_explain("pool4d") == (False, "4-D pooling is not explained (1-D, 2-D and 3-D are)")
    e = explainer.explain(SimpleNamespace(activations={}, prepared=None), "pool4d", (0, 0, 0, 0, 0))
    assert (e.explained, e.reason, e.layer, e.op, e.unit) == (
        False, "4-D pooling is not explained (1-D, 2-D and 3-D are)", "pool4d", "MaxPool", (0, 0, 0, 0, 0))


def test_a_rule_that_fails_on_an_unexpected_model_says_so_instead_of_a_wrong_working(tmp_path):
    session, explainer = _conv_gemm(tmp_path)

    def broken(ctx, layer, node, unit):
        raise ValueError("operands could not be broadcast")

    explainer.rules = dict(explainer.rules, Conv=broken)
    e = explainer.explain(_run(session), "conv", (0, 1, 0))
    assert (e.explained, e.layer, e.op, e.unit, e.runtime_value, e.input_box) == (
        False, "conv", "Conv", (0, 1, 0), 13.5, None)
    assert e.reason == "this Conv could not be worked out (ValueError: operands could not be broadcast)"


def test_units_that_do_not_exist_are_named_with_the_ranges_there_are():
    with pytest.raises(ExplainError, match=r"^unit 12 does not exist in gemm, whose output is 4: give 1 number "
                                           r"counted from 0, in the ranges 0–3$"):
        _check_unit("gemm", (12,), (4,))
    with pytest.raises(ExplainError, match=r"^unit nothing does not exist in m, whose output is 2×3: give 2 numbers "
                                           r"counted from 0, in the ranges 0–1, 0–2$"):
        _check_unit("m", (), (2, 3))
    with pytest.raises(ExplainError, match=r"^unit 0 does not exist in s, whose output is scalar: give 0 numbers "
                                           r"counted from 0, in the ranges none$"):
        _check_unit("s", (0,), ())
    _check_unit("m", (1, 2), (2, 3))  # the last unit exists


# --- fields filled in, and the receptive field on the input ----------------------------------------------


def test_an_explained_unit_carries_its_layer_op_unit_and_the_receptive_field(tmp_path):
    session = ModelSession()
    explainer = Explainer(session.model, graph.analyze(session.model))
    result = session.run(np.zeros(session.spec.tensor_shape(), np.float32), _prepared(
        np.zeros(session.spec.tensor_shape(), np.float32)))
    e = explainer.explain(result, "c1.conv", (0, 12, 14))
    # C1 is a 5×5 convolution with stride 1 and no padding: unit (12, 14) sees rows 12–16, columns 14–18.
    assert (e.layer, e.op, e.unit, e.kind, e.input_box) == ("c1.conv", "Conv", (0, 12, 14), "conv", (12, 14, 5, 5))
    assert e.agrees


def test_the_activation_after_a_conv_is_worked_out_with_its_own_settings(tmp_path):
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv"),
             helper.make_node("LeakyRelu", ["c"], ["l"], name="leaky", alpha=0.2),
             helper.make_node("Flatten", ["l"], ["out"], name="flat")]
    session, explainer = _session(tmp_path, _model(nodes, {"w": KERNEL, "b": [-10.0]}))
    result = _run(session)
    e = explainer.explain(result, "conv", (0, 0, 0))  # 7 − 10 = −3, leaky ReLU with alpha 0.2: −0.6
    assert e.value == -3.0 and e.steps[-1].value == pytest.approx(-0.6)
    assert e.steps[-1].value == pytest.approx(float(result.activations["l"][0, 0, 0]), rel=1e-6)


def test_receptive_fields_of_global_pools_element_wise_maps_and_channels_last_input(tmp_path):
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
             helper.make_node("Relu", ["c"], ["r"], name="relu"),
             helper.make_node("GlobalAveragePool", ["r"], ["g"], name="gap"),
             helper.make_node("Flatten", ["g"], ["out"], name="flat")]
    session, explainer = _session(tmp_path, _model(nodes, {"w": np.ones((4, 1, 3, 3))}, in_shape=(1, 1, 6, 6)),
                                  "gap.onnx")
    x = np.arange(36, dtype=np.float32).reshape(1, 1, 6, 6)
    result = _run(session, x)
    assert explainer.explain(result, "gap", (1, 0, 0)).input_box == (0, 0, 6, 6)  # the whole input
    assert explainer.explain(result, "relu", (1, 2, 3)).input_box == (2, 3, 3, 3)  # a 3×3 map cell
    # An element-wise layer straight on a channels-last input: its unit is (row, column, channel), not a
    # map cell, so no box is drawn.
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("Flatten", ["r"], ["out"], name="flat")]
    session, explainer = _session(tmp_path, _model(nodes, {}, in_shape=(1, 6, 6, 1), out_shape=(1, 36)), "nhwc.onnx")
    x = np.arange(36, dtype=np.float32).reshape(1, 6, 6, 1)
    e = explainer.explain(_run(session, x), "relu", (2, 5, 0))
    assert e.explained and e.value == 17.0 and e.input_box is None


def test_a_map_two_layers_from_its_conv_is_found():
    """Conv → Relu and nothing else: the Relu's producer is the last layer the walk may look at."""
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
             helper.make_node("Relu", ["c"], ["out"], name="relu")]
    explainer = _explainer(_model(nodes, {"w": KERNEL}, out_shape=(1, 1, 2, 2)))
    assert len(explainer.layers) == 2
    c = np.array([[[7.0, 9.0], [13.0, 15.0]]])
    result = SimpleNamespace(activations={"c": c, "out": c}, prepared=_prepared(THREE))
    e = explainer.explain(result, "relu", (0, 1, 0))
    assert e.value == 13.0 and e.agrees and e.input_box == (1, 0, 2, 2)  # 2×2 kernel: rows 1–2, columns 0–1


# --- the probability bars --------------------------------------------------------------------------------


def test_a_probability_bar_is_the_softmax_the_app_applies(tmp_path):
    session, explainer = _conv_gemm(tmp_path)
    result = _run(session)
    logits = G.astype(np.float64) @ np.array([7.5, 9.5, 13.5, 15.5])
    np.testing.assert_allclose(result.logits, logits, rtol=1e-6)
    e = explainer.explain_probability(result, 2)
    p = np.exp(logits - logits.max()) / np.exp(logits - logits.max()).sum()
    assert (e.layer, e.op, e.unit, e.kind) == ("probabilities", "Softmax", (2,), "softmax")
    assert e.value == pytest.approx(p[2], rel=1e-9) and e.runtime_value == pytest.approx(p[2], rel=1e-6) and e.agrees
    assert e.window == {"axis_size": 4, "position": 2}
    assert e.steps[0].text == "the model gives logits; the app turns them into probabilities with softmax"
    assert e.steps[0].value is None and len(e.steps) > 1
    # The logits as terms, largest first, each from the layer that gave it.
    assert [(t.weight, t.source_layer, t.source_unit) for t in e.terms] == [
        (1.0, "gemm", (3,)), (1.0, "gemm", (2,)), (1.0, "gemm", (1,)), (1.0, "gemm", (0,))]
    np.testing.assert_allclose([t.value for t in e.terms], logits[::-1], rtol=1e-6)


def test_a_model_ending_in_softmax_explains_its_bar_as_that_layer(tmp_path):
    nodes = CONV_GEMM[:2] + [helper.make_node("Gemm", ["f", "g"], ["z"], name="gemm", transB=1),
                             helper.make_node("Softmax", ["z"], ["out"], name="soft", axis=1)]
    session, explainer = _session(tmp_path, _model(nodes, {"w": KERNEL, "b": [0.5], "g": G}))
    e = explainer.explain_probability(_run(session), 1)
    assert (e.layer, e.op, e.unit) == ("soft", "Softmax", (1,)) and e.agrees


def test_a_probability_bar_without_a_layer_for_the_logits():
    """A model with no two-axis class output: the logits come from nowhere the explainer knows."""
    nodes = [helper.make_node("Relu", ["x"], ["out"], name="relu")]
    explainer = _explainer(_model(nodes, {}, out_shape=(1, 1, 3, 3)))
    result = SimpleNamespace(logits=np.array([1.0, 3.0]), probabilities=np.array([0.119203, 0.880797]))
    e = explainer.explain_probability(result, 1)
    assert e.value == pytest.approx(1 / (1 + np.exp(-2.0)), rel=1e-12) and e.agrees
    assert [(t.value, t.source_layer) for t in e.terms] == [(3.0, None), (1.0, None)]


def test_tensors_the_run_lacks_are_fetched_in_a_model_that_also_computes_shapes(tmp_path):
    """Shape → Reshape (as exporters write a Flatten) makes an int64 tensor that depends on the image;
    fetching it beside the float ones must not stop the others from being fetched."""
    w = np.random.default_rng(3).normal(size=(9, 4)).astype(np.float32)
    nodes = [
        helper.make_node("Flatten", ["x"], ["f"], name="flat"),
        helper.make_node("Shape", ["f"], ["s"], name="shape"),
        helper.make_node("Reshape", ["f", "s"], ["f2"], name="reshape"),
        helper.make_node("Transpose", ["f2"], ["ft"], name="columns", perm=[1, 0]),
        helper.make_node("Gemm", ["ft", "w"], ["out"], name="gemm", transA=1),
    ]
    session, explainer = _session(tmp_path, _model(nodes, {"w": w}))
    result = _run(session)
    for j in range(4):
        e = explainer.explain(result, "gemm", (j,))
        assert e.explained and e.agrees, e.reason
        assert e.value == pytest.approx(float(np.arange(1, 10) @ w[:, j]), rel=1e-6)


def test_layers_given_in_another_order_are_matched_to_their_own_nodes(tmp_path):
    """Two Relus swapped in the list: each must still read its own input (relu_b reads relu_a's output)."""
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv"),
             helper.make_node("Relu", ["c"], ["a"], name="relu_a"),
             helper.make_node("Neg", ["a"], ["n"], name="neg"),
             helper.make_node("Relu", ["n"], ["r"], name="relu_b"),
             helper.make_node("Flatten", ["r"], ["out"], name="flat")]
    session, _ = _session(tmp_path, _model(nodes, {"w": KERNEL, "b": [-8.0]}))
    layers = graph.analyze(session.model)
    by_name = {layer.name: layer for layer in layers}
    swapped = [by_name[n] for n in ("conv", "relu_b", "neg", "relu_a", "flat")]
    explainer = Explainer(session.model, swapped)
    result = _run(session)
    # conv: 7 − 8 = −1, 9 − 8 = 1, 13 − 8 = 5, 15 − 8 = 7; relu_a keeps the positive ones, neg flips them,
    # relu_b keeps what is positive after that: nothing.
    a = [explainer.explain(result, "relu_a", (0, 0, i)).value for i in range(2)]
    r = [explainer.explain(result, "relu_b", (0, 1, i)).value for i in range(2)]
    assert a == [0.0, 1.0] and r == [0.0, 0.0]
    assert all(explainer.explain(result, name, (0, 1, 1)).agrees for name in ("relu_a", "neg", "relu_b"))


def test_a_model_without_an_image_input_has_no_input_name():
    nodes = [helper.make_node("Constant", [], ["k"], name="k", value=numpy_helper.from_array(np.ones((1, 4), np.float32))),
             helper.make_node("Relu", ["k"], ["out"], name="relu")]
    g = helper.make_graph(nodes, "no_input", [], [helper.make_tensor_value_info("out", F, [1, 4])])
    explainer = _explainer(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)]))
    assert explainer.input_name is None and explainer.batch == 1
    assert explainer.can_explain("relu")[0] is False


def test_an_element_wise_layer_after_a_transpose_of_a_map_gets_no_box(tmp_path):
    """Conv → Transpose(rows ↔ columns) → Relu: the Relu's units are (channel, column, row) of the conv, so
    drawing its box as (row, column) would point at the wrong pixels."""
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv"),
             helper.make_node("Transpose", ["c"], ["t"], name="swap", perm=[0, 1, 3, 2]),
             helper.make_node("Relu", ["t"], ["r"], name="relu"),
             helper.make_node("Flatten", ["r"], ["out"], name="flat")]
    session, explainer = _session(tmp_path, _model(nodes, {"w": np.ones((1, 1, 2, 2))}, in_shape=(1, 1, 4, 3),
                                                   out_shape=(1, 6)))
    x = np.arange(12, dtype=np.float32).reshape(1, 1, 4, 3)
    result = _run(session, x)
    e = explainer.explain(result, "relu", (0, 1, 2))  # conv (2, 1): 7 + 8 + 10 + 11
    assert e.explained and e.value == 36.0 and e.input_box is None
    assert explainer.explain(result, "conv", (0, 2, 1)).input_box == (2, 1, 2, 2)


def test_names_unit_shapes_and_their_errors():
    explainer = _explainer(_model(CONV_GEMM, {"w": KERNEL, "b": [0.5], "g": G}))
    with pytest.raises(ExplainError, match=r"^there is no layer named 'c9'; the layers are: conv, flat, gemm$"):
        explainer.layer("c9")
    assert explainer.unit_shape("conv") == (1, 2, 2) and explainer.unit_shape("gemm") == (4,)
    nodes = [helper.make_node("Scramble", ["x"], ["s"], name="scramble", domain="com.example"),
             helper.make_node("Relu", ["s"], ["r"], name="after_custom"),
             helper.make_node("Flatten", ["r"], ["out"], name="flat")]
    explainer = _explainer(_model(nodes, {}, out_shape=(1, 9), domains=["com.example"]))
    with pytest.raises(ExplainError, match=r"^the output shape of after_custom is unknown, so its units cannot be "
                                           r"named$"):
        explainer.unit_shape("after_custom")
    # The run knows the shape though: the unit is named, and said to be not explained, with its value.
    result = SimpleNamespace(activations={"r": np.full((2, 2), 3.0)}, prepared=_prepared(THREE))
    e = explainer.explain(result, "after_custom", (1, 0))
    assert (e.explained, e.unit, e.runtime_value) == (False, (1, 0), 3.0)
    assert e.reason == "its output shape is unknown, so its units cannot be named"
