"""The prediction: the digit in large type, how sure the network is, a bar per class."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QFont, QFontMetrics, QPainter, QPalette, QStaticText
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from lenet_gui.ui import theme

BAR_ROW_HEIGHT = 19


class ProbabilityBars(QWidget):
    """Ten (or as many as the model has) horizontal bars, the winner in the accent colour."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Class probabilities")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self._labels: list[str] = [str(i) for i in range(10)]
        self._probabilities: np.ndarray | None = None
        self._winner: int | None = None
        self._texts: dict[tuple[str, bool], QStaticText] = {}
        self._update_height()

    def set_labels(self, labels: list[str]) -> None:
        self._labels = list(labels)
        self._probabilities = None
        self._winner = None
        self._update_height()
        self.update()

    def set_probabilities(self, probabilities: np.ndarray | None, winner: int | None) -> None:
        self._probabilities = probabilities
        self._winner = winner
        if probabilities is None:
            self.setAccessibleDescription("No prediction: nothing is drawn")
        else:
            ranked = np.argsort(probabilities)[::-1][:3]
            self.setAccessibleDescription(
                ", ".join(f"{self._labels[i]}: {probabilities[i] * 100:.1f} percent" for i in ranked)
            )
        self.update()

    def probabilities(self) -> np.ndarray | None:
        return self._probabilities

    def _update_height(self) -> None:
        self.setFixedHeight(max(1, len(self._labels)) * BAR_ROW_HEIGHT + 4)

    def sizeHint(self) -> QSize:
        return QSize(260, self.height())

    def minimumSizeHint(self) -> QSize:
        # Room for the labels, the percentages and a bar that still shows a difference.
        metrics = QFontMetrics(self.font())
        return QSize(metrics.horizontalAdvance("9 100.0 %") + 80, self.height())

    def _static(self, text: str, bold: bool) -> QStaticText:
        """Laid-out text, kept: drawStaticText is many times faster than drawText per frame."""
        key = (text, bold)
        static = self._texts.get(key)
        if static is None:
            static = QStaticText(text)
            static.setTextFormat(Qt.TextFormat.PlainText)
            font = QFont(self.font())
            font.setBold(bold)
            static.prepare(font=font)
            self._texts[key] = static
        return static

    def _draw_text(self, painter: QPainter, text: str, bold: bool, right: float, top: float) -> None:
        static = self._static(text, bold)
        size = static.size()
        font = QFont(self.font())
        font.setBold(bold)
        painter.setFont(font)
        painter.drawStaticText(QPointF(right - size.width(), top + (BAR_ROW_HEIGHT - size.height()) / 2), static)

    def changeEvent(self, event) -> None:
        if event.type() == QEvent.Type.FontChange:
            self._texts.clear()
        super().changeEvent(event)

    def paintEvent(self, event) -> None:
        palette = self.palette()
        painter = QPainter(self)
        painter.fillRect(event.rect(), palette.color(QPalette.ColorRole.Window))
        metrics = QFontMetrics(self.font())
        label_width = max(metrics.horizontalAdvance(label) for label in self._labels) + 10
        percent_width = metrics.horizontalAdvance("100.0 %") + 8
        bar_width = max(10, self.width() - label_width - percent_width)
        accent = theme.accent_color(palette)
        track = palette.color(QPalette.ColorRole.Mid)
        track.setAlpha(70)
        other = palette.color(QPalette.ColorRole.WindowText)
        other.setAlpha(110)
        text = palette.color(QPalette.ColorRole.WindowText)
        dim = palette.color(QPalette.ColorRole.PlaceholderText)
        for i, label in enumerate(self._labels):
            top = 2 + i * BAR_ROW_HEIGHT
            winner = i == self._winner
            painter.setPen(text)
            self._draw_text(painter, label, winner, label_width - 6, top)
            bar = QRectF(label_width, top + 4, bar_width, BAR_ROW_HEIGHT - 8)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.fillRect(bar, track)
            if self._probabilities is not None and i < len(self._probabilities):
                p = float(self._probabilities[i])
                if p > 0.0005:
                    painter.fillRect(QRectF(bar.x(), bar.y(), max(2.0, bar.width() * p), bar.height()),
                                     accent if winner else other)
                painter.setPen(text if winner else dim)
                self._draw_text(painter, f"{p * 100:.1f} %", winner, self.width(), top)
        painter.end()


class PredictionView(QWidget):
    """The predicted digit (objectName ``prediction``), its confidence and the bars."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.digit = QLabel("", self)
        self.digit.setObjectName("prediction")
        self.digit.setAccessibleName("Predicted digit")
        self.digit.setAlignment(Qt.AlignmentFlag.AlignCenter)
        font = QFont(self.font())
        font.setPointSizeF(max(40.0, font.pointSizeF() * 5.2))
        font.setBold(True)
        self.digit.setFont(font)
        self._fit_digit(["00"])

        self.confidence = QLabel("Draw a digit", self)
        self.confidence.setObjectName("confidence")
        self.confidence.setAlignment(Qt.AlignmentFlag.AlignCenter)
        # A fixed size: the text changes on every frame while drawing, and a label
        # that may change size makes the whole window lay itself out again.
        metrics = QFontMetrics(self.confidence.font())
        self.confidence.setFixedSize(metrics.horizontalAdvance("100.0 % sure") + 16, metrics.height() + 4)
        for label in (self.digit, self.confidence):
            label.setAutoFillBackground(True)  # opaque: a new text does not repaint the window behind it
        self.bars = ProbabilityBars(self)

        big = QVBoxLayout()
        big.setSpacing(0)
        big.addWidget(self.digit)
        big.addWidget(self.confidence)
        big.addStretch(1)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(12)
        layout.addLayout(big)
        layout.addWidget(self.bars, 1, Qt.AlignmentFlag.AlignTop)

    def _fit_digit(self, labels: list[str]) -> None:
        # A fixed size for the longest label: a new digit then repaints one label
        # instead of making the window lay itself out again.
        metrics = QFontMetrics(self.digit.font())
        width = max(metrics.horizontalAdvance(label) for label in list(labels) + ["00"]) + 8
        self.digit.setFixedSize(width, metrics.height())

    def set_labels(self, labels: list[str]) -> None:
        self._fit_digit(labels)
        self.bars.set_labels(labels)
        self.show_result(None)

    def show_result(self, result) -> None:
        """A session Result, or None when nothing is drawn."""
        if result is None:
            self._set_text(self.digit, "")
            self._set_text(self.confidence, "Draw a digit")
            self.digit.setAccessibleDescription("Nothing is drawn yet")
            self.bars.set_probabilities(None, None)
            return
        confidence = result.confidence * 100
        self._set_text(self.digit, result.label)
        self._set_text(self.confidence, f"{confidence:.1f} % sure")
        self.digit.setAccessibleDescription(f"The network reads {result.label}, {confidence:.0f} percent sure")
        self.bars.set_probabilities(result.probabilities, result.digit)

    @staticmethod
    def _set_text(label: QLabel, text: str) -> None:
        if label.text() != text:  # setText relayouts even when nothing changed
            label.setText(text)
