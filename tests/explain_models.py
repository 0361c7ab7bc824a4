"""Small ONNX classifiers for the explain tests, each exercising many ops and settings.

Every model takes one 28×28 digit (NCHW, or NHWC for ``nhwc_model``) and returns
N×10 class scores, so ModelSession opens it like any classifier. Weights are
seeded random numbers; shapes of hidden layers are worked out with
``graph.analyze`` while the model is built.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from lenet_gui.core import graph


class Net:
    def __init__(self, name: str, input_shape=("N", 1, 28, 28), opset: int = 17, seed: int = 0):
        self.name = name
        self.opset = opset
        self.rng = np.random.default_rng(seed)
        self.nodes: list[onnx.NodeProto] = []
        self.inits: list[onnx.TensorProto] = []
        self.input = helper.make_tensor_value_info("image", TensorProto.FLOAT, list(input_shape))
        self.count = 0

    def weight(self, shape, scale: float = 0.5, positive: bool = False, name: str | None = None) -> str:
        value = self.rng.normal(size=shape) * scale
        if positive:
            value = np.abs(value) + 0.1
        return self.const(value.astype(np.float32), name)

    def const(self, value, name: str | None = None) -> str:
        self.count += 1
        name = name or f"w{self.count}"
        self.inits.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    def add(self, op: str, inputs, name: str | None = None, **attrs) -> str:
        self.count += 1
        name = name or f"{op.lower()}{self.count}"
        self.nodes.append(helper.make_node(op, list(inputs), [name], name=name, **attrs))
        return name

    def model(self, output: str) -> onnx.ModelProto:
        g = helper.make_graph(self.nodes, self.name, [self.input],
                              [helper.make_tensor_value_info(output, TensorProto.FLOAT, None)], self.inits)
        m = helper.make_model(g, opset_imports=[helper.make_opsetid("", self.opset)])
        m.ir_version = 8
        return m

    def shape(self, tensor: str) -> list[int]:
        """Shape (with batch 1) of a tensor of the model built so far."""
        for layer in graph.analyze(self.model(tensor)):
            if layer.output == tensor:
                return layer.output_shape
        raise KeyError(tensor)

    def classifier(self, x: str, classes: int = 10, **gemm) -> str:
        """Flatten and a Gemm to ``classes`` scores."""
        flat = self.add("Flatten", [x], name="flatten")
        features = self.shape(flat)[1]
        w = self.weight((classes, features), 0.3) if gemm.get("transB") else self.weight((features, classes), 0.3)
        return self.add("Gemm", [flat, w, self.weight((classes,), 0.2)], name="scores", **gemm)

    def save(self, path, output: str):
        m = self.model(output)
        g = m.graph
        del g.output[:]
        g.output.append(helper.make_tensor_value_info(output, TensorProto.FLOAT, ["N", 10]))
        onnx.checker.check_model(m)
        onnx.save_model(m, str(path))
        return path


def features_model(path):
    """BatchNorm, asymmetric pads, stride and dilation, groups, max and average pooling, Gemm, Softmax."""
    n = Net("features")
    x = n.add("Conv", ["image", n.weight((4, 1, 3, 3)), n.weight((4,), 0.1)], name="c1",
              pads=[1, 0, 2, 1], strides=[2, 1], dilations=[2, 1])
    x = n.add("BatchNormalization", [x, n.weight((4,), positive=True), n.weight((4,), 0.2), n.weight((4,), 0.3),
                                     n.weight((4,), positive=True)], name="bn1", epsilon=1e-3)
    x = n.add("Relu", [x], name="relu1")
    x = n.add("Conv", [x, n.weight((4, 2, 3, 3)), n.weight((4,), 0.1)], name="grouped", group=2, pads=[1, 1, 1, 1])
    x = n.add("MaxPool", [x], name="maxpool", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 0, 0], ceil_mode=1)
    x = n.add("AveragePool", [x], name="avg_incl", kernel_shape=[2, 2], pads=[1, 1, 1, 1], count_include_pad=1)
    x = n.add("AveragePool", [x], name="avg_excl", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 0, 1, 0],
              count_include_pad=0, ceil_mode=1)
    x = n.add("LeakyRelu", [x], name="leaky", alpha=0.1)
    x = n.classifier(x, transB=1, alpha=0.7, beta=1.3)
    x = n.add("Softmax", [x], name="softmax", axis=1)
    return n.save(path, x)


def nhwc_model(path):
    """Channels-last input, stride 3, Tanh, Mul and Add with broadcasting, GlobalAveragePool, Reshape, MatMul."""
    n = Net("nhwc", input_shape=("N", 28, 28, 1))
    x = n.add("Transpose", ["image"], name="to_nchw", perm=[0, 3, 1, 2])
    x = n.add("Conv", [x, n.weight((3, 1, 5, 5)), n.weight((3,), 0.1)], name="c1", strides=[3, 3], pads=[2, 2, 2, 2])
    x = n.add("Tanh", [x], name="tanh")
    x = n.add("AveragePool", [x], name="avg", kernel_shape=[3, 3], strides=[2, 2], pads=[1, 1, 1, 1])
    x = n.add("Mul", [x, n.weight((1, 3, 1, 1))], name="scale")
    x = n.add("Add", [x, n.weight((3, 1, 1))], name="shift")
    x = n.add("Sigmoid", [x], name="sigmoid")
    x = n.add("GlobalAveragePool", [x], name="gap")
    x = n.add("Reshape", [x, n.const(np.array([0, -1], dtype=np.int64))], name="reshape")
    x = n.add("MatMul", [x, n.weight((3, 10))], name="matmul")
    x = n.add("Add", [x, n.weight((10,), 0.1)], name="bias")
    return n.save(path, x)


def one_d_model(path):
    """A 1-D convolution over the 784 pixels, Clip with bound inputs, 1-D max pooling, Elu, Transpose."""
    n = Net("one_d")
    x = n.add("Reshape", ["image", n.const(np.array([0, 1, 784], dtype=np.int64))], name="as_signal")
    x = n.add("Conv", [x, n.weight((3, 1, 5)), n.weight((3,), 0.1)], name="c1d", strides=[3], dilations=[2],
              pads=[2, 1])
    x = n.add("Clip", [x, n.const(np.array(-0.5, np.float32)), n.const(np.array(1.5, np.float32))], name="clip")
    x = n.add("MaxPool", [x], name="pool1d", kernel_shape=[3], strides=[2], pads=[1, 1])
    x = n.add("Elu", [x], name="elu", alpha=0.8)
    x = n.add("Transpose", [x], name="swap", perm=[0, 2, 1])
    x = n.classifier(x)
    x = n.add("LogSoftmax", [x], name="logsoftmax", axis=1)
    return n.save(path, x)


def three_d_model(path):
    """A 3-D convolution and 3-D average pooling over the digit cut into 4 slices, GlobalMaxPool."""
    n = Net("three_d")
    x = n.add("Reshape", ["image", n.const(np.array([0, 1, 4, 14, 14], dtype=np.int64))], name="as_volume")
    x = n.add("Conv", [x, n.weight((2, 1, 2, 3, 3)), n.weight((2,), 0.1)], name="c3d", pads=[0, 1, 1, 1, 1, 1])
    x = n.add("Relu", [x], name="relu3d")
    x = n.add("AveragePool", [x], name="avg3d", kernel_shape=[2, 2, 2], strides=[2, 2, 2])
    x = n.add("GlobalMaxPool", [x], name="gmp")
    x = n.classifier(x)
    return n.save(path, x)


def misc_model(path):
    """The remaining element-wise, normalisation and shape ops, on small tensors."""
    n = Net("misc", opset=20)
    x = n.add("Conv", ["image", n.weight((2, 1, 3, 3)), n.weight((2,), 0.1)], name="c1", strides=[2, 2])
    x = n.add("ConvTranspose", [x, n.weight((2, 2, 2, 2)), n.weight((2,), 0.1)], name="deconv", strides=[2, 2],
              pads=[0, 0, 1, 1])
    x = n.add("InstanceNormalization", [x, n.weight((2,), positive=True), n.weight((2,), 0.1)], name="inorm")
    x = n.add("Softplus", [x], name="softplus")
    x = n.add("Pad", [x, n.const(np.array([0, 0, 1, 2, 0, 0, 0, 1], dtype=np.int64)),
                      n.const(np.array(0.25, np.float32))], name="pad")
    x = n.add("LpPool", [x], name="lppool", kernel_shape=[2, 2], strides=[2, 2], p=2)
    a = n.add("HardSigmoid", [x], name="hardsigmoid", alpha=0.3, beta=0.4)
    b = n.add("Abs", [n.add("Sub", [x, n.weight((2, 1, 1))], name="sub")], name="abs")
    x = n.add("Concat", [a, b], name="concat", axis=1)
    x = n.add("Div", [x, n.const(np.array(2.0, np.float32))], name="div")
    y = n.add("Neg", [x], name="neg")
    x = n.add("Max", [x, y, n.weight((1, 4, 1, 1))], name="max")
    z = n.add("Min", [x, n.const(np.array(0.8, np.float32))], name="min")
    x = n.add("Mean", [x, z], name="mean")
    x = n.add("Sum", [x, z, n.weight((4, 1, 1))], name="sum")
    x = n.add("PRelu", [x, n.weight((4, 1, 1), 0.2)], name="prelu")
    x = n.add("Identity", [x], name="identity")
    x = n.add("Dropout", [x], name="dropout")
    r = n.add("ReduceMean", [x, n.const(np.array([3], dtype=np.int64))], name="reducemean", keepdims=1)
    r = n.add("ReduceL2", [r, n.const(np.array([-2], dtype=np.int64))], name="reducel2", keepdims=1)
    x = n.add("Add", [x, r], name="add_reduced")
    for op in ("ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceSumSquare", "ReduceLogSum",
               "ReduceLogSumExp"):  # over the 4 channels, of values in (0, 1): results of size about 1
        t = n.add(op, [n.add("Sigmoid", [x], name=f"positive_{op.lower()}"), n.const(np.array([1], np.int64))],
                  name=op.lower(), keepdims=0)
        t = n.add("Unsqueeze", [t, n.const(np.array([1], np.int64))], name=f"back_{op.lower()}")
        x = n.add("Add", [x, n.add("Mul", [t, n.const(np.array(0.1, np.float32))], name=f"scaled_{op.lower()}")],
                  name=f"plus_{op.lower()}")
    x = n.add("Unsqueeze", [x, n.const(np.array([2], dtype=np.int64))], name="unsqueeze")
    x = n.add("Squeeze", [x, n.const(np.array([2], dtype=np.int64))], name="squeeze")
    g = n.add("GlobalLpPool", [x], name="glp", p=2)
    h = n.add("GlobalAveragePool", [x], name="gavg")
    x = n.add("Concat", [g, h], name="pooled", axis=1)
    x = n.add("Flatten", [x], name="flat")
    x = n.add("MatMul", [x, n.weight((8, 6))], name="mm")
    x = n.add("LayerNormalization", [x, n.weight((6,), positive=True), n.weight((6,), 0.1)], name="lnorm")
    x = n.add("Sigmoid", [x], name="sig")
    # A chain of unary ops on values kept in range; ops with attributes here take their defaults.
    for op in ("Exp", "Log", "Sqrt", "Reciprocal", "Erf", "Sin", "Cos", "Celu", "Softsign", "HardSwish", "Mish",
               "Gelu", "Selu", "LeakyRelu", "HardSigmoid", "Elu", "ThresholdedRelu", "Sign", "Floor", "Ceil"):
        kwargs = {"alpha": 0.1} if op == "ThresholdedRelu" else {}
        if op == "LeakyRelu":
            x = n.add("Sub", [x, n.const(np.array(0.6, np.float32))], name="below_zero")
        x = n.add(op, [x], name=f"chain_{op.lower()}", **kwargs)
        if op in ("Sign", "Floor", "Ceil"):
            x = n.add("Add", [x, n.const(np.array(0.5, np.float32))], name=f"after_{op.lower()}")
    x = n.add("Pow", [x, n.const(np.array(2.0, np.float32))], name="pow")
    x = n.add("MatMul", [x, n.weight((6, 10))], name="scores")
    return n.save(path, x)


BUILDERS = {
    "features": features_model,
    "nhwc": nhwc_model,
    "one_d": one_d_model,
    "three_d": three_d_model,
    "misc": misc_model,
}
