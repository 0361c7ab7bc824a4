"""How one unit was computed, and what in the drawing drove the answer. No Qt.

``Explainer`` writes out any unit of any layer with the numbers of one
onnxruntime run: the op's rule (``lenet_gui.core.ops.<family>.explain``)
recomputes the unit in float64 numpy from the weights and the input
activations that the same run returned, and the explanation carries
onnxruntime's own value beside it, so ``Explanation.agrees`` is a real check.

``evidence`` is occlusion sensitivity: the input with a small square blanked
(set to the value blank paper has for this model) at each position of a grid,
all in ONE batched run through the logits-only path; a pixel's evidence is the
mean drop in the class's probability over the squares that cover it.
"""

from __future__ import annotations

import functools
import weakref
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from lenet_gui.core import arithmetic, graph, preprocess
from lenet_gui.core.errors import LenetGuiError
from lenet_gui.core.explain_context import ExplainContext, NotExplained, Source, opset, shape_text
from lenet_gui.core.explanation import Evidence, Explanation, Step, Term
from lenet_gui.core.ops.conv import explain as conv_explain
from lenet_gui.core.ops.dense import explain as dense_explain
from lenet_gui.core.ops.elementwise import explain as elementwise_explain
from lenet_gui.core.ops.normalisation import explain as normalisation_explain
from lenet_gui.core.ops.pool import explain as pool_explain
from lenet_gui.core.ops.shape_ops import explain as shape_ops_explain

# The app's probability bars, explained by ``Explainer.explain_probability``.
PROBABILITIES = "probabilities"

RULE_MODULES = (conv_explain, pool_explain, dense_explain, elementwise_explain, normalisation_explain,
                shape_ops_explain)


def explain_rules() -> dict[str, Any]:
    """Op type → explain rule, from every op family."""
    rules: dict[str, Any] = {}
    for module in RULE_MODULES:
        rules.update(module.EXPLAIN_RULES)
    return rules


class ExplainError(LenetGuiError):
    """A layer or unit that does not exist, or evidence settings that cannot work."""


def layer_id(layer: graph.Layer) -> str:
    """The name ``shapes --json`` prints for a layer; unnamed nodes go by their display name."""
    return layer.name or layer.display_name


class Explainer:
    """Explains units of one model's layers; build once per model, call per run."""

    def __init__(self, model: onnx.ModelProto, layers: list[graph.Layer]):
        self.model = model
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
            return False, "this layer is worked out from the weights alone; it does not depend on the drawing"
        node = self._nodes.get(layer.index)
        if node is None or node.domain not in ("", "ai.onnx"):
            return False, f"{layer.op} is a custom op; its arithmetic is not known here"
        rule = self.rules.get(layer.op)
        if rule is None:
            return False, f"{layer.op} is not explained yet (its output is still shown)"
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
        if kind in ("conv", "pool") and len(unit) == 3:
            box = arithmetic.receptive_box(rf, unit[1], unit[2])
        elif kind == "dense":
            box = arithmetic.receptive_box(rf, 0, 0)
        else:
            return None
        y0, x0, y1, x1 = arithmetic.clip_box(box, *self._image_size)
        return y0, x0, y1 - y0, x1 - x0

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
        if name in self._initializers:
            try:
                return numpy_helper.to_array(self._initializers[name]).astype(np.float64)
            except (ValueError, TypeError):
                return None
        if self._folded is None:
            self._folded = self._fold()
        value = self._folded.get(name)
        return None if value is None else np.asarray(value).astype(np.float64)

    def _fold(self) -> dict[str, np.ndarray]:
        """Values of weight-only subgraphs (Constant, Transpose of a weight …), by the ONNX reference evaluator."""
        from onnx.reference import ReferenceEvaluator

        nodes = [n for n in graph.topological_order(self.model.graph)
                 if n.output and all(o in self._static for o in n.output if o)]
        names = [o for n in nodes for o in n.output if o]
        if not names:
            return {}
        g = onnx.helper.make_graph(nodes, "weights", [], [onnx.helper.make_empty_tensor_value_info(o) for o in names],
                                   list(self.model.graph.initializer))
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
                    model.graph.output.append(onnx.helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, None))
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


# ---------------------------------------------------------------------------
# evidence


def background_tensor(spec: preprocess.InputSpec) -> np.ndarray:
    """What blank paper is for this model: the normalised value of no ink, laid out like the input."""
    blank = np.zeros((spec.height, spec.width), dtype=np.float32)
    return preprocess.view_to_tensor(blank, spec)[0]


@functools.lru_cache(maxsize=16)
def occlusion_grid(height: int, width: int, patch: int, stride: int) -> tuple[tuple[tuple[int, int], ...], np.ndarray]:
    """(top-left corner of each square, averaging matrix H·W × squares): where the squares go, and how
    their drops become a map.

    Squares start every ``stride`` pixels and one more is added flush with the
    far edge, so every pixel is covered; a pixel's value is the mean drop over
    the squares covering it.
    """

    def starts(n: int) -> list[int]:
        s = list(range(0, n - patch + 1, stride))
        if s[-1] + patch < n:
            s.append(n - patch)
        return s

    positions = tuple((y, x) for y in starts(height) for x in starts(width))
    cover = np.zeros((height, width, len(positions)))
    for p, (y, x) in enumerate(positions):
        cover[y:y + patch, x:x + patch, p] = 1.0
    cover = cover.reshape(height * width, len(positions))
    cover /= cover.sum(axis=1, keepdims=True)
    cover.setflags(write=False)
    return positions, cover


def occluded_batch(image: np.ndarray, background: np.ndarray, positions, patch: int,
                   channels_last: bool) -> np.ndarray:
    """The image first, then one copy per position with a patch × patch square set to the background."""
    batch = np.empty((len(positions) + 1,) + image.shape, dtype=np.float32)
    batch[:] = image
    for p, (y, x) in enumerate(positions, start=1):
        if channels_last:
            batch[p, y:y + patch, x:x + patch, :] = background[y:y + patch, x:x + patch, :]
        else:
            batch[p, :, y:y + patch, x:x + patch] = background[:, y:y + patch, x:x + patch]
    return batch


def _occluded_probabilities(session, tensor: np.ndarray, patch: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities with nothing blanked, probabilities per blanked square), from one batch."""
    spec = session.spec
    x = np.asarray(tensor, dtype=np.float32)
    if x.ndim == 3:
        x = x[None]
    h, w = spec.height, spec.width
    if isinstance(patch, bool) or isinstance(stride, bool) or not (isinstance(patch, int) and isinstance(stride, int)) \
            or patch < 1 or stride < 1:
        raise ExplainError(f"the evidence square and its step must be whole numbers of at least 1 pixel "
                           f"(got {patch} and {stride})")
    if patch > min(h, w):
        raise ExplainError(f"an evidence square of {patch} pixels does not fit the {h}×{w} input")
    positions, _ = occlusion_grid(h, w, patch, stride)
    batch = occluded_batch(x[0], background_tensor(spec), positions, patch, spec.channels_last)
    probabilities = logits_only(session).probabilities(batch)
    return probabilities[0], probabilities[1:]


class LogitsOnly:
    """The model with only its class output: one onnxruntime run per batch, fused as far as onnxruntime can.

    The app's session makes every activation a graph output, which stops
    onnxruntime fusing Conv with ReLU and costs about 1.8× on a 226-image
    batch; evidence needs the class scores only. Models with a fixed batch size
    use the session's own ``predict_batch``.
    """

    def __init__(self, session):
        import onnxruntime as ort

        self.app = session
        self.session = None
        if session.spec.batch is not None:
            return
        model = onnx.ModelProto()
        model.CopyFrom(session.model)
        keep = [o for o in model.graph.output if o.name == session.class_output.name]
        del model.graph.output[:]
        model.graph.output.extend(keep)
        options = ort.SessionOptions()
        options.intra_op_num_threads = session.session.get_session_options().intra_op_num_threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(model.SerializeToString(), options,
                                                providers=session.session.get_providers())
        except Exception:  # whatever stops this copy, the app's session still works
            self.session = None

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        if self.session is None:
            return self.app.predict_batch(batch)
        name = self.session.get_inputs()[0].name
        scores = self.session.run(None, {name: np.ascontiguousarray(batch, dtype=np.float32)})[0]
        scores = np.asarray(scores, dtype=np.float64)
        if self.app.outputs_are_probabilities:
            return scores / scores.sum(axis=1, keepdims=True)
        scores = scores - scores.max(axis=1, keepdims=True)
        e = np.exp(scores)
        return e / e.sum(axis=1, keepdims=True)


_LOGITS_ONLY: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def logits_only(session) -> LogitsOnly:
    """The logits-only runner for a ModelSession, made once per session."""
    runner = _LOGITS_ONLY.get(session)
    if runner is None or runner.app is not session:
        runner = _LOGITS_ONLY[session] = LogitsOnly(session)
    return runner


def _evidence_for(session, base, occluded, class_index: int, patch: int, stride: int) -> Evidence:
    h, w = session.spec.height, session.spec.width
    _, cover = occlusion_grid(h, w, patch, stride)
    drops = float(base[class_index]) - occluded[:, class_index].astype(np.float64)
    heat = (cover @ drops).reshape(h, w)
    return Evidence(class_index, session.labels[class_index], heat, float(base[class_index]), patch, stride)


def evidence(session, tensor: np.ndarray, class_index: int | None = None, patch: int = 4,
             stride: int = 2) -> Evidence:
    """Occlusion evidence for one class (default: the predicted one), from one batched run."""
    base, occluded = _occluded_probabilities(session, tensor, patch, stride)
    if class_index is None:
        class_index = int(np.argmax(base))
    if not 0 <= int(class_index) < len(base):
        raise ExplainError(f"class {class_index} does not exist: this model has classes 0–{len(base) - 1}")
    return _evidence_for(session, base, occluded, int(class_index), patch, stride)


def evidence_all(session, tensor: np.ndarray, patch: int = 4, stride: int = 2) -> list[Evidence]:
    """Evidence for every class, all from the same single batch."""
    base, occluded = _occluded_probabilities(session, tensor, patch, stride)
    return [_evidence_for(session, base, occluded, c, patch, stride) for c in range(len(base))]
