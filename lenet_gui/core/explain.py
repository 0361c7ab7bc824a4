"""How one unit was computed, and what in the drawing drove the answer. No Qt.

``Explainer`` writes out any unit of any layer with the numbers of one
onnxruntime run: the op's rule (``lenet_gui.core.ops.<family>.explain``)
recomputes the unit in float64 numpy from the weights and the input
activations that the same run returned, and the explanation carries
onnxruntime's own value beside it, so ``Explanation.agrees`` is a real check.

``evidence`` and ``evidence_all`` (occlusion sensitivity, one batched run) are
in ``lenet_gui.core.evidence`` and importable from here.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from lenet_gui.core import arithmetic, graph, ops
from lenet_gui.core.errors import LenetGuiError, ModelError
# The explain API: evidence is importable from here too.
from lenet_gui.core.evidence import background_tensor, evidence, evidence_all, logits_only, occlusion_grid
from lenet_gui.core.explain_context import ExplainContext, ExplainError, NotExplained, Source, opset, shape_text
from lenet_gui.core.explanation import PROBABILITIES, Explanation, Step, Term, layer_id
from lenet_gui.core.weight_file import WeightFile

# The app's probability bars, explained by ``Explainer.explain_probability``.

__all__ = [
    "Explainer", "ExplainError", "PROBABILITIES", "background_tensor", "evidence", "evidence_all", "explain_rules",
    "layer_id", "logits_only", "occlusion_grid",
]

def explain_rules() -> dict[str, Any]:
    """Op type → explain rule, as the op registry holds them (each family's explain.py)."""
    return {rule.op_type: rule.explain for rule in ops.all_rules() if rule.explain is not None}


class Explainer:
    """Explains units of one model's layers; build once per model, call per run."""

    def __init__(self, model: onnx.ModelProto, layers: list[graph.Layer], weights: WeightFile | None = None):
        """``weights``: reads the initializers a session left in the model's file (``ModelSession.weights``)."""
        self.model = model
        self.weights = weights or WeightFile()
        self.layers = layers
        self.rules = explain_rules()
        order = graph.topological_order(model.graph)
        by_output = {n.output[0]: n for n in order if n.output}
        self._nodes: dict[int, onnx.NodeProto] = {}
        for layer, node in zip(layers, order):
            if node.op_type != layer.op or (node.output and node.output[0] != layer.output):
                node = by_output.get(layer.output, node)
            self._nodes[layer.index] = node
        self._by_name: dict[str, graph.Layer] = {}
        for layer in layers:
            self._by_name.setdefault(layer_id(layer), layer)
        for layer in layers:
            self._by_name.setdefault(layer.display_name, layer)

        self._initializers = {t.name: t for t in model.graph.initializer}
        image = _image_input(model, self._initializers)
        self.input_name = image.name if image is not None else None
        dims = [d.dim_value if d.HasField("dim_value") else 0 for d in image.type.tensor_type.shape.dim] if image else []
        self.batch = dims[0] if dims and dims[0] > 0 else 1
        self._static = set(self._initializers)
        for node in order:  # computed from weights alone (Constant, folded weight subgraphs)
            if all(not i or i in self._static for i in node.input):
                self._static.update(o for o in node.output if o)
        self._shapes = {name: shape for layer in layers for name, shape in zip(layer.outputs, layer.output_shapes)}
        self.sources: dict[str, Source] = {name: Source(None, True) for name in self._initializers}
        if self.input_name:
            self.sources[self.input_name] = Source(None)
        self.producers: dict[str, graph.Layer] = {}
        self.consumers: dict[str, list[graph.Layer]] = {}
        for layer in layers:
            for name in layer.outputs:
                if name:
                    self.sources[name] = Source(layer_id(layer), name in self._static)
                    self.producers[name] = layer
            for name in dict.fromkeys(layer.inputs):
                if name:
                    self.consumers.setdefault(name, []).append(layer)
        self._opset = opset(model)
        self._folded: dict[str, np.ndarray] | None = None
        self._constants: dict[str, np.ndarray | None] = {}
        self._side = None  # onnxruntime session for tensors a run's activations do not hold whole
        self._side_cache: tuple[int, dict[str, np.ndarray]] | None = None
        self._image_size = self._network_size(image)
        self._class_output = _class_output(model)

    # --- layers -----------------------------------------------------------------------
    def layer(self, layer_name: str) -> graph.Layer:
        found = self._by_name.get(layer_name)
        if found is None:
            names = ", ".join(layer_id(layer) for layer in self.layers)
            raise ExplainError(f"there is no layer named '{layer_name}'; the layers are: {names}")
        return found

    def unit_shape(self, layer_name: str) -> tuple[int, ...]:
        """The shape of a layer's output without the batch axis: the ranges its units run over."""
        layer = self.layer(layer_name)
        if layer.output_shape is None:
            raise ExplainError(f"the output shape of {layer_id(layer)} is unknown, so its units cannot be named")
        return tuple(int(d) for d in layer.output_shape[1:])

    def can_explain(self, layer_name: str) -> tuple[bool, str]:
        layer = self._by_name.get(layer_name)
        if layer is None:
            return False, f"there is no layer named '{layer_name}'"
        if layer.output in self._static or layer.constant:
            return False, ("this layer is worked out from the weights alone (or from shapes); "
                           "it does not depend on the drawing")
        node = self._nodes.get(layer.index)
        if node is None or node.domain not in ("", "ai.onnx"):
            return False, f"{layer.op} is a custom op; its arithmetic is not known here"
        rule = self.rules.get(layer.op)
        if rule is None:
            registered = ops.rule_for(layer.op)
            if registered is None:
                return False, f"{layer.op} is not explained yet (its output is still shown)"
            return False, f"{layer.op}: {registered.explain_reason} (its output is still shown)"
        if layer.output_shape is None:
            return False, "its output shape is unknown, so its units cannot be named"
        if self._unbatched(layer.output):
            return False, "its first axis is not the batch, so its units cannot be counted per drawing"
        check = getattr(rule, "check", None)
        reason = check(layer, node) if check else None
        if reason:
            return False, reason
        return True, ""

    # --- explaining -------------------------------------------------------------------
    def explain(self, result, layer_name: str, unit: tuple[int, ...]) -> Explanation:
        """Unit ``unit`` (counted from 0, no batch axis) of layer ``layer_name`` in ``result``."""
        layer = self.layer(layer_name)
        unit = tuple(int(u) for u in unit)
        produced = result.activations.get(layer.output)
        shape = tuple(produced.shape) if produced is not None else self.unit_shape(layer_name)
        _check_unit(layer_id(layer), unit, shape)
        runtime = float(produced[unit]) if produced is not None and produced.ndim == len(unit) else None
        ok, reason = self.can_explain(layer_name)
        if not ok:
            return Explanation(layer_id(layer), layer.op, unit, runtime_value=runtime, explained=False, reason=reason)
        ctx = ExplainContext(
            values=self._values(result), sources=self.sources, consumers=self.consumers, producers=self.producers,
            opset=self._opset, notes={"nodes": self._nodes, "unbatched": self._unbatched},
        )
        node = self._nodes[layer.index]
        try:
            explanation = self.rules[layer.op](ctx, layer, node, unit)
        except NotExplained as exc:
            explanation = Explanation("", layer.op, unit, explained=False, reason=str(exc))
        except (ValueError, IndexError, TypeError, ZeroDivisionError, OverflowError, KeyError) as exc:
            # A model the rule does not expect: say so rather than show a wrong computation.
            explanation = Explanation("", layer.op, unit, explained=False,
                                      reason=f"this {layer.op} could not be worked out ({type(exc).__name__}: {exc})")
        explanation.layer = layer_id(layer)
        explanation.op = layer.op
        explanation.unit = unit
        explanation.runtime_value = runtime
        if explanation.explained and explanation.input_box is None:
            explanation.input_box = self._input_box(layer, unit, explanation.kind)
        return explanation

    def explain_probability(self, result, class_index: int) -> Explanation:
        """How the probability bar of one class came from the logits (layer ``PROBABILITIES``).

        A model whose output is already a Softmax is explained as that layer;
        otherwise this is the softmax the app applies, checked against the
        probabilities the session returned.
        """
        from lenet_gui.core.ops.normalisation.explain import softmax_working

        logits = np.asarray(result.logits, dtype=np.float64).ravel()
        if not 0 <= int(class_index) < logits.size:
            raise ExplainError(f"class {class_index} does not exist: this model has classes 0–{logits.size - 1}")
        k = int(class_index)
        producer = self.producers.get(self._class_output)
        if producer is not None and producer.op == "Softmax":
            return self.explain(result, layer_id(producer), (k,))
        value, steps, rows = softmax_working(logits, k)
        source = layer_id(producer) if producer is not None else None
        terms = sorted((Term(1.0, float(z), source, (i,)) for i, z in enumerate(logits)), key=lambda t: -t.value)
        steps.insert(0, Step("the model gives logits; the app turns them into probabilities with softmax"))
        return Explanation(PROBABILITIES, "Softmax", (k,), value=value,
                           runtime_value=float(result.probabilities[k]), kind="softmax", rows=rows, terms=terms,
                           steps=steps, window={"axis_size": int(logits.size), "position": k})

    def _input_box(self, layer: graph.Layer, unit, kind: str):
        rf = layer.rf
        if rf is None or len(rf.size) != 2 or self._image_size is None:
            return None
        if len(unit) == 3 and (kind in ("conv", "pool") or self._channels_first_map(layer)):
            box = arithmetic.receptive_box(rf, unit[1], unit[2])
        elif kind == "dense":
            box = arithmetic.receptive_box(rf, 0, 0)
        else:
            return None
        y0, x0, y1, x1 = arithmetic.clip_box(box, *self._image_size)
        return y0, x0, y1 - y0, x1 - x0

    def _channels_first_map(self, layer: graph.Layer) -> bool:
        """True for an element-wise layer whose units are (channel, row, column) of a conv or pool map."""
        seen = 0
        while layer is not None and seen < len(self.layers):
            if layer.op in _MAP_MAKERS:
                return True
            if layer.op not in _MAP_KEEPERS or not layer.inputs:
                return False
            layer = self.producers.get(layer.inputs[0])
            seen += 1
        return False

    # --- values -----------------------------------------------------------------------
    def _unbatched(self, name: str) -> bool:
        """True when a tensor's first axis is not the batch (the run keeps only its first slice)."""
        shape = self._shapes.get(name)
        return bool(shape) and shape[0] != self.batch and name != self.input_name

    def _values(self, result):
        cache: dict[str, np.ndarray | None] = {}

        def get(name: str) -> np.ndarray | None:
            if name in cache:
                return cache[name]
            value = None
            if name == self.input_name:
                if result.prepared is not None:
                    value = np.asarray(result.prepared.tensor, dtype=np.float64)[:1]
            elif name in self._static:
                value = self._constant(name)
            elif name in result.activations and not self._unbatched(name):
                value = np.asarray(result.activations[name], dtype=np.float64)[None]
            else:
                value = self._side_value(result, name)
            cache[name] = value
            return value

        return get

    def _constant(self, name: str) -> np.ndarray | None:
        """A weight as float64, read once (stepping through units reads the same kernel again and again)."""
        if name in self._constants:
            return self._constants[name]
        value = None
        if name in self._initializers:
            try:
                value = self.weights.array(self._initializers[name]).astype(np.float64)
            except (ValueError, TypeError, ModelError):  # unreadable, or its file changed since it was opened
                value = None
        else:
            if self._folded is None:
                self._folded = self._fold()
            folded = self._folded.get(name)
            if folded is not None:
                try:
                    value = np.asarray(folded).astype(np.float64)
                except (ValueError, TypeError):
                    value = None
        if value is not None:
            value.setflags(write=False)
        self._constants[name] = value
        return value

    def _fold(self) -> dict[str, np.ndarray]:
        """Values of weight-only subgraphs (Constant, Transpose of a weight …), by the ONNX reference evaluator."""
        from onnx.reference import ReferenceEvaluator

        nodes = [n for n in graph.topological_order(self.model.graph)
                 if n.output and all(o in self._static for o in n.output if o)]
        names = [o for n in nodes for o in n.output if o]
        if not names:
            return {}
        used = {i for n in nodes for i in n.input}
        try:
            weights = [numpy_helper.from_array(self.weights.array(t), t.name)
                       for t in self.model.graph.initializer if t.name in used]
        except (ValueError, TypeError, ModelError):
            return {}
        g = onnx.helper.make_graph(nodes, "weights", [], [onnx.helper.make_empty_tensor_value_info(o) for o in names],
                                   weights)
        folded = onnx.helper.make_model(g, opset_imports=list(self.model.opset_import))
        try:
            values = ReferenceEvaluator(folded).run(names, {})
        except Exception:  # a weight op the evaluator lacks: those units say so instead
            return {}
        return dict(zip(names, values))

    def _side_value(self, result, name: str) -> np.ndarray | None:
        """A tensor the run did not return whole (first axis not the batch, or a second output)."""
        if result.prepared is None or name not in self.sources:
            return None
        if self._side_cache is not None and self._side_cache[0] == id(result):
            return self._side_cache[1].get(name)
        import onnxruntime as ort

        if self._side is None:
            model = onnx.ModelProto()
            model.CopyFrom(self.model)
            wanted = [n for n in self.sources if n not in self._static and n != self.input_name]
            existing = {o.name for o in model.graph.output}
            for n in wanted:
                if n not in existing:
                    # No declared type: onnxruntime works out each one's own (declaring an integer tensor,
                    # a Shape's output say, as float would stop the whole session loading).
                    model.graph.output.append(onnx.helper.make_empty_tensor_value_info(n))
            try:
                self._side = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
            except Exception:
                return None
        x = np.asarray(result.prepared.tensor, dtype=np.float32)[:1]
        if self.batch > 1:
            x = np.repeat(x, self.batch, axis=0)
        names = [o.name for o in self._side.get_outputs()]
        try:
            outputs = self._side.run(names, {self._side.get_inputs()[0].name: x})
        except Exception:
            return None
        values = {n: np.asarray(v, dtype=np.float64) for n, v in zip(names, outputs)
                  if isinstance(v, np.ndarray) and v.dtype.kind == "f"}
        for n, v in values.items():
            if not self._unbatched(n) and v.ndim:
                values[n] = v[:1]
        self._side_cache = (id(result), values)
        return values.get(name)

    def _network_size(self, image) -> tuple[int, int] | None:
        if image is None:
            return None
        from lenet_gui.core.session import spec_from_model

        try:
            spec = spec_from_model(self.model, image)
        except LenetGuiError:
            return None
        return spec.height, spec.width


# Layers whose output is a channel-first map, and element-wise layers that keep the layout.
_MAP_MAKERS = {"Conv", "MaxPool", "AveragePool", "LpPool"}
_MAP_KEEPERS = {
    "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Elu", "Selu", "Celu", "Softplus", "Softsign", "HardSigmoid",
    "HardSwish", "Clip", "PRelu", "BatchNormalization", "InstanceNormalization", "Add", "Sub", "Mul", "Div",
    "Identity", "Dropout", "Abs", "Neg", "Exp", "Sqrt", "Mish", "Gelu", "ThresholdedRelu",
}


def _image_input(model: onnx.ModelProto, initializers) -> onnx.ValueInfoProto | None:
    inputs = [i for i in model.graph.input if i.name not in initializers]
    images = [i for i in inputs if len(i.type.tensor_type.shape.dim) >= 3]
    return images[0] if images else (inputs[0] if inputs else None)


def _class_output(model: onnx.ModelProto) -> str | None:
    """The scores output, chosen as ModelSession chooses it."""
    preferred = {p.key: p.value for p in model.metadata_props}.get("logits_output")
    outputs = [o for o in model.graph.output if o.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
               and len(o.type.tensor_type.shape.dim) == 2]
    chosen = [o for o in outputs if o.name == preferred] or outputs
    return chosen[0].name if chosen else None


def _check_unit(name: str, unit: tuple[int, ...], shape: tuple[int, ...]) -> None:
    ok = len(unit) == len(shape) and all(0 <= u < d for u, d in zip(unit, shape))
    if ok:
        return
    ranges = ", ".join(f"0–{d - 1}" for d in shape) or "none"
    given = ",".join(str(u) for u in unit) or "nothing"
    raise ExplainError(
        f"unit {given} does not exist in {name}, whose output is {shape_text(shape)}: give {len(shape)} "
        f"number{'s' if len(shape) != 1 else ''} counted from 0, in the ranges {ranges}")
