"""The shipped LeNet-5 re-exported as a third party might have trained it.

Each wrapper takes its input in another convention (0..255 pixels, (x − 0.5)/0.5,
dark digits on white, 28×28 instead of 32×32, NHWC) and converts it, with a few
ONNX nodes in front, into exactly what the shipped model wants; the metadata is
stripped. A model made this way reads digits well only when it is fed in its own
convention, which is what calibration must find.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from lenet_gui.core.onnx_io import default_model_path

LENET_MEAN, LENET_STD = 0.1307, 0.3081


def convention_model(
    path,
    *,
    pixel_max: float = 1.0,
    mean: float = 0.0,
    std: float = 1.0,
    invert: bool = False,
    size: int = 32,
    channels_last: bool = False,
    keep_metadata: dict | None = None,
):
    """Save a LeNet-5 that expects ``((1 − p if invert else p)·pixel_max − mean)/std`` per pixel p."""
    base = onnx.load(str(default_model_path()))
    graph = base.graph
    first = graph.input[0].name  # "input", 1×1×32×32
    x = "convention_input"
    nodes, inits = [], []

    def const(name, value):
        inits.append(numpy_helper.from_array(np.array(value, dtype=np.float32), name))
        return name

    shape = ["batch", size, size, 1] if channels_last else ["batch", 1, size, size]
    cur = x
    if channels_last:
        nodes.append(helper.make_node("Transpose", [cur], ["cv_nchw"], perm=[0, 3, 1, 2]))
        cur = "cv_nchw"
    # Undo this convention: p' = (v·std + mean)/pixel_max, then un-invert.
    nodes.append(helper.make_node("Mul", [cur, const("cv_std", std)], ["cv_a"]))
    nodes.append(helper.make_node("Add", ["cv_a", const("cv_mean", mean)], ["cv_b"]))
    nodes.append(helper.make_node("Div", ["cv_b", const("cv_scale", pixel_max)], ["cv_p"]))
    cur = "cv_p"
    if invert:
        nodes.append(helper.make_node("Sub", [const("cv_one", 1.0), cur], ["cv_inv"]))
        cur = "cv_inv"
    if size != 32:
        pad = (32 - size) // 2
        pads = np.array([0, 0, pad, pad, 0, 0, 32 - size - pad, 32 - size - pad], dtype=np.int64)
        inits.append(numpy_helper.from_array(pads, "cv_pads"))
        nodes.append(helper.make_node("Pad", [cur, "cv_pads"], ["cv_padded"]))
        cur = "cv_padded"
    # Then LeNet-5's own normalisation.
    nodes.append(helper.make_node("Sub", [cur, const("cv_lmean", LENET_MEAN)], ["cv_c"]))
    nodes.append(helper.make_node("Div", ["cv_c", const("cv_lstd", LENET_STD)], [first]))

    new_graph = helper.make_graph(
        nodes + list(graph.node),
        "lenet5-convention",
        [helper.make_tensor_value_info(x, TensorProto.FLOAT, shape)],
        [o for o in graph.output if o.name == "logits"],
        list(graph.initializer) + inits,
    )
    model = helper.make_model(new_graph, opset_imports=list(base.opset_import))
    model.ir_version = base.ir_version
    for k, v in (keep_metadata or {}).items():
        model.metadata_props.add(key=k, value=v)
    onnx.checker.check_model(model)
    onnx.save_model(model, str(path))
    return path
