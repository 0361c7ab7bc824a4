"""Every node of an ONNX graph with its output shape, worked out by hand.

``analyze(model)`` walks the graph in execution order WITHOUT running it and
returns one ``Layer`` per ONNX node: the output shape, the student-style
working that gives it (``(32 + 2·0 − 5)/1 + 1 = 28 → 6×28×28``), the number of
trainable parameters, the hyper-parameters and the receptive field on the
input image.

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
  normalisation). Ops this module does not know count every float initializer
  they consume.
* Pooling follows onnxruntime, not ONNX shape inference, where the two differ:
  with ``ceil_mode=1`` a last window that would start in the right padding is
  dropped (ONNX shape inference before opset 22 keeps it), and SAME padding
  uses the undilated kernel. See lenet_gui.core.arithmetic.
* Unknown ops: the shape comes from ``onnx.shape_inference`` when it knows it;
  otherwise the layer's ``output_shape`` is None, its formula says why, and
  every layer that depends on it is marked unknown the same way. Analysis
  carries on instead of failing, so the rest of the table is still shown.
* Impossible configurations (kernel larger than the padded input, mismatched
  channels, a Reshape that does not fit) raise ShapeError naming the layer and
  the numbers.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import onnx
from onnx import helper, numpy_helper

from lenet_gui.core import arithmetic as ar
from lenet_gui.core.errors import ModelError, ShapeError

MUL = ar.MUL
TIMES = "×"

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

_SAME_AS_INPUT_OPS = {
    "Relu", "Sigmoid", "Tanh", "LeakyRelu", "Elu", "Selu", "Celu", "Softmax", "LogSoftmax", "Hardmax",
    "Softplus", "Softsign", "Clip", "Identity", "Cast", "CastLike", "Erf", "Gelu", "HardSigmoid", "HardSwish",
    "Mish", "ThresholdedRelu", "Shrink", "LRN", "Sqrt", "Exp", "Log", "Abs", "Neg", "Reciprocal", "Floor",
    "Ceil", "Round", "Sign", "Sin", "Cos", "Not", "IsNaN", "IsInf", "Dropout", "BatchNormalization",
    "InstanceNormalization", "LayerNormalization", "PRelu", "MeanVarianceNormalization",
}
_BROADCAST_OPS = {
    "Add", "Sub", "Mul", "Div", "Pow", "Mod", "And", "Or", "Xor", "Equal", "Less", "Greater",
    "LessOrEqual", "GreaterOrEqual", "Max", "Min", "Sum", "Mean", "Where", "BitShift",
}
_REDUCE_OPS = {
    "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
    "ReduceLogSum", "ReduceLogSumExp", "ReduceSumSquare",
}
_POOL_OPS = {"MaxPool", "AveragePool", "LpPool"}
_GLOBAL_POOL_OPS = {"GlobalAveragePool", "GlobalMaxPool", "GlobalLpPool"}


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

    @property
    def display_name(self) -> str:
        """A label for people: the node name, or op and index for unnamed nodes."""
        return self.name or f"{self.op} #{self.index + 1}"  # people count nodes from 1


# ---------------------------------------------------------------------------
# internal bookkeeping


# Receptive field state of a tensor: None (not tied to the image), _DENSE (every
# unit sees the whole image), or {axis: (image_axis, size, jump, start)}.
_DENSE = "dense"


@dataclass
class _Tensor:
    shape: list[int] | None
    value: np.ndarray | None = None  # known value (constants, shape arithmetic)
    static: bool = False  # made from initializers/constants only
    roots: frozenset[str] = frozenset()  # float initializers it is made from (static only)
    rf: Any = None


@dataclass
class _Out:
    """What a shape handler found for one node."""

    shapes: list[list[int] | None]
    formula: str
    hyper: dict[str, Any] = field(default_factory=dict)
    convention: str | None = None
    rf: Any = None
    param_inputs: tuple[int, ...] = ()
    note: str = ""


class _UnknownShape(Exception):
    """An input's shape is unknown, so this node's is too."""


def _dims(shape) -> str:
    return TIMES.join(str(int(d)) for d in shape) if len(shape) else "scalar"


def _prod(values) -> int:
    return int(math.prod(int(v) for v in values))


def _attrs(node: onnx.NodeProto) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for attribute in node.attribute:
        value = helper.get_attribute_value(attribute)
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        elif isinstance(value, list) and value and isinstance(value[0], bytes):
            value = [v.decode("utf-8", "replace") for v in value]
        values[attribute.name] = value
    return values


def _ints(values) -> list[int]:
    return [int(v) for v in values]


def _norm_axis(axis: int, rank: int, what: str = "axis") -> int:
    if not -rank <= axis < max(rank, 1):
        raise ShapeError(f"{what} {axis} is out of range for a tensor with {rank} axes")
    return axis + rank if axis < 0 else axis


def _broadcast(shapes: list[list[int]]) -> list[int]:
    try:
        return [int(d) for d in np.broadcast_shapes(*[tuple(s) for s in shapes])]
    except ValueError:
        raise ShapeError("cannot broadcast " + " with ".join(_dims(s) for s in shapes)) from None


def _axis_labels(count: int) -> list[str]:
    return {1: ["L"], 2: ["H", "W"], 3: ["D", "H", "W"]}.get(count, [f"axis {i + 2}" for i in range(count)])


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
        attrs = _attrs(node)
        # Static: computed from initializers and constants only, never from the image.
        static = node.op_type == "Constant" or (bool(node.input) and all(t is None or t.static for t in ins))
        try:
            out = self._shape(node, ins, attrs)
        except ShapeError as exc:
            raise ShapeError(f"{label}: {exc}") from None
        except _UnknownShape as exc:
            out = self._fallback(node, ins, str(exc))
        values = self._fold(node, ins, attrs, out)
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
        if node.op_type == "BatchNormalization" and len(ins) >= 5 and ins[3] is not None and ins[3].shape:
            text += f" (running mean and variance, 2{MUL}{_prod(ins[3].shape)}, not trainable, not counted)"
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

    @staticmethod
    def _rf_sliding(tensor: _Tensor, kernels, strides, pads_begin, dilations) -> Any:
        state = tensor.rf
        if state == _DENSE:
            return _DENSE
        rank = len(tensor.shape or [])
        if not isinstance(state, dict) or any(axis not in state for axis in range(2, rank)):
            return None
        new = {}
        for i, axis in enumerate(range(2, rank)):
            image_axis, size, jump, start = state[axis]
            new[axis] = (image_axis,) + ar.receptive_field_step(
                size, jump, start, kernels[i], strides[i], pads_begin[i], dilations[i])
        return new

    @staticmethod
    def _rf_merge(tensors: list[_Tensor | None], out_rank: int) -> Any:
        """Receptive field of an element-wise combination: the union of the inputs'."""
        states = []
        for tensor in tensors:
            if tensor is None or tensor.rf is None:
                continue
            if tensor.rf == _DENSE:
                return _DENSE
            shift = out_rank - len(tensor.shape or [])
            states.append({axis + shift: entry for axis, entry in tensor.rf.items()})
        if not states:
            return None
        merged = dict(states[0])
        for state in states[1:]:
            for axis, (image_axis, size, jump, start) in state.items():
                if axis not in merged:
                    merged[axis] = (image_axis, size, jump, start)
                    continue
                _, size0, jump0, start0 = merged[axis]
                begin = min(start, start0)
                end = max(start + size, start0 + size0)
                merged[axis] = (image_axis, end - begin, max(jump, jump0), begin)
        return merged

    @staticmethod
    def _rf_regroup(tensor: _Tensor, out_shape: list[int]) -> Any:
        """Receptive field through a reshape that only adds or removes size-1 axes."""
        state = tensor.rf
        if state is None or state == _DENSE:
            return state
        in_shape = tensor.shape or []
        in_axes = [a for a, d in enumerate(in_shape) if d != 1]
        out_axes = [a for a, d in enumerate(out_shape) if d != 1]
        if [in_shape[a] for a in in_axes] != [out_shape[a] for a in out_axes]:
            # Data really moves between axes; a flatten to (N, features) is dense.
            return _DENSE if len(out_shape) <= 2 else None
        mapping = dict(zip(in_axes, out_axes))
        if any(axis not in mapping for axis in state):
            # A size-1 image axis was dropped (e.g. squeezing a 120×1×1 map): what
            # is left of the image is a plain vector, so it counts as dense.
            return _DENSE if len(out_shape) <= 2 else None
        return {mapping[a]: entry for a, entry in state.items()}

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
                        param_inputs=float_inputs, note=f"{reason}; ONNX shape inference gave the shape")
        return _Out(shapes, f"shape unknown: {reason}", param_inputs=float_inputs, note=reason)

    # -- shapes -----------------------------------------------------------

    @staticmethod
    def _need(ins: list[_Tensor | None], position: int, node: onnx.NodeProto) -> list[int]:
        if position >= len(ins) or ins[position] is None:
            raise ShapeError(f"input {position + 1} is missing")
        shape = ins[position].shape
        if shape is None:
            raise _UnknownShape(f"input '{node.input[position]}' has an unknown shape")
        return shape

    @staticmethod
    def _value(ins: list[_Tensor | None], position: int) -> np.ndarray | None:
        if position >= len(ins) or ins[position] is None:
            return None
        return ins[position].value

    def _show(self, shape: list[int] | None, data: bool = True) -> str:
        """A shape as a person reads it: without the batch axis for data tensors."""
        if shape is None:
            return "?"
        return _dims(shape[1:] if data and len(shape) >= 2 else shape)

    def _shape(self, node: onnx.NodeProto, ins: list[_Tensor | None], attrs: dict[str, Any]) -> _Out:
        op = node.op_type
        if node.domain not in ("", "ai.onnx"):
            return self._fallback(node, ins)
        handler: Callable | None = getattr(self, f"_op_{op}", None)
        if handler is not None:
            out = handler(node, ins, attrs)
        elif op in _SAME_AS_INPUT_OPS:
            out = self._same_as_input(node, ins, attrs)
        elif op in _BROADCAST_OPS:
            out = self._broadcast_op(node, ins, attrs)
        elif op in _REDUCE_OPS:
            out = self._reduce(node, ins, attrs)
        elif op in _POOL_OPS:
            out = self._pool(node, ins, attrs)
        elif op in _GLOBAL_POOL_OPS:
            out = self._global_pool(node, ins, attrs)
        else:
            return self._fallback(node, ins)
        return out

    # element-wise ---------------------------------------------------------

    def _same_as_input(self, node, ins, attrs) -> _Out:
        x = self._need(ins, 0, node)
        op = node.op_type
        shapes: list[list[int] | None] = [list(x)]
        param_inputs: tuple[int, ...] = ()
        hyper: dict[str, Any] = {}
        if op == "BatchNormalization":
            channels = x[1] if len(x) > 1 else 1
            for position in range(1, 5):
                if position < len(ins) and ins[position] is not None and ins[position].shape not in (None, [channels]):
                    raise ShapeError(
                        f"input {position + 1} has shape {_dims(ins[position].shape)}, "
                        f"expected {channels} (one per channel)")
            shapes += [[channels]] * (len(node.output) - 1)  # training mode: running mean and variance
            param_inputs = (1, 2)
            hyper = {"epsilon": float(attrs.get("epsilon", 1e-5))}
        elif op in ("InstanceNormalization", "LayerNormalization"):
            param_inputs = (1, 2)
            if op == "LayerNormalization":
                axis = _norm_axis(int(attrs.get("axis", -1)), len(x))
                shapes += [x[:axis] + [1] * (len(x) - axis)] * (len(node.output) - 1)
        elif op == "PRelu":
            param_inputs = (1,)
        elif op == "Dropout":
            shapes += [list(x)] * (len(node.output) - 1)  # the optional mask
        elif op in ("Softmax", "LogSoftmax", "Hardmax"):
            hyper = {"axis": int(attrs.get("axis", -1 if self.opset >= 13 else 1))}
        elif op == "LeakyRelu":
            hyper = {"alpha": float(attrs.get("alpha", 0.01))}
        elif op == "LRN":
            hyper = {"size": int(attrs.get("size", 1))}
        formula = f"same as input → {self._show(x)}"
        if op in ("Cast", "CastLike"):
            formula = f"change of number type, same shape → {self._show(x)}"
        return _Out(shapes, formula, hyper, rf=ins[0].rf, param_inputs=param_inputs)

    def _broadcast_op(self, node, ins, attrs) -> _Out:
        present = [i for i, t in enumerate(ins) if t is not None]
        shapes = [self._need(ins, i, node) for i in present]
        out = _broadcast(shapes)
        op = node.op_type
        param_inputs: tuple[int, ...] = ()
        formula = f"{' ⊕ '.join(_dims(s) for s in shapes)} (broadcast) → {self._show(out)}"
        dynamic = [i for i in present if not ins[i].static]
        if op in ("Add", "Mul") and len(present) == 2 and len(dynamic) == 1:
            other = present[1] if dynamic[0] == present[0] else present[0]
            weight = ins[other]
            if weight.roots and weight.shape is not None and _prod(weight.shape) > 1:
                param_inputs = (other,)
                role = "bias" if op == "Add" else "scale"
                formula = f"+ {role} ({_dims(weight.shape)}), broadcast → {self._show(out)}"
                if op == "Mul":
                    formula = f"{MUL} {role} ({_dims(weight.shape)}), broadcast → {self._show(out)}"
        elif all(s == out for s in shapes):
            formula = f"element-wise, same shape → {self._show(out)}"
        return _Out([out], formula, rf=self._rf_merge(ins, len(out)), param_inputs=param_inputs)

    # spatial ------------------------------------------------------------

    def _spatial_attrs(self, attrs, count: int, kernel: list[int]) -> dict[str, Any]:
        strides = _ints(attrs.get("strides") or [1] * count)
        dilations = _ints(attrs.get("dilations") or [1] * count)
        pads = _ints(attrs.get("pads") or [0] * (2 * count))
        auto_pad = str(attrs.get("auto_pad", "NOTSET") or "NOTSET").upper()
        if len(strides) != count or len(dilations) != count or len(pads) != 2 * count or len(kernel) != count:
            raise ShapeError(
                f"kernel {kernel}, strides {strides}, dilations {dilations} and pads {pads} "
                f"do not all match the {count} spatial axes of the input")
        return {"kernel": kernel, "stride": strides, "pads": pads, "dilation": dilations, "auto_pad": auto_pad}

    @staticmethod
    def _run_axes(count: int, compute: Callable[[int], ar.AxisResult]) -> list[ar.AxisResult]:
        labels = _axis_labels(count)
        results = []
        for i in range(count):
            try:
                results.append(compute(i))
            except ShapeError as exc:
                axis = {"H": "height", "W": "width", "D": "depth", "L": "length"}.get(labels[i], labels[i])
                raise ShapeError(f"{axis}: {exc}") from None
        return results

    def _axes_formula(self, results: list[ar.AxisResult], out_shape: list[int]) -> str:
        formulas = [r.formula for r in results]
        if len(set(formulas)) == 1:
            text = formulas[0]
        else:
            text = "; ".join(f"{label}: {f}" for label, f in zip(_axis_labels(len(formulas)), formulas))
        return f"{text} → {self._show(out_shape)}"

    @staticmethod
    def _notes(results: list[ar.AxisResult]) -> str:
        notes = []
        for r in results:
            if r.note and r.note not in notes:
                notes.append(r.note)
        return "; ".join(notes)

    def _op_Conv(self, node, ins, attrs) -> _Out:
        x = self._need(ins, 0, node)
        w = self._need(ins, 1, node)
        if len(x) < 3:
            raise ShapeError(f"Conv needs an input with batch, channel and spatial axes, got {_dims(x)}")
        if len(w) != len(x):
            raise ShapeError(f"weights {_dims(w)} do not match the input {_dims(x)} (different number of axes)")
        count = len(x) - 2
        group = int(attrs.get("group", 1))
        kernel = _ints(attrs.get("kernel_shape") or w[2:])
        if kernel != w[2:]:
            raise ShapeError(f"kernel_shape {kernel} does not match the weights {_dims(w)}")
        if x[1] != w[1] * group:
            raise ShapeError(
                f"the input has {x[1]} channels but the weights {_dims(w)} with group {group} expect {w[1] * group}")
        if w[0] % group:
            raise ShapeError(f"{w[0]} output channels cannot be split into {group} groups")
        if len(ins) > 2 and ins[2] is not None:
            b = self._need(ins, 2, node)
            if b != [w[0]]:
                raise ShapeError(f"bias has shape {_dims(b)}, expected {w[0]} (one per output channel)")
        hyper = self._spatial_attrs(attrs, count, kernel)
        pads = hyper["pads"]
        results = self._run_axes(count, lambda i: ar.conv_output_size(
            x[2 + i], kernel[i], hyper["stride"][i], pads[i], pads[i + count], hyper["dilation"][i], hyper["auto_pad"]))
        out = [x[0], w[0]] + [r.size for r in results]
        hyper["pads"] = [r.pad_begin for r in results] + [r.pad_end for r in results]
        hyper["group"] = group
        rf = self._rf_sliding(ins[0], kernel, hyper["stride"], [r.pad_begin for r in results], hyper["dilation"])
        return _Out([out], self._axes_formula(results, out), hyper, rf=rf, param_inputs=(1, 2),
                    note=self._notes(results))

    def _op_ConvTranspose(self, node, ins, attrs) -> _Out:
        x = self._need(ins, 0, node)
        w = self._need(ins, 1, node)
        if len(x) < 3 or len(w) != len(x):
            raise ShapeError(f"weights {_dims(w)} do not match the input {_dims(x)}")
        count = len(x) - 2
        group = int(attrs.get("group", 1))
        kernel = _ints(attrs.get("kernel_shape") or w[2:])
        if x[1] != w[0]:
            raise ShapeError(f"the input has {x[1]} channels but the weights {_dims(w)} expect {w[0]}")
        out_channels = w[1] * group
        if len(ins) > 2 and ins[2] is not None:
            b = self._need(ins, 2, node)
            if b != [out_channels]:
                raise ShapeError(f"bias has shape {_dims(b)}, expected {out_channels} (one per output channel)")
        hyper = self._spatial_attrs(attrs, count, kernel)
        pads = hyper["pads"]
        output_padding = _ints(attrs.get("output_padding") or [0] * count)
        output_shape = _ints(attrs.get("output_shape") or [])
        if output_shape and len(output_shape) == count + 2:
            output_shape = output_shape[2:]  # the full shape is allowed too
        if output_shape and len(output_shape) != count:
            raise ShapeError(f"output_shape {output_shape} does not match the {count} spatial axes")
        if len(output_padding) != count:
            raise ShapeError(f"output_padding {output_padding} does not match the {count} spatial axes")
        results = self._run_axes(count, lambda i: ar.conv_transpose_output_size(
            x[2 + i], kernel[i], hyper["stride"][i], pads[i], pads[i + count], hyper["dilation"][i],
            output_padding[i], hyper["auto_pad"], output_shape[i] if output_shape else None))
        out = [x[0], out_channels] + [r.size for r in results]
        hyper["pads"] = [r.pad_begin for r in results] + [r.pad_end for r in results]
        hyper["group"] = group
        hyper["output_padding"] = output_padding
        if output_shape:
            hyper["output_shape"] = output_shape
        # A transposed convolution spreads each input pixel over several outputs:
        # its receptive field is not a sliding window, so none is given.
        return _Out([out], self._axes_formula(results, out), hyper, rf=None, param_inputs=(1, 2))

    def _pool(self, node, ins, attrs) -> _Out:
        x = self._need(ins, 0, node)
        if len(x) < 3:
            raise ShapeError(f"{node.op_type} needs an input with batch, channel and spatial axes, got {_dims(x)}")
        count = len(x) - 2
        if "kernel_shape" not in attrs:
            raise ShapeError("kernel_shape is missing")
        kernel = _ints(attrs["kernel_shape"])
        hyper = self._spatial_attrs(attrs, count, kernel)
        ceil_mode = bool(attrs.get("ceil_mode", 0))
        pads = hyper["pads"]
        # Output sizes as onnxruntime computes them; see arithmetic.pool_output_size
        # for where that differs from ONNX shape inference (ceil_mode, SAME).
        results = self._run_axes(count, lambda i: ar.pool_output_size(
            x[2 + i], kernel[i], hyper["stride"][i], pads[i], pads[i + count], hyper["dilation"][i],
            ceil_mode, hyper["auto_pad"]))
        out = [x[0], x[1]] + [r.size for r in results]
        hyper["pads"] = [r.pad_begin for r in results] + [r.pad_end for r in results]
        hyper["ceil_mode"] = int(ceil_mode)
        if node.op_type == "AveragePool":
            hyper["count_include_pad"] = int(attrs.get("count_include_pad", 0))
        if node.op_type == "LpPool":
            hyper["p"] = int(attrs.get("p", 2))
        rf = self._rf_sliding(ins[0], kernel, hyper["stride"], [r.pad_begin for r in results], hyper["dilation"])
        shapes = [out] + [list(out)] * (len(node.output) - 1)  # MaxPool's Indices
        return _Out(shapes, self._axes_formula(results, out), hyper, ar.POOL_CONVENTION_PER_SIDE, rf,
                    note=self._notes(results))

    def _global_pool(self, node, ins, attrs) -> _Out:
        x = self._need(ins, 0, node)
        if len(x) < 3:
            raise ShapeError(f"{node.op_type} needs an input with batch, channel and spatial axes, got {_dims(x)}")
        count = len(x) - 2
        out = x[:2] + [1] * count
        kind = {"GlobalAveragePool": "average", "GlobalMaxPool": "maximum", "GlobalLpPool": "Lp norm"}[node.op_type]
        formula = f"one {kind} over each {_dims(x[2:])} map → {self._show(out)}"
        # One window as large as the input: the field is the union of all units'.
        rf = self._rf_sliding(ins[0], x[2:], [1] * count, [0] * count, [1] * count)
        return _Out([out], formula, {"kernel": x[2:]}, rf=rf)

    def _op_Pad(self, node, ins, attrs) -> _Out:
        x = self._need(ins, 0, node)
        rank = len(x)
        if "pads" in attrs or "paddings" in attrs:
            pads = _ints(attrs.get("pads", attrs.get("paddings")))
            axes = list(range(rank))
        else:
            pads_value = self._value(ins, 1)
            if pads_value is None:
                raise _UnknownShape("the pads input is not a constant")
            pads = _ints(pads_value.ravel())
            axes_value = self._value(ins, 3)
            axes = list(range(rank))
            if axes_value is not None:
                axes = [_norm_axis(int(a), rank) for a in axes_value.ravel()]
        if len(pads) != 2 * len(axes):
            raise ShapeError(f"pads {pads} do not match the {len(axes)} padded axes")
        out = list(x)
        parts = []
        begins = {}
        for i, axis in enumerate(axes):
            before, after = pads[i], pads[i + len(axes)]
            out[axis] = x[axis] + before + after
            if out[axis] < 0:
                raise ShapeError(f"pads {before} and {after} remove more than the {x[axis]} pixels of axis {axis}")
            begins[axis] = before
            if before or after:
                parts.append(f"axis {axis}: {x[axis]} + {before} + {after} = {out[axis]}")
        formula = f"{'; '.join(parts) or 'no padding'} → {self._show(out)}"
        rf = ins[0].rf
        if isinstance(rf, dict):
            rf = {a: (e[0], e[1], e[2], e[3] - begins.get(a, 0) * e[2]) for a, e in rf.items()}
        return _Out([out], formula, {"pads": pads, "mode": attrs.get("mode", "constant")}, rf=rf)

    # dense ------------------------------------------------------------

    def _op_Gemm(self, node, ins, attrs) -> _Out:
        a = self._need(ins, 0, node)
        b = self._need(ins, 1, node)
        if len(a) != 2 or len(b) != 2:
            raise ShapeError(f"Gemm multiplies two matrices, got {_dims(a)} and {_dims(b)}")
        trans_a, trans_b = int(attrs.get("transA", 0)), int(attrs.get("transB", 0))
        m, k = (a[1], a[0]) if trans_a else (a[0], a[1])
        k2, n = (b[1], b[0]) if trans_b else (b[0], b[1])
        if k != k2:
            raise ShapeError(f"cannot multiply {m}×{k} by {k2}×{n}: {k} inputs but weights for {k2}")
        out = [m, n]
        formula = f"{k} × {n} weights"
        if len(ins) > 2 and ins[2] is not None:
            c = self._need(ins, 2, node)
            if _broadcast([c, out]) != out:
                raise ShapeError(f"bias {_dims(c)} does not fit the output {_dims(out)}")
            formula += f" + {_dims(c)} bias" if _prod(c) != n else f" + {n} bias"
        formula += f" → {self._show(out)}"
        hyper = {"transA": trans_a, "transB": trans_b,
                 "alpha": float(attrs.get("alpha", 1.0)), "beta": float(attrs.get("beta", 1.0))}
        return _Out([out], formula, hyper, rf=self._dense_rf(ins[0]), param_inputs=(1, 2))

    def _op_MatMul(self, node, ins, attrs) -> _Out:
        a = self._need(ins, 0, node)
        b = self._need(ins, 1, node)
        if not a or not b:
            raise ShapeError("MatMul does not take scalars")
        left = [1] + a if len(a) == 1 else a
        right = b + [1] if len(b) == 1 else b
        if left[-1] != right[-2]:
            raise ShapeError(f"cannot multiply {_dims(a)} by {_dims(b)}: {left[-1]} ≠ {right[-2]}")
        out = _broadcast([left[:-2], right[:-2]]) + [left[-2], right[-1]]
        if len(a) == 1:
            del out[-2]
        if len(b) == 1:
            del out[-1]
        param_inputs = tuple(i for i in (0, 1) if ins[i].static)
        if ins[1].static and len(b) == 2:
            formula = f"{b[0]} × {b[1]} weights → {self._show(out)}"
        else:
            formula = f"matrix product {_dims(a)} · {_dims(b)} → {self._show(out)}"
        rf = self._dense_rf(ins[0] if not ins[0].static else ins[1])
        return _Out([out], formula, rf=rf, param_inputs=param_inputs)

    def _dense_rf(self, tensor: _Tensor) -> Any:
        """After flattening, every unit depends on the whole image."""
        return _DENSE if tensor.rf is not None else None

    # shape manipulation ---------------------------------------------------

    def _op_Flatten(self, node, ins, attrs) -> _Out:
        x = self._need(ins, 0, node)
        axis = int(attrs.get("axis", 1))
        if not -len(x) <= axis <= len(x):
            raise ShapeError(f"axis {axis} is out of range for a tensor with {len(x)} axes")
        axis = axis + len(x) if axis < 0 else axis
        out = [_prod(x[:axis]), _prod(x[axis:])]
        kept = x[axis:]
        formula = f"flatten {_dims(kept)} = {out[1]}" if len(kept) > 1 else f"flatten → {_dims(out)}"
        return _Out([out], formula, {"axis": axis}, rf=self._dense_rf(ins[0]) if len(kept) > 1 else ins[0].rf)

    def _op_Reshape(self, node, ins, attrs) -> _Out:
        x = self._need(ins, 0, node)
        if "shape" in attrs:  # opset < 5
            target = _ints(attrs["shape"])
        else:
            value = self._value(ins, 1)
            if value is None:
                raise _UnknownShape("the target shape is not a constant")
            target = _ints(value.ravel())
        allow_zero = int(attrs.get("allowzero", 0))
        out = []
        for i, d in enumerate(target):
            if d == 0 and not allow_zero:
                if i >= len(x):
                    raise ShapeError(f"target {target} copies axis {i}, which the input {_dims(x)} does not have")
                out.append(x[i])
            else:
                out.append(d)
        total = _prod(x)
        if out.count(-1) > 1:
            raise ShapeError(f"target {target} has more than one -1")
        if -1 in out:
            known = _prod(d for d in out if d != -1)
            if known == 0 or total % known:
                raise ShapeError(f"cannot reshape {_dims(x)} ({total} values) into {target}")
            out[out.index(-1)] = total // known
        if any(d < 0 for d in out) or _prod(out) != total:
            raise ShapeError(f"cannot reshape {_dims(x)} ({total} values) into {_dims(out)} ({_prod(out)} values)")
        data = not ins[0].static
        formula = f"reshape {self._show(x, data)} → {self._show(out, data)}"
        return _Out([out], formula, {"shape": target, "allowzero": allow_zero}, rf=self._rf_regroup(ins[0], out))

    def _op_Transpose(self, node, ins, attrs) -> _Out:
        x = self._need(ins, 0, node)
        perm = _ints(attrs.get("perm") or list(range(len(x)))[::-1])
        if sorted(perm) != list(range(len(x))):
            raise ShapeError(f"perm {perm} is not an ordering of the {len(x)} axes")
        out = [x[p] for p in perm]
        rf = ins[0].rf
        if isinstance(rf, dict):
            rf = {new: rf[old] for new, old in enumerate(perm) if old in rf}
        data = not ins[0].static
        formula = f"transpose ({', '.join(map(str, perm))}): {self._show(x, data)} → {self._show(out, data)}"
        return _Out([out], formula, {"perm": perm}, rf=rf)

    def _axes_from(self, ins, attrs, position: int) -> list[int] | None:
        if "axes" in attrs:
            return _ints(attrs["axes"])
        value = self._value(ins, position)
        if value is not None:
            return _ints(value.ravel())
        if position < len(ins) and ins[position] is not None:
            raise _UnknownShape("the axes input is not a constant")
        return None

    def _op_Squeeze(self, node, ins, attrs) -> _Out:
        x = self._need(ins, 0, node)
        axes = self._axes_from(ins, attrs, 1)
        if axes is None:
            drop = {i for i, d in enumerate(x) if d == 1}
        else:
            drop = {_norm_axis(a, len(x)) for a in axes}
            for axis in drop:
                if x[axis] != 1:
                    raise ShapeError(f"cannot squeeze axis {axis} of {_dims(x)}: its size is {x[axis]}, not 1")
        out = [d for i, d in enumerate(x) if i not in drop]
        data = not ins[0].static
        formula = f"drop size-1 axes: {self._show(x, data)} → {self._show(out, data)}"
        return _Out([out], formula, {"axes": sorted(drop)}, rf=self._rf_regroup(ins[0], out))

    def _op_Unsqueeze(self, node, ins, attrs) -> _Out:
        x = self._need(ins, 0, node)
        axes = self._axes_from(ins, attrs, 1)
        if axes is None:
            raise ShapeError("Unsqueeze needs axes")
        rank = len(x) + len(axes)
        axes = sorted(_norm_axis(a, rank) for a in axes)
        out = list(x)
        for axis in axes:
            out.insert(axis, 1)
        data = not ins[0].static
        formula = f"add size-1 axes {axes}: {_dims(x)} → {_dims(out)}"
        if data:
            formula = f"add size-1 axes {axes} → {self._show(out)}"
        return _Out([out], formula, {"axes": axes}, rf=self._rf_regroup(ins[0], out))

    def _op_Concat(self, node, ins, attrs) -> _Out:
        present = [i for i, t in enumerate(ins) if t is not None]
        shapes = [self._need(ins, i, node) for i in present]
        rank = len(shapes[0])
        axis = _norm_axis(int(attrs.get("axis", 1)), rank)
        for shape in shapes:
            if len(shape) != rank or any(shape[i] != shapes[0][i] for i in range(rank) if i != axis):
                raise ShapeError(
                    f"cannot join {' and '.join(_dims(s) for s in shapes)} on axis {axis}: other axes differ")
        out = list(shapes[0])
        out[axis] = sum(s[axis] for s in shapes)
        sizes = " + ".join(str(s[axis]) for s in shapes)
        first_rf = ins[present[0]].rf
        if first_rf == _DENSE:
            rf = _DENSE
        elif isinstance(first_rf, dict) and axis in first_rf:
            rf = None  # joined along the image's own axes: no single window any more
        else:
            rf = self._rf_merge(ins, rank)
        data = not all(ins[i].static for i in present)
        return _Out([out], f"join on axis {axis}: {sizes} = {out[axis]} → {self._show(out, data)}", {"axis": axis},
                    rf=rf)

    def _op_Shape(self, node, ins, attrs) -> _Out:
        x = self._need(ins, 0, node)
        start = int(attrs.get("start", 0))
        end = attrs.get("end")
        part = x[slice(start, int(end) if end is not None else None)]
        return _Out([[len(part)]], f"the shape of the input, {list(part)}")

    def _op_Size(self, node, ins, attrs) -> _Out:
        x = self._need(ins, 0, node)
        return _Out([[]], f"number of values in {_dims(x)} = {_prod(x)}")

    def _op_Constant(self, node, ins, attrs) -> _Out:
        value = self._constant_value(attrs)
        if value is None:
            return _Out([None], "constant (of a kind not read here)")
        return _Out([list(value.shape)], f"constant {_dims(value.shape)}")

    def _op_ConstantOfShape(self, node, ins, attrs) -> _Out:
        value = self._value(ins, 0)
        if value is None:
            raise _UnknownShape("its shape input is not a constant")
        out = _ints(value.ravel())
        return _Out([out], f"filled tensor {_dims(out)}")

    def _op_Gather(self, node, ins, attrs) -> _Out:
        x = self._need(ins, 0, node)
        indices = self._need(ins, 1, node)
        axis = _norm_axis(int(attrs.get("axis", 0)), len(x))
        out = x[:axis] + list(indices) + x[axis + 1:]
        data = not ins[0].static
        return _Out([out], f"pick {_dims(indices) if indices else 'one'} of {x[axis]} along axis {axis} → "
                           f"{self._show(out, data and len(out) > 1)}", {"axis": axis})

    def _op_Slice(self, node, ins, attrs) -> _Out:
        x = self._need(ins, 0, node)
        if "starts" in attrs:  # opset < 10
            starts, ends = _ints(attrs["starts"]), _ints(attrs["ends"])
            axes = _ints(attrs.get("axes") or range(len(starts)))
            steps = [1] * len(starts)
        else:
            values = [self._value(ins, i) for i in (1, 2, 3, 4)]
            for position in (1, 2, 3, 4):
                if position < len(ins) and ins[position] is not None and values[position - 1] is None:
                    raise _UnknownShape("its starts/ends/axes/steps are not constants")
            starts, ends = _ints(values[0].ravel()), _ints(values[1].ravel())
            axes = _ints(values[2].ravel()) if values[2] is not None else list(range(len(starts)))
            steps = _ints(values[3].ravel()) if values[3] is not None else [1] * len(starts)
        out = list(x)
        for start, end, axis, step in zip(starts, ends, axes, steps):
            axis = _norm_axis(axis, len(x))
            if step == 0:
                raise ShapeError("a slice step cannot be 0")
            out[axis] = len(range(*slice(start, end, step).indices(x[axis])))
        data = not ins[0].static
        return _Out([out], f"slice {self._show(x, data)} → {self._show(out, data)}",
                    rf=ins[0].rf if out[2:] == x[2:] else None)

    def _op_Split(self, node, ins, attrs) -> _Out:
        x = self._need(ins, 0, node)
        axis = _norm_axis(int(attrs.get("axis", 0)), len(x))
        count = len(node.output)
        if "split" in attrs:
            sizes = _ints(attrs["split"])
        elif len(ins) > 1 and ins[1] is not None:
            value = self._value(ins, 1)
            if value is None:
                raise _UnknownShape("the split sizes are not a constant")
            sizes = _ints(value.ravel())
        else:
            count = int(attrs.get("num_outputs", count))
            each = -(-x[axis] // count)
            sizes = [min(each, x[axis] - each * i) for i in range(count)]
        if sum(sizes) != x[axis] or len(sizes) != len(node.output):
            raise ShapeError(f"cannot split {x[axis]} into {sizes}")
        shapes = []
        for size in sizes:
            shape = list(x)
            shape[axis] = size
            shapes.append(shape)
        return _Out(shapes, f"split axis {axis}: {x[axis]} = {' + '.join(map(str, sizes))}", {"axis": axis},
                    rf=ins[0].rf)

    def _reduce(self, node, ins, attrs) -> _Out:
        x = self._need(ins, 0, node)
        axes = self._axes_from(ins, attrs, 1)
        keepdims = int(attrs.get("keepdims", 1))
        if axes is None or not axes:
            if int(attrs.get("noop_with_empty_axes", 0)):
                return _Out([list(x)], f"no axes given, same as input → {self._show(x)}", rf=ins[0].rf)
            axes = list(range(len(x)))
        axes = sorted({_norm_axis(a, len(x)) for a in axes})
        if keepdims:
            out = [1 if i in axes else d for i, d in enumerate(x)]
        else:
            out = [d for i, d in enumerate(x) if i not in axes]
        rf = ins[0].rf
        if isinstance(rf, dict) and any(a in rf for a in axes):
            rf = _DENSE  # summing over the image: every output sees all of it
        return _Out([out], f"{node.op_type[6:].lower()} over axes {axes} → {self._show(out)}",
                    {"axes": axes, "keepdims": keepdims}, rf=rf)

    def _op_ArgMax(self, node, ins, attrs) -> _Out:
        x = self._need(ins, 0, node)
        axis = _norm_axis(int(attrs.get("axis", 0)), len(x))
        keepdims = int(attrs.get("keepdims", 1))
        if keepdims:
            out = [1 if i == axis else d for i, d in enumerate(x)]
        else:
            out = [d for i, d in enumerate(x) if i != axis]
        return _Out([out], f"index of the largest value along axis {axis} → {self._show(out)}",
                    {"axis": axis, "keepdims": keepdims}, rf=self._dense_rf(ins[0]))

    _op_ArgMin = _op_ArgMax

    def _op_Expand(self, node, ins, attrs) -> _Out:
        x = self._need(ins, 0, node)
        value = self._value(ins, 1)
        if value is None:
            raise _UnknownShape("the target shape is not a constant")
        out = _broadcast([x, _ints(value.ravel())])
        return _Out([out], f"expand {_dims(x)} → {_dims(out)}", rf=self._rf_merge(ins[:1], len(out)))

    def _op_Tile(self, node, ins, attrs) -> _Out:
        x = self._need(ins, 0, node)
        value = self._value(ins, 1)
        if value is None:
            raise _UnknownShape("the repeats are not a constant")
        repeats = _ints(value.ravel())
        if len(repeats) != len(x):
            raise ShapeError(f"{len(repeats)} repeats for a tensor with {len(x)} axes")
        out = [d * r for d, r in zip(x, repeats)]
        return _Out([out], f"tile {_dims(x)} by {repeats} → {_dims(out)}")

    def _op_Range(self, node, ins, attrs) -> _Out:
        values = [self._value(ins, i) for i in range(3)]
        if any(v is None for v in values):
            raise _UnknownShape("start, limit and delta are not constants")
        start, limit, delta = (float(v) for v in values)
        if delta == 0:
            raise ShapeError("Range delta cannot be 0")
        length = max(math.ceil((limit - start) / delta), 0)
        return _Out([[length]], f"range of {length} numbers")

    def _op_Resize(self, node, ins, attrs) -> _Out:
        x = self._need(ins, 0, node)
        rank = len(x)
        axes = [_norm_axis(a, rank) for a in _ints(attrs.get("axes") or range(rank))]

        def constant(position: int | None) -> list[float] | None:
            if position is None or position >= len(ins) or ins[position] is None:
                return None
            value = self._value(ins, position)
            if value is None:
                if ins[position].shape == [0]:
                    return None
                raise _UnknownShape("its scales or sizes are not constants")
            return value.ravel().tolist() if value.size else None

        if node.op_type == "Upsample" and "scales" in attrs:  # Upsample-7
            scales, sizes = [float(v) for v in attrs["scales"]], None
        elif node.op_type == "Upsample" or self.opset < 11:  # Upsample-9, Resize-10: (X, scales)
            scales, sizes = constant(1), None
        else:  # Resize-11+: (X, roi, scales, sizes)
            scales, sizes = constant(2), constant(3)
        policy = str(attrs.get("keep_aspect_ratio_policy", "stretch"))
        out = list(x)
        if sizes is not None:
            if policy != "stretch":
                raise _UnknownShape(f"keep_aspect_ratio_policy {policy} is not analysed")
            for axis, size in zip(axes, sizes):
                out[axis] = size
            how = f"sizes {sizes}"
        elif scales is not None:
            for axis, scale in zip(axes, scales):
                out[axis] = int(math.floor(x[axis] * scale))
            how = f"scales {scales}"
        else:
            raise ShapeError("neither scales nor sizes is given")
        mode = attrs.get("mode", "nearest")
        return _Out([out], f"resize ({mode}, {how}): {self._show(x)} → {self._show(out)}", {"mode": mode})

    _op_Upsample = _op_Resize

    def _op_DepthToSpace(self, node, ins, attrs) -> _Out:
        x = self._need(ins, 0, node)
        b = int(attrs["blocksize"])
        if len(x) != 4 or x[1] % (b * b):
            raise ShapeError(f"{x[1] if len(x) > 1 else '?'} channels cannot be spread into {b}×{b} blocks")
        out = [x[0], x[1] // (b * b), x[2] * b, x[3] * b]
        return _Out([out], f"channels into {b}×{b} blocks → {self._show(out)}", {"blocksize": b})

    def _op_SpaceToDepth(self, node, ins, attrs) -> _Out:
        x = self._need(ins, 0, node)
        b = int(attrs["blocksize"])
        if len(x) != 4 or x[2] % b or x[3] % b:
            raise ShapeError(f"{_dims(x[2:])} cannot be cut into {b}×{b} blocks")
        out = [x[0], x[1] * b * b, x[2] // b, x[3] // b]
        return _Out([out], f"{b}×{b} blocks into channels → {self._show(out)}", {"blocksize": b})

    # -- constant folding ---------------------------------------------------

    @staticmethod
    def _constant_value(attrs: dict[str, Any]) -> np.ndarray | None:
        if "value" in attrs:
            return numpy_helper.to_array(attrs["value"])
        if "value_float" in attrs:
            return np.array(attrs["value_float"], dtype=np.float32)
        if "value_floats" in attrs:
            return np.array(attrs["value_floats"], dtype=np.float32)
        if "value_int" in attrs:
            return np.array(attrs["value_int"], dtype=np.int64)
        if "value_ints" in attrs:
            return np.array(attrs["value_ints"], dtype=np.int64)
        return None

    def _fold(self, node, ins, attrs, out: _Out) -> list[np.ndarray] | None:
        """Values of a node's outputs when they can be known without the image."""
        op = node.op_type
        if node.domain not in ("", "ai.onnx"):
            return None
        if op == "Shape" and out.shapes[0] is not None:
            x = ins[0].shape
            end = attrs.get("end")
            return [np.array(x[slice(int(attrs.get("start", 0)), int(end) if end is not None else None)], np.int64)]
        if op == "Size" and ins[0].shape is not None:
            return [np.array(_prod(ins[0].shape), np.int64)]
        if op == "Constant":
            value = self._constant_value(attrs)
            return [value] if value is not None else None
        values = [t.value if t is not None else None for t in ins]
        if any(t is not None and v is None for t, v in zip(ins, values)):
            return None
        if any(s is not None and _prod(s) > _FOLD_LIMIT for s in out.shapes):
            return None
        try:
            result = self._numpy_op(op, values, attrs, out)
        except Exception:  # an op numpy cannot mirror exactly: leave it unknown
            return None
        if result is None:
            return None
        return [np.asarray(v) for v in result]

    def _numpy_op(self, op, values, attrs, out: _Out) -> list[np.ndarray] | None:
        v = values
        same_shape_ops = {"Reshape", "Flatten", "Squeeze", "Unsqueeze"}
        if op in same_shape_ops and out.shapes[0] is not None:
            return [v[0].reshape(out.shapes[0])]
        if op == "Identity" or op == "Dropout":
            return [v[0]][: 1]
        if op == "Cast":
            return [v[0].astype(helper.tensor_dtype_to_np_dtype(int(attrs["to"])))]
        if op == "Transpose":
            return [np.transpose(v[0], out.hyper["perm"])]
        if op == "Concat":
            return [np.concatenate([x for x in v if x is not None], axis=out.hyper["axis"])]
        if op == "Gather":
            return [np.take(v[0], v[1].astype(np.int64), axis=out.hyper["axis"])]
        if op == "Slice":
            if "starts" in attrs:
                starts, ends = attrs["starts"], attrs["ends"]
                axes = attrs.get("axes") or range(len(starts))
                steps = [1] * len(starts)
            else:
                starts, ends = v[1].ravel(), v[2].ravel()
                axes = v[3].ravel() if len(v) > 3 and v[3] is not None else range(len(starts))
                steps = v[4].ravel() if len(v) > 4 and v[4] is not None else [1] * len(starts)
            index = [slice(None)] * v[0].ndim
            for start, end, axis, step in zip(starts, ends, axes, steps):
                index[int(axis)] = slice(int(start), int(end), int(step))
            return [v[0][tuple(index)]]
        if op == "ConstantOfShape":
            fill = numpy_helper.to_array(attrs["value"]).ravel() if "value" in attrs else np.zeros(1, np.float32)
            return [np.full(_ints(v[0].ravel()), fill[0], dtype=fill.dtype)]
        if op == "Range":
            return [np.arange(v[0], v[1], v[2]).astype(v[0].dtype)]
        if op == "Expand":
            return [np.broadcast_to(v[0], out.shapes[0]).copy()]
        if op == "Tile":
            return [np.tile(v[0], _ints(v[1].ravel()))]
        if op in ("Add", "Sub", "Mul", "Pow", "Max", "Min", "Equal", "Less", "Greater", "Where", "Neg", "Abs",
                  "Sqrt", "Exp", "Floor", "Ceil", "Div"):
            return [self._numpy_elementwise(op, v)]
        return None

    @staticmethod
    def _numpy_elementwise(op: str, v: list[np.ndarray]) -> np.ndarray:
        if op == "Div":
            if np.issubdtype(v[0].dtype, np.integer):
                return np.trunc(v[0] / v[1]).astype(v[0].dtype)  # ONNX integer division truncates
            return (v[0] / v[1]).astype(v[0].dtype)
        functions = {
            "Add": np.add, "Sub": np.subtract, "Mul": np.multiply, "Pow": np.power, "Max": np.maximum,
            "Min": np.minimum, "Equal": np.equal, "Less": np.less, "Greater": np.greater, "Neg": np.negative,
            "Abs": np.abs, "Sqrt": np.sqrt, "Exp": np.exp, "Floor": np.floor, "Ceil": np.ceil,
        }
        if op == "Where":
            return np.where(v[0], v[1], v[2])
        result = functions[op](*v)
        if op in ("Add", "Sub", "Mul", "Max", "Min", "Pow") and result.dtype != v[0].dtype:
            result = result.astype(v[0].dtype)
        return result


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

def format_table(layers: list[Layer]) -> str:
    """The layer table as a hand calculation, plain text for a terminal.

    One aligned row per layer that works on the image (weight preparation and
    shape bookkeeping nodes are counted in a footnote), each followed by its
    working; then the total number of parameters.
    """
    shown = [layer for layer in layers if not layer.constant]
    hidden = len(layers) - len(shown)
    rows = [("#", "layer", "op", "output", "params", "RF", "jump")]
    for layer in shown:
        shape = layer.output_shape
        out = "?" if shape is None else _dims(shape[1:] if len(shape) >= 2 else shape)
        field = _text(layer.receptive_field) + ("*" if layer.receptive_field_padded is not None else "")
        rows.append((str(layer.index + 1), layer.display_name, layer.op, out, f"{layer.params:,}",
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
    lines.append("")
    lines.append(line(rows[0]))
    lines.append(line(tuple("-" * w for w in widths)))
    indent = " " * (widths[0] + 2)
    for layer, row in zip(shown, rows[1:]):
        lines.append(line(row))
        lines.append(f"{indent}{layer.formula}")
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
        lines.append(f"({hidden} node{'s' if hidden != 1 else ''} preparing weights or shapes not shown.)")
    return "\n".join(lines)
