"""A 1-D layer enlarged: one bar per value, filling the space it has, optionally sorted.

Bars rise above a zero line for positive values and hang below it for
negative ones, so logits and pre-activation values read as they are. With
few values (the ten outputs) each bar has its label under it; with many,
every tenth unit is numbered. Hovering reports the unit (``unitHovered``
with its 0-based index), and the tooltip counts it from 1.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFontMetrics, QPainter, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from lenet_gui.ui import layer_text, theme

LABEL_EVERY_BAR = 24  # up to this many bars, each gets its label


class VectorBars(QWidget):
    """Bars of a vector's values; ``set_sorted(True)`` orders them from the largest down."""

    #: (unit index) under the pointer.
    unitHovered = Signal(int)
    hoverLeft = Signal()

    def __init__(self, count: int, labels: list[str] | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.count = int(count)
        self.labels = list(labels) if labels and len(labels) == count else None
        self._values: np.ndarray | None = None
        self._sorted = False
        self._hover: int | None = None
        self.setMouseTracking(True)
        self.setMinimumSize(320, 200)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAccessibleName("Values as bars")

    # --- data ---------------------------------------------------------------------------------
    def set_values(self, values: np.ndarray | None) -> None:
        if values is not None:
            values = np.asarray(values, dtype=np.float64).reshape(-1)[: self.count]
            if values.size != self.count:
                values = None
        self._values = values
        self.update()

    def values(self) -> np.ndarray | None:
        return self._values

    def set_sorted(self, on: bool) -> None:
        self._sorted = bool(on)
        self.update()

    def is_sorted(self) -> bool:
        return self._sorted

    def order(self) -> list[int]:
        """Unit indexes from left to right as drawn."""
        if self._sorted and self._values is not None:
            return [int(i) for i in np.argsort(-self._values, kind="stable")]
        return list(range(self.count))

    def name_of(self, unit: int) -> str:
        label = f"class {self.labels[unit]}, " if self.labels else ""
        return label + layer_text.counted("unit", unit, self.count)

    # --- geometry ------------------------------------------------------------------------------
    def _plot_rect(self) -> QRectF:
        metrics = QFontMetrics(self.font())
        below = metrics.height() + 6
        left = metrics.horizontalAdvance("−0.000") + 8
        return QRectF(left, 8, max(10, self.width() - left - 8), max(10, self.height() - 8 - below))

    def bar_rect(self, position: int) -> QRectF:
        """The slot of the bar drawn at ``position`` (0 = leftmost), full height."""
        plot = self._plot_rect()
        pitch = plot.width() / max(1, self.count)
        return QRectF(plot.left() + position * pitch, plot.top(), pitch, plot.height())

    def unit_at(self, x: float) -> int | None:
        plot = self._plot_rect()
        if not plot.left() <= x < plot.right():
            return None
        position = int((x - plot.left()) / (plot.width() / max(1, self.count)))
        order = self.order()
        return order[position] if 0 <= position < len(order) else None

    def sizeHint(self) -> QSize:
        return QSize(560, 320)

    # --- pointer ----------------------------------------------------------------------------------
    def mouseMoveEvent(self, event) -> None:
        unit = self.unit_at(event.position().x())
        if unit != self._hover:
            self._hover = unit
            self.update()
            if unit is None:
                self.hoverLeft.emit()
            else:
                self.unitHovered.emit(unit)

    def leaveEvent(self, event) -> None:
        if self._hover is not None:
            self._hover = None
            self.update()
            self.hoverLeft.emit()
        super().leaveEvent(event)

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            unit = self.unit_at(event.pos().x())
            if unit is None:
                QToolTip.hideText()
                return True
            text = self.name_of(unit)
            if self._values is not None:
                text += f" = {self._values[unit]:.4f}"
            QToolTip.showText(event.globalPos(), text, self)
            return True
        return super().event(event)

    # --- painting ---------------------------------------------------------------------------------
    def paintEvent(self, event) -> None:
        palette = self.palette()
        painter = QPainter(self)
        painter.fillRect(self.rect(), palette.color(QPalette.ColorRole.Base))
        plot = self._plot_rect()
        values = self._values
        low = min(0.0, float(values.min())) if values is not None and values.size else 0.0
        high = max(0.0, float(values.max())) if values is not None and values.size else 1.0
        if high - low <= 0:
            high = 1.0
        zero_y = plot.top() + plot.height() * high / (high - low)
        text = palette.color(QPalette.ColorRole.PlaceholderText)
        painter.setPen(text)
        metrics = QFontMetrics(self.font())
        right = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        for value, y in ((high, plot.top()), (0.0, zero_y), (low, plot.bottom())):
            if value == 0.0 and y != zero_y:
                continue
            painter.drawText(QRectF(0, y - metrics.height() / 2, plot.left() - 6, metrics.height()), right,
                             f"{value:.3g}".replace("-", "−"))
        accent = theme.accent_color(palette)
        negative = theme.bad_color(palette)
        winner = int(np.argmax(values)) if values is not None and values.size else None
        order = self.order()
        few = self.count <= LABEL_EVERY_BAR
        for position, unit in enumerate(order):
            slot = self.bar_rect(position)
            gap = min(3.0, slot.width() * 0.2) if slot.width() >= 4 else 0.0
            if values is not None:
                v = float(values[unit])
                y = plot.top() + plot.height() * (high - v) / (high - low)
                top, bottom = (y, zero_y) if v >= 0 else (zero_y, y)
                color = QColor(accent if v >= 0 else negative)
                if unit != winner and self.labels:
                    color.setAlpha(140)  # the classes that lost recede, in either scheme
                painter.fillRect(QRectF(slot.left() + gap / 2, top, slot.width() - gap, max(1.0, bottom - top)), color)
            if unit == self._hover:
                painter.setPen(QPen(theme.highlight_outline(palette), 2))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRect(slot.adjusted(1, 1, -1, -1))
            label = self.labels[unit] if self.labels else str(unit + 1)
            if few or (not self._sorted and (unit + 1) % 10 == 0) or (self._sorted and position % 10 == 0):
                font = self.font()
                font.setBold(unit == winner and bool(self.labels))
                painter.setFont(font)
                painter.setPen(palette.color(QPalette.ColorRole.Text))
                painter.drawText(QRectF(slot.center().x() - 30, plot.bottom() + 3, 60, metrics.height()),
                                 Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, label)
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1))
        painter.drawLine(int(plot.left()), round(zero_y), int(plot.right()), round(zero_y))
        painter.end()

    def changeEvent(self, event) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self.update()
        super().changeEvent(event)
