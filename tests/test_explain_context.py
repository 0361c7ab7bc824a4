"""What explain rules work with: the context's lookups, number formatting and the activation step (no Qt).

Hand-built contexts, so each lookup is checked on its own: a weight, a layer's
output and the network input, each asked for in the ways the rules ask.
"""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from lenet_gui.core import graph
from lenet_gui.core.explain_context import (
    ExplainContext, NotExplained, Source, activation_step, attrs, num, opset, rule, shape_text, unit_text, where,
)


def _layer(index, op, inputs, output, name=""):
    return graph.Layer(index, name, op, list(inputs), output, None, "")


def _context(values, sources, producers=None, consumers=None, notes=None):
    return ExplainContext(values=values.get, sources=sources, consumers=consumers or {}, producers=producers or {},
                          notes=notes or {})


SOURCES = {"w": Source(None, True), "x": Source(None), "c3": Source("c3.relu")}


def test_numbers_are_written_with_four_decimals_or_scientific_at_the_ends():
    assert num(None) == "?"
    assert num(0.0) == "0" and num(-0.0) == "0"
    assert num(0.001) == "0.0010"  # the lower end is still decimal
    assert num(0.00099) == "9.900e−04"
    assert num(99999.5) == "99999.5000"
    assert num(1e5) == "1.000e+05"  # the upper end is already scientific
    assert num(100000.5) == "1.000e+05"
    assert num(-2.5) == "−2.5000"  # a real minus sign, not a hyphen
    assert num(-1e-5) == "−1.000e−05"
    assert num(float("inf")) == "inf" and num(float("nan")) == "nan"


def test_shapes_and_units_as_text():
    assert shape_text((1, 6, 28, 28)) == "1×6×28×28"
    assert shape_text(()) == "scalar"
    assert shape_text(np.array([3], np.int64)) == "3"
    assert unit_text((0, np.int64(5), 7)) == "[0, 5, 7]"
    assert unit_text(()) == "[]"


def test_the_opset_is_the_default_domains():
    model = helper.make_model(helper.make_graph([], "g", [], []),
                              opset_imports=[helper.make_opsetid("com.microsoft", 1), helper.make_opsetid("", 13)])
    assert opset(model) == 13
    model = helper.make_model(helper.make_graph([], "g", [], []), opset_imports=[helper.make_opsetid("ai.onnx", 9)])
    assert opset(model) == 9
    model = helper.make_model(helper.make_graph([], "g", [], []),
                              opset_imports=[helper.make_opsetid("com.microsoft", 4)])
    assert opset(model) == 1  # no default domain imported: ONNX's first opset


def test_attributes_are_plain_values_and_undecodable_text_is_replaced():
    node = helper.make_node("Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], alpha=0.5, auto_pad="SAME_UPPER")
    node.attribute.append(helper.make_attribute("mode", b"\xffabc"))
    a = attrs(node)
    assert a["kernel_shape"] == [3, 3] and a["alpha"] == 0.5 and a["auto_pad"] == "SAME_UPPER"
    assert a["mode"] == "\ufffdabc"


def test_a_rule_carries_its_check():
    def check(layer, node):
        return "not this one"

    @rule(check=check)
    def explain_it(ctx, layer, node, unit):
        return None

    assert explain_it.check is check
    assert rule()(lambda *a: None).check is None


def test_values_optional_inputs_and_missing_ones_say_which():
    x = np.arange(4.0).reshape(1, 4)
    ctx = _context({"x": x, "": np.ones(1)}, SOURCES)
    assert ctx.value("x") is x
    with pytest.raises(NotExplained, match="^an input is missing$"):
        ctx.value("")
    with pytest.raises(NotExplained, match=r"^the value of the weights \('q'\) is not known from this run$"):
        ctx.value("q", "the weights")
    with pytest.raises(NotExplained, match=r"^the value of an input \('q'\)"):
        ctx.value("q")
    assert ctx.optional("") is None and ctx.optional(None) is None  # an omitted input is not looked up
    assert ctx.optional("x") is x and ctx.optional("q") is None


def test_sources_tell_weights_layers_and_the_input_apart():
    ctx = _context({}, SOURCES)
    assert ctx.is_constant("w") and not ctx.is_constant("x") and not ctx.is_constant("c3")
    assert not ctx.is_constant("unknown")
    assert ctx.source_layer("c3") == "c3.relu"
    assert ctx.source_layer("w") is None and ctx.source_layer("x") is None and ctx.source_layer("unknown") is None
    assert where(ctx, "w", (3, 1)) == "'w'[3, 1]"  # a weight keeps every axis
    assert where(ctx, "c3", (0, 2, 4, 4)) == "c3.relu[2, 4, 4]"  # activations drop the batch axis
    assert where(ctx, "x", (0, 0, 5, 7)) == "input[0, 5, 7]"


def test_terms_drop_the_batch_axis_unless_the_tensor_is_unbatched():
    ctx = _context({}, SOURCES)
    t = ctx.term("c3", (0, 2, 4, 4), 0.5, np.float64(3.0))
    assert (t.weight, t.value, t.source_layer, t.source_unit, t.padding) == (0.5, 3.0, "c3.relu", (2, 4, 4), False)
    assert ctx.term("x", (0, 0, 1, 1), 1.0, 0.0, padding=True).padding
    ctx = _context({}, SOURCES, notes={"unbatched": lambda name: name == "c3"})
    assert ctx.term("c3", (1, 2), 1.0, 1.0).source_unit == (1, 2)
    assert ctx.term("x", (0, 0, 1, 1), 1.0, 1.0).source_unit == (0, 1, 1)


def test_walking_back_through_a_flatten_finds_the_channel_row_and_column():
    conv = np.arange(12.0).reshape(1, 3, 2, 2)
    values = {"conv": conv, "flat": conv.reshape(1, 12)}
    sources = {"conv": Source("c1"), "flat": Source("flat")}
    producers = {"flat": _layer(1, "Flatten", ["conv"], "flat")}
    ctx = _context(values, sources, producers)
    assert ctx.walk_back("flat", (0, 7)) == ("conv", (0, 1, 1, 1))  # 7 = 1·4 + 1·2 + 1
    assert ctx.walk_back("conv", (0, 1, 1, 1)) == ("conv", (0, 1, 1, 1))  # a conv is where walking stops


@pytest.mark.parametrize("case", ["constant source", "unknown source", "no value here", "no value there",
                                  "other size", "not a copy"])
def test_walking_back_stops_where_the_copy_cannot_be_followed(case):
    conv = np.arange(12.0).reshape(1, 3, 2, 2)
    values = {"conv": conv, "flat": conv.reshape(1, 12)}
    sources = {"conv": Source("c1"), "flat": Source("flat")}
    op = "Reshape"
    if case == "constant source":
        sources["conv"] = Source(None, True)
    elif case == "unknown source":
        del sources["conv"]
    elif case == "no value here":
        del values["flat"]
    elif case == "no value there":
        del values["conv"]
    elif case == "other size":
        values["conv"] = np.arange(6.0).reshape(1, 6)
    else:
        op = "Transpose"
    ctx = _context(values, sources, {"flat": _layer(1, op, ["conv"], "flat")})
    assert ctx.walk_back("flat", (0, 7)) == ("flat", (0, 7))


def _activation(op, name="act", node=None):
    consumer = _layer(4, op, ["conv"], "act", name)
    notes = {"nodes": {4: node}} if node is not None else {}
    return _context({}, SOURCES, consumers={"conv": [consumer]}, notes=notes), _layer(3, "Conv", ["x"], "conv")


def test_the_activation_that_alone_reads_a_layer_is_its_last_step():
    ctx, conv = _activation("Relu", "c1.relu")
    step = activation_step(ctx, conv, -1.25)
    assert step.text == "then c1.relu applies ReLU: max(0, −1.2500) = 0" and step.value == 0.0
    assert activation_step(ctx, conv, 2.0).value == 2.0
    ctx, conv = _activation("Tanh")
    assert activation_step(ctx, conv, 0.5).value == pytest.approx(0.46211715726, rel=1e-9)
    ctx, conv = _activation("Sigmoid")
    step = activation_step(ctx, conv, -2.0)
    assert step.value == pytest.approx(1 / (1 + np.exp(2.0)), rel=1e-12)
    assert step.text == "then act applies sigmoid: 1/(1 + e^−(−2.0000)) = 0.1192"  # not "e^−−2.0000"
    step = activation_step(ctx, conv, 3.0)
    assert step.value == pytest.approx(1 / (1 + np.exp(-3.0)), rel=1e-12)
    assert step.text == "then act applies sigmoid: 1/(1 + e^−(3.0000)) = 0.9526"
    assert activation_step(ctx, conv, -800.0).value == 0.0  # no overflow far below zero


def test_leaky_relu_reads_its_alpha_from_the_node_and_unnamed_layers_their_display_name():
    node = helper.make_node("LeakyRelu", ["conv"], ["act"], alpha=0.2)
    ctx, conv = _activation("LeakyRelu", "", node)
    step = activation_step(ctx, conv, -2.0)
    assert step.value == pytest.approx(-0.4) and step.text == "then LeakyRelu #5 applies leaky ReLU: " \
                                                               "leaky ReLU(−2.0000) = −0.4000"
    assert activation_step(ctx, conv, 3.0).value == 3.0
    ctx, conv = _activation("LeakyRelu")  # no node known: ONNX's default alpha 0.01
    assert activation_step(ctx, conv, -2.0).value == pytest.approx(-0.02)


def test_no_activation_step_for_other_consumers_or_several_of_them():
    ctx, conv = _activation("MaxPool")
    assert activation_step(ctx, conv, 1.0) is None
    two = {"conv": [_layer(4, "Relu", ["conv"], "a"), _layer(5, "Relu", ["conv"], "b")]}
    ctx = _context({}, SOURCES, consumers=two)
    assert ctx.single_consumer("conv") is None and activation_step(ctx, conv, 1.0) is None
    assert ctx.single_consumer("nothing") is None
