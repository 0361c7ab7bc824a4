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
    return _save(model, path, external)


def _save(model, path, external=False):
    """Write ``model`` to ``path``; ``external``: every weight in ``<name>.data`` beside it."""
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


# big_weight_classifier's weights. BIG_HWIO: 9·9·16·64 = 82,944 values, above
# weight_file.KEEP_FLOATS_UP_TO, stored as a Keras-style HWIO kernel; EDGE exactly at it.
_BIG_RNG = np.random.default_rng(7)
BIG_HWIO = _BIG_RNG.normal(size=(9, 9, 16, 64)).astype(np.float32) * 0.05
SMALL = _BIG_RNG.normal(size=(16, 1, 3, 3)).astype(np.float32)
FC = _BIG_RNG.normal(size=(64, 10)).astype(np.float32)
EDGE = _BIG_RNG.normal(size=(65_536,)).astype(np.float32)


def big_weight_classifier(path, *, transposed=True, external=False):
    """12×12 image → 3×3 conv (16 maps) → 9×9 conv with a large kernel (64 maps) → pool → 10 scores.

    ``transposed``: the large kernel is stored HWIO and transposed in the graph (the explainer
    folds it); else stored OIHW as the conv's own initializer (it gets a kernel view)."""
    if transposed:
        big = [helper.make_node("Transpose", ["big_hwio"], ["big"], perm=[3, 2, 0, 1], name="to_oihw")]
        stored = numpy_helper.from_array(BIG_HWIO, "big_hwio")
    else:
        big, stored = [], numpy_helper.from_array(np.ascontiguousarray(BIG_HWIO.transpose(3, 2, 0, 1)), "big")
    nodes = [
        helper.make_node("Conv", ["image", "small"], ["c1"], pads=[1, 1, 1, 1], name="conv1"),
        *big,
        helper.make_node("Conv", ["c1", "big"], ["c2"], pads=[4, 4, 4, 4], name="conv2"),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node("GlobalAveragePool", ["r2"], ["pool"], name="pool"),
        helper.make_node("Flatten", ["pool"], ["flat"], name="flat"),
        helper.make_node("MatMul", ["flat", "fc"], ["mm"], name="fc"),
        helper.make_node("ReduceSum", ["edge"], ["edge_sum"], keepdims=0, name="edge_sum"),
        helper.make_node("Add", ["mm", "edge_sum"], ["scores"], name="scores"),
    ]
    inits = [numpy_helper.from_array(SMALL, "small"), stored, numpy_helper.from_array(FC, "fc"),
             numpy_helper.from_array(EDGE, "edge")]
    graph = helper.make_graph(nodes, "big", [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 1, 12, 12])],
                              [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 10])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return _save(model, path, external)
