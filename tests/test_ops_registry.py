"""The op registry: every op has its rules, words and an example, and its claims hold.

The example cases live in tests/ops/test_<family>.py. Sign and monotonicity
claims are checked numerically with onnxruntime on those examples, folded
values against onnxruntime's outputs, receptive-field kinds against what the
analysis gives.
"""

import importlib
import math

import numpy as np
import pytest

from lenet_gui.core import arithmetic as ar
from lenet_gui.core import graph, ops
from lenet_gui.core.ops import elementwise
from lenet_gui.core.ops._common import schema_defaults
from tests.ops.cases import build, data_inputs, feeds, session

FAMILY_TESTS = ("conv", "pool", "dense", "elementwise", "normalisation", "shape_ops")


def example_cases():
    found = []
    for family in FAMILY_TESTS:
        module = importlib.import_module(f"tests.ops.test_{family}")
        found += list(module.CASES) + list(getattr(module, "FOLDED", []))
    return found


EXAMPLES = example_cases()
BY_OP: dict[str, list] = {}
for _case in EXAMPLES:
    BY_OP.setdefault(_case.op, []).append(_case)
RULES = ops.all_rules()


def _param_id(value) -> str:
    return value.op_type if isinstance(value, ops.OpRule) else value.id


@pytest.fixture
def restore_registry():
    saved = dict(ops._RULES)
    yield
    ops._RULES.clear()
    ops._RULES.update(saved)


# -- completeness ---------------------------------------------------------------


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.op_type)
def test_every_op_has_a_shape_rule_title_explain_rule_or_reason_and_an_example(rule):
    assert callable(rule.shape)
    assert rule.title.strip() and rule.title[0].isupper()
    if rule.explain is None:
        assert rule.explain_reason.strip(), f"{rule.op_type}: no explain rule and no reason given"
    else:
        assert callable(rule.explain)
    assert rule.family in ops.FAMILIES
    assert BY_OP.get(rule.op_type), f"{rule.op_type} has no example case in tests/ops/test_{rule.family}.py"


def test_examples_name_only_registered_ops():
    assert sorted(set(BY_OP) - {r.op_type for r in RULES}) == []


def test_each_family_subpackage_lists_exactly_its_own_rules():
    for family, rules in ops.by_family().items():
        module = importlib.import_module(f"lenet_gui.core.ops.{family}")
        assert [r.op_type for r in module.RULES] and {r.op_type for r in module.RULES} == {r.op_type for r in rules}


def test_unary_element_wise_ops_have_a_one_line_formula():
    for rule in ops.by_family()["elementwise"]:
        if rule.shape is elementwise.shape.same_as_input:
            assert rule.formula and ("x" in rule.formula or "value" in rule.formula), rule.op_type


def test_the_panel_and_session_tables_are_the_registry_s():
    from lenet_gui.core import session
    from lenet_gui.ui import layer_text

    assert session.NOT_ACTIVATIONS == {"Constant", "Shape", "Size", "ConstantOfShape", "Range"}
    assert layer_text.MAIN_OPS == {
        "Conv", "ConvTranspose", "MaxPool", "AveragePool", "LpPool", "GlobalAveragePool", "GlobalMaxPool",
        "GlobalLpPool", "Gemm", "MatMul", "BatchNormalization", "InstanceNormalization", "LayerNormalization"}
    assert layer_text.op_title("Conv") == "Convolution" and layer_text.op_title("Gemm") == "Fully connected"
    assert layer_text.op_title("NotAnOp") == "NotAnOp"
    assert layer_text.ELEMENTWISE_FORMULAS["Relu"] == "max(0, x) on every value"
    assert "Add" not in layer_text.ELEMENTWISE_FORMULAS  # broadcasting rows show their shapes instead
    assert {r.op_type for r in RULES if r.title} == set(layer_text.OP_TITLES)


def test_bookkeeping_ops_are_folded_and_say_why_they_are_not_explained():
    for rule in RULES:
        if not rule.activation:
            assert rule.fold is not None and rule.explain_reason.startswith("bookkeeping"), rule.op_type


# -- registration and explain rules ---------------------------------------------------


def test_an_op_cannot_be_registered_twice(restore_registry):
    with pytest.raises(ValueError, match="Conv is registered twice"):
        ops.register(ops.rule_for("Conv"))


def test_a_rule_must_name_a_known_family_receptive_field_and_sign():
    shape = ops.rule_for("Relu").shape
    for bad in ({"family": "misc"}, {"receptive_field": "wide"}, {"sign": "positive"}):
        with pytest.raises(ValueError):
            ops.OpRule("Foo", **{"family": "elementwise", "title": "Foo", "shape": shape, **bad})


def test_explain_rules_attach_by_op_type_and_unknown_ops_are_refused(restore_registry):
    def explain_conv(*args):
        return "explained"

    ops.attach_explain_rules({"Conv": explain_conv})
    rule = ops.rule_for("Conv")
    assert rule.explain is explain_conv and rule.explained and rule.explain_reason == ""
    unexplained = next(r for r in ops.all_rules() if r.explain is None and r.op_type != "Conv")
    assert unexplained.explain_reason and unexplained.explain_reason != ops.NOT_EXPLAINED_YET
    with pytest.raises(KeyError, match="Bogus"):
        ops.attach_explain_rules({"Bogus": explain_conv})


def test_a_family_explain_module_is_picked_up_on_first_lookup(restore_registry, monkeypatch):
    import sys
    import types

    def explain_relu(*args):
        return "relu"

    module = types.ModuleType("lenet_gui.core.ops.elementwise.explain")
    module.EXPLAIN_RULES = {"Relu": explain_relu}
    monkeypatch.setitem(sys.modules, module.__name__, module)
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: object() if name == module.__name__ else real_find_spec(name, *a))
    monkeypatch.setattr(ops, "_explain_loaded", False)
    assert ops.rule_for("Relu").explain is explain_relu
    assert ops.rule_for("Tanh").explain is not explain_relu  # only the ops the module names


# -- attribute defaults from the schema ---------------------------------------------


def test_attribute_defaults_come_from_the_schema_of_the_model_s_opset():
    assert schema_defaults("Softmax", 11)["axis"] == 1
    assert schema_defaults("Softmax", 13)["axis"] == -1
    assert schema_defaults("LeakyRelu", 17)["alpha"] == 0.01  # stored as float32, read back as written
    assert schema_defaults("BatchNormalization", 15)["epsilon"] == 1e-05
    assert schema_defaults("Conv", 17)["auto_pad"] == "NOTSET" and schema_defaults("Conv", 17)["group"] == 1
    assert "kernel_shape" not in schema_defaults("MaxPool", 17)  # no default: must be written
    # An op newer than the model's opset gets its first version's defaults.
    assert schema_defaults("LayerNormalization", 9)["axis"] == -1
    assert schema_defaults("NoSuchOp", 17) == {}


# -- claims checked with onnxruntime ------------------------------------------------------


def _float_only(case) -> bool:
    return case.runtime and all(np.dtype(spec.dtype) == np.float32 for _, spec in data_inputs(case)) \
        and data_inputs(case)


def _sign_cases():
    return [(rule, case) for rule in RULES if rule.sign != ops.SIGN_ANY for case in BY_OP[rule.op_type]
            if _float_only(case)]


@pytest.mark.parametrize("rule, case", _sign_cases(), ids=_param_id)
def test_sign_claims_hold_in_onnxruntime(rule, case):
    run = session(case)
    rng = np.random.default_rng(1)
    low = 0.0 if rule.sign == ops.SIGN_KEEPS else -3.0
    for _ in range(3):
        out = np.asarray(run.run(None, feeds(case, rng, low, 3.0))[0], dtype=np.float64)
        assert np.all(out[~np.isnan(out)] >= 0), f"{rule.op_type} gave a negative value ({rule.sign})"


def _monotonic_cases():
    return [(rule, case) for rule in RULES if rule.monotonic for case in BY_OP[rule.op_type] if _float_only(case)]


@pytest.mark.parametrize("rule, case", _monotonic_cases(), ids=_param_id)
def test_monotonic_claims_hold_in_onnxruntime(rule, case):
    run = session(case)
    rng = np.random.default_rng(2)
    for _ in range(3):
        low = feeds(case, rng)
        high = {name: value + rng.uniform(0, 1, value.shape).astype(value.dtype) for name, value in low.items()}
        a = np.asarray(run.run(None, low)[0], np.float64)
        b = np.asarray(run.run(None, high)[0], np.float64)
        known = ~np.isnan(a) & ~np.isnan(b)
        assert np.all(b[known] >= a[known] - 1e-5), f"{rule.op_type}: raising inputs lowered an output"


def test_claims_are_not_vacuous():
    # Guards the two tests above against filtering everything out.
    assert len({r.op_type for r, _ in _sign_cases()}) >= 40
    assert len({r.op_type for r, _ in _monotonic_cases()}) >= 50


def _folded_cases():
    return [case for case in EXAMPLES if case.constant]


@pytest.mark.parametrize("case", _folded_cases(), ids=lambda c: c.id)
def test_folded_values_equal_onnxruntime_s(case):
    model = build(case)
    analyzer = graph._Analyzer(model, 1)
    analyzer.run()
    folded = analyzer.tensors["y0"].value
    assert folded is not None, f"{case.id} was not folded"
    expected = session(case).run(None, feeds(case, np.random.default_rng(0)))[0]
    assert folded.dtype == expected.dtype and folded.shape == expected.shape
    if folded.dtype.kind == "f":  # numpy's exp and onnxruntime's may differ in the last bit
        np.testing.assert_allclose(folded, expected, rtol=1e-6)
    else:
        np.testing.assert_array_equal(folded, expected)


def test_every_folding_rule_has_a_folded_example():
    folded_ops = {case.op for case in _folded_cases()}
    assert sorted(r.op_type for r in RULES if r.fold is not None and r.op_type not in folded_ops) == []


# -- receptive-field kinds ------------------------------------------------------------------


def _image_cases():
    return [(ops.rule_for(case.op), case) for case in EXAMPLES
            if data_inputs(case) and len(data_inputs(case)[0][1].shape) >= 3 and not case.constant]


@pytest.mark.parametrize("rule, case", _image_cases(), ids=_param_id)
def test_receptive_field_kind_matches_the_analysis(rule, case):
    (layer,) = graph.analyze(build(case))
    image = data_inputs(case)[0][1].shape
    image_axes = graph._Analyzer._image_axes("x0", image, [])
    spatial = [image[a] for a in image_axes]
    identity = ar.input_receptive_field(len(spatial))
    rf, kind = layer.rf, rule.receptive_field
    out = layer.output_shape
    if kind == ops.RF_SLIDING:
        assert rf is not None and rf != identity
    elif kind == ops.RF_SAME:
        # None only where the node cut the image's own axes (Slice).
        assert rf == identity or (rf is None and out[2:] != image[2:])
    elif kind == ops.RF_MERGE:
        assert rf is not None
    elif kind == ops.RF_REGROUP:
        assert rf is not None or len(out) != len(image)
    elif kind == ops.RF_DENSE:
        whole = rf is not None and list(rf.size) == spatial and set(rf.start) == {0}
        # A reduction over channels only leaves the field as it was.
        assert whole or (rf == identity and not set(layer.hyper.get("axes", [])) & set(image_axes))
    else:
        assert rf is None, f"{rule.op_type} claims no receptive field but got {rf}"


def test_receptive_field_kinds_are_all_exercised():
    assert {rule.receptive_field for rule, _ in _image_cases()} == set(ops.RF_KINDS)


def test_parameter_inputs_are_counted_as_parameters():
    for rule in RULES:
        for case in BY_OP[rule.op_type]:
            trainable = [p for p in rule.param_inputs if p < len(case.inputs)
                         and isinstance(case.inputs[p], np.ndarray) and case.inputs[p].dtype.kind == "f"]
            if trainable and not case.constant:
                expected = sum(int(math.prod(case.inputs[p].shape)) for p in trainable)
                assert case.params == expected, case.id
