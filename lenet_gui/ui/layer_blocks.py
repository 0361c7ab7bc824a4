"""A collapsible block of the layer panel: a module scope (``layer1.0``) or a stage between pooling layers.

The header shows ▸/▾, the block's name, its input → output shape, its parameters
and how many layers it holds; clicking it (or Space/Enter on it) opens or closes
the body, which holds the block's rows and sub-blocks, indented.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QPainter, QPalette, QPen
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

if TYPE_CHECKING:  # structure comes with graph, loaded after the first paint
    from lenet_gui.core.structure import Block

INDENT = 14  # pixels a block's body is indented by


class BlockHeader(QFrame):
    """The clickable line that names a block and opens or closes it."""

    clicked = Signal()

    def __init__(self, block: Block, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        from lenet_gui.core.structure import shape_words

        self.block = block
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.arrow = QLabel("▸", self)
        self.arrow.setFixedWidth(14)
        count = len(block.layers)
        self.title = QLabel(f"<b>{html.escape(block.name)}</b>", self)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.shapes = QLabel(f"{shape_words(block.input_shape)} → {shape_words(block.output_shape)}", self)
        self.details = QLabel(f"{block.params:,} parameters · {count} layer{'s' if count != 1 else ''}", self)
        self.details.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 10, 4)
        layout.setSpacing(8)
        layout.addWidget(self.arrow)
        layout.addWidget(self.title)
        layout.addStretch(1)
        layout.addWidget(self.shapes)
        layout.addWidget(self.details)
        self.setToolTip(f"Block {block.path}: {count} layers. Click to open or close it.")

    def set_expanded(self, expanded: bool) -> None:
        self.arrow.setText("▾" if expanded else "▸")
        state = "open" if expanded else "closed"
        self.setAccessibleName(f"Block {self.block.name}, {state}: {self.shapes.text()}, {self.details.text()}")

    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self.clicked.emit()
            event.accept()
            return
        super().mousePressEvent(event)

    def keyPressEvent(self, event) -> None:
        if event.key() in (Qt.Key.Key_Space, Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.clicked.emit()
            return
        super().keyPressEvent(event)

    def paintEvent(self, event) -> None:
        palette = self.palette()
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        pen = QPen(palette.color(QPalette.ColorRole.Highlight if self.hasFocus() else QPalette.ColorRole.Mid), 1)
        painter.setPen(pen)
        painter.setBrush(palette.color(QPalette.ColorRole.Button))
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5), 6, 6)
        painter.end()


class BlockView(QWidget):
    """A block's header and its body (rows and sub-blocks), the body shown only when open."""

    toggled = Signal(bool)

    def __init__(self, block: Block, expanded: bool, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.block = block
        self.setObjectName(f"block:{block.path}")
        self.header = BlockHeader(block, self)
        self.body = QWidget(self)
        self.body_layout = QVBoxLayout(self.body)
        self.body_layout.setContentsMargins(INDENT, 0, 0, 0)
        self.body_layout.setSpacing(6)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(6)
        layout.addWidget(self.header)
        layout.addWidget(self.body)
        self.header.clicked.connect(lambda: self.set_expanded(not self.is_expanded()))
        self._populate = None  # builds the body's rows when the block first opens (set_populate)
        self._expanded = not expanded
        self.set_expanded(expanded)

    def set_populate(self, populate) -> None:
        """``populate()`` fills the body; called when the block first opens, or by ``populate()``.

        A closed block's rows are made only when they can be seen: DenseNet-121 opens on 40 of
        its 372 rows, and each row is some 90 KB of widgets and a millisecond to make."""
        self._populate = populate
        if self._expanded:
            self.populate()

    def populate(self) -> None:
        """Make the body's rows now (once), open or not."""
        populate, self._populate = self._populate, None
        if populate is not None:
            populate()

    @property
    def populated(self) -> bool:
        return self._populate is None

    def is_expanded(self) -> bool:
        return self._expanded

    def set_expanded(self, expanded: bool) -> None:
        if expanded == self._expanded:
            return
        self._expanded = expanded
        if expanded:
            self.populate()
        self.body.setVisible(expanded)
        self.header.set_expanded(expanded)
        self.toggled.emit(expanded)

    def add(self, widget: QWidget) -> None:
        self.body_layout.addWidget(widget)
