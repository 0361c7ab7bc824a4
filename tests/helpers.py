"""Small ONNX models built in tests, shaped like real exporters' output."""

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def tiny_classifier(
    path,
    *,
    channels_last=False,
    channels=1,
    size=28,
    batch="N",
    softmax=False,
    metadata=None,
    external=False,
    classes=10,
):
    """A conv → relu → global pool → gemm classifier with seeded random weights."""
    rng = np.random.default_rng(0)
    nodes, inits = [], []
    in_shape = [batch, size, size, channels] if channels_last else [batch, channels, size, size]
    x = "image"
    if channels_last:
        nodes.append(helper.make_node("Transpose", [x], ["nchw"], perm=[0, 3, 1, 2]))
        x = "nchw"
    w = rng.normal(size=(4, channels, 3, 3)).astype(np.float32)
    inits += [numpy_helper.from_array(w, "w"), numpy_helper.from_array(np.zeros(4, np.float32), "b")]
    nodes += [
        helper.make_node("Conv", [x, "w", "b"], ["conv"], kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["conv"], ["relu"]),
        helper.make_node("GlobalAveragePool", ["relu"], ["pool"]),
        helper.make_node("Flatten", ["pool"], ["flat"]),
    ]
    fc = rng.normal(size=(4, classes)).astype(np.float32)
    inits.append(numpy_helper.from_array(fc, "fc"))
    nodes.append(helper.make_node("MatMul", ["flat", "fc"], ["scores"]))
    out = "scores"
    if softmax:
        nodes.append(helper.make_node("Softmax", ["scores"], ["probs"], axis=1))
        out = "probs"
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, in_shape)],
        [helper.make_tensor_value_info(out, TensorProto.FLOAT, [batch, classes])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    for k, v in (metadata or {}).items():
        model.metadata_props.add(key=k, value=v)
    onnx.checker.check_model(model)
    if external:
        onnx.save_model(model, str(path), save_as_external_data=True, all_tensors_to_one_file=True,
                        location=path.name + ".data", size_threshold=0)
    else:
        onnx.save_model(model, str(path))
    return path


def exporter_style_classifier(path):
    """Patterns real exporters write: unnamed nodes stored out of order, a bias as a
    separate Add, MatMul instead of Gemm, weights reshaped and transposed inside the
    graph (tf2onnx, CNTK), channels-last input."""
    rng = np.random.default_rng(1)
    w_hwio = rng.normal(size=(3, 3, 1, 5)).astype(np.float32)  # Keras keeps kernels as HWIO
    inits = [
        numpy_helper.from_array(w_hwio, "kernel_hwio"),
        numpy_helper.from_array(rng.normal(size=(5,)).astype(np.float32).reshape(1, 5, 1, 1), "conv_bias"),
        numpy_helper.from_array(rng.normal(size=(5 * 14 * 14 * 10,)).astype(np.float32), "dense_flat"),
        numpy_helper.from_array(np.array([5 * 14 * 14, 10], dtype=np.int64), "dense_shape"),
        numpy_helper.from_array(np.array([1, -1], dtype=np.int64), "flat_shape"),
    ]
    nodes = [
        helper.make_node("MatMul", ["flat", "dense_w"], ["scores"]),
        helper.make_node("Reshape", ["pooled", "flat_shape"], ["flat"]),
        helper.make_node("Transpose", ["image"], ["nchw"], perm=[0, 3, 1, 2]),
        helper.make_node("Transpose", ["kernel_hwio"], ["kernel_oihw"], perm=[3, 2, 0, 1]),
        helper.make_node("Reshape", ["dense_flat", "dense_shape"], ["dense_w"]),
        helper.make_node("Conv", ["nchw", "kernel_oihw"], ["conv"], pads=[1, 1, 1, 1]),
        helper.make_node("Add", ["conv", "conv_bias"], ["biased"]),
        helper.make_node("Relu", ["biased"], ["relu"]),
        helper.make_node("MaxPool", ["relu"], ["pooled"], kernel_shape=[2, 2], strides=[2, 2]),
    ]
    graph = helper.make_graph(
        nodes,
        "keras_like",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 28, 28, 1])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 10])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save_model(model, str(path))
    return path


def deep_classifier(path, blocks=12, channels=8, size=28):
    """A plain deep CNN: ``blocks`` × (3×3 Conv → ReLU), a 2×2 max pool after every
    fourth, then global average pool → Flatten → Gemm → Softmax. 12 blocks: 30 nodes."""
    rng = np.random.default_rng(2)
    nodes, inits = [], []
    x, c_in = "image", 1
    for i in range(blocks):
        w = (rng.normal(size=(channels, c_in, 3, 3)) / (3 * c_in ** 0.5)).astype(np.float32)
        inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(np.zeros(channels, np.float32), f"b{i}")]
        nodes += [helper.make_node("Conv", [x, f"w{i}", f"b{i}"], [f"conv{i}"], kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                                   name=f"block{i}/conv"),
                  helper.make_node("Relu", [f"conv{i}"], [f"relu{i}"], name=f"block{i}/relu")]
        x, c_in = f"relu{i}", channels
        if i % 4 == 3 and i < blocks - 1:
            nodes.append(helper.make_node("MaxPool", [x], [f"pool{i}"], kernel_shape=[2, 2], strides=[2, 2],
                                          name=f"pool{i}/maxpool"))
            x = f"pool{i}"
    inits.append(numpy_helper.from_array(rng.normal(size=(10, channels)).astype(np.float32), "fc"))
    inits.append(numpy_helper.from_array(np.zeros(10, np.float32), "fc_b"))
    nodes += [helper.make_node("GlobalAveragePool", [x], ["gap"], name="head/gap"),
              helper.make_node("Flatten", ["gap"], ["flat"], name="head/flatten"),
              helper.make_node("Gemm", ["flat", "fc", "fc_b"], ["logits"], transB=1, name="head/fc"),
              helper.make_node("Softmax", ["logits"], ["probs"], axis=1, name="head/softmax")]
    graph = helper.make_graph(
        nodes, "deep",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 1, size, size])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [1, 10])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    onnx.save_model(model, str(path))
    return path
