"""The pictures of a conv or pool unit in 1-D, 2-D and 3-D: which grids, their titles, values and marks (no Qt).

The input is 1, 2, 3, … reshaped to a signal or a volume, so each patch is read off by hand.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from lenet_gui.core import graph, preprocess
from lenet_gui.core.explain import Explainer
from lenet_gui.core.session import ModelSession


def _explain(tmp_path, shape, nodes, inits, flat, name="grids.onnx"):
    """Input 1 … n as 1×1×1×n, reshaped to ``shape``, through ``nodes`` (reading "v"), flattened to ``flat``."""
    n = int(np.prod(shape))
    nodes = [helper.make_node("Reshape", ["x", "shape"], ["v"], name="as_shape")] + nodes
    g = helper.make_graph(nodes, "grids", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 1, n])],
                          [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, flat])],
                          [numpy_helper.from_array(np.array(shape, np.int64), "shape")]
                          + [numpy_helper.from_array(np.asarray(v, np.float32), k) for k, v in inits.items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    m.ir_version = 8
    onnx.save_model(m, str(tmp_path / name))
    session = ModelSession(tmp_path / name)
    x = np.arange(1, n + 1, dtype=np.float32).reshape(1, 1, 1, n)
    result = session.run(x, preprocess.Prepared(np.zeros((28, 28), np.float32), np.zeros((1, n), np.float32), x))
    return Explainer(session.model, graph.analyze(session.model)), result


def _described(rows):
    return [[(g.title, np.asarray(g.values).tolist(), None if g.padding is None else np.asarray(g.padding).tolist(),
              g.highlight, g.signed) for g in row] for row in rows]


def test_a_1d_convolution_shows_one_row_of_patch_kernel_and_products(tmp_path):
    nodes = [helper.make_node("Conv", ["v", "w"], ["c"], name="conv", pads=[1, 0]),
             helper.make_node("Flatten", ["c"], ["out"])]
    explainer, result = _explain(tmp_path, [1, 1, 4], nodes, {"w": [[[1.0, -1.0]]]}, 4)
    e = explainer.explain(result, "conv", (0, 0))  # window from −1: padding, then the 1
    assert e.value == -1.0 and e.agrees
    assert _described(e.rows) == [[
        ("input channel 0 of 1", [[0.0, 1.0]], [[True, False]], None, False),
        ("kernel 0, channel 0", [[1.0, -1.0]], None, None, True),
        ("products", [[0.0, -1.0]], None, None, True),
    ]]


def test_a_2d_convolution_shows_its_kernel_and_products_signed(tmp_path):
    nodes = [helper.make_node("Conv", ["v", "w"], ["c"], name="conv"), helper.make_node("Flatten", ["c"], ["out"])]
    explainer, result = _explain(tmp_path, [1, 1, 2, 2], nodes, {"w": [[[[1.0, 0.0], [-1.0, 2.0]]]]}, 1)
    e = explainer.explain(result, "conv", (0, 0, 0))  # 1 − 3 + 8 = 6
    assert e.value == 6.0 and e.agrees
    assert _described(e.rows) == [[
        ("input channel 0 of 1", [[1.0, 2.0], [3.0, 4.0]], [[False, False], [False, False]], None, False),
        ("kernel 0, channel 0", [[1.0, 0.0], [-1.0, 2.0]], None, None, True),
        ("products", [[1.0, 0.0], [-3.0, 8.0]], None, None, True),
    ]]


def test_a_3d_convolution_shows_one_row_per_depth_tap(tmp_path):
    nodes = [helper.make_node("Conv", ["v", "w"], ["c"], name="conv"), helper.make_node("Flatten", ["c"], ["out"])]
    explainer, result = _explain(tmp_path, [1, 1, 2, 2, 2], nodes, {"w": np.array([2.0, -1.0]).reshape(1, 1, 2, 1, 1)},
                                 4)
    e = explainer.explain(result, "conv", (0, 0, 1, 0))  # depth taps 3 and 7: 2·3 − 7 = −1
    assert e.value == -1.0 and e.agrees
    assert _described(e.rows) == [
        [("input channel 0 of 1, depth tap 0", [[3.0]], [[False]], None, False),
         ("kernel 0, channel 0, depth 0", [[2.0]], None, None, True), ("products", [[6.0]], None, None, True)],
        [("input channel 0 of 1, depth tap 1", [[7.0]], [[False]], None, False),
         ("kernel 0, channel 0, depth 1", [[-1.0]], None, None, True), ("products", [[-7.0]], None, None, True)],
    ]


def test_a_1d_max_pool_marks_its_winner_in_the_one_row(tmp_path):
    nodes = [helper.make_node("MaxPool", ["v"], ["p"], name="pool", kernel_shape=[2], pads=[0, 1]),
             helper.make_node("Flatten", ["p"], ["out"])]
    explainer, result = _explain(tmp_path, [1, 1, 4], nodes, {}, 4)
    e = explainer.explain(result, "pool", (0, 1))  # window 2, 3: the 3 wins
    assert e.value == 3.0 and e.agrees
    assert _described(e.rows) == [[("window on input channel 0 of 1", [[2.0, 3.0]], [[False, False]], (0, 1), False)]]
    e = explainer.explain(result, "pool", (0, 3))  # 4 and the padding
    assert _described(e.rows) == [[("window on input channel 0 of 1", [[4.0, 0.0]], [[False, True]], (0, 0), False)]]


def test_a_3d_max_pool_marks_its_winner_in_its_depth_tap_only(tmp_path):
    nodes = [helper.make_node("MaxPool", ["v"], ["p"], name="pool", kernel_shape=[2, 1, 1]),
             helper.make_node("Flatten", ["p"], ["out"])]
    explainer, result = _explain(tmp_path, [1, 1, 2, 2, 2], nodes, {}, 4)
    e = explainer.explain(result, "pool", (0, 0, 1, 0))  # 3 and 7: the 7, in depth tap 1
    assert e.value == 7.0 and e.agrees
    assert _described(e.rows) == [
        [("window on input channel 0 of 1, depth tap 0", [[3.0]], [[False]], None, False)],
        [("window on input channel 0 of 1, depth tap 1", [[7.0]], [[False]], (0, 0), False)],
    ]


def test_a_4d_convolution_is_not_explained():
    nodes = [helper.make_node("Conv", ["x", "w"], ["c"], name="conv4d"), helper.make_node("Flatten", ["c"], ["out"])]
    g = helper.make_graph(nodes, "4d", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 2, 2, 2, 2])],
                          [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 16])],
                          [numpy_helper.from_array(np.ones((1, 1, 1, 1, 1, 1), np.float32), "w")])
    model = helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)])
    explainer = Explainer(model, graph.analyze(model))
    assert explainer.can_explain("conv4d") == (False, "a 4-D convolution is not explained (1-D, 2-D and 3-D are)")


def test_a_2d_max_pool_window_shows_its_padding_and_winner(tmp_path):
    nodes = [helper.make_node("MaxPool", ["v"], ["p"], name="pool", kernel_shape=[2, 2], pads=[1, 1, 0, 0]),
             helper.make_node("Flatten", ["p"], ["out"])]
    explainer, result = _explain(tmp_path, [1, 1, 2, 2], nodes, {}, 4)
    e = explainer.explain(result, "pool", (0, 0, 0))  # window from (−1, −1): only the 1 is on the input
    assert e.value == 1.0 and e.agrees
    (grid,), = e.rows
    assert (grid.title, np.asarray(grid.padding).tolist(), grid.highlight) == (
        "window on input channel 0 of 1", [[True, True], [True, False]], (1, 1))


def test_settings_checks_say_what_is_missing():
    from types import SimpleNamespace

    from lenet_gui.core.ops.conv.explain import _check as conv_check
    from lenet_gui.core.ops.pool.explain import _check as pool_check

    conv = helper.make_node("Conv", ["x", "w"], ["y"])
    for hyper in ({}, {"kernel": [3, 3]}, {"pads": [0] * 4}):
        assert conv_check(SimpleNamespace(hyper=hyper), conv) == "the convolution's settings could not be worked out"
    settled = SimpleNamespace(hyper={"kernel": [3, 3], "pads": [0] * 4})
    assert conv_check(settled, helper.make_node("Conv", ["x"], ["y"])) == "the convolution has no weights"
    assert conv_check(settled, conv) is None
    pool = helper.make_node("MaxPool", ["x"], ["y"])
    for hyper in ({}, {"kernel": [2, 2]}, {"pads": [0] * 4}):
        assert pool_check(SimpleNamespace(hyper=hyper), pool) == "the pooling settings could not be worked out"
    assert pool_check(SimpleNamespace(hyper={}), helper.make_node("GlobalMaxPool", ["x"], ["y"])) is None
    assert pool_check(settled, pool) is None
