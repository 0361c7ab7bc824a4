"""The structure of an analysed graph: constants folded into their layers, and blocks of layers.

A view on top of ``graph.analyze``; the graph walk itself is not changed.

Exported models carry many nodes that only pass weights along or compute
shapes (torch.onnx.export's ``Identity`` and ``Constant`` nodes, a
``Shape → Gather → Concat`` feeding a ``Reshape``). The analyser marks them
``constant``: their output is known without the image. They are parameters,
not layers, so ``analyze_structure`` folds each into the first layer that works
on the image and reads it (directly or through other constants). Their weights
are already counted once, on that layer: the analyser counts a shared
initializer at its first trainable use only.

Blocks: exporters name nodes by module scope (``/layer1/layer1.0/conv1/Conv``).
The scope is the name without its last part (the op); layers sharing a scope
prefix form a block, nested as the scopes are. A scope holding a single layer is
no block (the layer stands alone), a block whose only content is one block is
merged with it (``downsample/downsample.0``), and a prefix every layer shares is
dropped. Models without scopes are split into stages after each pooling layer,
when they are long enough for that to help (``STAGE_MIN_ROWS``) and it gives at
least two stages; otherwise there are no blocks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Union

if TYPE_CHECKING:
    from lenet_gui.core.graph import Layer

#: Models with more rows than this open with their blocks closed, but for the top levels that fit (open_at_first).
COLLAPSE_ABOVE = 40
#: Models without scopes are split into stages only when they have more rows than this:
#: a short list (LeNet-5's twelve) reads best as it is.
STAGE_MIN_ROWS = 16

POOL_OPS = frozenset({"MaxPool", "AveragePool", "GlobalAveragePool", "GlobalMaxPool", "LpPool", "GlobalLpPool"})

BY_SCOPE = "grouped by module scope"
BY_POOLING = "grouped between pooling layers"


@dataclass
class Block:
    """A group of layers: a module scope, or a stage between pooling layers."""

    name: str  # relative to the enclosing block, e.g. "layer1.0" or "downsample/downsample.0"
    path: str  # the full name, e.g. "layer1/layer1.0"; unique in the model
    items: list[Union["Block", int]] = field(default_factory=list)  # sub-blocks and layer indexes, in order
    layers: list[int] = field(default_factory=list)  # every shown layer inside, nested ones too, in order
    input_shape: list[int] | None = None  # the tensor the block's first layer reads from outside the block
    output_shape: list[int] | None = None  # the block's last layer's output
    params: int = 0  # trainable parameters of the layers inside (their folded constants included)
    depth: int = 0  # 0 for a top-level block

    def blocks(self) -> list["Block"]:
        """This block and every block inside it, parents first."""
        out = [self]
        for item in self.items:
            if isinstance(item, Block):
                out.extend(item.blocks())
        return out


@dataclass
class Structure:
    """What ``analyze_structure`` finds."""

    shown: list[int]  # indexes of the layers that are rows, in execution order
    folded_into: dict[int, int]  # constant layer index → the layer it is folded into
    folded: dict[int, list[int]]  # layer index → the constants folded into it, in order
    items: list[Union[Block, int]]  # the top level: blocks and layer indexes, in order
    grouping: str  # BY_SCOPE, BY_POOLING or "" (no blocks)
    _holding: dict[int, list[Block]] | None = field(default=None, repr=False, compare=False)

    def blocks(self) -> list[Block]:
        """Every block, parents first, in order."""
        out: list[Block] = []
        for item in self.items:
            if isinstance(item, Block):
                out.extend(item.blocks())
        return out

    def _holders(self) -> dict[int, list[Block]]:
        """Layer index → the blocks holding it, outermost first (worked out once)."""
        if self._holding is None:
            self._holding = {}
            for block in self.blocks():  # parents come first
                for index in block.layers:
                    self._holding.setdefault(index, []).append(block)
        return self._holding

    def block_of(self, index: int) -> Block | None:
        """The innermost block holding layer ``index`` (a folded constant: its layer's block)."""
        holders = self.ancestors(index)
        return holders[-1] if holders else None

    def ancestors(self, index: int) -> list[Block]:
        """The blocks holding layer ``index``, outermost first."""
        return list(self._holders().get(self.folded_into.get(index, index), []))

    def collapsed_by_default(self) -> bool:
        return len(self.shown) > COLLAPSE_ABOVE

    def open_at_first(self) -> set[str]:
        """Paths of the blocks shown open when the model is opened.

        All of them for a model of at most COLLAPSE_ABOVE rows. For a larger one, whole levels are
        opened from the top while the lines on screen (rows and headers) stay within COLLAPSE_ABOVE:
        ResNet-18 opens on layer1…layer4 showing their residual blocks closed, rather than on four
        closed lines; a model that is one ``features`` block opens that one.
        """
        blocks = self.blocks()
        if not self.collapsed_by_default():
            return {block.path for block in blocks}
        opened: set[str] = set()
        lines = len(self.items)
        level = [item for item in self.items if isinstance(item, Block)]
        while level:
            more = sum(len(block.items) for block in level)
            if lines + more > COLLAPSE_ABOVE:
                break
            lines += more
            opened.update(block.path for block in level)
            level = [item for block in level for item in block.items if isinstance(item, Block)]
        return opened


def scope_of(name: str) -> tuple[str, ...]:
    """The module scope of an exporter's node name: ``/layer1/layer1.0/conv1/Conv`` → (layer1, layer1.0, conv1).

    torch writes a leading "/", TensorFlow converters none (``sequential/conv2d/Conv2D``); a name without
    "/" (``c1.conv``) has no scope.
    """
    parts = [p for p in name.split("/") if p]
    return tuple(parts[:-1])


def fold_constants(layers: list[Layer]) -> dict[int, int]:
    """Constant layer index → the first image layer (execution order) that reads it, directly or through constants.

    Constants no image layer reads (a constant model output) are not folded.
    """
    by_index = {layer.index: layer for layer in layers}
    readers: dict[str, list[int]] = {}
    for layer in layers:
        for name in layer.inputs:
            if name:
                readers.setdefault(name, []).append(layer.index)
    folded: dict[int, int] = {}
    for layer in layers:
        if not layer.constant:
            continue
        # Walk forward through constants to the image layers they feed.
        seen = {layer.index}
        frontier = [layer.index]
        consumers: list[int] = []
        while frontier:
            current = by_index[frontier.pop()]
            for name in current.outputs or [current.output]:
                for reader in readers.get(name, ()):
                    if reader in seen:
                        continue
                    seen.add(reader)
                    if by_index[reader].constant:
                        frontier.append(reader)
                    else:
                        consumers.append(reader)
        if consumers:
            folded[layer.index] = min(consumers)
    return folded


def _image_tensor_shapes(shown: list[Layer], input_shapes: dict[str, list[int]]) -> dict[str, list[int] | None]:
    """Shapes of the tensors that carry the image: the graph inputs and the shown layers' outputs."""
    shapes: dict[str, list[int] | None] = dict(input_shapes)
    for layer in shown:
        for name, shape in zip(layer.outputs or [layer.output], layer.output_shapes or [layer.output_shape]):
            if name:
                shapes[name] = shape
    return shapes


class _Scope:
    def __init__(self, name: str):
        self.name = name
        self.children: dict[str, _Scope] = {}
        self.items: list[tuple[int, Union[_Scope, int]]] = []  # (first layer index, child or layer)

    def add(self, scope: tuple[str, ...], index: int) -> None:
        if not scope:
            self.items.append((index, index))
            return
        head = scope[0]
        if head not in self.children:
            self.children[head] = _Scope(head)
            self.items.append((index, self.children[head]))
        self.children[head].add(scope[1:], index)

    def count(self) -> int:
        return sum(1 if isinstance(item, int) else item.count() for _, item in self.items)


def _scope_items(scope: _Scope, prefix: str, depth: int) -> list[Union[Block, int]]:
    """The blocks and loose layers inside ``scope``, single-layer scopes unwrapped and chains merged."""
    out: list[Union[Block, int]] = []
    for _, item in scope.items:
        if isinstance(item, int):
            out.append(item)
            continue
        name = item.name
        # A scope whose only content is one scope: one block named by both.
        while len(item.items) == 1 and not isinstance(item.items[0][1], int):
            item = item.items[0][1]
            name = f"{name}/{item.name}"
        path = f"{prefix}/{name}" if prefix else name
        if item.count() == 1:
            out.extend(_scope_items(item, path, depth))  # one layer: no block around it
            continue
        out.append(Block(name, path, _scope_items(item, path, depth + 1), depth=depth))
    return out


def _by_scope(layers: list[Layer], shown: list[int]) -> list[Union[Block, int]]:
    by_index = {layer.index: layer for layer in layers}
    root = _Scope("")
    for index in shown:
        root.add(scope_of(by_index[index].name), index)
    # A prefix every layer shares names the whole model, not a block of it.
    while len(root.items) == 1 and not isinstance(root.items[0][1], int):
        root = root.items[0][1]
    return _scope_items(root, "", 0)


def _by_pooling(layers: list[Layer], shown: list[int]) -> list[Union[Block, int]]:
    by_index = {layer.index: layer for layer in layers}
    stages: list[list[int]] = [[]]
    for index in shown:
        stages[-1].append(index)
        if by_index[index].op in POOL_OPS:
            stages.append([])
    stages = [stage for stage in stages if stage]
    if len(stages) < 2:
        return list(shown)
    return [Block(f"stage {n}", f"stage {n}", list(stage)) for n, stage in enumerate(stages, 1)]


def _fill(block: Block, by_index: dict[int, Layer], folded: dict[int, list[int]],
          shapes: dict[str, list[int] | None]) -> None:
    """A block's layers, parameter total and shapes, its sub-blocks first."""
    block.layers = []
    for item in block.items:
        if isinstance(item, Block):
            _fill(item, by_index, folded, shapes)
            block.layers.extend(item.layers)
        else:
            block.layers.append(item)
    block.layers.sort()
    block.params = sum(by_index[i].params + sum(by_index[c].params for c in folded.get(i, ())) for i in block.layers)
    inside: set[str] = set()
    for index in block.layers:
        inside.update(n for n in by_index[index].outputs or [by_index[index].output] if n)
    first = by_index[block.layers[0]]
    # The image tensor it reads: a shown layer's output or a graph input (constants and initializers are not in ``shapes``).
    outside = [n for n in first.inputs if n and n not in inside and n in shapes]
    block.input_shape = shapes[outside[0]] if outside else None
    block.output_shape = by_index[block.layers[-1]].output_shape


def graph_input_shapes(model: Any, batch: int = 1) -> dict[str, list[int]]:
    """The shapes of an onnx model's graph inputs (not initializers), an open batch axis as ``batch``.

    Inputs with other open axes are left out: the analysis refuses them anyway.
    """
    graph = model.graph
    initializers = {t.name for t in graph.initializer}
    shapes: dict[str, list[int]] = {}
    for value_info in graph.input:
        if value_info.name in initializers:
            continue
        dims = value_info.type.tensor_type.shape.dim
        shape = [int(d.dim_value) if d.dim_value > 0 else (batch if axis == 0 else -1) for axis, d in enumerate(dims)]
        if -1 not in shape:
            shapes[value_info.name] = shape
    return shapes


def analyze_structure(layers: list[Layer], input_shapes: dict[str, list[int]] | None = None,
                      stage_min_rows: int = STAGE_MIN_ROWS) -> Structure:
    """Fold the constants and group the rows of an analysed graph.

    ``input_shapes``: the graph inputs' shapes (batch first), for the input shape of
    a block that starts at the model's input; initializers are told apart from
    inputs by not being listed there.
    """
    input_shapes = dict(input_shapes or {})
    folded_into = fold_constants(layers)
    folded: dict[int, list[int]] = {}
    for constant, consumer in sorted(folded_into.items()):
        folded.setdefault(consumer, []).append(constant)
    shown = [layer.index for layer in layers if layer.index not in folded_into]
    grouping = ""
    items: list[Union[Block, int]] = list(shown)
    if any(scope_of(layer.name) for layer in layers if layer.index not in folded_into):
        scoped = _by_scope(layers, shown)
        if any(isinstance(item, Block) for item in scoped):
            items, grouping = scoped, BY_SCOPE
    if not grouping and len(shown) > stage_min_rows:
        staged = _by_pooling(layers, shown)
        if any(isinstance(item, Block) for item in staged):
            items, grouping = staged, BY_POOLING
    by_index = {layer.index: layer for layer in layers}
    shapes = _image_tensor_shapes([by_index[i] for i in shown], input_shapes)
    for item in items:
        if isinstance(item, Block):
            _fill(item, by_index, folded, shapes)
    return Structure(shown, folded_into, folded, items, grouping)


# ---------------------------------------------------------------------------
# words and output


def folded_text(layers_by_index: dict[int, Layer], constants: list[int]) -> str:
    """``folded: 2 constants (Identity, Constant)`` for the constants folded into one layer."""
    if not constants:
        return ""
    ops: list[str] = []
    for index in constants:
        op = layers_by_index[index].op
        if op not in ops:
            ops.append(op)
    noun = "constant" if len(constants) == 1 else "constants"
    return f"folded: {len(constants)} {noun} ({', '.join(ops)})"


def shape_words(shape: list[int] | None) -> str:
    """A block's shape without the batch axis: ``64×56×56``; "?" when unknown."""
    if shape is None:
        return "?"
    dims = shape[1:] if len(shape) >= 2 else shape
    return "×".join(str(d) for d in dims) or "scalar"


def block_heading(block: Block) -> str:
    """``layer1.0 · 64×56×56 → 64×56×56 · 73,984 params · 7 layers``."""
    count = len(block.layers)
    return (f"{block.name} · {shape_words(block.input_shape)} → {shape_words(block.output_shape)} · "
            f"{block.params:,} params · {count} layer{'s' if count != 1 else ''}")


def structure_json(layers: list[Layer], structure: Structure) -> dict[int, dict]:
    """Per layer index: ``block`` (innermost block path or None), ``folded`` and ``folded_into``."""
    out: dict[int, dict] = {}
    for layer in layers:
        block = structure.block_of(layer.index)
        out[layer.index] = {
            "block": None if block is None else block.path,
            "folded": list(structure.folded.get(layer.index, [])),
            "folded_into": structure.folded_into.get(layer.index),
        }
    return out
