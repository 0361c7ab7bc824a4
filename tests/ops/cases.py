"""Example cases for the op registry: one node, its inputs and attributes, and the answer.

Each case is hand-checked: the expected output shape and the working the layer
panel prints are written out by hand (the reference an explain text can be
read against), not copied from the program. ``check`` builds a one-node model
with onnx.helper, runs the analysis on it and compares; ``check_runtime``
runs the same model in onnxruntime and compares the output shape.

Inputs: a list of ints is a float data input of that shape (fed at run time),
``Data(shape, dtype)`` a data input of another type, a numpy array an
initializer, None an omitted optional input.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from onnx import helper, numpy_helper

from lenet_gui.core.graph import analyze

ort.set_default_logger_severity(3)  # refusals are expected in the generated tests; no log lines


@dataclass(frozen=True)
class Data:
    shape: list[int]
    dtype: Any = np.float32


@dataclass
class Case:
    op: str
    inputs: list[Any]
    shape: list[int]  # expected first output shape, batch axis included
    formula: str  # expected working, exactly as the layer panel prints it
    attrs: dict[str, Any] = field(default_factory=dict)
    params: int = 0  # trainable parameters counted at the node
    params_formula: str | None = None  # expected parameter working, when there are parameters
    hyper: dict[str, Any] | None = None  # expected hyper-parameters (a subset), when worth checking
    outputs: int = 1
    opset: int = 17
    constant: bool = False  # the value is known without the image (folded)
    runtime: bool = True  # compare the shape with onnxruntime too
    name: str = ""

    @property
    def id(self) -> str:
        return f"{self.op}-{self.name}" if self.name else self.op


def data_inputs(case: Case) -> list[tuple[str, Data]]:
    found = []
    for position, spec in enumerate(case.inputs):
        if isinstance(spec, list):
            spec = Data(spec)
        if isinstance(spec, Data):
            found.append((f"x{position}", spec))
    return found


def build(case: Case) -> onnx.ModelProto:
    names, graph_inputs, initializers = [], [], []
    for position, spec in enumerate(case.inputs):
        if spec is None:
            names.append("")
            continue
        name = f"x{position}"
        names.append(name)
        if isinstance(spec, list):
            spec = Data(spec)
        if isinstance(spec, Data):
            elem = helper.np_dtype_to_tensor_dtype(np.dtype(spec.dtype))
            graph_inputs.append(helper.make_tensor_value_info(name, elem, spec.shape))
        else:
            initializers.append(numpy_helper.from_array(np.asarray(spec), name))
    outputs = [f"y{i}" for i in range(case.outputs)]
    node = helper.make_node(case.op, names, outputs, **case.attrs)
    graph = helper.make_graph([node], case.id, graph_inputs,
                              [helper.make_empty_tensor_value_info(o) for o in outputs], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", case.opset)])
    model.ir_version = 8
    # onnxruntime needs the outputs' element types; ONNX inference knows them.
    inferred = onnx.shape_inference.infer_shapes(model)
    types = {v.name: v.type.tensor_type.elem_type for v in inferred.graph.output if v.type.tensor_type.elem_type}
    del model.graph.output[:]
    for o in outputs:
        model.graph.output.append(helper.make_tensor_value_info(o, types.get(o, onnx.TensorProto.FLOAT), None))
    return model


def analysed(case: Case):
    """The Layer the analysis gives for the case's node."""
    (layer,) = analyze(build(case))
    return layer


def check(case: Case) -> None:
    layer = analysed(case)
    assert layer.output_shape == case.shape, f"{case.id}: shape {layer.output_shape}"
    assert layer.formula == case.formula, f"{case.id}: formula {layer.formula!r}"
    assert layer.params == case.params, f"{case.id}: {layer.params} parameters"
    if case.params_formula is not None:
        assert layer.params_formula == case.params_formula
    if case.hyper is not None:
        assert {k: layer.hyper.get(k) for k in case.hyper} == case.hyper
    assert layer.constant is case.constant
    assert layer.note == "" or "ONNX shape inference" not in layer.note, "fell back to ONNX shape inference"


def feeds(case: Case, rng: np.random.Generator, low: float = -3.0, high: float = 3.0) -> dict[str, np.ndarray]:
    values = {}
    for name, spec in data_inputs(case):
        dtype = np.dtype(spec.dtype)
        if dtype == np.bool_:
            values[name] = rng.random(spec.shape) < 0.5
        elif np.issubdtype(dtype, np.integer):
            values[name] = rng.integers(0 if dtype.kind == "u" else -3, 4, spec.shape).astype(dtype)
        else:
            values[name] = rng.uniform(low, high, spec.shape).astype(dtype)
    return values


def session(case: Case) -> ort.InferenceSession:
    return ort.InferenceSession(build(case).SerializeToString(), providers=["CPUExecutionProvider"])


def check_runtime(case: Case) -> None:
    result = session(case).run(None, feeds(case, np.random.default_rng(0)))
    assert list(result[0].shape) == case.shape, f"{case.id}: onnxruntime gives {list(result[0].shape)}"
