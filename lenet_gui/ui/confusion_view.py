"""The confusion matrix painted with Qt, the same look as the PNG (core.confusion_png).

Rows are the true label, columns the prediction, counts in the cells, the
diagonal green and framed. The picture scales to the widget, keeping its shape.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget

from lenet_gui.core import confusion_png as look


def _qcolor(rgb) -> QColor:
    return QColor(*rgb)


class ConfusionMatrixView(QWidget):
    """objectName ``confusionMatrix``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("confusionMatrix")
        self.setAccessibleName("Confusion matrix")
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(260, 260)
        self._confusion = np.zeros((10, 10), dtype=np.int64)
        self._classes = [str(i) for i in range(10)]

    def set_matrix(self, confusion: np.ndarray, classes: list[str]) -> None:
        self._confusion = np.asarray(confusion, dtype=np.int64).copy()
        self._classes = list(classes)
        self.updateGeometry()
        self.update()

    def matrix(self) -> np.ndarray:
        return self._confusion.copy()

    def sizeHint(self) -> QSize:
        g = look.geometry(len(self._classes))
        return QSize(g["width"], g["height"])

    def _scale(self) -> tuple[float, float, float]:
        g = look.geometry(len(self._classes))
        scale = min(self.width() / g["width"], self.height() / g["height"])
        dx = (self.width() - g["width"] * scale) / 2
        dy = (self.height() - g["height"] * scale) / 2
        return scale, dx, dy

    def cell_at(self, x: float, y: float) -> tuple[int, int] | None:
        """(true, predicted) under a widget position, or None."""
        scale, dx, dy = self._scale()
        g = look.geometry(len(self._classes))
        col = int(((x - dx) / scale - g["left"]) // g["cell"])
        row = int(((y - dy) / scale - g["top"]) // g["cell"])
        k = len(self._classes)
        return (row, col) if 0 <= row < k and 0 <= col < k else None

    def mouseMoveEvent(self, event) -> None:
        cell = self.cell_at(event.position().x(), event.position().y())
        if cell is None:
            self.setToolTip("Rows: the label the writer meant. Columns: what the network read.")
            return
        i, j = cell
        count = int(self._confusion[i, j])
        row_total = int(self._confusion[i].sum())
        share = f" ({100 * count / row_total:.0f} % of the {row_total} {self._classes[i]}s)" if row_total else ""
        what = "read correctly" if i == j else f"read as {self._classes[j]}"
        self.setToolTip(f"{count} × {self._classes[i]} {what}{share}")

    def paintEvent(self, event) -> None:
        k = len(self._classes)
        g = look.geometry(k)
        scale, dx, dy = self._scale()
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), _qcolor(look.BACKGROUND))
        painter.translate(dx, dy)
        painter.scale(scale, scale)
        left, top, cell = g["left"], g["top"], g["cell"]
        base = QFont(self.font())
        label_font = QFont(base)
        label_font.setPixelSize(12)
        count_font = QFont(base)
        count_font.setPixelSize(15)
        painter.setPen(_qcolor(look.TEXT))
        painter.setFont(label_font)
        header, axis = look.LAYOUT["header"], look.LAYOUT["axis"]
        painter.drawText(QRectF(left, top - header - axis, k * cell, axis), Qt.AlignmentFlag.AlignCenter, "predicted")
        painter.save()
        painter.translate(look.LAYOUT["margin"], top + k * cell)
        painter.rotate(-90)
        painter.drawText(QRectF(0, 0, k * cell, axis), Qt.AlignmentFlag.AlignCenter, "true label")
        painter.restore()
        painter.setFont(count_font)
        for i, name in enumerate(self._classes):
            painter.drawText(QRectF(left + i * cell, top - header, cell, header), Qt.AlignmentFlag.AlignCenter, name)
            painter.drawText(QRectF(left - header, top + i * cell, header, cell), Qt.AlignmentFlag.AlignCenter, name)
        totals = self._confusion.sum(axis=1)
        grid = QPen(_qcolor(look.GRID), 1)
        frame = QPen(_qcolor(look.DIAGONAL_FRAME), 2)
        for i in range(k):
            for j in range(k):
                count = int(self._confusion[i, j])
                fill, ink = look.cell_colours(count, int(totals[i]), i == j)
                rect = QRectF(left + j * cell, top + i * cell, cell, cell)
                painter.fillRect(rect, _qcolor(fill))
                painter.setPen(grid)
                painter.drawRect(rect)
                if i == j:
                    painter.setPen(frame)
                    painter.drawRect(rect.adjusted(2, 2, -2, -2))
                painter.setPen(_qcolor(ink))
                painter.setFont(count_font if count else label_font)
                painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, str(count) if count else "·")
        painter.setPen(QPen(_qcolor(look.TEXT), 1))
        painter.drawRect(QRectF(left, top, k * cell, k * cell))
        painter.end()
