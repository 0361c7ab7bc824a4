"""The network at a glance: a caption and the painted overview, scrolling sideways when it must.

The overview is always on screen above the drawing and the layer panel. It
draws every layer of the open model (overview_canvas.py), follows the pen
like the rest of the window, and says in its caption how it fitted a large
model in: by drawing element-wise layers with the layer they follow, or by
scrolling sideways. objectName ``networkOverview``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # graph imports onnx, which the window loads after its first paint
    from lenet_gui.core.graph import Layer

from PySide6.QtCore import QEvent, QSize, Qt, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QScrollArea, QSizePolicy, QVBoxLayout, QWidget

from lenet_gui.ui.overview_canvas import OverviewCanvas

MIN_HEIGHT = 90  # a small window (780×580) keeps the rest of the layout usable
DEFAULT_HEIGHT = 236  # the caption and the columns; fits LeNet-5 at the default window size


class NetworkOverview(QWidget):
    """Every layer of the model as a column of pictures, in one line, left to right."""

    #: (layer, map or unit, or -1): a layer was selected in the overview.
    layerSelected = Signal(object, int)
    #: (layer, map): a map was double-clicked.
    mapActivated = Signal(object, int)
    #: (layer, map or unit, row, column) under the pointer; the window outlines its receptive field.
    unitHovered = Signal(object, int, int, int)
    hoverLeft = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("networkOverview")
        self.setAccessibleName("Network overview")
        self.setAccessibleDescription("Every layer of the model at a glance, from the input to the output")
        self.heading = QLabel("The network at a glance", self)
        font = self.heading.font()
        font.setBold(True)
        self.heading.setFont(font)
        self.note = QLabel("", self)
        self.note.setObjectName("overviewNote")
        self.note.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        # The note may be cut short in a narrow window (its tooltip has it all); it must not widen the window.
        self.note.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.canvas = OverviewCanvas()
        self.canvas.layerSelected.connect(self._bring_selection_into_view)
        self.canvas.layerSelected.connect(self.layerSelected)
        self.canvas.mapActivated.connect(self.mapActivated)
        self.canvas.unitHovered.connect(self.unitHovered)
        self.canvas.hoverLeft.connect(self.hoverLeft)
        self.scroll = QScrollArea(self)
        self.scroll.setObjectName("overviewScroll")
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.StyledPanel)
        self.scroll.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.scroll.setWidget(self.canvas)
        self.scroll.viewport().installEventFilter(self)  # its size, not ours, is what the columns get
        top = QHBoxLayout()
        top.setContentsMargins(0, 0, 0, 0)
        top.addWidget(self.heading)
        top.addSpacing(12)
        top.addWidget(self.note, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 2)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.scroll, 1)
        # Its full height at the default window size; a smaller window shrinks it (down to MIN_HEIGHT) first.
        self.setMinimumHeight(MIN_HEIGHT)
        self.setMaximumHeight(DEFAULT_HEIGHT)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Maximum)

    def sizeHint(self):
        return QSize(900, DEFAULT_HEIGHT)

    def set_model(self, layers: list[Layer], meta: dict, model_title: str, input_size, labels: list[str],
                  class_output: str | None) -> None:
        self.heading.setText(f"{model_title} at a glance")
        self.canvas.set_model(layers, meta, input_size, labels, class_output)
        self._fit()

    def show_result(self, result) -> None:
        self.canvas.show_result(result)

    def select_layer(self, layer: Layer) -> None:
        self.canvas.select_layer(layer)

    def _bring_selection_into_view(self, _layer=None, _item=-1) -> None:
        index = self.canvas.selected_index()
        if index is not None:
            rect = self.canvas.column_rect(index)
            self.scroll.ensureVisible(rect.center().x(), rect.center().y(), rect.width() // 2 + 12, 0)

    def _fit(self) -> None:
        viewport = self.scroll.viewport()
        bar = self.scroll.horizontalScrollBar().sizeHint().height()
        # Planned for the height left under a scroll bar, so that one appearing changes nothing.
        self.canvas.set_available(viewport.width(), self.scroll.height() - 2 * self.scroll.frameWidth() - bar)
        self._say_how()

    def _say_how(self) -> None:
        plan = self.canvas.plan
        layers = sum(len(c.layers) for c in plan.columns)
        if plan.mode == "scroll":
            text = (f"{layers} layers: too many for the width, so it scrolls sideways"
                    + ("; element-wise layers are drawn with the layer before them (marked +)" if plan.collapsed else ""))
        elif plan.mode == "collapsed":
            text = (f"{layers} layers in {len(plan.columns) - 1} columns: {plan.collapsed} element-wise layers "
                    "(ReLU and the like) are drawn with the layer before them, marked +")
        else:
            text = f"{layers} layers, each a column; click one to see its row below, hover for its name and shape"
        hidden = len(self.canvas.layers()) - layers
        if hidden > 0:
            text += f" ({hidden} node{'s' if hidden != 1 else ''} preparing weights or shapes not drawn)"
        self.note.setText(text)
        self.canvas.setAccessibleDescription(self.canvas.summary())
        self.note.setToolTip(text)

    def eventFilter(self, watched, event) -> bool:
        if watched is self.scroll.viewport() and event.type() == QEvent.Type.Resize:
            self._fit()
        return super().eventFilter(watched, event)
