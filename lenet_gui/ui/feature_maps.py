"""One layer's activations as heatmaps: a tile per feature map, or a strip of units.

The whole layer is one widget. Its values live in one small image, a pixel per
value (see mosaic.py), which QPainter enlarges tile by tile over a cached
picture of the frames and gaps: a frame costs a few numpy calls on the values
and one ``drawImage`` per map, however large the maps are on screen. The layer
panel quantises all its layers together (FillTogether), and each widget looks
its colours up when it paints, so rows out of view cost next to nothing.

Colours are normalised per layer and frame: the strongest unit
of the layer is the brightest colour. Layers whose values can be negative
(a convolution before its ReLU, logits, weights) use a diverging map with zero
in the middle.

Pointer and keyboard: hovering or moving the unit cursor with the arrow keys
reports the unit (``unitHovered``); a click or Enter selects it for the unit
inspector (``unitActivated``); a double click or Space opens the map
(``mapActivated``). Page Up/Page Down step between maps.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QEvent, QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from lenet_gui.ui import evidence_overlay, layer_text, theme
from lenet_gui.ui.mosaic import KEEP_WORK_BUFFERS_UP_TO, Geometry, LevelBatch, Mosaic

MAX_TILES = 256  # a wide layer shows its first maps only
MAX_UNITS = 8192
STRIP_CELL_HEIGHT = 18
STRIP_MAX_CELL = 14
STRIP_MIN_CELL = 3
TILE_GAP = 3  # pixels between the frames of two tiles


def map_layout(shape: tuple[int, ...], max_tiles: int = MAX_TILES) -> tuple[str, int, int, int]:
    """How to draw an activation of this shape (no batch axis): (kind, count, h, w).

    ``maps``: one h×w tile per channel (C×H×W with more than one unit per map,
    or a single H×W map); ``strip``: every value one cell (vectors, C×1×1).
    """
    if len(shape) == 3 and shape[1] * shape[2] > 1:
        return "maps", min(shape[0], max_tiles), shape[1], shape[2]
    if len(shape) == 2 and shape[0] > 1 and shape[1] > 1:
        return "maps", 1, shape[0], shape[1]
    return "strip", min(max(1, math.prod(shape)), MAX_UNITS), 1, 1


class ActivationMaps(QWidget):
    """Heatmaps of one activation tensor (without the batch axis)."""

    #: (map, row, column) under the pointer or the keyboard cursor.
    unitHovered = Signal(int, int, int)
    hoverLeft = Signal()
    #: A map was double-clicked, or Space was pressed on it.
    mapActivated = Signal(int)
    #: (map, row, column) clicked, or Enter pressed on it: explain this unit.
    unitActivated = Signal(int, int, int)

    def __init__(self, shape, signed: bool = False, tile_size: int = 56, columns: int | None = None,
                 background: QPalette.ColorRole = QPalette.ColorRole.Window, max_tiles: int = MAX_TILES,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.shape = tuple(int(d) for d in shape)
        self.kind, self.count, self.tile_h, self.tile_w = map_layout(self.shape, max_tiles)
        self.total = math.prod(self.shape) if self.shape else 1
        self._signed = signed
        self._tile_size = tile_size
        self._columns = columns
        self._fixed_scale: float | None = None
        self._values: np.ndarray | None = None
        self._scale = 0.0
        self._stale = True
        self._mosaic: Mosaic | None = None
        self._image: QImage | None = None  # wraps the mosaic's pixels: keep both alive together
        # (widget rect, image rect) per drawImage; None: worked out when next painted (a row in a
        # closed block, never): a 512-map layer has 512 of them, and each relayout makes new ones.
        self._runs: list[tuple[QRect, QRect]] | None = []
        self._gap_rects: list[QRect] = []
        self._values_rect = QRect()
        self._underlay: QPixmap | None = None  # background, frames and gaps: they change only with the layout
        self._underlay_key = None
        self._sign_checked = True
        self._levels: np.ndarray | None = None  # quantised with other layers (FillTogether), not yet coloured
        self._layout_width = -1
        self._hover: tuple[int, int, int] | None = None
        self._cursor: tuple[int, int, int] | None = None  # keyboard position
        self._labels: list[str] | None = None  # class labels under a strip's cells (the output)
        self._selected: tuple[int, int, int] | None = None  # the unit the inspector explains
        self.setBackgroundRole(background)  # the colour between tiles
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        # It paints every pixel itself, so a new frame never repaints the row behind it.
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self._relayout(max(self.width(), 320))

    # --- data ---------------------------------------------------------------------------
    @property
    def signed(self) -> bool:
        self._check_sign()
        return self._signed

    @property
    def scale(self) -> float:
        """The magnitude drawn as the brightest colour in the current frame."""
        self._fill_if_stale()
        return self._scale

    def values(self) -> np.ndarray | None:
        return self._values

    def set_fixed_scale(self, scale: float | None) -> None:
        """Normalise by ``scale`` instead of each frame's largest value (weights)."""
        self._fixed_scale = scale
        self._refill()

    def set_values(self, values: np.ndarray | None) -> None:
        """Show a new frame; None shows the layer idle (no input)."""
        if values is not None:
            values = np.asarray(values)
            if values.size != self.total:
                values = None
        self._values = values
        self._levels = None
        # Looking for negatives costs a pass over the values: done when the layer is painted or asked.
        self._sign_checked = values is None or self._signed
        self._refill()

    def show_levels(self, levels: np.ndarray, scale: float) -> None:
        """The current values' colour levels and scale, worked out by FillTogether."""
        self._levels = levels
        self._scale = scale
        self._stale = False
        self._sign_checked = True  # FillTogether looked for negatives

    def _check_sign(self, filled: bool = False) -> None:
        """Negatives in a layer assumed non-negative switch it to the signed map, for good."""
        if self._sign_checked:
            return
        self._sign_checked = True
        if self._has_negatives(filled):
            self._make_signed(repaint=not filled)
            self._stale = True

    def _make_signed(self, repaint: bool = True) -> None:
        self._signed = True
        self._apply_colors(repaint)

    def _values_to_quantise(self) -> np.ndarray | None:
        """The values shown, flat, when FillTogether may quantise them (a fixed scale is left to fill())."""
        if self._values is None or self._fixed_scale is not None or self._mosaic is None:
            return None
        return self._values.reshape(-1)[: self._mosaic.values]

    def _has_negatives(self, filled: bool) -> bool:
        values = self._values
        if values is None or not values.size:
            return False
        m = self._mosaic
        if filled and self._fixed_scale is None and m.values >= values.size:
            return m.low < 0  # the fill has just seen every value: no second pass over them
        return float(values.min()) < 0

    def value_at(self, tile: int, row: int, col: int) -> float | None:
        if self._values is None:
            return None
        flat = self._values.reshape(-1)
        index = (tile * self.tile_h + row) * self.tile_w + col if self.kind == "maps" else tile
        return float(flat[index]) if index < flat.size else None

    def map_values(self, tile: int) -> np.ndarray | None:
        """One map (H×W) of the current frame, for the enlarged view."""
        if self._values is None or self.kind != "maps":
            return None
        return self._values.reshape(-1, self.tile_h, self.tile_w)[tile]

    def set_tile_size(self, size: int) -> None:
        self._tile_size = size
        self._layout_width = -1
        self._relayout(self.width())

    # --- layout ------------------------------------------------------------------------------
    def _geometry_for(self, width: int) -> Geometry:
        width = max(width, 40)
        if self.kind == "strip":
            # One cell per unit: as wide as fits on one line, with a 1 px gap once cells are wide enough.
            pitch = min(STRIP_MAX_CELL + 1, max(STRIP_MIN_CELL, (width + 1) // self.count))
            gap_x = 1 if pitch >= 7 else 0
            cols = max(1, min(self.count, (width + gap_x) // pitch))
            return Geometry(self.count, 1, 1, cols, STRIP_CELL_HEIGHT, pitch - gap_x, gap_x, 3)
        zoom = max(1, round(self._tile_size / max(self.tile_h, self.tile_w)))
        gap = TILE_GAP if zoom * max(self.tile_h, self.tile_w) >= 24 else 1
        while zoom > 1 and self.tile_w * zoom + 2 > width:
            zoom -= 1
        if self._columns:
            cols = self._columns
        else:
            fit = max(1, (width + gap) // (self.tile_w * zoom + 2 + gap))
            rows = math.ceil(self.count / fit)
            cols = math.ceil(self.count / rows)  # balanced rows: 16 maps as 8 + 8, not 11 + 5
        return Geometry(self.count, self.tile_h, self.tile_w, cols, zoom, zoom, gap, gap, frame=1)

    def _relayout(self, width: int) -> None:
        geometry = self._geometry_for(width - 2)  # a pixel each side for the hover outline
        if self._mosaic is not None and self._mosaic.geometry == geometry:
            return
        self._mosaic = Mosaic(geometry)
        m = self._mosaic
        self._image = None  # made with the pixels, when first painted (see _qimage)
        origin = self._origin()
        self._runs, self._runs_origin = None, origin
        self._gap_rects = [QRect(*gap).translated(origin) for gap in m.gap_columns]
        self._values_rect = QRect(origin.x(), origin.y(), geometry.width, geometry.height)
        self._underlay = None
        self._apply_colors()
        self._refill()
        self.setFixedHeight(geometry.height + 2 + self._labels_height())
        self.updateGeometry()

    def _apply_colors(self, repaint: bool = True) -> None:
        if self._mosaic is None:
            return
        palette = self.palette()
        gap = palette.color(self.backgroundRole())
        frame = palette.color(QPalette.ColorRole.Mid)
        self._mosaic.set_colors(theme.color_table(self._signed, theme.is_dark(palette), gap, frame))
        self._underlay = None
        if self._values is not None and self._levels is None:
            self._stale = True  # the mosaic's own levels may be older than the values (FillTogether)
        if repaint:  # not from within paintEvent, which paints the new colours itself
            self.update()

    def _refill(self) -> None:
        # The pixels are made when the widget paints: rows scrolled out of view cost nothing.
        self._stale = True
        # Only the maps change: the empty rest of the row (often half its width) is not painted again.
        self.update(self._values_rect)

    def _fill_if_stale(self) -> None:
        if self._levels is not None and self._mosaic is not None:
            # Levels of the current values (set_values drops them): only the colours are left to look up.
            self._mosaic.paint_levels(self._levels)
            self._levels = None
            self._stale = False
            self._drop_work_buffers_if_large()
            return
        if not self._stale or self._mosaic is None:
            return
        self._scale = self._mosaic.fill(self._values, self._signed, self._fixed_scale)
        self._stale = False
        self._check_sign(filled=True)
        if self._stale:  # it switched to the signed map: quantise again for it
            self._scale = self._mosaic.fill(self._values, self._signed, self._fixed_scale)
            self._stale = False
        self._drop_work_buffers_if_large()

    def _drop_work_buffers_if_large(self) -> None:
        # A large layer keeps only its pixels between frames (4 bytes a value, not 16): new
        # colours then quantise the values again (_apply_colors marks the maps stale).
        if self._mosaic.values > KEEP_WORK_BUFFERS_UP_TO:
            self._mosaic.drop_work_buffers()

    def _qimage(self) -> QImage:
        if self._image is None:
            m = self._mosaic
            self._image = QImage(m.pixels.data, m.width, m.height, m.stride, QImage.Format.Format_RGB32)
        return self._image

    def release_pictures(self) -> None:
        """Give the pixel buffers back (a row out of view); painting or new values make them again."""
        if self._mosaic is not None:
            self._image = None  # before the pixels it wraps
            self._mosaic.release()
            self._levels = None
            self._stale = True

    def holds_pictures(self) -> bool:
        return self._mosaic is not None and self._mosaic.holds_buffers

    def mosaic(self) -> Mosaic:
        return self._mosaic

    def sizeHint(self) -> QSize:
        g = self._mosaic.geometry
        return QSize(g.width + 2, g.height + 2)

    def minimumSizeHint(self) -> QSize:
        return QSize(40, self._mosaic.geometry.height + 2)

    def resizeEvent(self, event) -> None:
        if event.size().width() != self._layout_width:
            self._layout_width = event.size().width()
            self._relayout(self._layout_width)
        super().resizeEvent(event)

    def changeEvent(self, event) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._apply_colors()
        super().changeEvent(event)

    # --- painting -----------------------------------------------------------------------------
    def _origin(self) -> QPoint:
        return QPoint(1, 1)

    def _underlay_pixmap(self) -> QPixmap:
        """Everything but the values: the background, the gaps and the frames around the tiles."""
        m = self._mosaic
        ratio = self.devicePixelRatioF()
        key = (self.width(), self.height(), ratio)  # a new layout or new colours drop the pixmap themselves
        if self._underlay is None or self._underlay_key != key:
            pixmap = QPixmap(max(1, round(self.width() * ratio)), max(1, round(self.height() * ratio)))
            pixmap.setDevicePixelRatio(ratio)
            pixmap.fill(QColor.fromRgba(m.gap_rgba))
            painter = QPainter(pixmap)
            frame = QColor.fromRgba(m.frame_rgba)
            origin = self._origin()
            for rect in m.frame_rects():
                painter.fillRect(QRect(*rect).translated(origin), frame)
            painter.end()
            self._underlay, self._underlay_key = pixmap, key
        return self._underlay

    def paintEvent(self, event) -> None:
        self._fill_if_stale()
        painter = QPainter(self)
        painter.drawPixmap(0, 0, self._underlay_pixmap())
        image = self._qimage()
        if self._runs is None:
            origin = self._runs_origin  # where the gaps and the values' rect were placed too
            self._runs = [(QRect(*target).translated(origin), QRect(*source)) for target, source in self._mosaic.runs]
        for target, source in self._runs:
            painter.drawImage(target, image, source)  # nearest neighbour: no smooth transform hint
        m = self._mosaic
        if self._gap_rects:  # one call for all of them: a strip may have hundreds of cells
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor.fromRgba(m.gap_rgba))
            painter.drawRects(self._gap_rects)
        if self._selected is not None:
            self._paint_selected(painter, m)
        marked = self._hover or (self._cursor if self.hasFocus() else None)
        if marked is not None:
            painter.setBrush(Qt.BrushStyle.NoBrush)
            origin = self._origin()
            outline = theme.highlight_outline(self.palette())
            tile, row, col = marked
            if self.kind == "maps":
                x, y, w, h = m.tile_rect(tile)
                painter.setPen(QPen(outline, 1))
                painter.drawRect(QRect(origin.x() + x - 2, origin.y() + y - 2, w + 3, h + 3))
                x, y, w, h = m.unit_rect(tile, row, col)
            else:
                x, y, w, h = m.tile_rect(tile)
            painter.setPen(QPen(outline, 2))
            painter.drawRect(QRect(origin.x() + x - 1, origin.y() + y - 1, w + 1, h + 1))
        self._paint_labels(painter)
        painter.end()

    # --- class labels and tooltips (1-D layers) ----------------------------------------------------------
    def set_labels(self, labels: list[str] | None) -> None:
        """Class labels for the cells of a strip (the output layer); drawn under cells wide enough for them."""
        self._labels = list(labels) if labels and self.kind == "strip" and len(labels) == self.total else None
        self._layout_width = -1
        self._mosaic = None
        self._relayout(max(self.width(), 40))

    def labels(self) -> list[str] | None:
        return self._labels

    def _labels_height(self) -> int:
        return self.fontMetrics().height() + 2 if self._labels else 0

    def _paint_labels(self, painter: QPainter) -> None:
        if not self._labels:
            return
        m = self._mosaic
        metrics = self.fontMetrics()
        values = self._values.reshape(-1) if self._values is not None else None
        winner = int(np.argmax(values[: self.count])) if values is not None and values.size else None
        painter.setPen(self.palette().color(QPalette.ColorRole.Text))
        top = self._origin().y() + m.geometry.height + 1
        for unit, label in enumerate(self._labels[: self.count]):
            x, y, w, h = m.tile_rect(unit)
            if metrics.horizontalAdvance(label) > m.geometry.pitch_x + 2 or y > 0:
                continue  # no room under the cell: the tooltip still names it
            font = self.font()
            font.setBold(unit == winner)
            painter.setFont(font)
            painter.drawText(QRect(self._origin().x() + x - 4, top, w + 8, metrics.height()),
                             Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop, label)

    def unit_tooltip(self, tile: int, row: int = 0, col: int = 0) -> str:
        """The unit counted from 1, its numpy index, its class label (the output) and its value."""
        if self.kind == "maps":
            text = layer_text.unit_text("maps", tile, self.count, row, col)
        else:
            text = layer_text.counted("unit", tile, self.total)
            if self._labels:
                text = f"class {self._labels[tile]}: {text}"
        value = self.value_at(tile, row, col)
        return text + (f" = {value:.4f}" if value is not None else "")

    def event(self, event) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            unit = self.unit_at(event.pos())
            if unit is None:
                QToolTip.hideText()
            else:
                QToolTip.showText(event.globalPos(), self.unit_tooltip(*unit), self)
            return True
        return super().event(event)

    def set_selected(self, unit: tuple[int, int, int] | None) -> None:
        """Mark the cell (map, row, column) the unit inspector explains; None: no mark."""
        if unit != self._selected:
            self._selected = unit
            self.update()

    def selected(self) -> tuple[int, int, int] | None:
        return self._selected

    def _paint_selected(self, painter: QPainter, m) -> None:
        tile, row, col = self._selected
        if tile >= self.count:
            return
        x, y, w, h = m.unit_rect(tile, row, col) if self.kind == "maps" else m.tile_rect(tile)
        origin = self._origin()
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(QColor(0, 0, 0, 170), 3))
        painter.drawRect(QRect(origin.x() + x - 1, origin.y() + y - 1, w + 1, h + 1))
        painter.setPen(QPen(evidence_overlay.patch_color(self.palette()), 1))
        painter.drawRect(QRect(origin.x() + x - 1, origin.y() + y - 1, w + 1, h + 1))

    # --- pointer and keyboard --------------------------------------------------------------------------
    def unit_at(self, pos) -> tuple[int, int, int] | None:
        origin = self._origin()
        return self._mosaic.hit(pos.x() - origin.x(), pos.y() - origin.y())

    def unit_center(self, tile: int, row: int = 0, col: int = 0) -> QPoint:
        """Widget position of a unit's centre (tests click there)."""
        if self.kind == "maps":
            x, y, w, h = self._mosaic.unit_rect(tile, row, col)
        else:
            x, y, w, h = self._mosaic.tile_rect(tile)
        origin = self._origin()
        return QPoint(origin.x() + x + w // 2, origin.y() + y + h // 2)

    def _set_hover(self, unit) -> None:
        if unit == self._hover:
            return
        self._hover = unit
        self.update()
        if unit is None:
            self.hoverLeft.emit()
        else:
            self.unitHovered.emit(*unit)

    def mouseMoveEvent(self, event) -> None:
        self._set_hover(self.unit_at(event.position()))

    def leaveEvent(self, event) -> None:
        self._set_hover(None)
        super().leaveEvent(event)

    def mousePressEvent(self, event) -> None:
        unit = self.unit_at(event.position())
        if event.button() == Qt.MouseButton.LeftButton and unit is not None:
            self._cursor = unit
            self.unitActivated.emit(*unit)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:
        unit = self.unit_at(event.position())
        if event.button() == Qt.MouseButton.LeftButton and unit is not None:
            self.mapActivated.emit(unit[0])
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def focusInEvent(self, event) -> None:
        if self._cursor is None:
            self._cursor = (0, 0, 0)
        self.unitHovered.emit(*self._cursor)
        self.update()
        super().focusInEvent(event)

    def focusOutEvent(self, event) -> None:
        self.hoverLeft.emit()
        self.update()
        super().focusOutEvent(event)

    def keyPressEvent(self, event) -> None:
        tile, row, col = self._cursor or (0, 0, 0)
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.unitActivated.emit(tile, row, col)
            return
        if key == Qt.Key.Key_Space:
            self.mapActivated.emit(tile)
            return
        moves = {Qt.Key.Key_Left: (0, -1), Qt.Key.Key_Right: (0, 1), Qt.Key.Key_Up: (-1, 0), Qt.Key.Key_Down: (1, 0)}
        if key in moves and self.kind == "maps":
            dy, dx = moves[key]
            row = min(max(row + dy, 0), self.tile_h - 1)
            col = min(max(col + dx, 0), self.tile_w - 1)
        elif key in moves:
            dy, dx = moves[key]
            tile = min(max(tile + dx + dy * self._mosaic.geometry.cols, 0), self.count - 1)
        elif key in (Qt.Key.Key_PageDown, Qt.Key.Key_PageUp) and self.kind == "maps":
            tile = min(max(tile + (1 if key == Qt.Key.Key_PageDown else -1), 0), self.count - 1)
        else:
            super().keyPressEvent(event)
            return
        self._cursor = (tile, row, col)
        self.unitHovered.emit(*self._cursor)
        self.update()


class FillTogether:
    """Quantises the values of several ActivationMaps in one go (see LevelBatch); the layer panel keeps one.

    Each widget still looks its colours up when it paints, so rows out of view
    cost only their share of a few numpy calls.
    """

    def __init__(self) -> None:
        self._batch: LevelBatch | None = None

    def fill(self, widgets: list[ActivationMaps]) -> None:
        ready, flats = [], []
        for widget in widgets:
            flat = widget._values_to_quantise()
            # Only small layers share: for a large one numpy's per-call cost is nothing, while the
            # batch would copy its values and hold 8 bytes a value of levels (DenseNet-121's first
            # rows: 0.27 s and 16 MB); it quantises itself when it paints.
            if flat is not None and flat.size <= KEEP_WORK_BUFFERS_UP_TO:
                ready.append(widget)
                flats.append(flat)
        if len(ready) < 2:
            return  # nothing to share: each paints itself
        sizes = tuple(flat.size for flat in flats)
        if self._batch is None or self._batch.key != sizes:
            self._batch = LevelBatch(sizes)
        extents = self._batch.extents(flats)
        if extents is None:
            return  # a value is not finite: each layer fills itself when it paints
        high, low = extents
        for widget, smallest in zip(ready, low):
            if not widget._signed and smallest < 0:
                widget._make_signed()  # negatives in a layer assumed non-negative: switch maps for good
        scales = self._batch.quantise(high, low, [widget._signed for widget in ready])
        for widget, levels, scale in zip(ready, self._batch.views, scales):
            widget.show_levels(levels, scale)
