"""Every node of an ONNX graph with its output shape, worked out by hand.

``analyze(model)`` walks the graph in execution order WITHOUT running it and
returns one ``Layer`` per ONNX node: the output shape, the student-style
working that gives it (``(32 + 2·0 − 5)/1 + 1 = 28 → 6×28×28``), the number of
trainable parameters, the hyper-parameters and the receptive field on the
input image.

This module is the graph walk: execution order, initializers and inputs, the
bookkeeping of what is known about every tensor, parameter counting, the
fallback for unknown ops, and the JSON and table output. What each op does
(its shape rule, folding, trainable inputs, receptive-field rule, title) lives
in its family's module under lenet_gui.core.ops, found through
``ops.rule_for``; attribute defaults come from the ONNX schema of the model's
opset (onnx.defs).

Decisions worth knowing:

* Nodes are sorted topologically here (exporters do not always store them in
  order); ties keep the file order, so the result is deterministic.
* Batch: a symbolic first input axis becomes ``batch`` (default 1); a batch
  size the model fixes is kept whatever ``batch`` says. Other symbolic input
  axes raise ShapeError, since the arithmetic needs numbers.
* Weight-only subgraphs (Constant, Identity, Cast, Reshape, Transpose,
  Unsqueeze… acting only on initializers), as tf2onnx and CNTK write them,
  are folded with numpy; so are shape computations (Shape → Gather → Concat →
  Reshape). Such nodes come back with ``constant=True`` and no parameters: the
  parameters of a weight are counted once, on the layer that uses it.
* Parameters are the elements of float initializers a node consumes in a
  trainable role: Conv/ConvTranspose weight and bias, Gemm B and C, a constant
  MatMul operand, BatchNormalization/InstanceNormalization/LayerNormalization
  scale and bias (a BatchNorm's running mean and variance are not trainable
  and not counted), PRelu slope, and the constant operand of Add or Mul with
  more than one element (a separate bias or scale; a scalar is taken as input
  normalisation). Each OpRule's ``param_inputs`` says which; ops without a
  rule count every float initializer they consume.
* Pooling follows onnxruntime, not ONNX shape inference, where the two differ:
  with ``ceil_mode=1`` a last window that would start in the right padding is
  dropped (ONNX shape inference before opset 22 keeps it), and SAME padding
  uses the undilated kernel. See lenet_gui.core.arithmetic.
* Unknown ops: the shape comes from ``onnx.shape_inference`` when it knows it;
  otherwise the layer's ``output_shape`` is None, its formula says why, and
  every layer that depends on it is marked unknown the same way. Analysis
  carries on instead of failing, so the rest of the table is still shown.
  ``Layer.shape_source`` says which; after a run of the model,
  ``adopt_runtime_shapes`` gives such layers onnxruntime's shapes, said so.
* Pooling windows wider than the padded input get the size onnxruntime's
  truncating division gives (1, or 0), with a note.
* Impossible configurations (a Conv kernel larger than the padded input, mismatched
  channels, a Reshape that does not fit) raise ShapeError naming the layer and
  the numbers.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from lenet_gui.core import arithmetic as ar
from lenet_gui.core import ops
from lenet_gui.core.errors import ModelError, ShapeError
from lenet_gui.core.ops._common import DENSE as _DENSE
from lenet_gui.core.ops._common import Call, attributes_with_defaults
from lenet_gui.core.ops._common import Out as _Out
from lenet_gui.core.ops._common import Tensor as _Tensor
from lenet_gui.core.ops._common import UnknownShape as _UnknownShape
from lenet_gui.core.ops._common import dims as _dims
from lenet_gui.core.ops._common import ints as _ints
from lenet_gui.core.ops._common import node_attributes as _attrs
from lenet_gui.core.ops._common import prod as _prod
from lenet_gui.core.ops._common import show as _show

MUL = ar.MUL
TIMES = "×"

SHAPE_FORMULA = "formula"
SHAPE_INFERRED = "ONNX shape inference"
SHAPE_UNKNOWN = "unknown"
SHAPE_RUNTIME = "onnxruntime"

# Element types whose initializers hold trainable weights.
_FLOAT_TYPES = {
    onnx.TensorProto.FLOAT,
    onnx.TensorProto.DOUBLE,
    onnx.TensorProto.FLOAT16,
    onnx.TensorProto.BFLOAT16,
}

# Largest tensor (elements) the analysis computes values for. Shape arithmetic
# is tiny; this keeps folding of big weight subgraphs cheap.
_FOLD_LIMIT = 1_000_000
# Float initializers larger than this are not read at all: only their shape
# matters here, and reading every weight of a big model would be slow.
_READ_FLOAT_LIMIT = 65_536


# ---------------------------------------------------------------------------
# public data


@dataclass
class Layer:
    """One ONNX node, with the arithmetic of its output."""

    index: int  # position in execution order
    name: str  # node name; may be ""
    op: str  # op_type, e.g. "Conv"
    inputs: list[str]  # input tensor names ("" for an omitted optional input)
    output: str  # first output tensor name
    output_shape: list[int] | None  # full shape including batch; None if unknown
    formula: str  # the working, e.g. "(32 + 2·0 − 5)/1 + 1 = 28 → 6×28×28"
    params: int = 0  # trainable parameters first counted at this node
    params_formula: str = ""  # e.g. "6·1·5·5 + 6 = 156"
    hyper: dict[str, Any] = field(default_factory=dict)  # kernel, stride, pads, dilation, group…
    receptive_field: int | tuple[int, ...] | None = None  # pixels seen per axis (int when all equal), at most the input's
    receptive_field_padded: int | tuple[int, ...] | None = None  # the field counting padding, where larger than the input
    jump: int | tuple[int, ...] | None = None  # input pixels between neighbouring units
    rf_start: int | tuple[int, ...] | None = None  # input coordinate where unit 0's field begins
    rf: ar.ReceptiveField | None = None  # per-axis receptive field, for arithmetic.receptive_box
    convention: str | None = None  # pooling formula convention shown, if any
    constant: bool = False  # output known without the image (weights or shape arithmetic)
    outputs: list[str] = field(default_factory=list)  # all output tensor names
    output_shapes: list[list[int] | None] = field(default_factory=list)  # shape of each output
    note: str = ""  # anything surprising (onnxruntime quirks, fallback shape inference)
    # Where output_shape comes from: SHAPE_FORMULA (worked out), SHAPE_INFERRED (ONNX shape
    # inference), SHAPE_UNKNOWN (None) or SHAPE_RUNTIME (what onnxruntime produced; adopt_runtime_shapes).
    shape_source: str = "formula"

    @property
    def display_name(self) -> str:
        """A label for people: the node name, or op and index for unnamed nodes."""
        return self.name or f"{self.op} #{self.index + 1}"  # people count nodes from 1


def _rule(node: onnx.NodeProto) -> ops.OpRule | None:
    """The registry's rule for a node of the default ONNX domain; None for other domains and unknown ops."""
    return ops.rule_for(node.op_type) if node.domain in ("", "ai.onnx") else None


# ---------------------------------------------------------------------------
# topological order


def _subgraph_inputs(node: onnx.NodeProto) -> set[str]:
    """Names a node's subgraphs (If/Loop/Scan bodies) read from the outer graph."""
    names: set[str] = set()
    for attribute in node.attribute:
        graphs = list(attribute.graphs)
        if attribute.HasField("g"):
            graphs.append(attribute.g)
        for graph in graphs:
            defined = {t.name for t in graph.input} | {t.name for t in graph.initializer}
            for inner in graph.node:
                defined.update(inner.output)
            for inner in graph.node:
                names.update(n for n in inner.input if n and n not in defined)
                names.update(_subgraph_inputs(inner) - defined)
    return names


def topological_order(graph: onnx.GraphProto) -> list[onnx.NodeProto]:
    """The graph's nodes so that every node comes after the nodes it reads from.

    Raises ModelError for a tensor nobody provides or a cycle.
    """
    provided = {t.name for t in graph.initializer} | {t.name for t in graph.input} | {""}
    provided |= {t.values.name for t in graph.sparse_initializer}
    producer: dict[str, int] = {}
    for index, node in enumerate(graph.node):
        for name in node.output:
            if name:
                producer[name] = index
    waiting_on: list[set[int]] = []
    readers: dict[int, list[int]] = {}
    for index, node in enumerate(graph.node):
        needs: set[int] = set()
        for name in list(node.input) + sorted(_subgraph_inputs(node)):
            if name in producer:
                if producer[name] != index:
                    needs.add(producer[name])
            elif name not in provided and name in node.input:
                label = node.name or f"{node.op_type} node {index}"
                raise ModelError(f"Node {label} reads tensor '{name}', which no node, input or initializer provides")
        waiting_on.append(needs)
        for other in needs:
            readers.setdefault(other, []).append(index)
    ready = [i for i, needs in enumerate(waiting_on) if not needs]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        index = heapq.heappop(ready)
        order.append(index)
        for reader in readers.get(index, ()):
            waiting_on[reader].discard(index)
            if not waiting_on[reader]:
                heapq.heappush(ready, reader)
    if len(order) != len(graph.node):
        stuck = next(i for i, needs in enumerate(waiting_on) if needs)
        label = graph.node[stuck].name or f"{graph.node[stuck].op_type} node {stuck}"
        raise ModelError(f"The graph has a cycle: node {label} depends on its own output")
    return [graph.node[i] for i in order]


# ---------------------------------------------------------------------------
# the analysis


def analyze(model: onnx.ModelProto, batch: int | None = None) -> list[Layer]:
    """Every node of ``model`` with its output shape and working, in execution order.

    ``batch`` replaces a symbolic batch axis (default 1); a batch size fixed in
    the model is kept. Raises ShapeError for impossible layers and ModelError for
    a broken graph.
    """
    if batch is not None and batch < 1:
        raise ShapeError(f"batch size must be at least 1, got {batch}")
    return _Analyzer(model, batch or 1).run()


class _Analyzer:
    def __init__(self, model: onnx.ModelProto, batch: int):
        self.model = model
        self.graph = model.graph
        self.batch = batch
        self.opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)
        self.tensors: dict[str, _Tensor] = {}
        self.claimed: set[str] = set()  # initializers already counted as parameters
        self.root_sizes: dict[str, int] = {}
        self.image_size: tuple[int, ...] | None = None
        self._inferred: dict[str, list[int]] | None = None
        self.input_shapes: dict[str, list[int]] = {}

    # -- setup ------------------------------------------------------------

    def _load_initializers(self) -> None:
        for tensor in self.graph.initializer:
            shape = _ints(tensor.dims)
            value = None
            limit = _READ_FLOAT_LIMIT if tensor.data_type in _FLOAT_TYPES else _FOLD_LIMIT
            if _prod(shape) <= limit and tensor.data_location != onnx.TensorProto.EXTERNAL:
                try:
                    value = numpy_helper.to_array(tensor)
                except Exception:  # data missing or unreadable: the shape is enough
                    value = None
            roots = frozenset([tensor.name]) if tensor.data_type in _FLOAT_TYPES else frozenset()
            self.root_sizes[tensor.name] = _prod(shape)
            self.tensors[tensor.name] = _Tensor(shape, value, static=True, roots=roots)
        for sparse in self.graph.sparse_initializer:
            shape = _ints(sparse.dims)
            roots = frozenset([sparse.values.name]) if sparse.values.data_type in _FLOAT_TYPES else frozenset()
            self.root_sizes[sparse.values.name] = _prod(shape)
            self.tensors[sparse.values.name] = _Tensor(shape, None, static=True, roots=roots)

    def _load_inputs(self, order: list[onnx.NodeProto]) -> None:
        image_done = False
        for value_info in self.graph.input:
            if value_info.name in self.tensors:  # an initializer listed as input (IR < 4)
                continue
            tensor_type = value_info.type.tensor_type
            if not tensor_type.HasField("shape"):
                raise ShapeError(f"Input '{value_info.name}' has no shape in the model")
            shape: list[int] = []
            for axis, dim in enumerate(tensor_type.shape.dim):
                if dim.HasField("dim_value") and (dim.dim_value > 0 or axis > 0):
                    shape.append(int(dim.dim_value))
                elif axis == 0:
                    shape.append(self.batch)
                else:
                    label = dim.dim_param or "unnamed"
                    raise ShapeError(
                        f"Input '{value_info.name}' has no fixed size on axis {axis} ('{label}'); "
                        "the layer arithmetic needs a number there"
                    )
            self.input_shapes[value_info.name] = shape
            tensor = _Tensor(shape)
            if not image_done and len(shape) >= 3:
                spatial = self._image_axes(value_info.name, shape, order)
                tensor.rf = {axis: (axis, 1, 1, 0) for axis in spatial}
                self.image_size = tuple(shape[a] for a in spatial)
                image_done = True
            self.tensors[value_info.name] = tensor

    @staticmethod
    def _image_axes(name: str, shape: list[int], order: list[onnx.NodeProto]) -> list[int]:
        """Which axes of the input image are spatial (height, width, …)."""
        if len(shape) == 4:
            for node in order:
                if node.op_type == "Transpose" and node.input and node.input[0] == name:
                    if _ints(_attrs(node).get("perm", [])) == [0, 3, 1, 2]:
                        return [1, 2]  # channels-last, as tf2onnx writes it
            if shape[3] in (1, 3, 4) and shape[1] not in (1, 3, 4):
                return [1, 2]
        if len(shape) == 3 and shape[1] > 4:
            return [1, 2]  # (N, H, W) greyscale without a channel axis
        return list(range(2, len(shape)))

    # -- main loop --------------------------------------------------------

    def run(self) -> list[Layer]:
        order = topological_order(self.graph)
        self._load_initializers()
        self._load_inputs(order)
        layers = []
        for index, node in enumerate(order):
            layers.append(self._analyze_node(index, node))
        return layers

    def _analyze_node(self, index: int, node: onnx.NodeProto) -> Layer:
        label = f"Layer '{node.name}' ({node.op_type})" if node.name else f"Layer {node.op_type} #{index + 1}"
        ins = [self.tensors.get(name) if name else None for name in node.input]
        default_domain = node.domain in ("", "ai.onnx")
        attrs = attributes_with_defaults(node, self.opset) if default_domain else _attrs(node)
        call = Call(node, ins, attrs, self.opset)
        # Static: computed from initializers and constants only, never from the image.
        static = node.op_type == "Constant" or (bool(node.input) and all(t is None or t.static for t in ins))
        try:
            out = self._shape(call)
        except ShapeError as exc:
            raise ShapeError(f"{label}: {exc}") from None
        except _UnknownShape as exc:
            out = self._fallback(node, ins, str(exc))
        values = self._fold(call, out)
        if values is not None:
            shapes = [list(v.shape) for v in values]
            out.shapes = shapes + list(out.shapes[len(shapes):])
        roots = frozenset().union(*(t.roots for t in ins if t is not None)) if static else frozenset()
        for position, name in enumerate(node.output):
            if not name:
                continue
            shape = out.shapes[position] if position < len(out.shapes) else None
            value = values[position] if values is not None and position < len(values) else None
            rf = None if static else out.rf
            self.tensors[name] = _Tensor(shape, value, static=static, roots=roots, rf=rf)

        params, params_formula = (0, "") if static else self._count_params(node, ins, out.param_inputs)
        layer = Layer(
            index=index,
            name=node.name,
            op=node.op_type,
            inputs=list(node.input),
            output=node.output[0] if node.output else "",
            output_shape=out.shapes[0] if out.shapes else None,
            formula=out.formula,
            params=params,
            params_formula=params_formula,
            hyper=out.hyper,
            convention=out.convention,
            constant=static or values is not None,
            outputs=list(node.output),
            output_shapes=[out.shapes[i] if i < len(out.shapes) else None for i in range(len(node.output))],
            note=out.note,
            shape_source=out.source,
        )
        self._fill_receptive_field(layer, None if static else out.rf)
        return layer

    # -- parameters -------------------------------------------------------

    def _count_params(self, node: onnx.NodeProto, ins: list[_Tensor | None],
                      param_inputs: tuple[int, ...]) -> tuple[int, str]:
        parts: list[str] = []
        total = 0
        shared = False
        for position in param_inputs:
            tensor = ins[position] if position < len(ins) else None
            if tensor is None or not tensor.static or not tensor.roots:
                continue
            fresh = [r for r in sorted(tensor.roots) if r not in self.claimed]
            if len(fresh) < len(tensor.roots):
                shared = True
            if not fresh:
                continue
            count = sum(self.root_sizes[r] for r in fresh)
            self.claimed.update(fresh)
            total += count
            if tensor.shape is not None and _prod(tensor.shape) == count:
                parts.append(MUL.join(str(d) for d in tensor.shape) or "1")
            else:
                parts.append(str(count))
        if not parts:
            return 0, "weights shared with an earlier layer" if shared else ""
        text = " + ".join(parts)
        text = f"{text} = {total}" if text != str(total) else str(total)
        rule = _rule(node)
        note = rule.params_note(ins) if rule is not None and rule.params_note is not None else ""
        if note:
            text += f" ({note})"
        if shared:
            text += " (some weights shared with an earlier layer)"
        return total, text

    # -- receptive field --------------------------------------------------

    def _fill_receptive_field(self, layer: Layer, state: Any) -> None:
        if state == _DENSE and self.image_size:
            size = self.image_size
            layer.rf = ar.ReceptiveField(tuple(size), tuple(size), (0,) * len(size))
            layer.receptive_field = size[0] if len(set(size)) == 1 else tuple(size)
            layer.jump = None
            layer.rf_start = 0
        elif isinstance(state, dict) and state:
            entries = [state[axis] for axis in sorted(state, key=lambda a: state[a][0])]
            rf = ar.ReceptiveField(tuple(e[1] for e in entries), tuple(e[2] for e in entries),
                                   tuple(e[3] for e in entries))
            layer.rf = rf

            def one(values: tuple[int, ...]):
                return values[0] if len(set(values)) == 1 else values

            # A field can grow past the image through padding (30 for a 3×3 stack over 28 pixels); the
            # size reported is clipped to the image, as a dense layer's is, and the unclipped one kept beside it.
            size = rf.size
            if self.image_size and len(self.image_size) == len(size):
                size = tuple(min(r, n) for r, n in zip(rf.size, self.image_size))
                if size != rf.size:
                    layer.receptive_field_padded = one(rf.size)
            layer.receptive_field, layer.jump, layer.rf_start = one(size), one(rf.jump), one(rf.start)

    # -- fallback ---------------------------------------------------------

    def _inferred_shapes(self) -> dict[str, list[int]]:
        """ONNX shape inference on a copy of the model with concrete input sizes."""
        if self._inferred is None:
            self._inferred = {}
            copy = onnx.ModelProto()
            copy.CopyFrom(self.model)
            for value_info in copy.graph.input:
                shape = self.input_shapes.get(value_info.name)
                if shape is None:
                    continue
                dims = value_info.type.tensor_type.shape.dim
                for dim, size in zip(dims, shape):
                    dim.Clear()
                    dim.dim_value = size
            try:
                inferred = onnx.shape_inference.infer_shapes(copy, data_prop=True)
            except Exception:  # inference gives up on some models; then we know nothing
                return self._inferred
            for value_info in list(inferred.graph.value_info) + list(inferred.graph.output):
                tensor_type = value_info.type.tensor_type
                if not tensor_type.HasField("shape"):
                    continue
                dims = tensor_type.shape.dim
                if all(d.HasField("dim_value") for d in dims):
                    self._inferred[value_info.name] = [int(d.dim_value) for d in dims]
        return self._inferred

    def _fallback(self, node: onnx.NodeProto, ins: list[_Tensor | None], reason: str = "") -> _Out:
        """Shapes for a node this module cannot work out: ONNX shape inference's, if any."""
        reason = reason or f"{node.op_type} is not analysed here"
        inferred = self._inferred_shapes()
        shapes = [inferred.get(name) for name in node.output]
        float_inputs = tuple(i for i, t in enumerate(ins) if t is not None and t.static and t.roots)
        if shapes and shapes[0] is not None:
            return _Out(shapes, f"{node.op_type}: from ONNX shape inference → {_dims(shapes[0])}",
                        param_inputs=float_inputs, note=f"{reason}; ONNX shape inference gave the shape",
                        source=SHAPE_INFERRED)
        return _Out(shapes, f"shape unknown: {reason}", param_inputs=float_inputs, note=reason, source=SHAPE_UNKNOWN)

    # -- dispatch to the op rules ---------------------------------------

    def _shape(self, call: Call) -> _Out:
        node = call.node
        rule = _rule(node)
        if rule is None:
            return self._fallback(node, call.ins)
        out = rule.shape(call)
        if out.param_inputs is None:
            out.param_inputs = rule.param_inputs
        return out

    def _fold(self, call: Call, out: _Out) -> list[np.ndarray] | None:
        """Values of a node's outputs when they can be known without the image."""
        node, ins = call.node, call.ins
        rule = _rule(node)
        if rule is None or rule.fold is None:
            return None
        if rule.fold_from_shapes:
            values = rule.fold(call, [], out)
            return None if values is None else [np.asarray(v) for v in values]
        values = [t.value if t is not None else None for t in ins]
        if any(t is not None and v is None for t, v in zip(ins, values)):
            return None
        if any(s is not None and _prod(s) > _FOLD_LIMIT for s in out.shapes):
            return None
        try:
            result = rule.fold(call, values, out)
        except Exception:  # an op numpy cannot mirror exactly: leave it unknown
            return None
        if result is None:
            return None
        return [np.asarray(v) for v in result]


def adopt_runtime_shapes(layers: list[Layer], shapes: dict[str, Any], batch: int = 1) -> list[Layer]:
    """Layers whose shape no formula here gives take the shape onnxruntime produced, and say so.

    ``shapes``: tensor name → activation shape without the batch axis, from one
    run of the model (ModelSession.run). A shape from ONNX shape inference is
    replaced too, since ONNX's inference and onnxruntime can disagree; a shape
    worked out by formula is never touched. Returns the layers changed.
    """
    changed = []
    for layer in layers:
        if layer.shape_source in (SHAPE_FORMULA, SHAPE_RUNTIME) or shapes.get(layer.output) is None:
            continue
        shape = [batch] + [int(d) for d in shapes[layer.output]]
        before = "" if layer.output_shape is None else f" (ONNX shape inference said {_dims(layer.output_shape)})"
        layer.output_shape = shape
        if layer.output_shapes:
            layer.output_shapes[0] = shape
        layer.formula = f"{layer.op}: not worked out here; onnxruntime produced → {_show(shape)}"
        reason = layer.note.split("; ONNX shape inference")[0] or f"{layer.op} is not analysed here"
        layer.note = f"{reason}; the shape shown is the one onnxruntime produced{before}"
        layer.shape_source = SHAPE_RUNTIME
        changed.append(layer)
    return changed


# ---------------------------------------------------------------------------
# output


def _plain(value: Any) -> Any:
    """A value json.dumps accepts: numpy numbers and tuples become Python ones."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return value


def layers_to_json(layers: list[Layer]) -> list[dict[str, Any]]:
    """One JSON-ready object per ONNX node, in execution order."""
    return [
        _plain({
            "index": layer.index,
            "name": layer.name,
            "display_name": layer.display_name,
            "op": layer.op,
            "inputs": layer.inputs,
            "output": layer.output,
            "outputs": layer.outputs,
            "output_shape": layer.output_shape,
            "output_shapes": layer.output_shapes,
            "formula": layer.formula,
            "params": layer.params,
            "params_formula": layer.params_formula,
            "hyper": layer.hyper,
            "receptive_field": layer.receptive_field,
            "receptive_field_padded": layer.receptive_field_padded,
            "jump": layer.jump,
            "rf_start": layer.rf_start,
            "convention": layer.convention,
            "constant": layer.constant,
            "note": layer.note,
            "shape_source": layer.shape_source,
        })
        for layer in layers
    ]


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, tuple):
        return TIMES.join(map(str, value))
    return str(value)


#: The convolution arithmetic the formulas follow.
REFERENCE = ('Dumoulin and Visin, "A guide to convolution arithmetic for deep learning" '
             "(2016, arXiv:1603.07285)")

def format_table(layers: list[Layer], structure: Any = None) -> str:
    """The layer table as a hand calculation, plain text for a terminal.

    One aligned row per layer that works on the image (weight preparation and
    shape bookkeeping nodes are counted in a footnote), each followed by its
    working; then the total number of parameters. With a
    ``structure.Structure``, rows come under their block headings, indented.
    """
    shown = [layer for layer in layers if not layer.constant]
    headings: dict[int, list[tuple[int, str]]] = {}  # layer index → block headings opened before it
    depth: dict[int, int] = {}
    folded_lines: dict[int, str] = {}
    if structure is not None:
        from lenet_gui.core import structure as st

        by_index = {layer.index: layer for layer in layers}
        shown = [by_index[i] for i in structure.shown]
        for block in structure.blocks():
            headings.setdefault(block.layers[0], []).append((block.depth, st.block_heading(block)))
            for index in block.layers:
                depth[index] = block.depth + 1
        folded_lines = {i: st.folded_text(by_index, c) for i, c in structure.folded.items()}
    hidden = len(layers) - len(shown)
    rows = [("#", "layer", "op", "output", "params", "RF", "jump")]
    for layer in shown:
        shape = layer.output_shape
        out = "?" if shape is None else _dims(shape[1:] if len(shape) >= 2 else shape)
        field = _text(layer.receptive_field) + ("*" if layer.receptive_field_padded is not None else "")
        name = "  " * depth.get(layer.index, 0) + layer.display_name
        rows.append((str(layer.index + 1), name, layer.op, out, f"{layer.params:,}",
                     field, _text(layer.jump)))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    right = {0, 4, 5, 6}

    def line(row) -> str:
        cells = [cell.rjust(w) if i in right else cell.ljust(w) for i, (cell, w) in enumerate(zip(row, widths))]
        return "  ".join(cells).rstrip()

    lines = ["Layer arithmetic (output shapes without the batch axis; RF = receptive field on the input, in pixels)",
             "Nodes are counted from 1 in the first column; --json gives the 0-based index, as numpy counts.",
             f"Formulas follow {REFERENCE}."]
    if any(layer.convention for layer in shown):
        lines.append(f"Pooling formulas are written with {ar.POOL_CONVENTION_PER_SIDE}; "
                     f"the guide's own form, {ar.POOL_CONVENTION_TOTAL}, gives the same sizes.")
    if structure is not None and structure.grouping:
        lines.append(f"Rows {structure.grouping}; each [block]: input → output shape, parameters.")
    lines.append("")
    lines.append(line(rows[0]))
    lines.append(line(tuple("-" * w for w in widths)))
    indent = " " * (widths[0] + 2)
    for layer, row in zip(shown, rows[1:]):
        for level, heading in headings.get(layer.index, ()):
            lines.append(f"{indent}{'  ' * level}[{heading}]")
        lines.append(line(row))
        lines.append(f"{indent}{layer.formula}")
        if folded_lines.get(layer.index):
            lines.append(f"{indent}{folded_lines[layer.index]}")
        if layer.params_formula:
            lines.append(f"{indent}params: {layer.params_formula}")
        if layer.note:
            lines.append(f"{indent}note: {layer.note}")
    lines.append(line(tuple("-" * w for w in widths)))
    total = sum(layer.params for layer in layers)
    lines.append(f"Total trainable parameters: {total:,} ({total})")
    padded = [layer for layer in shown if layer.receptive_field_padded is not None]
    if padded:
        lines.append(f"* RF clipped to the input: the field counted with padding is larger "
                     f"({', '.join(f'#{l.index + 1}: {_text(l.receptive_field_padded)}' for l in padded)}), "
                     "but a unit can see no more than the whole input.")
    if hidden:
        where = " (each folded into the layer that reads it)" if structure is not None else ""
        lines.append(f"({hidden} node{'s' if hidden != 1 else ''} preparing weights or shapes not shown{where}.)")
    return "\n".join(lines)
