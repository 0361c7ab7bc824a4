"""Clip's bounds, from attributes (before opset 11) or inputs, and the sigmoid at both extremes (no Qt)."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from lenet_gui.core import graph, preprocess
from lenet_gui.core.explain import Explainer
from lenet_gui.core.ops.elementwise.explain import _sigmoid
from lenet_gui.core.session import ModelSession

X = np.array([-3.0, -0.5, 0.5, 3.0], np.float32).reshape(1, 1, 1, 4)


def _explainer(tmp_path, clip, inits=None, opset=13, extra=()):
    nodes = list(extra) + [clip, helper.make_node("Flatten", ["c"], ["out"])]
    g = helper.make_graph(nodes, "clip", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 1, 4])],
                          [helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 4])],
                          [numpy_helper.from_array(np.array(v, np.float32), k) for k, v in (inits or {}).items()])
    m = helper.make_model(g, opset_imports=[helper.make_opsetid("", opset)])
    m.ir_version = 8
    onnx.save_model(m, str(tmp_path / "clip.onnx"))
    session = ModelSession(tmp_path / "clip.onnx")
    result = session.run(X, preprocess.Prepared(np.zeros((28, 28), np.float32), np.zeros((1, 4), np.float32), X))
    return Explainer(session.model, graph.analyze(session.model)), result


def _values(explainer, result):
    out = []
    for i in range(4):
        e = explainer.explain(result, "clip", (0, 0, i))
        assert e.explained and e.agrees, e.reason
        out.append(e.value)
    return out


@pytest.mark.parametrize("attrs, expected", [
    ({"min": -1.0, "max": 2.0}, [-1.0, -0.5, 0.5, 2.0]),
    ({"max": 0.0}, [-3.0, -0.5, 0.0, 0.0]),  # no lower bound
    ({"min": 0.0}, [0.0, 0.0, 0.5, 3.0]),  # no upper bound
    ({}, [-3.0, -0.5, 0.5, 3.0]),
])
def test_bounds_from_attributes_before_opset_11(tmp_path, attrs, expected):
    clip = helper.make_node("Clip", ["x"], ["c"], name="clip", **attrs)
    assert _values(*_explainer(tmp_path, clip, opset=6)) == expected


@pytest.mark.parametrize("inputs, expected", [
    (["x", "lo", "hi"], [-1.0, -0.5, 0.5, 2.0]),
    (["x", "lo"], [-1.0, -0.5, 0.5, 3.0]),
    (["x", "", "hi"], [-3.0, -0.5, 0.5, 2.0]),  # the lower bound left out
    (["x"], [-3.0, -0.5, 0.5, 3.0]),
])
def test_bounds_from_inputs(tmp_path, inputs, expected):
    clip = helper.make_node("Clip", inputs, ["c"], name="clip")
    explainer, result = _explainer(tmp_path, clip, {"lo": -1.0, "hi": 2.0})
    assert _values(explainer, result) == expected
    e = explainer.explain(result, "clip", (0, 0, 3))
    assert e.steps[1].text.startswith(f"clip to [{'−1.0000' if 'lo' in inputs else '-inf'}, "
                                      f"{'2.0000' if 'hi' in inputs else 'inf'}]")


@pytest.mark.parametrize("which, what", [(1, "lower"), (2, "upper")])
def test_a_bound_the_run_cannot_give_is_named(tmp_path, which, what):
    """Bounds computed from the image (a ReduceMin of it), missing from the run, with no image to rerun."""
    extra = [helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("ReduceMin", ["x"], ["m"], name="least", keepdims=0)]
    inputs = ["r", "m", ""] if which == 1 else ["r", "", "m"]
    explainer, result = _explainer(tmp_path, helper.make_node("Clip", inputs, ["c"], name="clip"), extra=extra)
    result.activations.pop("m", None)  # a scalar: the run does not keep it
    result.prepared = None
    e = explainer.explain(result, "clip", (0, 0, 2))
    assert not e.explained and e.reason == f"the value of the {what} bound ('m') is not known from this run"


def test_the_sigmoid_is_worked_out_without_overflow_at_both_ends():
    assert _sigmoid(800.0) == 1.0 and _sigmoid(-800.0) == 0.0
    assert _sigmoid(0.0) == 0.5 and _sigmoid(2.0) == pytest.approx(1 / (1 + np.exp(-2.0)), rel=1e-15)
    assert _sigmoid(-2.0) == pytest.approx(1 / (1 + np.exp(2.0)), rel=1e-15)
