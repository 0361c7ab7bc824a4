"""Small models shaped as torch.onnx.export writes torchvision networks.

What makes them exporter-shaped: ``Identity`` chains that pass an initializer on
to the convolution that uses it, a ``Constant`` shape tensor feeding a
``Reshape``, node names by module scope (``/layer1/layer1.0/conv1/Conv``),
residual ``Add``s, ``Concat``ed branches, and one initializer used by two
convolutions. Parameter counts in the docstrings are worked out by hand.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def _save(nodes, inits, name, input_shape, output_shape, path=None) -> onnx.ModelProto:
    graph = helper.make_graph(
        nodes, name,
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, input_shape)],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, output_shape)],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    if path is not None:
        onnx.save_model(model, str(path))
    return model


def _weight(rng, name, *shape):
    return numpy_helper.from_array((rng.normal(size=shape) * 0.1).astype(np.float32), name)


def small_resnet(path=None) -> onnx.ModelProto:
    """A ResNet-like network of 16 nodes, 3 of them constants.

    Nodes (execution order, 0-based): 0 Identity(shared) → 1 Identity (a chain), read by
    5 ``/layer1/layer1.0/conv1/Conv``; 7 ``/layer1/layer1.0/conv2/Conv`` reads the shared
    weight directly; 13 ``/Constant`` (the shape [1, -1]) feeds 14 ``/Reshape``.

    Parameters: conv1 8·3·3·3 + 8 = 224; the shared 8·8·3·3 = 576 once;
    layer1.1.conv1 576; fc 10·8 + 10 = 90; total 1466.
    """
    rng = np.random.default_rng(0)
    inits = [
        _weight(rng, "conv1.weight", 8, 3, 3, 3), _weight(rng, "conv1.bias", 8),
        _weight(rng, "shared.weight", 8, 8, 3, 3),
        _weight(rng, "layer1.1.conv1.weight", 8, 8, 3, 3),
        _weight(rng, "fc.weight", 10, 8), _weight(rng, "fc.bias", 10),
    ]
    conv = dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    nodes = [
        helper.make_node("Identity", ["shared.weight"], ["onnx::Conv_100"], name="Identity_0"),
        helper.make_node("Identity", ["onnx::Conv_100"], ["onnx::Conv_101"], name="Identity_1"),
        helper.make_node("Conv", ["input", "conv1.weight", "conv1.bias"], ["/conv1/Conv_output_0"],
                         name="/conv1/Conv", **conv),
        helper.make_node("Relu", ["/conv1/Conv_output_0"], ["/relu/Relu_output_0"], name="/relu/Relu"),
        helper.make_node("MaxPool", ["/relu/Relu_output_0"], ["/maxpool/MaxPool_output_0"], name="/maxpool/MaxPool",
                         kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Conv", ["/maxpool/MaxPool_output_0", "onnx::Conv_101"], ["/layer1/layer1.0/conv1/Conv_output_0"],
                         name="/layer1/layer1.0/conv1/Conv", **conv),
        helper.make_node("Relu", ["/layer1/layer1.0/conv1/Conv_output_0"], ["/layer1/layer1.0/relu/Relu_output_0"],
                         name="/layer1/layer1.0/relu/Relu"),
        helper.make_node("Conv", ["/layer1/layer1.0/relu/Relu_output_0", "shared.weight"],
                         ["/layer1/layer1.0/conv2/Conv_output_0"], name="/layer1/layer1.0/conv2/Conv", **conv),
        helper.make_node("Add", ["/layer1/layer1.0/conv2/Conv_output_0", "/maxpool/MaxPool_output_0"],
                         ["/layer1/layer1.0/Add_output_0"], name="/layer1/layer1.0/Add"),
        helper.make_node("Relu", ["/layer1/layer1.0/Add_output_0"], ["/layer1/layer1.0/relu_1/Relu_output_0"],
                         name="/layer1/layer1.0/relu_1/Relu"),
        helper.make_node("Conv", ["/layer1/layer1.0/relu_1/Relu_output_0", "layer1.1.conv1.weight"],
                         ["/layer1/layer1.1/conv1/Conv_output_0"], name="/layer1/layer1.1/conv1/Conv", **conv),
        helper.make_node("Add", ["/layer1/layer1.1/conv1/Conv_output_0", "/layer1/layer1.0/relu_1/Relu_output_0"],
                         ["/layer1/layer1.1/Add_output_0"], name="/layer1/layer1.1/Add"),
        helper.make_node("GlobalAveragePool", ["/layer1/layer1.1/Add_output_0"], ["/avgpool/GlobalAveragePool_output_0"],
                         name="/avgpool/GlobalAveragePool"),
        helper.make_node("Constant", [], ["/Constant_output_0"], name="/Constant",
                         value=numpy_helper.from_array(np.array([1, -1], np.int64))),
        helper.make_node("Reshape", ["/avgpool/GlobalAveragePool_output_0", "/Constant_output_0"], ["/Reshape_output_0"],
                         name="/Reshape"),
        helper.make_node("Gemm", ["/Reshape_output_0", "fc.weight", "fc.bias"], ["output"], name="/fc/Gemm", transB=1),
    ]
    return _save(nodes, inits, "small_resnet", [1, 3, 16, 16], [1, 10], path)


def inception_branches(path=None) -> onnx.ModelProto:
    """Three branches concatenated: 1×1 conv → ReLU, 3×3 conv → ReLU, a 3×3 max pool; then flatten by a
    Constant shape and a Gemm. Parameters: 4·1·1·1 + 4 = 8, 4·1·3·3 = 36, fc 5·(9·8·8) = 2880; total 2924."""
    rng = np.random.default_rng(1)
    inits = [_weight(rng, "b1.weight", 4, 1, 1, 1), _weight(rng, "b1.bias", 4), _weight(rng, "b2.weight", 4, 1, 3, 3),
             _weight(rng, "fc.weight", 5, 9 * 8 * 8)]
    nodes = [
        helper.make_node("Conv", ["input", "b1.weight", "b1.bias"], ["b1c"], name="/Mixed/branch1/conv/Conv",
                         kernel_shape=[1, 1]),
        helper.make_node("Relu", ["b1c"], ["b1r"], name="/Mixed/branch1/Relu"),
        helper.make_node("Conv", ["input", "b2.weight"], ["b2c"], name="/Mixed/branch2/conv/Conv",
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["b2c"], ["b2r"], name="/Mixed/branch2/Relu"),
        helper.make_node("MaxPool", ["input"], ["b3p"], name="/Mixed/branch3/MaxPool", kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1]),
        helper.make_node("Concat", ["b1r", "b2r", "b3p"], ["cat"], name="/Mixed/Concat", axis=1),
        helper.make_node("Constant", [], ["shape"], name="/Constant",
                         value=numpy_helper.from_array(np.array([1, -1], np.int64))),
        helper.make_node("Reshape", ["cat", "shape"], ["flat"], name="/Reshape"),
        helper.make_node("Gemm", ["flat", "fc.weight"], ["output"], name="/fc/Gemm", transB=1),
    ]
    return _save(nodes, inits, "inception_branches", [1, 1, 8, 8], [1, 5], path)


def plain_stack(stages: int = 3, convs: int = 3, pool: bool = True, path=None) -> onnx.ModelProto:
    """A network without scopes (names like ``conv4``): ``stages`` × (``convs`` × (3×3 Conv → ReLU), then a 2×2
    max pool when ``pool``), then Flatten → Gemm. 3 × 3 with pools: 3·7 + 2 = 23 nodes."""
    rng = np.random.default_rng(2)
    nodes, inits = [], []
    x, c_in, side, n = "input", 1, 32, 0
    for _ in range(stages):
        for _ in range(convs):
            inits.append(_weight(rng, f"w{n}", 4, c_in, 3, 3))
            nodes += [helper.make_node("Conv", [x, f"w{n}"], [f"c{n}"], name=f"conv{n}", kernel_shape=[3, 3],
                                       pads=[1, 1, 1, 1]),
                      helper.make_node("Relu", [f"c{n}"], [f"r{n}"], name=f"relu{n}")]
            x, c_in, n = f"r{n}", 4, n + 1
        if pool:
            nodes.append(helper.make_node("MaxPool", [x], [f"p{n}"], name=f"pool{n}", kernel_shape=[2, 2],
                                          strides=[2, 2]))
            x, side = f"p{n}", side // 2
    inits.append(_weight(rng, "fc", 4 * side * side, 10))
    nodes += [helper.make_node("Flatten", [x], ["flat"], name="flatten"),
              helper.make_node("MatMul", ["flat", "fc"], ["output"], name="fc")]
    return _save(nodes, inits, "plain_stack", [1, 1, 32, 32], [1, 10], path)


def big_resnet(stages: int = 4, blocks: int = 3, path=None) -> onnx.ModelProto:
    """A ResNet-shaped network large enough to be collapsed: a stem, ``stages`` × ``blocks`` residual blocks
    (Identity-passed conv1 weight, conv → relu → conv → add → relu), global pool, Constant-shape Reshape, Gemm.

    Nodes: 3 stem + stages·blocks·6 + 4 head; one Identity per block and the Constant are constants:
    4 × 3 → 79 nodes, 66 rows.
    """
    rng = np.random.default_rng(3)
    c = 4
    inits = [_weight(rng, "conv1.weight", c, 1, 3, 3), _weight(rng, "fc.weight", 10, c), _weight(rng, "fc.bias", 10)]
    conv = dict(kernel_shape=[3, 3], pads=[1, 1, 1, 1])
    nodes = [helper.make_node("Conv", ["input", "conv1.weight"], ["stem"], name="/conv1/Conv", **conv),
             helper.make_node("Relu", ["stem"], ["stem_r"], name="/relu/Relu"),
             helper.make_node("MaxPool", ["stem_r"], ["x0"], name="/maxpool/MaxPool", kernel_shape=[2, 2],
                              strides=[2, 2])]
    x = "x0"
    for s in range(1, stages + 1):
        for b in range(blocks):
            scope = f"/layer{s}/layer{s}.{b}"
            w1, w2, passed = f"layer{s}.{b}.conv1.weight", f"layer{s}.{b}.conv2.weight", f"onnx::Conv_{s}{b}"
            inits += [_weight(rng, w1, c, c, 3, 3), _weight(rng, w2, c, c, 3, 3)]
            nodes += [
                helper.make_node("Identity", [w1], [passed], name=f"Identity_{s}{b}"),
                helper.make_node("Conv", [x, passed], [f"{scope}/c1"], name=f"{scope}/conv1/Conv", **conv),
                helper.make_node("Relu", [f"{scope}/c1"], [f"{scope}/r1"], name=f"{scope}/relu/Relu"),
                helper.make_node("Conv", [f"{scope}/r1", w2], [f"{scope}/c2"], name=f"{scope}/conv2/Conv", **conv),
                helper.make_node("Add", [f"{scope}/c2", x], [f"{scope}/add"], name=f"{scope}/Add"),
                helper.make_node("Relu", [f"{scope}/add"], [f"{scope}/out"], name=f"{scope}/relu_1/Relu"),
            ]
            x = f"{scope}/out"
    nodes += [
        helper.make_node("GlobalAveragePool", [x], ["gap"], name="/avgpool/GlobalAveragePool"),
        helper.make_node("Constant", [], ["shape"], name="/Constant",
                         value=numpy_helper.from_array(np.array([1, -1], np.int64))),
        helper.make_node("Reshape", ["gap", "shape"], ["flat"], name="/Reshape"),
        helper.make_node("Gemm", ["flat", "fc.weight", "fc.bias"], ["output"], name="/fc/Gemm", transB=1),
    ]
    return _save(nodes, inits, "big_resnet", [1, 1, 28, 28], [1, 10], path)
