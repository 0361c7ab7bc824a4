"""The image the network actually receives (32×32 for LeNet-5), pixel for pixel.

It is drawn exactly as ``Prepared.network_view`` holds it, before
normalisation: white ink on black, nearest-neighbour enlarged so every input
pixel is a visible square. A dashed frame marks the 28×28 MNIST field inside
the padding, and a unit's receptive field can be outlined on it.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QEvent, QLineF, QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QSizePolicy, QWidget

from lenet_gui.ui import evidence_overlay, theme

# Opaque RGB32 greys, black to white: grey level → pixel.
_GREYS = (np.arange(256, dtype=np.uint32) * 0x010101) | 0xFF000000


class NetworkInputView(QWidget):
    """Shows an H×W 0..1 image; ``set_highlight`` outlines an input region."""

    #: (row, column, value 0..1) of the input pixel under the pointer.
    pixelHovered = Signal(int, int, float)
    hoverLeft = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setAccessibleName("Network input")
        self.setAccessibleDescription("The 32×32 image the network receives, white ink on black")
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(96, 96)
        self.setMouseTracking(True)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)  # paints its whole area
        self._size = (32, 32)
        self._field: int | None = 28
        self._pixels = np.zeros((0, 0), dtype=np.uint32)
        self._levels = np.zeros((0, 0), dtype=np.intp)
        self._scratch = np.zeros((0, 0), dtype=np.float32)
        self._image = QImage()
        self._values: np.ndarray | None = None
        self._highlight: tuple[int, int, int, int] | None = None
        self._patch: tuple[int, int, int, int] | None = None  # the inspected unit's field (unit inspector)
        self._evidence: QImage | None = None  # occlusion evidence over the input, with its caption
        self._evidence_title = ""
        self._show_grid = True
        # Everything but the pixels is cached: the background and border under the
        # image, the grid and the MNIST field's dashed frame over it.
        self._under: QPixmap | None = None
        self._over: QPixmap | None = None
        self._cache_key = None
        self.set_view(None)

    def set_input_size(self, height: int, width: int, field: int | None) -> None:
        """The model's input size and the MNIST field inside it (None: no frame)."""
        self._size = (height, width)
        self._field = field if field and field < min(height, width) else None
        self._cache_key = None
        self._highlight = None
        self.set_view(None)
        self.update()  # the image moves and its outline goes: the whole widget

    def input_size(self) -> tuple[int, int]:
        return self._size

    def set_view(self, view: np.ndarray | None) -> None:
        """The network's view (H×W, 0..1), or None for a blank input."""
        if view is None or view.shape != self._size:
            view = None
        height, width = self._size
        if self._pixels.shape != (height, width):
            # RGB32: the format QPainter scales fastest (Grayscale8 is converted on every paint).
            self._pixels = np.zeros((height, width), dtype=np.uint32)
            self._image = QImage(self._pixels.data, width, height, width * 4, QImage.Format.Format_RGB32)
            self._levels = np.zeros((height, width), dtype=np.intp)
        if view is None:
            self._pixels.fill(0xFF000000)
        else:
            # Four numpy calls a frame: scale, cap, round into grey levels, look the colours up.
            kind = view.dtype if view.dtype.kind == "f" else np.dtype(np.float64)
            if self._scratch.shape != (height, width) or self._scratch.dtype != kind:
                self._scratch = np.empty((height, width), dtype=kind)  # the view's precision: the same rounding
            np.multiply(view, 255.0, out=self._scratch)
            np.minimum(self._scratch, 255.0, out=self._scratch)
            np.add(self._scratch, 0.5, out=self._levels, casting="unsafe")  # truncates: the +0.5 rounds
            np.take(_GREYS, self._levels, out=self._pixels, mode="clip")  # below 0: black
        self._values = view
        self.update(self.image_rect())  # the background, border and any outline stay as they are

    def values(self) -> np.ndarray | None:
        return self._values

    def set_highlight(self, box: tuple[int, int, int, int] | None) -> None:
        """Outline input rows y0..y1 and columns x0..x1 (ends excluded); may reach into padding."""
        if box != self._highlight:
            self._highlight = box
            self.update()

    def highlight(self) -> tuple[int, int, int, int] | None:
        return self._highlight

    def set_patch(self, box: tuple[int, int, int, int] | None) -> None:
        """Frame the inspected unit's receptive field (y0, x0, y1, x1), apart from the hover outline."""
        if box != self._patch:
            self._patch = box
            self.update()

    def patch(self) -> tuple[int, int, int, int] | None:
        return self._patch

    def set_evidence(self, values: np.ndarray | None, title: str = "") -> None:
        """An occlusion map (H×W, the drop in probability) drawn over the input; None removes it."""
        self._evidence = None if values is None else evidence_overlay.evidence_image(values)
        self._evidence_title = title
        self.update()

    def evidence_title(self) -> str | None:
        return self._evidence_title if self._evidence is not None else None

    def set_show_grid(self, show: bool) -> None:
        self._show_grid = show
        self._cache_key = None
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(224, 224)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return width

    def image_rect(self) -> QRect:
        """The square the input image fills: whole pixels per input pixel when it can."""
        height, width = self._size
        side = min(self.width() - 2, self.height() - 2)
        cell = max(1, side // max(height, width))
        w, h = cell * width, cell * height
        return QRect((self.width() - w) // 2, (self.height() - h) // 2, w, h)

    def changeEvent(self, event) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._cache_key = None
        super().changeEvent(event)

    def paintEvent(self, event) -> None:
        area = self.image_rect()
        under, over = self._layers(area)
        painter = QPainter(self)
        if not area.contains(event.rect()):  # a new view repaints the image only
            painter.drawPixmap(0, 0, under)
        painter.drawImage(area, self._image)  # nearest neighbour: no smooth transform hint
        if over is not None:
            painter.drawPixmap(area.topLeft(), over)
        if self._evidence is not None:
            painter.drawImage(area, self._evidence)  # blocky on purpose: one square per input pixel
        if self._highlight is not None:
            self._paint_highlight(painter, area, area.width() / self._size[1], self.palette())
        if self._patch is not None:
            cell = area.width() / self._size[1]
            y0, x0, y1, x1 = self._patch
            box = QRectF(area.x() + x0 * cell, area.y() + y0 * cell, (x1 - x0) * cell, (y1 - y0) * cell)
            evidence_overlay.paint_patch(painter, box.intersected(QRectF(area)), self.palette())
        if self._evidence is not None:
            evidence_overlay.paint_legend(painter, QRectF(area), self._evidence_title)
        painter.end()

    def _layers(self, area: QRect) -> tuple[QPixmap, QPixmap | None]:
        """The pixmaps under and over the image, redrawn only when the size, scheme or options change."""
        ratio = self.devicePixelRatioF()
        key = (self.width(), self.height(), area.x(), area.y(), area.width(), area.height(), ratio,
               self._size, self._field, self._show_grid)
        if self._cache_key == key:
            return self._under, self._over
        palette = self.palette()
        height, width = self._size
        cell = area.width() / width

        under = QPixmap(max(1, round(self.width() * ratio)), max(1, round(self.height() * ratio)))
        under.setDevicePixelRatio(ratio)
        under.fill(palette.color(QPalette.ColorRole.Window))
        painter = QPainter(under)
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1))
        painter.drawRect(area.adjusted(-1, -1, 0, 0))  # just outside the image: the image never covers it
        painter.end()

        over = None
        grid = self._show_grid and cell >= 6
        if grid or self._field:
            over = QPixmap(max(1, round(area.width() * ratio)), max(1, round(area.height() * ratio)))
            over.setDevicePixelRatio(ratio)
            over.fill(Qt.GlobalColor.transparent)
            painter = QPainter(over)
            if grid:  # faint lines between input pixels
                painter.setPen(QPen(QColor(128, 128, 128, 46), 1))
                for i in range(1, width):
                    painter.drawLine(QLineF(round(i * cell), 0, round(i * cell), area.height()))
                for i in range(1, height):
                    painter.drawLine(QLineF(0, round(i * cell), area.width(), round(i * cell)))
            if self._field:
                pad_y, pad_x = (height - self._field) / 2, (width - self._field) / 2
                painter.setPen(QPen(QColor(150, 150, 150, 150), 1, Qt.PenStyle.DashLine))
                painter.drawRect(QRectF(pad_x * cell, pad_y * cell, self._field * cell, self._field * cell))
            painter.end()
        self._under, self._over, self._cache_key = under, over, key
        return under, over

    def _paint_highlight(self, painter: QPainter, area: QRect, cell: float, palette: QPalette) -> None:
        y0, x0, y1, x1 = self._highlight
        box = QRectF(area.x() + x0 * cell, area.y() + y0 * cell, (x1 - x0) * cell, (y1 - y0) * cell)
        visible = box.intersected(QRectF(area))
        # Dim what the unit does not see, so its field stands out.
        shade = QColor(0, 0, 0, 110)
        outside = QRectF(area)
        painter.save()
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(shade)
        if visible.isEmpty():
            painter.drawRect(outside)
        else:
            for part in (
                QRectF(outside.left(), outside.top(), outside.width(), visible.top() - outside.top()),
                QRectF(outside.left(), visible.bottom(), outside.width(), outside.bottom() - visible.bottom()),
                QRectF(outside.left(), visible.top(), visible.left() - outside.left(), visible.height()),
                QRectF(visible.right(), visible.top(), outside.right() - visible.right(), visible.height()),
            ):
                if part.width() > 0 and part.height() > 0:
                    painter.drawRect(part)
        painter.restore()
        outline = theme.highlight_outline(palette)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        if box != visible:  # the field reaches into the padding beyond the image
            painter.setPen(QPen(outline, 1, Qt.PenStyle.DashLine))
            painter.drawRect(box)
        painter.setPen(QPen(outline, 2))
        painter.drawRect(visible)

    # --- pointer ------------------------------------------------------------------------------------
    def pixel_at(self, pos: QPointF) -> tuple[int, int] | None:
        area = self.image_rect()
        height, width = self._size
        cell = area.width() / width
        col = int((pos.x() - area.x()) // cell)
        row = int((pos.y() - area.y()) // cell)
        return (row, col) if 0 <= row < height and 0 <= col < width else None

    def mouseMoveEvent(self, event) -> None:
        pixel = self.pixel_at(event.position())
        if pixel is None:
            self.hoverLeft.emit()
            return
        value = 0.0 if self._values is None else float(self._values[pixel])
        self.pixelHovered.emit(pixel[0], pixel[1], value)

    def leaveEvent(self, event) -> None:
        self.hoverLeft.emit()
        super().leaveEvent(event)
