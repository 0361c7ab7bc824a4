"""The ONNX conformance node cases that ship in the onnx wheel, against the analysis.

``onnx.backend.test.case.node`` builds, for each op, small models with input
and expected output arrays. For every case whose nodes all have an OpRule,
the worked-out shape of each graph output must equal the expected array's.
The cases feed pads, shapes, axes and repeats as graph inputs; in real models
they are constants, so integer inputs are turned into initializers holding the
case's values (otherwise only ONNX shape inference could say anything), and so
are float inputs after the first (Upsample's scales).
"""

import warnings

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from lenet_gui.core import ops
from lenet_gui.core.graph import analyze

# Registered ops the onnx wheel has no conformance case for.
WITHOUT_CASES = {"GlobalLpPool", "Range"}


@pytest.fixture(scope="module")
def conformance_cases():
    import importlib
    import pkgutil

    from onnx.backend.test.case import node

    # Importing a case module generates its cases; only the registered ops' modules
    # are imported (all of them would take several seconds more).
    wanted = {rule.op_type.lower() for rule in ops.all_rules()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the generators' own overflow warnings
        for module in pkgutil.iter_modules(node.__path__):
            if module.name.replace("_", "").lower() in wanted:
                importlib.import_module(f"{node.__name__}.{module.name}")
        cases = getattr(node, "_NodeTestCases", None)
        if cases is None:  # an onnx without the list: generate every case
            cases = node.collect_testcases(None)
    usable = []
    for case in cases:
        graph = case.model.graph
        if not case.data_sets or not all(i.type.HasField("tensor_type") for i in graph.input):
            continue
        # An input with an axis of size 0 (empty tensors): the app reads a 0 first axis as the batch.
        if any(getattr(v, "size", 1) == 0 for v in case.data_sets[0][0]):
            continue
        if all(n.domain in ("", "ai.onnx") and ops.rule_for(n.op_type) for n in graph.node):
            usable.append(case)
    return usable


def _with_integer_inputs_as_constants(case) -> onnx.ModelProto:
    model = onnx.ModelProto()
    model.CopyFrom(case.model)
    inputs, _ = case.data_sets[0]
    keep = []
    for position, (value_info, value) in enumerate(zip(list(model.graph.input), inputs)):
        # Integer inputs (pads, shapes, axes) and float ones after the first (Upsample's scales).
        if isinstance(value, np.ndarray) and (value.dtype.kind in "iu" or (position and value.dtype.kind == "f")):
            model.graph.initializer.append(numpy_helper.from_array(value, value_info.name))
        else:
            keep.append(value_info)
    del model.graph.input[:]
    model.graph.input.extend(keep)
    return model


def _expected_shape(value) -> list[int]:
    return list(value.dims) if isinstance(value, onnx.TensorProto) else list(value.shape)


def test_worked_out_shapes_equal_the_conformance_outputs(conformance_cases):
    wrong, by_rule = [], {}
    for case in conformance_cases:
        model = _with_integer_inputs_as_constants(case)
        try:
            layers = analyze(model)
        except Exception as exc:  # noqa: BLE001  (listed below, with the case's name)
            wrong.append(f"{case.name}: {exc}")
            continue
        shapes, fell_back = {}, False
        for layer in layers:
            shapes.update(zip(layer.outputs, layer.output_shapes))
            fell_back |= "ONNX shape inference" in layer.note
        _, outputs = case.data_sets[0]
        got = [shapes.get(o.name) for o in model.graph.output]
        want = [_expected_shape(v) for v in outputs]
        if got[:len(want)] != want:
            wrong.append(f"{case.name}: {got} instead of {want}")
        elif not fell_back:
            for node in model.graph.node:
                by_rule.setdefault(node.op_type, []).append(case.name)
    assert wrong == []
    registered = {rule.op_type for rule in ops.all_rules()}
    # Every op with a rule is checked by at least one case its own rule worked out.
    assert sorted(registered - set(by_rule) - WITHOUT_CASES) == []
    assert len(conformance_cases) > 1000
