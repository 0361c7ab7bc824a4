"""The working of dense units (Gemm, MatMul) and of copies (Reshape, Identity), checked by hand (no Qt).

Inputs are the numbers 1, 2, 3, … laid out row by row, so every product and sum below is
worked out by hand; onnxruntime's value is the check that the working is the computation.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from lenet_gui.core import graph, preprocess
from lenet_gui.core.explain import Explainer
from lenet_gui.core.session import ModelSession


def _session(tmp_path, nodes, inits, in_shape, out_shape):
    g = helper.make_graph(nodes, "dense", [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(in_shape))],
                          [helper.make_tensor_value_info("out", TensorProto.FLOAT, list(out_shape))],
                          [numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    path = tmp_path / "dense.onnx"
    onnx.save_model(m, str(path))
    session = ModelSession(path)
    return session, Explainer(session.model, graph.analyze(session.model))


def _run(session, x, prepared=True):
    x = np.asarray(x, np.float32)
    return session.run(x, preprocess.Prepared(np.zeros((28, 28), np.float32), np.zeros(x.shape[-2:], np.float32), x)
                       if prepared else None)


def test_a_gemm_of_fourteen_inputs_lists_twelve_and_sums_the_rest(tmp_path):
    nodes = [helper.make_node("Flatten", ["x"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "w", "b"], ["out"], name="gemm", transB=1, alpha=2.0, beta=0.5)]
    session, explainer = _session(tmp_path, nodes, {"w": np.ones((1, 14)), "b": [4.0]}, (1, 1, 2, 7), (1, 1))
    result = _run(session, np.arange(1, 15).reshape(1, 1, 2, 7))
    e = explainer.explain(result, "gemm", (0,))
    # Products 1 … 14; the 12 largest are 3 … 14 (sum 102), the other two 1 + 2 = 3; 2 · 105 + 0.5 · 4 = 212.
    assert [(s.text, s.value) for s in e.steps] == [
        ("the 12 largest products sum to 102.0000", 102.0),
        ("+ the other 2 products 3.0000", 3.0),
        ("sum of 14 products w · x = 105.0000", 105.0),
        ("· alpha 2.0000 = 210.0000", 210.0),
        ("+ beta 0.5000 · bias 4.0000 = 212.0000", 212.0),
        ("total = 212.0000", 212.0),
    ]
    assert (e.rest.text, e.rest.value) == ("the other 2 products sum to 3.0000", 3.0)
    assert (e.op, e.unit, e.kind, e.value, e.window) == ("Gemm", (0,), "dense", 212.0, {"inputs": 14, "listed": 12})
    assert e.runtime_value == 212.0 and e.agrees
    # Largest first, each traced back through the Flatten to the input's (channel, row, column).
    assert [(t.weight, t.value, t.source_layer, t.source_unit) for t in e.terms[:2]] == [
        (1.0, 14.0, None, (0, 1, 6)), (1.0, 13.0, None, (0, 1, 5))]
    assert len(e.terms) == 12


def test_a_gemm_with_a_plain_bias_and_no_rest(tmp_path):
    nodes = [helper.make_node("Flatten", ["x"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "w", "b"], ["out"], name="gemm", transB=1)]
    session, explainer = _session(tmp_path, nodes, {"w": [[1.0, -1.0, 0.5]], "b": [-1.0]}, (1, 1, 1, 3), (1, 1))
    e = explainer.explain(_run(session, [[[[2.0, 3.0, 4.0]]]]), "gemm", (0,))
    # 2 − 3 + 2 = 1, − 1 = 0
    assert [s.text for s in e.steps] == ["sum of 3 products w · x = 1.0000", "+ bias −1.0000 = 0", "total = 0"]
    assert e.rest is None and e.value == 0.0 and e.agrees


def test_a_weight_times_an_input_takes_the_inputs_from_the_side_that_depends_on_the_image(tmp_path):
    """MatMul(w, xᵀ): the weights come first; the terms' inputs are still the image's values."""
    nodes = [helper.make_node("Flatten", ["x"], ["f"], name="flat"),
             helper.make_node("Transpose", ["f"], ["ft"], name="column", perm=[1, 0]),
             helper.make_node("MatMul", ["w", "ft"], ["out"], name="mm")]
    w = [[0.5, -1.0, 2.0]]
    session, explainer = _session(tmp_path, nodes, {"w": w}, (1, 1, 1, 3), (1, 1))
    e = explainer.explain(_run(session, [[[[2.0, 3.0, 4.0]]]]), "mm", (0,))
    assert e.value == 0.5 * 2 - 3 + 8 and e.agrees  # 6
    assert sorted((t.weight, t.value, t.source_layer, t.source_unit) for t in e.terms) == [
        (-1.0, 3.0, "column", (1, 0)), (0.5, 2.0, "column", (0, 0)), (2.0, 4.0, "column", (2, 0))]


def test_an_input_times_an_input_takes_the_first_as_the_input(tmp_path):
    """MatMul(x, xᵀ) is the sum of squares; the terms read the first operand, traced to the input."""
    nodes = [helper.make_node("Flatten", ["x"], ["f"], name="flat"),
             helper.make_node("Transpose", ["f"], ["ft"], name="column", perm=[1, 0]),
             helper.make_node("MatMul", ["f", "ft"], ["out"], name="mm")]
    session, explainer = _session(tmp_path, nodes, {}, (1, 1, 1, 3), (1, 1))
    e = explainer.explain(_run(session, [[[[2.0, 3.0, 4.0]]]]), "mm", (0,))
    assert e.value == 4 + 9 + 16 and e.agrees
    assert sorted((t.value, t.source_layer, t.source_unit) for t in e.terms) == [
        (2.0, None, (0, 0, 0)), (3.0, None, (0, 0, 1)), (4.0, None, (0, 0, 2))]


def test_a_copy_names_the_cell_it_copies(tmp_path):
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["r"], name="reshape"),
             helper.make_node("Identity", ["r"], ["i"], name="same"),
             helper.make_node("Flatten", ["i"], ["out"], name="flat")]
    g = helper.make_graph(nodes, "copy", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 2, 3])],
                          [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 6])],
                          [numpy_helper.from_array(np.array([1, 3, 2], np.int64), "shape")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save_model(m, str(tmp_path / "copy.onnx"))
    session = ModelSession(tmp_path / "copy.onnx")
    explainer = Explainer(session.model, graph.analyze(session.model))
    result = _run(session, np.arange(1, 7).reshape(1, 1, 2, 3))
    e = explainer.explain(result, "reshape", (2, 1))  # value 5 counted row by row: input (0, 1, 2), which holds 6
    assert (e.op, e.unit, e.kind, e.value) == ("Reshape", (2, 1), "reshape", 6.0) and e.agrees
    assert e.steps[0].text == ("Reshape keeps the order of the values: unit [2, 1] of 3×2 is value 5 counted row "
                               "by row, which is unit [0, 1, 2] of 1×2×3")
    assert (e.steps[1].text, e.steps[1].value) == ("= input[0, 1, 2] = 6.0000", 6.0)
    assert [(t.weight, t.value, t.source_layer, t.source_unit) for t in e.terms] == [(1.0, 6.0, None, (0, 1, 2))]
    e = explainer.explain(result, "same", (0, 1))
    assert [s.text for s in e.steps] == ["Identity copies its input", "= reshape[0, 1] = 2.0000"]
    assert (e.op, e.unit, e.kind) == ("Identity", (0, 1), "reshape")
    e = explainer.explain(_run(session, np.ones((1, 1, 2, 3)), prepared=False), "same", (0, 0))
    assert e.explained  # reads the Reshape's output, which the run holds
    nodes = [helper.make_node("Identity", ["x"], ["i"], name="same"), helper.make_node("Flatten", ["i"], ["out"])]
    g = helper.make_graph(nodes, "copy", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 2, 3])],
                          [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 6])])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save_model(m, str(tmp_path / "id.onnx"))
    session = ModelSession(tmp_path / "id.onnx")
    explainer = Explainer(session.model, graph.analyze(session.model))
    e = explainer.explain(_run(session, np.ones((1, 1, 2, 3)), prepared=False), "same", (0, 0, 0))
    assert not e.explained and e.reason == "the value of the input ('x') is not known from this run"


@pytest.mark.parametrize("unit", [(0,), (1,)])
def test_a_dense_unit_followed_by_a_relu_ends_with_it(tmp_path, unit):
    nodes = [helper.make_node("Flatten", ["x"], ["f"], name="flat"),
             helper.make_node("Gemm", ["f", "w"], ["g"], name="gemm", transB=1),
             helper.make_node("Relu", ["g"], ["out"], name="relu")]
    session, explainer = _session(tmp_path, nodes, {"w": [[1.0, 1.0], [-1.0, -1.0]]}, (1, 1, 1, 2), (1, 2))
    e = explainer.explain(_run(session, [[[[1.0, 2.0]]]]), "gemm", unit)
    expected = (3.0, 3.0) if unit == (0,) else (-3.0, 0.0)
    assert (e.value, e.steps[-1].value) == expected and e.steps[-1].text.startswith("then relu applies ReLU")


def test_a_weight_times_a_vector_without_a_batch_axis_lists_the_vectors_cells(tmp_path):
    """Squeeze drops the batch axis: the 1-D vector's cells are the inputs, each named by its one index."""
    nodes = [helper.make_node("Flatten", ["x"], ["f"], name="flat"),
             helper.make_node("Squeeze", ["f", "axis0"], ["s"], name="squeeze"),
             helper.make_node("MatMul", ["w", "s"], ["mm"], name="mm"),
             helper.make_node("Unsqueeze", ["mm", "axis1"], ["out"], name="column")]
    g = helper.make_graph(nodes, "vec", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 1, 3])],
                          [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 1])],
                          [numpy_helper.from_array(np.array([[0.5, -1.0, 2.0]], np.float32), "w"),
                           numpy_helper.from_array(np.array([0], np.int64), "axis0"),
                           numpy_helper.from_array(np.array([1], np.int64), "axis1")])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save_model(m, str(tmp_path / "vec.onnx"))
    session = ModelSession(tmp_path / "vec.onnx")
    explainer = Explainer(session.model, graph.analyze(session.model))
    e = explainer.explain(_run(session, [[[[2.0, 3.0, 4.0]]]]), "mm", ())
    assert e.explained and e.value == 6.0 and e.agrees, e.reason  # 0.5·2 − 3 + 2·4
    assert [(t.weight, t.value, t.source_layer, t.source_unit) for t in e.terms] == [
        (2.0, 4.0, "squeeze", (2,)), (-1.0, 3.0, "squeeze", (1,)), (0.5, 2.0, "squeeze", (0,))]
