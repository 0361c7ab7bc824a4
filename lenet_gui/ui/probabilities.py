"""The prediction: the digit in large type, how sure the network is, a bar per class."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QPainter, QPalette, QPen, QPixmap, QStaticText
from PySide6.QtWidgets import QHBoxLayout, QLabel, QSizePolicy, QVBoxLayout, QWidget

from lenet_gui.ui import theme

BAR_ROW_HEIGHT = 19


class ProbabilityBars(QWidget):
    """Ten (or as many as the model has) horizontal bars, the winner in the accent colour.

    What does not change from frame to frame (background, class labels, empty
    tracks) is painted once into a pixmap; a frame draws that, the bars, the
    percentages and the winner's label in bold.
    """

    #: A bar was clicked: its class index (the evidence overlay then shows that class).
    classClicked = Signal(int)
    #: A bar was double-clicked: its class index (the unit inspector explains its probability).
    classDoubleClicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Class probabilities")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self._labels: list[str] = [str(i) for i in range(10)]
        self._probabilities: np.ndarray | None = None
        self._winner: int | None = None
        # (text, bold) → laid-out text, its width and its offset from the row's top.
        self._texts: dict[tuple[str, bool], tuple[QStaticText, float, float]] = {}
        self._fonts: tuple[QFont, QFont] | None = None  # regular, bold
        self._backdrop: QPixmap | None = None
        self._backdrop_key = None
        self._label_width = 0
        self._track_width = 0.0
        self._colors: dict[str, QColor] = {}
        self._marked: int | None = None  # the class whose evidence is shown
        self._update_height()

    def set_labels(self, labels: list[str]) -> None:
        self._labels = list(labels)
        self._probabilities = None
        self._winner = None
        self._backdrop = None
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

    def set_marked(self, index: int | None) -> None:
        """Frame one class's row (the class the evidence overlay is about); None: no frame."""
        if index != self._marked:
            self._marked = index
            self.update()

    def marked(self) -> int | None:
        return self._marked

    def class_at(self, y: float) -> int | None:
        index = int((y - 2) // BAR_ROW_HEIGHT)
        return index if 0 <= index < len(self._labels) and y >= 2 else None

    def row_center(self, index: int) -> QPointF:
        """Where a click lands on class ``index``'s bar (tests click there)."""
        return QPointF(self.width() / 2, 2 + index * BAR_ROW_HEIGHT + BAR_ROW_HEIGHT / 2)

    def mousePressEvent(self, event) -> None:
        index = self.class_at(event.position().y())
        if event.button() == Qt.MouseButton.LeftButton and index is not None:
            self.classClicked.emit(index)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:
        index = self.class_at(event.position().y())
        if event.button() == Qt.MouseButton.LeftButton and index is not None:
            self.classDoubleClicked.emit(index)
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def _update_height(self) -> None:
        self.setFixedHeight(max(1, len(self._labels)) * BAR_ROW_HEIGHT + 4)

    def sizeHint(self) -> QSize:
        return QSize(260, self.height())

    def minimumSizeHint(self) -> QSize:
        # Room for the labels, the percentages and a bar that still shows a difference.
        metrics = QFontMetrics(self.font())
        return QSize(metrics.horizontalAdvance("9 100.0 %") + 80, self.height())

    def _font(self, bold: bool) -> QFont:
        if self._fonts is None:
            regular, heavy = QFont(self.font()), QFont(self.font())
            heavy.setBold(True)
            self._fonts = (regular, heavy)
        return self._fonts[bold]

    def _static(self, text: str, bold: bool) -> tuple[QStaticText, float, float]:
        """Laid-out text, kept: drawStaticText is many times faster than drawText per frame."""
        key = (text, bold)
        entry = self._texts.get(key)
        if entry is None:
            static = QStaticText(text)
            static.setTextFormat(Qt.TextFormat.PlainText)
            static.prepare(font=self._font(bold))
            size = static.size()
            entry = self._texts[key] = (static, size.width(), (BAR_ROW_HEIGHT - size.height()) / 2)
        return entry

    def _draw_text(self, painter: QPainter, text: str, bold: bool, right: float, top: float) -> None:
        # The painter's font must already be the one the text was prepared with.
        static, width, offset = self._static(text, bold)
        painter.drawStaticText(QPointF(right - width, top + offset), static)

    def changeEvent(self, event) -> None:
        kind = event.type()
        if kind == QEvent.Type.FontChange:
            self._texts.clear()
            self._fonts = None
            self._backdrop = None
        elif kind == QEvent.Type.PaletteChange:
            self._backdrop = None
        super().changeEvent(event)

    def _track_rect(self, i: int) -> QRectF:
        metrics = QFontMetrics(self.font())
        percent_width = metrics.horizontalAdvance("100.0 %") + 8
        bar_width = max(10, self.width() - self._label_width - percent_width)
        return QRectF(self._label_width, 2 + i * BAR_ROW_HEIGHT + 4, bar_width, BAR_ROW_HEIGHT - 8)

    def _backdrop_pixmap(self) -> QPixmap:
        """Background, labels in regular weight and the empty tracks: redrawn on resize, font or palette change."""
        ratio = self.devicePixelRatioF()
        key = (self.width(), self.height(), ratio, tuple(self._labels))
        if self._backdrop is not None and self._backdrop_key == key:
            return self._backdrop
        palette = self.palette()
        metrics = QFontMetrics(self.font())
        self._label_width = max(metrics.horizontalAdvance(label) for label in self._labels) + 10
        text = palette.color(QPalette.ColorRole.WindowText)
        other = QColor(text)
        other.setAlpha(110)
        # The colours a frame needs, looked up once per palette rather than per frame.
        self._colors = {
            "window": palette.color(QPalette.ColorRole.Window), "text": text, "other": other,
            "accent": theme.accent_color(palette), "dim": palette.color(QPalette.ColorRole.PlaceholderText),
        }
        pixmap = QPixmap(max(1, round(self.width() * ratio)), max(1, round(self.height() * ratio)))
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(self._colors["window"])
        painter = QPainter(pixmap)
        track = palette.color(QPalette.ColorRole.Mid)
        track.setAlpha(70)
        painter.setPen(text)
        painter.setFont(self._font(False))
        for i, label in enumerate(self._labels):
            top = 2 + i * BAR_ROW_HEIGHT
            self._draw_text(painter, label, False, self._label_width - 6, top)
            painter.fillRect(self._track_rect(i), track)
        painter.end()
        self._backdrop, self._backdrop_key = pixmap, key
        self._track_width = self._track_rect(0).width()
        return pixmap

    def paintEvent(self, event) -> None:
        painter = QPainter(self)
        painter.drawPixmap(0, 0, self._backdrop_pixmap())
        colors = self._colors
        probabilities = self._probabilities
        winner = self._winner if self._winner is not None and 0 <= self._winner < len(self._labels) else None
        values = []
        if probabilities is not None:
            count = min(len(self._labels), len(probabilities))
            values = probabilities[:count].tolist()  # Python floats: cheaper than numpy scalars in the loop
            left, bar_width = self._label_width, self._track_width
            accent, other = colors["accent"], colors["other"]
            for i, p in enumerate(values):
                if p > 0.0005:
                    bar = QRectF(left, 2 + i * BAR_ROW_HEIGHT + 4, max(2.0, bar_width * p), BAR_ROW_HEIGHT - 8)
                    painter.fillRect(bar, accent if i == winner else other)
            right = self.width()
            painter.setFont(self._font(False))  # all regular text first: switching fonts is not free
            painter.setPen(colors["dim"])
            for i, p in enumerate(values):
                if i != winner:
                    self._draw_text(painter, f"{p * 100:.1f} %", False, right, 2 + i * BAR_ROW_HEIGHT)
        if winner is not None:
            # The backdrop has the label in regular weight: cover it, then write it in bold.
            top = 2 + winner * BAR_ROW_HEIGHT
            painter.fillRect(QRectF(0, top, self._label_width, BAR_ROW_HEIGHT), colors["window"])
            painter.setFont(self._font(True))
            painter.setPen(colors["text"])
            self._draw_text(painter, self._labels[winner], True, self._label_width - 6, top)
            if winner < len(values):
                self._draw_text(painter, f"{values[winner] * 100:.1f} %", True, self.width(), top)
        if self._marked is not None and 0 <= self._marked < len(self._labels):
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QPen(theme.highlight_outline(self.palette()), 1.5))
            painter.drawRoundedRect(QRectF(0.75, 2 + self._marked * BAR_ROW_HEIGHT + 0.75, self.width() - 1.5,
                                           BAR_ROW_HEIGHT - 1.5), 3, 3)
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

    def show_failure(self) -> None:
        """No digit: the model gave nothing readable (NaN, a failed run) for this input."""
        self._set_text(self.digit, "")
        self._set_text(self.confidence, "No reading")
        self.digit.setAccessibleDescription("The model could not read this drawing")
        self.bars.set_probabilities(None, None)

    @staticmethod
    def _set_text(label: QLabel, text: str) -> None:
        if label.text() != text:  # setText relayouts even when nothing changed
            label.setText(text)
