"""One row of the layer panel: a node of the graph, its arithmetic and its activations."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import QEvent, QRectF, Qt, Signal
from PySide6.QtGui import QFontDatabase, QPainter, QPalette, QPen
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QSizePolicy, QVBoxLayout, QWidget

from lenet_gui.ui import layer_text, theme
from lenet_gui.ui.feature_maps import ActivationMaps, map_layout
from lenet_gui.ui.layer_text import LayerName

if TYPE_CHECKING:  # graph imports onnx, which the window loads after its first paint
    from lenet_gui.core.graph import Layer


def _dim_label(text: str, parent: QWidget) -> QLabel:
    label = QLabel(text, parent)
    label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
    label.setWordWrap(True)
    return label


class LayerRow(QFrame):
    """Name, operation, hyper-parameters, the worked shape, the check mark and the heatmaps."""

    unitHovered = Signal(int, int, int)
    hoverLeft = Signal()
    mapActivated = Signal(int)
    unitActivated = Signal(int, int, int)
    kernelsRequested = Signal()

    def __init__(self, layer: Layer, name: LayerName, signed: bool, input_size: tuple[int, int] | None,
                 tile_size: int, has_kernels: bool, parent: QWidget | None = None, folded: str = "") -> None:
        super().__init__(parent)
        self.layer = layer
        self.name = name
        self.compact = layer_text.is_compact(layer)
        self._signed = signed
        self._tile_size = tile_size
        self._check = layer_text.check_shape(layer, None)
        self._runtime_shape = None  # what _check was worked out for
        self._marked = False  # chosen in the overview: outlined in the accent colour
        self._labels: list[str] | None = None  # class labels, for the output layer's cells
        self.maps: ActivationMaps | None = None
        self.setObjectName(f"layerRow{layer.index}")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAccessibleName(f"Layer {layer.index + 1}: {name.title(layer)}")
        tooltip = (f"ONNX node {layer.name or '(unnamed)'}: {layer.op}, output tensor {layer.output}\n"
                   f"Node #{layer.index + 1} in execution order, counted from 1 (index {layer.index})")
        if name.description:
            tooltip = f"{name.description}\n{tooltip}"
        self.setToolTip(tooltip)

        self.title = QLabel(self)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        tag = f"<b>{html.escape(name.tag)}</b> · " if name.tag else ""
        index = f"<span style='font-weight:normal'>#{layer.index + 1}</span>"
        title = layer_text.op_title(layer.op)
        onnx_op = "" if title.lower() == layer.op.lower() else f" ({layer.op})"
        self.title.setText(f"{tag}{html.escape(title + onnx_op)}&nbsp;&nbsp;{index}")
        self.shape_label = QLabel(layer_text.shape_text(None if layer.output_shape is None else layer.output_shape[1:]), self)
        self.shape_label.setAccessibleName("Output shape")
        self.mark = QLabel("", self)
        self.mark.setObjectName("shapeCheck")
        self.mark.setAccessibleName("Shape check")
        self.kernels_button: QPushButton | None = None

        header = QHBoxLayout()
        header.setSpacing(8)
        header.addWidget(self.title)
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.formula = QLabel(layer.formula, self)
        self.formula.setFont(mono)
        self.formula.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.formula.setAccessibleName("Shape formula")
        self.formula.setWordWrap(True)
        if self.compact:
            what = layer_text.ELEMENTWISE_FORMULAS.get(layer.op)
            self.formula.setText(f"{what} · {layer.formula}" if what else layer.formula)
            self.formula.setForegroundRole(QPalette.ColorRole.PlaceholderText)
            header.addWidget(self.formula, 1)
        else:
            header.addStretch(1)
        header.addWidget(self.shape_label)
        header.addWidget(self.mark)
        if has_kernels:
            self.kernels_button = QPushButton("Kernels…", self)
            self.kernels_button.setAccessibleName(f"Show the kernels of {name.tag or layer.display_name}")
            self.kernels_button.setToolTip("Show this convolution's learned kernels (its weights)")
            self.kernels_button.clicked.connect(self.kernelsRequested)
            header.addWidget(self.kernels_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 6 if self.compact else 8, 10, 8)
        layout.setSpacing(4)
        layout.addLayout(header)
        # Constants computed from weights alone are not rows: their layer says it took them in.
        self.folded_label = _dim_label(folded, self) if folded else None
        if self.folded_label is not None:
            self.folded_label.setObjectName("foldedConstants")
            self.folded_label.setToolTip("Nodes that only pass weights or shapes along (Identity, Constant…), "
                                         "computed without the image; their weights are counted in this layer's "
                                         "parameters, a shared weight once.")
            layout.addWidget(self.folded_label)
        if not self.compact:
            details = [layer_text.hyper_text(layer), layer_text.params_text(layer),
                       layer_text.receptive_text(layer, input_size)]
            details = [d for d in details if d]
            if name.description:
                shape = tuple(layer.output_shape[1:]) if layer.output_shape else ()
                kind = map_layout(shape)[0] if shape else "strip"
                details.insert(0, layer_text.row_description(name, kind))
            if details:
                layout.addWidget(_dim_label(" · ".join(details), self))
            layout.addWidget(self.formula)
            if layer.note:
                layout.addWidget(_dim_label(f"Note: {layer.note}", self))
        self._maps_layout = layout
        self._empty_label: QLabel | None = None
        if not layer.constant and layer.output_shape is not None:
            self._make_maps(tuple(layer.output_shape[1:]))

    # --- heatmaps --------------------------------------------------------------------------------------
    def _make_maps(self, shape) -> None:
        if self.maps is not None:
            self.maps.deleteLater()
            self.maps = None
        if 0 in shape:
            # A pooling window wider than its input can leave an axis with no values
            # (onnxruntime returns an empty tensor): nothing to draw, and the row says so.
            if self._empty_label is None:
                self._empty_label = _dim_label("Empty output: no values to draw", self)
                self._maps_layout.addWidget(self._empty_label)
            return
        fill = QPalette.ColorRole.AlternateBase if self.compact else QPalette.ColorRole.Base
        self.maps = ActivationMaps(shape, self._signed, self._tile_size, background=fill, parent=self)
        self.maps.setAccessibleName(f"Activations of {self.name.title(self.layer)}")
        self.maps.unitHovered.connect(self.unitHovered)
        self.maps.hoverLeft.connect(self.hoverLeft)
        self.maps.mapActivated.connect(self.mapActivated)
        if self._labels:
            self.maps.set_labels(self._labels)
        self.maps.unitActivated.connect(self.unitActivated)
        self._maps_layout.addWidget(self.maps)

    def set_tile_size(self, size: int) -> None:
        self._tile_size = size
        if self.maps is not None:
            self.maps.set_tile_size(size)

    def show_activation(self, values: np.ndarray | None) -> None:
        """This layer's activation in the newest result (None: nothing drawn)."""
        if values is not None and values.size == 0:
            values = None  # an empty output has nothing to draw
        if values is not None and (self.maps is None or values.shape != self.maps.shape):
            self._make_maps(values.shape)  # a shape the arithmetic did not foresee: show what ran
        if self.maps is not None:
            self.maps.set_values(values)

    def set_runtime_shape(self, shape) -> None:
        """The shape of the activation onnxruntime returned (None: not known yet)."""
        if shape == self._runtime_shape:
            return  # the same every frame while drawing: no need to word the check again
        self._runtime_shape = shape
        check = layer_text.check_shape(self.layer, shape)
        if check == self._check:
            return
        self._check = check
        self._paint_mark()

    def check(self) -> layer_text.ShapeCheck:
        return self._check

    def _paint_mark(self) -> None:
        check = self._check
        palette = self.palette()
        if check.status == "ok":
            color = theme.ok_color(palette).name()
            self.mark.setText(f"<span style='color:{color}; font-weight:bold'>✓</span>")
        elif check.status == "mismatch":
            color = theme.bad_color(palette).name()
            self.mark.setText(f"<span style='color:{color}; font-weight:bold'>{html.escape(check.text)}</span>")
        elif check.status == "runtime":
            self.mark.setText(html.escape(check.text))
        else:
            self.mark.setText("")
        self.mark.setToolTip(check.detail)
        self.mark.setAccessibleDescription(check.detail)

    def set_labels(self, labels: list[str] | None) -> None:
        """The class labels, when this layer is the model's class output."""
        self._labels = list(labels) if labels else None
        if self.maps is not None:
            self.maps.set_labels(self._labels)

    def set_marked(self, marked: bool) -> None:
        if marked != self._marked:
            self._marked = marked
            self.update()

    def is_marked(self) -> bool:
        return self._marked

    def changeEvent(self, event) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._paint_mark()
        super().changeEvent(event)

    def paintEvent(self, event) -> None:
        palette = self.palette()
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setPen(QPen(theme.accent_color(palette), 2) if self._marked else QPen(palette.color(QPalette.ColorRole.Mid), 1))
        painter.setBrush(palette.color(QPalette.ColorRole.AlternateBase if self.compact else QPalette.ColorRole.Base))
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5), 6, 6)
        painter.end()
