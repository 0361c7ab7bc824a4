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
