"""The layer panel: every node of the loaded model, in execution order, with its activations.

Rebuilt from ``graph.analyze`` whenever a model is opened; fed every Result.
objectName ``layerPanel``.

A large model (more than ``ALL_ROWS_UP_TO`` rows; DenseNet-121 has 372 with
176 MB of activations) gets pictures only in the rows in view and a screen
around them: turning every map into colours on each result would hold the GUI
thread for a tenth of a second. Rows scrolled or expanded into view are filled
from the same result at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QCoreApplication, QEvent, QPoint, Qt, Signal
from PySide6.QtGui import QImage, QPainter, QPalette
from PySide6.QtWidgets import QFrame, QLabel, QScrollArea, QSizePolicy, QVBoxLayout, QWidget

from lenet_gui.core import structure
from lenet_gui.ui import layer_text
from lenet_gui.ui.feature_maps import FillTogether
from lenet_gui.ui.layer_blocks import BlockView
from lenet_gui.ui.layer_row import LayerRow
from lenet_gui.ui.legend import ColorLegend

if TYPE_CHECKING:  # graph imports onnx, which the window loads after its first paint
    from lenet_gui.core.graph import Layer

# Up to this many rows, every row gets its pictures with each result (LeNet-5 has 12).
ALL_ROWS_UP_TO = 40
TILE_SIZES = (40, 56, 72, 96)
DEFAULT_TILE_SIZE = 56


class LayerPanel(QWidget):
    """A header and a scrolling column of LayerRows."""

    #: (layer, map, row, column) under the pointer or keyboard cursor.
    unitHovered = Signal(object, int, int, int)
    hoverLeft = Signal()
    #: (layer, map): a heatmap was double-clicked.
    mapActivated = Signal(object, int)
    #: (layer, map, row, column): a unit was clicked or chosen with Enter.
    unitActivated = Signal(object, int, int, int)
    #: (layer): its kernels were asked for.
    kernelsRequested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("layerPanel")
        self.setAccessibleName("Layer panel")
        self.setAccessibleDescription("Every layer of the model with its worked-out shape and its activations")
        self._rows: list[LayerRow] = []  # made so far (a closed block makes its rows when first opened)
        self._runtime_shapes: dict = {}
        self._class_labels: tuple[str, list[str]] | None = None
        self._blocks: dict[str, BlockView] = {}
        self._top_blocks: list[BlockView] = []
        self._structure: structure.Structure | None = None
        self._tile_size = DEFAULT_TILE_SIZE
        self._layers: list[Layer] = []
        self._fill = FillTogether()
        self._activations: dict = {}  # of the newest result
        self._unfilled: set[int] = set()  # ids of rows whose pictures wait until they come into view

        self.heading = QLabel("Layers", self)
        font = self.heading.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.heading.setFont(font)
        self.summary = QLabel("", self)
        self.summary.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.summary.setWordWrap(True)
        self.legend = ColorLegend(self)

        self.content = QWidget()
        self.content.setObjectName("layerPanelContent")
        self.content.setBackgroundRole(QPalette.ColorRole.Window)
        self._column = QVBoxLayout(self.content)
        self._column.setContentsMargins(0, 0, 6, 6)
        self._column.setSpacing(6)
        self._column.addStretch(1)

        self.scroll = QScrollArea(self)
        self.scroll.setObjectName("layerScroll")
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        # Always on: a scroll bar that comes and goes would change the width and
        # so the number of heatmaps per line, which could bring it back again.
        self.scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOn)
        self.scroll.setWidget(self.content)
        self.scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.scroll.verticalScrollBar().valueChanged.connect(self._fill_rows_in_view)
        self.scroll.verticalScrollBar().rangeChanged.connect(self._fill_rows_in_view)  # a block opened or closed

        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addWidget(self.heading)
        layout.addWidget(self.summary)
        layout.addWidget(self.legend)
        layout.addSpacing(4)
        layout.addWidget(self.scroll, 1)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    # --- building ----------------------------------------------------------------------------------------
    def set_layers(self, layers: list[Layer], meta: dict, model_title: str,
                   input_size: tuple[int, int] | None, kernel_layers: set[int],
                   input_shapes: dict[str, list[int]] | None = None) -> None:
        """Rebuild the rows for a model; ``kernel_layers``: indexes of layers with drawable kernels.

        Constants are folded into the row of the layer that reads them, and rows are grouped into
        blocks (lenet_gui.core.structure); ``input_shapes``, the graph inputs' shapes, give the input
        shape of a block that starts at the model's input.
        """
        for widget in self._rows + self._top_blocks:
            widget.setParent(None)
            widget.deleteLater()
        self._rows = []
        self._blocks = {}
        self._top_blocks = []
        self._unfilled = set()
        self._activations = {}
        self._layers = list(layers)
        found = structure.analyze_structure(layers, input_shapes)
        self._structure = found
        by_index = {layer.index: layer for layer in layers}
        names = layer_text.layer_names(layers, meta)
        signed = layer_text.may_be_negative(layers)
        opened = found.open_at_first()

        def make_row(layer: Layer, parent: QWidget) -> LayerRow:
            folded = structure.folded_text(by_index, found.folded.get(layer.index, []))
            row = LayerRow(layer, names[layer.index], signed[layer.index], input_size, self._tile_size,
                           layer.index in kernel_layers, parent, folded=folded)
            row.unitHovered.connect(lambda m, r, c, layer=layer: self.unitHovered.emit(layer, m, r, c))
            row.hoverLeft.connect(self.hoverLeft)
            row.mapActivated.connect(lambda m, layer=layer: self.mapActivated.emit(layer, m))
            row.unitActivated.connect(lambda m, r, c, layer=layer: self.unitActivated.emit(layer, m, r, c))
            row.kernelsRequested.connect(lambda layer=layer: self.kernelsRequested.emit(layer))
            self._rows.append(row)
            return row

        def make_items(items, add, parent: QWidget) -> None:
            for item in items:
                if isinstance(item, structure.Block):
                    view = BlockView(item, item.path in opened, parent)
                    self._blocks[item.path] = view
                    view.set_populate(lambda item=item, view=view: populate(item, view))  # now, if open
                    add(view)
                else:
                    add(make_row(by_index[item], parent))

        def populate(block: structure.Block, view: BlockView) -> None:
            """A block's rows, made when it first opens (or a row in it is asked for)."""
            made = len(self._rows)
            make_items(block.items, view.add, view.body)
            for row in self._rows[made:]:
                self._prepare_late_row(row)
            self._rows.sort(key=lambda row: row.layer.index)

        def add_top(widget: QWidget) -> None:
            if isinstance(widget, BlockView):
                self._top_blocks.append(widget)
            self._column.insertWidget(self._column.count() - 1, widget)

        self._runtime_shapes: dict = {}
        self._class_labels: tuple[str, list[str]] | None = None
        make_items(found.items, add_top, self.content)
        # Rows come in block order; keep the list in execution order, as callers index it.
        self._rows.sort(key=lambda row: row.layer.index)
        params = sum(layer.params for layer in layers)
        self.heading.setText(f"Layers of {model_title}")
        self.summary.setText(
            f"{self._count_text(layers, found)} · {params:,} parameters. Shapes are worked out by formula; "
            "✓ means onnxruntime returned an activation of exactly that shape. "
            "Hover a unit to see its receptive field on the input; click it to see how it was computed; "
            "double-click a map to enlarge it."
        )
        self.scroll.verticalScrollBar().setValue(0)

    @staticmethod
    def _count_text(layers: list[Layer], found: structure.Structure) -> str:
        """``66 layers in execution order (13 constants folded into the layers that read them), grouped by …``"""
        if not found.folded_into and not found.grouping:
            return f"{len(layers)} nodes in execution order"
        text = f"{len(found.shown)} layers in execution order"
        folded = len(found.folded_into)
        if folded:
            text += f" ({folded} constant{'s' if folded != 1 else ''} folded into the layers that read them)"
        if found.grouping:
            blocks = len(found.blocks())
            text += f", {found.grouping} into {blocks} block{'s' if blocks != 1 else ''}"
            if found.collapsed_by_default():
                text += " (the inner ones closed: click a block to open or close it)"
        return text

    def layer_structure(self) -> structure.Structure | None:
        return self._structure

    def blocks(self) -> dict[str, BlockView]:
        """Every block view by its path (``layer1/layer1.0``)."""
        return dict(self._blocks)

    def set_all_expanded(self, expanded: bool) -> None:
        for view in self._blocks.values():
            view.set_expanded(expanded)

    def expand_to(self, layer: Layer) -> None:
        """Open every block that holds ``layer`` (a folded constant: its layer's blocks)."""
        if self._structure is None:
            return
        opened = False
        for block in self._structure.ancestors(layer.index):
            view = self._blocks.get(block.path)
            if view is not None and not view.is_expanded():
                view.set_expanded(True)
                opened = True
        if opened:
            # Lay the opened bodies out now, so that the row's position and the scroll range are known at
            # once: each nested layout asks its parent in turn, so a few rounds of layout requests.
            for _ in range(len(self._structure.ancestors(layer.index)) + 2):
                QCoreApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)

    def layers(self) -> list[Layer]:
        return list(self._layers)

    def rows(self) -> list[LayerRow]:
        """Every row, in execution order (rows of closed blocks are made now if they were not yet)."""
        pending = [view for view in self._blocks.values() if not view.populated]
        while pending:  # a block's rows may hold blocks of their own, made only now
            for view in pending:
                view.populate()
            pending = [view for view in self._blocks.values() if not view.populated]
        return list(self._rows)

    def made_rows(self) -> list[LayerRow]:
        """The rows made so far: those of every block opened at least once."""
        return list(self._rows)

    def row_for(self, layer: Layer) -> LayerRow | None:
        """``layer``'s row (made now, in its closed block, if it was not yet); None for a layer with none."""
        row = next((row for row in self._rows if row.layer.index == layer.index), None)
        if row is None and self._structure is not None:
            for block in self._structure.ancestors(layer.index):  # outermost first
                view = self._blocks.get(block.path)
                if view is not None:
                    view.populate()
            row = next((row for row in self._rows if row.layer.index == layer.index), None)
        return row

    def _prepare_late_row(self, row: LayerRow) -> None:
        """What the rows made with the model got since: runtime shapes, class labels, the activations."""
        shape = self._runtime_shapes.get(row.layer.output)
        if shape is not None:
            row.set_runtime_shape(shape)
        if self._class_labels is not None and row.layer.output == self._class_labels[0]:
            row.set_labels(self._class_labels[1])
        if self._activations:
            self._unfilled.add(id(row))  # filled when in view (_fill_rows_in_view)

    def set_class_labels(self, output: str, labels: list[str]) -> None:
        """Label the cells of the layer whose output tensor is ``output`` (the class scores)."""
        self._class_labels = (output, list(labels))
        for row in self._rows:
            row.set_labels(labels if row.layer.output == output else None)

    def show_layer(self, layer: Layer, item: int = -1) -> LayerRow | None:
        """Scroll so that the row of ``layer`` is in view, its top first, and mark it; ``item``: a map to show too.

        Closed blocks around the row are opened; a folded constant shows the row it is folded into.
        """
        if self._structure is not None and layer.index in self._structure.folded_into:
            consumer = self._structure.folded_into[layer.index]
            layer = next((other for other in self._layers if other.index == consumer), layer)
            item = -1
        row = self.row_for(layer)
        if row is None:
            return None
        self.expand_to(layer)
        bar = self.scroll.verticalScrollBar()
        viewport = self.scroll.viewport().height()
        top = row.mapTo(self.content, QPoint(0, 0)).y()  # rows inside blocks are placed in the block's body
        if top < bar.value() or top + min(row.height(), viewport) > bar.value() + viewport:
            bar.setValue(min(top, bar.maximum()))
        self._fill_rows_in_view()  # before the scroll bar's signal, which a short scroll may not send
        if row.maps is not None and 0 <= item < row.maps.count:
            # A tall row (many maps) may hold the chosen one below the fold.
            centre = row.maps.mapTo(self.content, row.maps.unit_center(item))
            self.scroll.ensureVisible(centre.x(), centre.y(), 0, 40)
        for other in self._rows:
            other.set_marked(other is row)
        return row

    # --- data -----------------------------------------------------------------------------------------------
    def set_runtime_shapes(self, shapes: dict) -> None:
        """Activation shapes (tensor name → shape without batch) from an onnxruntime run."""
        self._runtime_shapes = dict(shapes)
        for row in self._rows:
            row.set_runtime_shape(shapes.get(row.layer.output))

    def show_result(self, result) -> None:
        """A session Result, or None for an empty canvas (heatmaps go idle)."""
        self._activations = {} if result is None else result.activations
        if len(self._rows) <= ALL_ROWS_UP_TO:
            self._show_in(self._rows)
            return
        shown = self.rows_in_view()
        self._unfilled = {id(row) for row in self._rows} - {id(row) for row in shown}
        for row in self._rows:
            values = self._activations.get(row.layer.output)
            if values is not None:
                row.set_runtime_shape(values.shape)
            if id(row) in self._unfilled and row.maps is not None:
                row.show_activation(None)  # out of view: no pictures held
                row.maps.release_pictures()
        self._show_in(shown)

    def _show_in(self, rows) -> None:
        for row in rows:
            values = self._activations.get(row.layer.output)
            row.show_activation(values)
            if values is not None:
                row.set_runtime_shape(values.shape)
        # All layers' colour levels in a few numpy calls, rather than a few per layer.
        self._fill.fill([row.maps for row in rows if row.maps is not None])

    def rows_in_view(self, margin: float = 1.0) -> list[LayerRow]:
        """The rows shown now, and those within ``margin`` screens above and below (rows in closed blocks: none)."""
        bar = self.scroll.verticalScrollBar()
        height = self.scroll.viewport().height()
        top, bottom = bar.value() - margin * height, bar.value() + (1 + margin) * height
        shown = []
        for row in self._rows:
            if not row.isVisibleTo(self.content):
                continue
            y = row.mapTo(self.content, QPoint(0, 0)).y()
            if y + row.height() >= top and y <= bottom:
                shown.append(row)
        return shown

    def _fill_rows_in_view(self, *_args) -> None:
        if not self._unfilled:
            return
        rows = [row for row in self.rows_in_view() if id(row) in self._unfilled]
        for row in rows:
            self._unfilled.discard(id(row))
        if rows:
            self._show_in(rows)

    def fill_every_row(self) -> None:
        """Pictures in every row (an export of the whole panel)."""
        rows = [row for row in self._rows if id(row) in self._unfilled]
        self._unfilled = set()
        if rows:
            self._show_in(rows)

    # --- view ----------------------------------------------------------------------------------------------
    def tile_size(self) -> int:
        return self._tile_size

    def set_tile_size(self, size: int) -> None:
        self._tile_size = size
        for row in self._rows:
            row.set_tile_size(size)

    def render_image(self) -> QImage:
        """The whole panel, every row (not only the visible ones), as an image for export."""
        self.fill_every_row()
        header_height = self.scroll.y()
        content = self.content
        ratio = self.devicePixelRatioF()
        width = max(self.width(), content.width())
        height = header_height + content.height()
        image = QImage(round(width * ratio), round(height * ratio), QImage.Format.Format_ARGB32_Premultiplied)
        image.setDevicePixelRatio(ratio)
        image.fill(self.palette().color(QPalette.ColorRole.Window))
        painter = QPainter(image)
        for widget in (self.heading, self.legend, self.summary):
            widget.render(painter, widget.pos())
        content.render(painter, QPoint(0, header_height))
        painter.end()
        return image
