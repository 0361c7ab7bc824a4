"""Where the network overview draws each layer: columns, thumbnails and cell sizes (arithmetic, no painting).

The overview draws the input and then every layer as a column, left to right,
the way the LeNet-5 figure of LeCun et al. (1998) does: feature maps as a grid
of thumbnails, 1-D layers as a narrow column of cells. ``plan`` fits the
columns into the space the widget has, in three steps, and says which it took:

1. ``"all"``: every layer its own column;
2. ``"collapsed"``: element-wise layers (ReLU, Flatten, Dropout, …) drawn in
   the column of the layer they follow, marked ``+ReLU``; the column then
   shows the activation after them;
3. ``"scroll"``: collapsed, at the smallest readable size, wider than the
   space: the overview scrolls sideways.

Nothing is drawn smaller than ``MIN_TILE`` (a feature map) or ``MIN_CELL``
(one unit of a vector) pixels: a layer with more maps than fit shows its first
ones and says how many more there are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # graph imports onnx, which the window loads after its first paint
    from lenet_gui.core.graph import Layer

import functools
import math
from dataclasses import dataclass, field

import numpy as np
from typing import Callable

from lenet_gui.ui import layer_text
from lenet_gui.ui.feature_maps import map_layout

MIN_TILE = 8  # smallest feature-map thumbnail, in pixels (its longer side)
MAX_TILE = 48
MIN_CELL = 5  # smallest vector cell
MAX_CELL = 14
TILE_GAP = 3  # room for a one-pixel frame around each thumbnail
COLUMN_GAP = 22  # between two columns: room for the connecting lines
MAX_MAPS = 64  # a wider layer shows its first maps and a "+N" note

# Ops that only pass values through, reshape them or apply a function to each:
# the ones a crowded overview draws with the layer before them.
_SHAPE_ONLY = {"Flatten", "Reshape", "Squeeze", "Unsqueeze", "Identity", "Dropout"}


@dataclass
class Column:
    """One column of the overview: a layer (or the input), with any layers drawn in it."""

    kind: str  # "input", "maps", "vector" or "none" (nothing to draw: unknown shape)
    layers: list[Layer]  # the layer drawn first, then those collapsed into it; [] for the input
    shape: tuple[int, ...]  # of the activation drawn (the last layer's), without the batch axis
    count: int = 0  # maps or cells drawn
    total: int = 0  # maps or cells the layer has
    tile_h: int = 1
    tile_w: int = 1
    grid_cols: int = 1  # thumbnails (or cells) side by side
    cell: int = 0  # pixels per tile's longer side, or per vector cell
    labels: list[str] = field(default_factory=list)  # class labels beside the cells (the output)
    width: int = 0  # of the whole column, text included
    content_w: int = 0
    content_h: int = 0
    x: int = 0  # left edge, set by plan()

    @property
    def layer(self) -> Layer | None:
        """The layer whose activation the column shows (the last one collapsed into it)."""
        return self.layers[-1] if self.layers else None

    @property
    def first(self) -> Layer | None:
        return self.layers[0] if self.layers else None

    @property
    def grid_rows(self) -> int:
        return max(1, math.ceil(self.count / max(1, self.grid_cols)))

    @property
    def tile_px(self) -> tuple[int, int]:
        """(height, width) of one thumbnail on screen."""
        scale = self.cell / max(self.tile_h, self.tile_w)
        return max(1, round(self.tile_h * scale)), max(1, round(self.tile_w * scale))


@dataclass
class Plan:
    columns: list[Column]
    mode: str  # "all", "collapsed" or "scroll"
    width: int  # all columns, gaps included
    collapsed: int  # layers drawn inside another's column

    def column_of(self, layer: Layer) -> Column | None:
        return next((c for c in self.columns if any(l.index == layer.index for l in c.layers)), None)


def is_collapsible(layer: Layer) -> bool:
    """An op that changes no value's place or only applies a function to each value."""
    return layer.params == 0 and (layer.op in _SHAPE_ONLY or layer.op in layer_text.ELEMENTWISE_FORMULAS)


def drawn_layers(layers: list[Layer]) -> list[Layer]:
    """The layers that have an activation computed from the image (not weights or shapes)."""
    return [layer for layer in layers if not layer.constant]


def _column_for(layers: list[Layer], labels: list[str] | None) -> Column:
    layer = layers[-1]
    shape = tuple(int(d) for d in layer.output_shape[1:]) if layer.output_shape else ()
    if layer.output_shape is None:
        return Column("none", list(layers), ())
    kind, count, h, w = map_layout(shape, MAX_MAPS)
    total = shape[0] if kind == "maps" and len(shape) == 3 else math.prod(shape) if shape else 1
    if kind == "maps":
        return Column("maps", list(layers), shape, count, total, h, w)
    count = min(total, 512)
    column = Column("vector", list(layers), shape, count, total)
    if labels and len(labels) == total:
        column.labels = list(labels)
    return column


def _size_maps(column: Column, height: int, max_width: int, min_tile: int) -> bool:
    """Pick the grid and thumbnail size; False when even ``min_tile`` does not fit."""
    best = _grid(column.tile_h, column.tile_w, column.count, height, max_width, min_tile)
    if best is None:
        return False
    column.cell, column.grid_cols, column.count = best
    th, tw = column.tile_px
    column.content_w = column.grid_cols * tw + (column.grid_cols - 1) * TILE_GAP
    column.content_h = column.grid_rows * th + (column.grid_rows - 1) * TILE_GAP
    return True


@functools.lru_cache(maxsize=4096)
def _grid(tile_h: int, tile_w: int, count: int, height: int, max_width: int,
          min_tile: int) -> tuple[int, int, int] | None:
    """(cell, grid columns, maps shown): the narrowest grid with the largest cell.

    Cached: a plan tries up to five layouts, and a large model repeats the same few
    layer shapes (DenseNet-121: 4,000 columns sized, a few dozen shapes)."""
    longest = max(tile_h, tile_w)
    cap = min(MAX_TILE, max(longest * 4, min_tile))
    while count >= 1:
        # Every grid width at once (a 512-map layer: 512 of them) and the cell each allows.
        cols = np.arange(1, count + 1)
        rows = -(-count // cols)
        by_height = (height - (rows - 1) * TILE_GAP) / (rows * tile_h) * longest
        by_width = (max_width - (cols - 1) * TILE_GAP) / (cols * tile_w) * longest
        cells = np.trunc(np.minimum(np.minimum(by_height, by_width), cap))
        first = int(np.argmax(cells))
        if cells[first] >= min_tile:
            return int(cells[first]), first + 1, count
        count //= 2  # too many to show: the first half, and say so
    return None


def _size_vector(column: Column, height: int, max_width: int, label_w: int) -> bool:
    """A narrow column of cells (the output: one cell per class, its label beside it)."""
    if column.labels:
        cell = min(MAX_CELL, height // max(1, column.count))
        if cell >= MIN_CELL:
            column.cell, column.grid_cols = cell, 1
            column.content_w = cell + 4 + label_w
            column.content_h = cell * column.count
            return True
        column.labels = []  # too many classes to label in one column: a plain vector
    pick = _vector_grid(column.count, height, max_width)
    if pick is None:
        return False
    column.grid_cols, column.cell, column.count = pick
    column.content_w = column.grid_cols * column.cell
    column.content_h = column.grid_rows * column.cell
    return True


@functools.lru_cache(maxsize=1024)
def _vector_grid(count: int, height: int, max_width: int) -> tuple[int, int, int] | None:
    """(grid columns, cell, cells shown) for a vector; cached as _grid is."""
    while count >= 1:
        options = []
        for cols in range(1, count + 1):
            cell = min(MAX_CELL, height // math.ceil(count / cols))
            if cell >= MIN_CELL and cols * cell <= max_width:
                options.append((cols, cell))
        # The narrowest column with cells big enough to point at, else the biggest cells there are.
        roomy = [option for option in options if option[1] >= MIN_CELL + 2]
        pick = roomy[0] if roomy else max(options, key=lambda option: option[1], default=None)
        if pick is not None:
            return pick[0], pick[1], count
        count //= 2  # too many to show: the first half, and say so
    return None


def plan(layers: list[Layer], input_size: tuple[int, int] | None, labels: list[str] | None,
         class_output: str | None, width: int, height: int,
         text_width: Callable[[Column], int], label_width: int = 0) -> Plan:
    """Columns for ``layers`` in ``width``×``height`` pixels of thumbnails (text around them excluded).

    ``text_width(column)``: pixels the column's caption needs. ``labels`` go
    beside the cells of the layer whose output is ``class_output``.
    """
    shown = drawn_layers(layers)
    attempts = [("all", False, 1.0), ("all", False, 0.75), ("collapsed", True, 1.0), ("collapsed", True, 0.7),
                ("scroll", True, 0.5)]
    result = None
    for mode, collapse, squeeze in attempts:
        columns = _columns(shown, input_size, labels, class_output, collapse)
        max_width = max(40, int(112 * squeeze))
        min_tile = MIN_TILE if mode != "all" else max(MIN_TILE, 10)
        for column in columns:
            _size(column, height, max_width, min_tile, label_width)
            column.width = max(column.content_w, text_width(column))
        total = sum(c.width for c in columns) + COLUMN_GAP * max(0, len(columns) - 1)
        collapsed = sum(len(c.layers) - 1 for c in columns if c.layers)
        result = Plan(columns, mode, total, collapsed)
        if total <= width:
            break
    x = 0
    for column in result.columns:
        column.x = x
        x += column.width + COLUMN_GAP
    if result.mode == "collapsed" and result.collapsed == 0:
        result.mode = "all"  # nothing was collapsible: it fits as it is
    if result.width > width:
        result.mode = "scroll"
    return result


def _size(column: Column, height: int, max_width: int, min_tile: int, label_width: int) -> None:
    if column.kind == "input":
        h, w = column.tile_h, column.tile_w
        scale = max(1, min(height // h, max_width // w, 4))
        column.cell = scale * max(h, w)
        column.content_w, column.content_h = w * scale, h * scale
    elif column.kind == "maps":
        if not _size_maps(column, height, max_width, min_tile):
            column.kind, column.count = "none", 0
    elif column.kind == "vector":
        if not _size_vector(column, height, max_width, label_width):
            column.kind, column.count = "none", 0


def _columns(shown: list[Layer], input_size, labels, class_output, collapse: bool) -> list[Column]:
    columns: list[Column] = []
    if input_size:
        h, w = input_size
        columns.append(Column("input", [], (h, w), 1, 1, h, w))
    by_output = {}
    for layer in shown:
        previous = columns[-1] if columns and columns[-1].layers else None
        follows = previous is not None and previous.layer.output in layer.inputs
        if collapse and follows and is_collapsible(layer) and layer.output != class_output:
            group = previous.layers + [layer]
            columns[-1] = _column_for(group, labels if layer.output == class_output else None)
        else:
            columns.append(_column_for([layer], labels if layer.output == class_output else None))
        by_output[layer.output] = columns[-1]
    if class_output and class_output in by_output and labels:
        # A Softmax after the logits is collapsed into them only when it is not the class output itself.
        column = by_output[class_output]
        if column.kind == "vector" and column.total == len(labels) and not column.labels:
            column.labels = list(labels)
    return columns
