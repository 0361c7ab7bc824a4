"""graph.analyze on LeNet-5 and on the graph patterns real exporters write."""

from __future__ import annotations

import json
import random

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from lenet_gui.core import arithmetic as ar
from lenet_gui.core.errors import ModelError, ShapeError
from lenet_gui.core.graph import analyze, format_table, layers_to_json, topological_order
from lenet_gui.core.onnx_io import load_model

OPSET = 17
IR_VERSION = 8

LENET_SHAPES = {
    "C1": [1, 6, 28, 28], "S2": [1, 6, 14, 14], "C3": [1, 16, 10, 10], "S4": [1, 16, 5, 5],
    "C5": [1, 120, 1, 1], "flatten": [1, 120], "F6": [1, 84], "OUT": [1, 10],
}
LENET_PARAMS = {"C1": 156, "C3": 2416, "C5": 48120, "F6": 10164, "OUT": 850}
LENET_TOTAL = 61706


def weights(name: str, shape, seed: int = 0, dtype=np.float32) -> onnx.TensorProto:
    values = np.random.default_rng(seed).standard_normal(shape).astype(dtype)
    return numpy_helper.from_array(values, name)


def ints(name: str, values) -> onnx.TensorProto:
    return numpy_helper.from_array(np.array(values, dtype=np.int64), name)


def make_model(nodes, inputs, outputs, initializers=(), opset: int = OPSET) -> onnx.ModelProto:
    graph = helper.make_graph(list(nodes), "g", inputs, outputs, initializer=list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=IR_VERSION)


def float_input(name: str, shape) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


def lenet_model(batch_dim="N", size: int = 32) -> onnx.ModelProto:
    """LeNet-5 as the textbook draws it (ReLU for the squashing functions)."""
    initializers = [
        weights("c1w", [6, 1, 5, 5]), weights("c1b", [6]),
        weights("c3w", [16, 6, 5, 5]), weights("c3b", [16]),
        weights("c5w", [120, 16, 5, 5]), weights("c5b", [120]),
        weights("f6w", [84, 120]), weights("f6b", [84]),
        weights("ow", [10, 84]), weights("ob", [10]),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "c1w", "c1b"], ["c1"], name="C1", kernel_shape=[5, 5]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["s2"], name="S2", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["s2", "c3w", "c3b"], ["c3"], name="C3", kernel_shape=[5, 5]),
        helper.make_node("Relu", ["c3"], ["r3"], name="relu3"),
        helper.make_node("MaxPool", ["r3"], ["s4"], name="S4", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["s4", "c5w", "c5b"], ["c5"], name="C5", kernel_shape=[5, 5]),
        helper.make_node("Relu", ["c5"], ["r5"], name="relu5"),
        helper.make_node("Flatten", ["r5"], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", "f6w", "f6b"], ["f6"], name="F6", transB=1),
        helper.make_node("Relu", ["f6"], ["r6"], name="relu6"),
        helper.make_node("Gemm", ["r6", "ow", "ob"], ["logits"], name="OUT", transB=1),
    ]
    return make_model(nodes, [float_input("x", [batch_dim, 1, size, size])],
                      [float_input("logits", [batch_dim, 10])], initializers)


def by_name(layers):
    return {layer.display_name: layer for layer in layers}


def assert_matches_onnxruntime(model: onnx.ModelProto, layers) -> None:
    """Every float output of every node has the shape onnxruntime gives it."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    existing = {o.name for o in copy.graph.output}
    checked = {}
    for layer in layers:
        if layer.constant:
            continue
        for name, shape in zip(layer.outputs, layer.output_shapes):
            checked[name] = shape
            if name not in existing:
                copy.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    session = ort.InferenceSession(copy.SerializeToString(), providers=["CPUExecutionProvider"])
    feeds = {i.name: np.zeros([d if isinstance(d, int) else 1 for d in i.shape], np.float32)
             for i in session.get_inputs()}
    names = list(checked)
    for name, value in zip(names, session.run(names, feeds)):
        assert list(value.shape) == checked[name], name


# ---------------------------------------------------------------------------
# LeNet-5


def test_lenet_shapes_params_and_formulas():
    layers = analyze(lenet_model())
    assert_matches_onnxruntime(lenet_model(), layers)
    assert [layer.op for layer in layers] == [
        "Conv", "Relu", "MaxPool", "Conv", "Relu", "MaxPool", "Conv", "Relu", "Flatten", "Gemm", "Relu", "Gemm"]
    named = by_name(layers)
    for name, shape in LENET_SHAPES.items():
        assert named[name].output_shape == shape, name
    for name, params in LENET_PARAMS.items():
        assert named[name].params == params, name
    assert sum(layer.params for layer in layers) == LENET_TOTAL
    assert all(layer.params == 0 for layer in layers if layer.display_name not in LENET_PARAMS)
    assert named["C1"].formula == "(32 + 2·0 − 5)/1 + 1 = 28 → 6×28×28"
    assert named["S2"].formula == "(28 + 2·0 − 2)/2 + 1 = 14 → 6×14×14"
    assert named["C3"].formula == "(14 + 2·0 − 5)/1 + 1 = 10 → 16×10×10"
    assert named["S4"].formula == "(10 + 2·0 − 2)/2 + 1 = 5 → 16×5×5"
    assert named["flatten"].formula == "flatten 120×1×1 = 120"
    assert named["F6"].formula == "120 × 84 weights + 84 bias → 84"
    assert named["relu1"].formula == "same as input → 6×28×28"
    assert named["C1"].params_formula == "6·1·5·5 + 6 = 156"
    assert named["C1"].hyper == {"kernel": [5, 5], "stride": [1, 1], "pads": [0, 0, 0, 0], "dilation": [1, 1],
                                 "auto_pad": "NOTSET", "group": 1}
    assert named["S2"].hyper["ceil_mode"] == 0
    assert named["S2"].convention == ar.POOL_CONVENTION_PER_SIDE
    assert named["C1"].convention is None


def test_lenet_receptive_fields():
    named = by_name(analyze(lenet_model()))
    expected = {"C1": (5, 1), "relu1": (5, 1), "S2": (6, 2), "C3": (14, 2), "S4": (16, 4), "C5": (32, 4)}
    for name, (field_size, jump) in expected.items():
        assert (named[name].receptive_field, named[name].jump, named[name].rf_start) == (field_size, jump, 0), name
    # Dense layers see the whole 32×32 input.
    for name in ("flatten", "F6", "OUT"):
        assert named[name].receptive_field == 32 and named[name].jump is None
        assert ar.receptive_box(named[name], 0, 0) == (0, 0, 32, 32)
    # Unit (3, 2) of C3: rows 6..19, columns 4..17 of the input.
    assert ar.receptive_box(named["C3"], 3, 2) == (6, 4, 20, 18)
    assert ar.receptive_box(named["S4"], 4, 4) == (16, 16, 32, 32)


def test_squeeze_instead_of_flatten_still_gives_dense_receptive_field():
    model = lenet_model()
    flatten = next(node for node in model.graph.node if node.op_type == "Flatten")
    flatten.op_type = "Squeeze"
    flatten.input.append("squeeze_axes")
    model.graph.initializer.append(ints("squeeze_axes", [2, 3]))
    named = by_name(analyze(model))
    assert named["flatten"].output_shape == [1, 120]
    assert named["flatten"].receptive_field == 32 and named["F6"].receptive_field == 32
    assert named["F6"].output_shape == [1, 84]


def test_receptive_field_with_padding_reaches_outside_the_image():
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="same", kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
             helper.make_node("MaxPool", ["y"], ["z"], name="pool", kernel_shape=[3, 3], strides=[2, 2],
                              pads=[1, 1, 1, 1])]
    model = make_model(nodes, [float_input("x", [1, 1, 8, 8])], [float_input("z", None)], [weights("w", [2, 1, 3, 3])])
    named = by_name(analyze(model))
    assert named["same"].output_shape == [1, 2, 8, 8]
    assert (named["same"].receptive_field, named["same"].rf_start) == (3, -1)
    assert (named["pool"].receptive_field, named["pool"].jump, named["pool"].rf_start) == (5, 2, -2)
    box = ar.receptive_box(named["pool"], 0, 3)
    assert box == (-2, 4, 3, 9)
    assert ar.clip_box(box, 8, 8) == (0, 4, 3, 8)


def test_fixed_batch_size_is_kept_and_symbolic_batch_follows_argument():
    fixed = analyze(lenet_model(batch_dim=4), batch=2)
    assert_matches_onnxruntime(lenet_model(batch_dim=4), fixed)
    assert fixed[0].output_shape == [4, 6, 28, 28]
    assert fixed[-1].output_shape == [4, 10]
    assert by_name(fixed)["C1"].formula.endswith("→ 6×28×28")
    assert analyze(lenet_model(), batch=3)[-1].output_shape == [3, 10]
    assert analyze(lenet_model())[-1].output_shape == [1, 10]
    with pytest.raises(ShapeError):
        analyze(lenet_model(), batch=0)


def test_kernel_bigger_than_input_names_layer_and_numbers():
    # 20 → 16 → 8 → 4 → 2, and C5's 5×5 kernel no longer fits.
    with pytest.raises(ShapeError) as caught:
        analyze(lenet_model(size=20))
    message = str(caught.value)
    assert "C5" in message and "Conv" in message
    assert "kernel 5" in message and "padded input 2" in message
    assert "\n" not in message


def test_unnamed_node_error_uses_op_and_index():
    nodes = [helper.make_node("Relu", ["x"], ["r"]),
             helper.make_node("MaxPool", ["r"], ["y"], kernel_shape=[5, 5])]
    model = make_model(nodes, [float_input("x", [1, 1, 3, 3])], [float_input("y", None)])
    with pytest.raises(ShapeError, match=r"MaxPool #2.*kernel 5 is larger than the padded input 3"):
        analyze(model)


def test_channel_mismatch_is_a_shape_error():
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="conv")]
    model = make_model(nodes, [float_input("x", [1, 3, 8, 8])], [float_input("y", None)], [weights("w", [4, 1, 3, 3])])
    with pytest.raises(ShapeError, match=r"'conv'.*3 channels.*expect 1"):
        analyze(model)
    nodes = [helper.make_node("Gemm", ["x", "w"], ["y"], name="fc", transB=1)]
    model = make_model(nodes, [float_input("x", [1, 400])], [float_input("y", None)], [weights("w", [84, 120])])
    with pytest.raises(ShapeError, match=r"'fc'.*1×400 by 120×84"):
        analyze(model)


# ---------------------------------------------------------------------------
# order and names


def test_shuffled_nodes_with_empty_names_are_sorted():
    model = lenet_model()
    nodes = list(model.graph.node)
    for node in nodes:
        node.name = ""
    random.Random(7).shuffle(nodes)
    del model.graph.node[:]
    model.graph.node.extend(nodes)
    assert [n.op_type for n in model.graph.node] != [n.op_type for n in lenet_model().graph.node]
    layers = analyze(model)
    assert [layer.op for layer in layers] == [n.op_type for n in lenet_model().graph.node]
    assert [layer.output_shape for layer in layers if layer.op in ("Conv", "MaxPool")] == [
        [1, 6, 28, 28], [1, 6, 14, 14], [1, 16, 10, 10], [1, 16, 5, 5], [1, 120, 1, 1]]
    assert sum(layer.params for layer in layers) == LENET_TOTAL
    assert layers[0].name == "" and layers[0].display_name == "Conv #1"
    assert layers[2].display_name == "MaxPool #3"
    # Every layer comes after the producers of its inputs.
    produced = {"x"} | {t.name for t in model.graph.initializer}
    for layer in layers:
        assert all(name in produced for name in layer.inputs)
        produced.update(layer.outputs)


def test_missing_tensor_and_cycle_are_model_errors():
    nodes = [helper.make_node("Relu", ["nowhere"], ["y"], name="lost")]
    with pytest.raises(ModelError, match="lost.*nowhere"):
        topological_order(make_model(nodes, [float_input("x", [1, 1])], [float_input("y", None)]).graph)
    nodes = [helper.make_node("Relu", ["b"], ["a"], name="first"),
             helper.make_node("Relu", ["a"], ["b"], name="second")]
    with pytest.raises(ModelError, match="cycle"):
        analyze(make_model(nodes, [float_input("x", [1, 1])], [float_input("b", None)]))


# ---------------------------------------------------------------------------
# exporter patterns


def tf2onnx_like_model() -> onnx.ModelProto:
    """NHWC input, HWIO weights transposed inside the graph, bias as an Add, unnamed and out-of-order nodes."""
    initializers = [
        weights("kernel_hwio", [5, 5, 1, 6]),
        weights("bias", [6]),
        weights("dense_kernel", [6 * 14 * 14, 10]),
        weights("dense_bias", [10]),
        ints("flat_shape", [-1, 6 * 14 * 14]),
    ]
    nodes = [
        helper.make_node("Relu", ["pool_nhwc"], ["act"], name="model/relu"),
        helper.make_node("Transpose", ["kernel_hwio"], ["kernel_oihw"], name="", perm=[3, 2, 0, 1]),
        helper.make_node("Transpose", ["input"], ["x_nchw"], name="model/to_nchw", perm=[0, 3, 1, 2]),
        helper.make_node("Conv", ["x_nchw", "kernel_oihw", "bias"], ["conv"], name="model/conv",
                         kernel_shape=[5, 5], pads=[2, 2, 2, 2]),
        helper.make_node("MaxPool", ["conv"], ["pool"], name="model/pool", kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Transpose", ["pool"], ["pool_nhwc"], name="model/to_nhwc", perm=[0, 2, 3, 1]),
        helper.make_node("Reshape", ["act", "flat_shape"], ["flat"], name="model/flatten"),
        helper.make_node("MatMul", ["flat", "dense_kernel"], ["dense"], name="model/dense/MatMul"),
        helper.make_node("Add", ["dense", "dense_bias"], ["logits"], name="model/dense/BiasAdd"),
    ]
    return make_model(nodes, [float_input("input", ["unk__6", 28, 28, 1])], [float_input("logits", None)],
                      initializers)


def test_channels_last_input_with_transposed_weights_like_tf2onnx():
    model = tf2onnx_like_model()
    layers = analyze(model)
    assert_matches_onnxruntime(model, layers)
    named = by_name(layers)
    assert named["model/to_nchw"].output_shape == [1, 1, 28, 28]
    assert named["model/conv"].output_shape == [1, 6, 28, 28]
    assert named["model/conv"].formula == "(28 + 2·2 − 5)/1 + 1 = 28 → 6×28×28"
    assert named["model/to_nhwc"].output_shape == [1, 14, 14, 6]
    assert named["model/flatten"].output_shape == [1, 1176]
    assert named["model/dense/BiasAdd"].output_shape == [1, 10]
    # The weight transpose is folded and counts nothing; the Conv counts the original weights.
    weight_prep = next(layer for layer in layers if layer.inputs == ["kernel_hwio"])
    assert weight_prep.constant and weight_prep.params == 0 and weight_prep.output_shape == [6, 1, 5, 5]
    assert named["model/conv"].params == 5 * 5 * 6 + 6
    assert named["model/dense/MatMul"].params == 1176 * 10
    assert named["model/dense/MatMul"].formula == "1176 × 10 weights → 10"
    assert named["model/dense/BiasAdd"].params == 10
    assert sum(layer.params for layer in layers) == 156 + 11770
    # The receptive field survives the layout changes.
    assert (named["model/conv"].receptive_field, named["model/conv"].rf_start) == (5, -2)
    assert (named["model/relu"].receptive_field, named["model/relu"].jump) == (6, 2)
    assert named["model/dense/BiasAdd"].receptive_field == 28


def test_bias_as_separate_add_counts_on_the_add():
    initializers = [weights("w", [6, 1, 5, 5]), weights("b", [1, 6, 1, 1])]
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv", kernel_shape=[5, 5]),
             helper.make_node("Add", ["c", "b"], ["y"], name="bias")]
    named = by_name(analyze(make_model(nodes, [float_input("x", [1, 1, 32, 32])], [float_input("y", None)],
                                       initializers)))
    assert (named["conv"].params, named["bias"].params) == (150, 6)
    assert named["bias"].output_shape == [1, 6, 28, 28]
    assert named["bias"].formula == "+ bias (1×6×1×1), broadcast → 6×28×28"
    assert named["bias"].receptive_field == 5


def test_scalar_normalisation_constants_are_not_parameters():
    initializers = [weights("mean", []), weights("std", [])]
    nodes = [helper.make_node("Sub", ["x", "mean"], ["centred"], name="centre"),
             helper.make_node("Mul", ["centred", "std"], ["y"], name="scale")]
    layers = analyze(make_model(nodes, [float_input("x", [1, 1, 4, 4])], [float_input("y", None)], initializers))
    assert [layer.params for layer in layers] == [0, 0]
    assert layers[1].output_shape == [1, 1, 4, 4]


def test_matmul_instead_of_gemm_and_batched_matmul():
    initializers = [weights("w", [400, 120]), weights("b", [120]), weights("wt", [120, 84])]
    nodes = [helper.make_node("Gemm", ["xt", "wt"], ["g"], name="gemm_ta", transA=1),
             helper.make_node("MatMul", ["x", "w"], ["m"], name="fc"),
             helper.make_node("Add", ["m", "b"], ["y"], name="fc_bias"),
             helper.make_node("MatMul", ["a", "c"], ["batched"], name="bmm")]
    inputs = [float_input("x", [1, 400]), float_input("a", [2, 1, 3, 4]), float_input("c", [5, 4, 6]),
              float_input("xt", [120, 2])]
    model = make_model(nodes, inputs, [float_input("y", None), float_input("batched", None), float_input("g", None)],
                       initializers)
    layers = analyze(model)
    assert_matches_onnxruntime(model, layers)
    named = by_name(layers)
    assert named["gemm_ta"].output_shape == [2, 84] and named["gemm_ta"].params == 120 * 84
    assert named["gemm_ta"].formula == "120 × 84 weights → 84"
    assert named["fc"].output_shape == [1, 120] and named["fc"].params == 48000
    assert named["fc_bias"].params == 120
    assert named["bmm"].output_shape == [2, 5, 3, 6]
    assert named["bmm"].params == 0


def test_weight_reshape_like_cntk_and_pytorch_flatten_pattern():
    """Weights stored flat and reshaped in the graph; Flatten as Shape→Gather→Concat→Reshape."""
    initializers = [weights("w_flat", [150]), ints("w_shape", [6, 1, 5, 5]), weights("b", [6]),
                    ints("zero", 0), ints("minus_one", [-1])]
    nodes = [
        helper.make_node("Reshape", ["w_flat", "w_shape"], ["w"], name=""),
        helper.make_node("Conv", ["x", "w", "b"], ["c"], name="conv", kernel_shape=[5, 5], strides=[2, 2]),
        helper.make_node("Shape", ["c"], ["c_shape"], name=""),
        helper.make_node("Gather", ["c_shape", "zero"], ["n"], name="", axis=0),
        helper.make_node("Unsqueeze", ["n", "axes0"], ["n1"], name=""),
        helper.make_node("Constant", [], ["axes0"], name="",
                         value=helper.make_tensor("v", TensorProto.INT64, [1], [0])),
        helper.make_node("Concat", ["n1", "minus_one"], ["target"], name="", axis=0),
        helper.make_node("Reshape", ["c", "target"], ["y"], name="flatten"),
    ]
    model = make_model(nodes, [float_input("x", [3, 1, 32, 32])], [float_input("y", None)], initializers)
    layers = analyze(model)
    assert_matches_onnxruntime(model, layers)
    named = by_name(layers)
    assert named["conv"].output_shape == [3, 6, 14, 14]
    assert named["conv"].formula == "⌊(32 + 2·0 − 5)/2⌋ + 1 = 14 → 6×14×14"
    assert named["conv"].params == 156
    assert named["flatten"].output_shape == [3, 6 * 14 * 14]
    assert named["flatten"].receptive_field == 32
    bookkeeping = [layer for layer in layers if layer.display_name != "conv" and layer.display_name != "flatten"]
    assert all(layer.constant and layer.params == 0 for layer in bookkeeping)
    assert sum(layer.params for layer in layers) == 156


def test_reshape_zero_copies_and_allowzero():
    nodes = [helper.make_node("Reshape", ["x", "s1"], ["a"], name="copy"),
             helper.make_node("Reshape", ["e", "s2"], ["b"], name="allowzero", allowzero=1)]
    initializers = [ints("s1", [0, 0, -1]), ints("s2", [0, 4])]
    inputs = [float_input("x", [2, 3, 4, 5]), float_input("e", [2, 0, 4])]
    named = by_name(analyze(make_model(nodes, inputs, [float_input("a", None), float_input("b", None)],
                                       initializers, opset=14)))
    assert named["copy"].output_shape == [2, 3, 20]
    assert named["allowzero"].output_shape == [0, 4]
    bad = make_model([helper.make_node("Reshape", ["x", "s"], ["y"], name="bad")], [float_input("x", [1, 400])],
                     [float_input("y", None)], [ints("s", [1, 300])])
    with pytest.raises(ShapeError, match=r"'bad'.*400 values.*1×300"):
        analyze(bad)


def test_squeeze_unsqueeze_old_attributes_and_new_inputs():
    old = [helper.make_node("Unsqueeze", ["x"], ["u"], name="u", axes=[0, 3]),
           helper.make_node("Squeeze", ["u"], ["s"], name="s", axes=[0])]
    named = by_name(analyze(make_model(old, [float_input("x", [1, 4, 4])], [float_input("s", None)], opset=11)))
    assert named["u"].output_shape == [1, 1, 4, 1, 4]
    assert named["s"].output_shape == [1, 4, 1, 4]
    new = [helper.make_node("Unsqueeze", ["x", "axes"], ["u"], name="u"),
           helper.make_node("Squeeze", ["u"], ["s"], name="s")]
    named = by_name(analyze(make_model(new, [float_input("x", [1, 4, 4])], [float_input("s", None)],
                                       [ints("axes", [-1])], opset=13)))
    assert named["u"].output_shape == [1, 4, 4, 1]
    assert named["s"].output_shape == [4, 4]


def test_external_data_model(tmp_path):
    path = tmp_path / "lenet_external.onnx"
    onnx.save_model(lenet_model(), str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="lenet_external.weights", size_threshold=0)
    assert (tmp_path / "lenet_external.weights").stat().st_size > LENET_TOTAL * 4 - 1
    layers = analyze(load_model(path))
    assert sum(layer.params for layer in layers) == LENET_TOTAL
    assert layers[-1].output_shape == [1, 10]
    # The Reshape target is an int64 initializer stored in the external file too.
    path = tmp_path / "tf2onnx_external.onnx"
    onnx.save_model(tf2onnx_like_model(), str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                    location="tf2onnx_external.weights", size_threshold=0)
    named = by_name(analyze(load_model(path)))
    assert named["model/flatten"].output_shape == [1, 1176]
    assert named["model/dense/BiasAdd"].output_shape == [1, 10]


def test_batchnorm_counts_scale_and_bias_only():
    initializers = [weights(n, [6], seed=i) for i, n in enumerate(["scale", "bias", "mean", "var"])]
    nodes = [helper.make_node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["y"], name="bn")]
    layer = analyze(make_model(nodes, [float_input("x", [1, 6, 7, 7])], [float_input("y", None)], initializers))[0]
    assert layer.params == 12
    assert layer.output_shape == [1, 6, 7, 7]
    assert "not counted" in layer.params_formula and "2·6" in layer.params_formula


def test_assorted_ops():
    initializers = [ints("pads", [0, 0, 1, 2, 0, 0, 3, 4]), ints("starts", [1]), ints("ends", [4]),
                    ints("axes", [2]), numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales"),
                    ints("axes_r", [2, 3])]
    nodes = [
        helper.make_node("Pad", ["x", "pads"], ["p"], name="pad"),
        helper.make_node("Slice", ["p", "starts", "ends", "axes"], ["sl"], name="slice"),
        helper.make_node("LRN", ["sl"], ["lrn"], name="lrn", size=3),
        helper.make_node("Concat", ["lrn", "lrn"], ["cat"], name="concat", axis=1),
        helper.make_node("Resize", ["cat", "", "scales"], ["up"], name="resize", mode="nearest"),
        helper.make_node("ReduceMean", ["up", "axes_r"], ["mean"], name="mean", keepdims=0),
        helper.make_node("Dropout", ["up"], ["drop", "mask"], name="dropout"),
        helper.make_node("GlobalAveragePool", ["drop"], ["gap"], name="gap"),
        helper.make_node("Softmax", ["mean"], ["prob"], name="softmax", axis=1),
    ]
    outputs = [float_input("prob", None), float_input("gap", None),
               helper.make_tensor_value_info("mask", TensorProto.BOOL, None)]
    model = make_model(nodes, [float_input("x", [1, 2, 5, 6])], outputs, initializers, opset=18)
    layers = analyze(model)
    assert_matches_onnxruntime(model, [layer for layer in layers if layer.op != "Dropout"])
    named = by_name(layers)
    assert named["pad"].output_shape == [1, 2, 9, 12]
    assert named["pad"].formula == "axis 2: 5 + 1 + 3 = 9; axis 3: 6 + 2 + 4 = 12 → 2×9×12"
    assert named["slice"].output_shape == [1, 2, 3, 12]
    assert named["lrn"].output_shape == [1, 2, 3, 12]
    assert named["concat"].output_shape == [1, 4, 3, 12]
    assert named["resize"].output_shape == [1, 4, 6, 24]
    assert named["mean"].output_shape == [1, 4]
    assert named["dropout"].output_shapes == [[1, 4, 6, 24], [1, 4, 6, 24]]
    assert named["gap"].output_shape == [1, 4, 1, 1]
    assert named["softmax"].output_shape == [1, 4]
    assert named["pad"].rf_start == (-1, -2)


def test_conv_transpose_output_shape_attribute_where_onnx_inference_drops_axes():
    # A heavy crop: the natural sizes are 70 and 69, output_shape asks for 6 and 29.
    # onnxruntime produces 1×1×6×29; ONNX 1.23 shape inference loses the
    # spatial axes of this tensor.
    nodes = [helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="up", strides=[3, 3], output_shape=[6, 29])]
    model = make_model(nodes, [float_input("x", [1, 2, 24, 23])], [float_input("y", None)],
                       [weights("w", [2, 1, 1, 3])], opset=19)
    layer = analyze(model)[0]
    assert layer.output_shape == [1, 1, 6, 29]
    assert layer.params == 2 * 1 * 1 * 3
    assert layer.formula == ("H: output_shape 6: (24 − 1)·3 + 1 − 64 = 6; "
                             "W: output_shape 29: (23 − 1)·3 + 3 − 40 = 29 → 1×6×29")
    assert layer.hyper["pads"] == [32, 20, 32, 20]
    inferred = onnx.shape_inference.infer_shapes(model).graph.output[0]
    assert len(inferred.type.tensor_type.shape.dim) == 2
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (result,) = session.run(None, {"x": np.zeros((1, 2, 24, 23), np.float32)})
    assert result.shape == (1, 1, 6, 29)


def test_conv_transpose_exact_output_shape():
    nodes = [helper.make_node("ConvTranspose", ["x", "w"], ["y"], name="up", strides=[2, 2], output_shape=[10, 9])]
    model = make_model(nodes, [float_input("x", [1, 3, 5, 4])], [float_input("y", None)], [weights("w", [3, 2, 3, 3])])
    layer = analyze(model)[0]
    assert layer.output_shape == [1, 2, 10, 9]
    assert layer.formula == ("H: output_shape 10: (5 − 1)·2 + 3 − 1 = 10; "
                             "W: output_shape 9: (4 − 1)·2 + 3 = 9 → 2×10×9")


def test_ceil_mode_follows_onnxruntime_not_onnx_shape_inference():
    nodes = [helper.make_node("MaxPool", ["x"], ["y"], name="pool", kernel_shape=[2], strides=[2], pads=[1, 1],
                              ceil_mode=1)]
    model = make_model(nodes, [float_input("x", [1, 1, 5])], [float_input("y", None)])
    layer = analyze(model)[0]
    assert layer.output_shape == [1, 1, 3]
    inferred = onnx.shape_inference.infer_shapes(model).graph.output[0]
    assert [d.dim_value for d in inferred.type.tensor_type.shape.dim] == [1, 1, 4]
    assert "onnxruntime drops it" in layer.note


def test_unknown_ops_fall_back_or_are_marked_unknown():
    nodes = [
        helper.make_node("CumSum", ["x", "axis"], ["cs"], name="cumsum"),
        helper.make_node("Relu", ["cs"], ["r"], name="relu"),
        helper.make_node("Mystery", ["r"], ["m"], name="custom", domain="example.custom"),
        helper.make_node("Relu", ["m"], ["y"], name="after"),
    ]
    model = make_model(nodes, [float_input("x", [1, 3, 4, 4])], [float_input("y", None)], [ints("axis", 1)])
    model.opset_import.append(helper.make_opsetid("example.custom", 1))
    named = by_name(analyze(model))
    assert named["cumsum"].output_shape == [1, 3, 4, 4]
    assert "ONNX shape inference" in named["cumsum"].note
    assert named["relu"].output_shape == [1, 3, 4, 4]
    assert named["custom"].output_shape is None
    assert named["after"].output_shape is None and "unknown" in named["after"].formula
    json.dumps(layers_to_json(list(named.values())))


def test_symbolic_spatial_input_is_a_clear_error():
    model = lenet_model()
    model.graph.input[0].type.tensor_type.shape.dim[2].dim_param = "height"
    with pytest.raises(ShapeError, match=r"'x'.*axis 2.*'height'"):
        analyze(model)


# ---------------------------------------------------------------------------
# output


def test_layers_to_json_is_json_and_complete():
    model = lenet_model()
    layers = analyze(model)
    objects = layers_to_json(layers)
    text = json.dumps(objects)
    back = json.loads(text)
    assert len(back) == len(model.graph.node)
    required = {"name", "op", "output", "output_shape", "formula", "params", "receptive_field", "jump", "hyper",
                "convention"}
    assert all(required <= set(obj) for obj in back)
    assert back[0]["output_shape"] == [1, 6, 28, 28] and back[0]["params"] == 156
    assert back[2]["hyper"]["kernel"] == [2, 2] and back[2]["convention"] == ar.POOL_CONVENTION_PER_SIDE
    assert [obj["receptive_field"] for obj in back[:7]] == [5, 5, 6, 14, 14, 16, 32]


def test_non_square_receptive_field_is_per_axis():
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], name="wide", kernel_shape=[5, 3], strides=[1, 2])]
    model = make_model(nodes, [float_input("x", [1, 1, 28, 20])], [float_input("y", None)],
                       [weights("w", [2, 1, 5, 3])])
    layers = analyze(model)
    layer = layers[0]
    assert layer.output_shape == [1, 2, 24, 9]
    assert layer.formula == "H: (28 + 2·0 − 5)/1 + 1 = 24; W: ⌊(20 + 2·0 − 3)/2⌋ + 1 = 9 → 2×24×9"
    assert (layer.receptive_field, layer.jump, layer.rf_start) == ((5, 3), (1, 2), 0)
    assert ar.receptive_box(layer, 2, 4) == (2, 8, 7, 11)
    obj = json.loads(json.dumps(layers_to_json(layers)))[0]
    assert obj["receptive_field"] == [5, 3] and obj["jump"] == [1, 2]
    assert "5×3" in format_table(layers)


def test_format_table_reads_as_a_hand_calculation():
    table = format_table(analyze(lenet_model()))
    lines = table.splitlines()
    assert "Total trainable parameters: 61,706" in table
    assert ar.POOL_CONVENTION_PER_SIDE in table
    assert "(32 + 2·0 − 5)/1 + 1 = 28 → 6×28×28" in table
    assert "6·1·5·5 + 6 = 156" in table
    header = next(line for line in lines if line.lstrip().startswith("#"))
    row = next(line for line in lines if " C3 " in line)
    # Columns line up: each header column ends where the row's value does.
    assert row.index("2,416") + len("2,416") == header.index("params") + len("params")
