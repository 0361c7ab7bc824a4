"""Layers no formula gives a shape for show onnxruntime's shape, and say so; never a made-up one."""

import json

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from lenet_gui import cli
from lenet_gui.core import graph
from lenet_gui.ui import layer_text


def model_with_an_op_the_app_does_not_know(path):
    """Conv → com.microsoft Gelu (onnxruntime runs it; neither the app nor ONNX inference knows it) → …."""
    rng = np.random.default_rng(0)
    nodes = [helper.make_node("Conv", ["image", "w"], ["conv"], kernel_shape=[3, 3], name="conv"),
             helper.make_node("Gelu", ["conv"], ["gelu"], domain="com.microsoft", name="gelu"),
             helper.make_node("MaxPool", ["gelu"], ["pool"], kernel_shape=[2, 2], strides=[2, 2], name="pool"),
             helper.make_node("Flatten", ["pool"], ["flat"], name="flat"),
             helper.make_node("MatMul", ["flat", "fc"], ["scores"], name="fc")]
    inits = [numpy_helper.from_array(rng.normal(size=(2, 1, 3, 3)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.normal(size=(2 * 13 * 13, 10)).astype(np.float32), "fc")]
    g = helper.make_graph(nodes, "g", [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 1, 28, 28])],
                          [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 10])], inits)
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)],
                              ir_version=8)
    onnx.save_model(model, str(path))
    return model


RUNTIME = {"conv": (2, 26, 26), "gelu": (2, 26, 26), "pool": (2, 13, 13), "flat": (338,), "scores": (10,)}


def test_unknown_layers_take_the_runtime_shape_and_say_so(tmp_path):
    layers = graph.analyze(model_with_an_op_the_app_does_not_know(tmp_path / "m.onnx"))
    before = [(layer.output_shape, layer.shape_source) for layer in layers]
    assert before == [([1, 2, 26, 26], "formula"), (None, "unknown"), (None, "unknown"), (None, "unknown"),
                      ([1, 10], "ONNX shape inference")]
    conv_formula = layers[0].formula
    changed = graph.adopt_runtime_shapes(layers, {**RUNTIME, "conv": (9, 9, 9)}, batch=1)
    assert [layer.name for layer in changed] == ["gelu", "pool", "flat", "fc"]
    # A worked-out shape is never replaced, even by a different runtime shape.
    assert layers[0].output_shape == [1, 2, 26, 26] and layers[0].formula == conv_formula
    gelu, pool, flat, fc = layers[1:]
    assert [layer.output_shape for layer in layers[1:]] == [[1, 2, 26, 26], [1, 2, 13, 13], [1, 338], [1, 10]]
    assert all(layer.shape_source == "onnxruntime" for layer in layers[1:])
    assert gelu.formula == "Gelu: not worked out here; onnxruntime produced → 2×26×26"
    assert gelu.note == "Gelu is not analysed here; the shape shown is the one onnxruntime produced"
    assert pool.note == "input 'gelu' has an unknown shape; the shape shown is the one onnxruntime produced"
    assert fc.note == ("input 'flat' has an unknown shape; the shape shown is the one onnxruntime produced "
                       "(ONNX shape inference said 1×10)")
    assert gelu.output_shapes == [[1, 2, 26, 26]]
    # A second call changes nothing; a layer the run did not return stays unknown.
    assert graph.adopt_runtime_shapes(layers, RUNTIME) == []
    again = graph.analyze(model_with_an_op_the_app_does_not_know(tmp_path / "m.onnx"))
    assert graph.adopt_runtime_shapes(again, {"gelu": (2, 26, 26)}, batch=3)[0].output_shape == [3, 2, 26, 26]
    assert again[2].output_shape is None and again[2].shape_source == "unknown"


def test_shapes_runs_the_model_for_the_layers_it_cannot_work_out(tmp_path, capsys):
    path = tmp_path / "m.onnx"
    model_with_an_op_the_app_does_not_know(path)
    assert cli.main(["shapes", "--json", "--no-calibrate", str(path)]) == 0
    layers = json.loads(capsys.readouterr().out)
    assert [layer["output_shape"] for layer in layers] == [[1, 2, 26, 26], [1, 2, 26, 26], [1, 2, 13, 13], [1, 338],
                                                           [1, 10]]
    assert [layer["shape_source"] for layer in layers] == ["formula"] + ["onnxruntime"] * 4
    assert cli.main(["shapes", "--no-calibrate", str(path)]) == 0
    out = capsys.readouterr().out
    assert "Gelu: not worked out here; onnxruntime produced → 2×26×26" in out
    assert "note: Gelu is not analysed here; the shape shown is the one onnxruntime produced" in out


def test_the_panel_mark_says_whose_shape_it_is(tmp_path):
    layers = graph.analyze(model_with_an_op_the_app_does_not_know(tmp_path / "m.onnx"))
    unknown = layers[1]
    check = layer_text.check_shape(unknown, (2, 26, 26))
    assert (check.status, check.text) == ("mismatch", "? ≠ 2×26×26")
    assert check.detail == "The shape could not be worked out here; onnxruntime returned 2×26×26."
    graph.adopt_runtime_shapes(layers, RUNTIME)
    check = layer_text.check_shape(unknown, (2, 26, 26))
    assert check == layer_text.ShapeCheck(
        "runtime", "onnxruntime's shape",
        "No formula here gives this layer's shape; 2×26×26 is the shape onnxruntime returned.")
    # Should a later run differ, it is a mismatch like any other.
    assert layer_text.check_shape(unknown, (2, 25, 25)).status == "mismatch"
    assert layer_text.check_shape(layers[0], (2, 26, 26)).status == "ok"
