"""A small key to the heatmap colours: what dark, bright, blue and red mean."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QFontMetrics, QLinearGradient, QPainter, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

from lenet_gui.ui import theme

RAMP_WIDTH = 90
RAMP_HEIGHT = 10


class ColorLegend(QWidget):
    """Two ramps: activations (0 … the layer's largest value) and signed values (− 0 +)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Heatmap colours")
        self.setAccessibleDescription(
            "Dark is zero and bright the layer's largest value; where values can be negative, "
            "blue is below zero and red above"
        )
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self._parts = (("Heatmaps:  0", "max", False), ("−", "+", True))

    def _text_width(self, text: str) -> int:
        return QFontMetrics(self.font()).horizontalAdvance(text)

    def sizeHint(self) -> QSize:
        width = sum(self._text_width(a) + self._text_width(b) + RAMP_WIDTH + 32 for a, b, _ in self._parts)
        return QSize(width, QFontMetrics(self.font()).height() + 4)

    def minimumSizeHint(self) -> QSize:
        return self.sizeHint()

    def paintEvent(self, event) -> None:
        palette = self.palette()
        dark = theme.is_dark(palette)
        painter = QPainter(self)
        painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
        height = self.height()
        x = 0.0
        for low, high, signed in self._parts:
            painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(QRectF(x, 0, self._text_width(low) + 2, height), Qt.AlignmentFlag.AlignVCenter, low)
            x += self._text_width(low) + 5
            ramp = QRectF(x, (height - RAMP_HEIGHT) / 2, RAMP_WIDTH, RAMP_HEIGHT)
            gradient = QLinearGradient(ramp.topLeft(), ramp.topRight())
            colors = theme.ramp_colors(signed, dark, 9)
            for i, color in enumerate(colors):
                gradient.setColorAt(i / (len(colors) - 1), color)
            painter.fillRect(ramp, gradient)
            painter.setPen(palette.color(QPalette.ColorRole.Mid))
            painter.drawRect(ramp)
            x += RAMP_WIDTH + 5
            painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(QRectF(x, 0, self._text_width(high) + 2, height), Qt.AlignmentFlag.AlignVCenter, high)
            x += self._text_width(high) + 22
        painter.end()
