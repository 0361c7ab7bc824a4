"""The grids of one Explanation: a conv row's patch × kernel = products, a pool's window, a softmax strip.

Each grid's colours are one small image (a pixel per cell) drawn enlarged; the
numbers are written in when cells are wide enough, and every cell has a
tooltip. Patches share one colour scale, kernels another, products a third,
so the rows of a convolution compare at a glance.
"""

from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QImage, QPainter, QPalette, QPen, QPixmap, QStaticText
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from lenet_gui.core.explanation import Grid
from lenet_gui.ui import theme

MIN_CELL = 12
MAX_CELL = 44
VALUE_CELL = 24  # cells at least this wide show their value
WIDE_CELL = 40  # … and from this width one digit more
ROW_LABEL_WIDTH = 2  # the grids' titles say which channel a row reads
GRID_GAP = 24  # room for "×" and "=" between the grids of a row
SUM_WIDTH = 92
TITLE_HEIGHT = 16
ROW_GAP = 10
WRAP_CELLS = 16  # grids of a row wider than this go one under the other
RAMP_STEPS = 101  # colours in a grid's colour map
PIXMAP_CACHE = 160  # painted grids kept: a C5 unit has 48, stepping along a row reuses most


def cell_text(value: float, wide: bool = False) -> str:
    """A number short enough for a small cell: ".53", "−1.2", "12"; a digit more when ``wide``."""
    if not math.isfinite(value):
        return "nan" if math.isnan(value) else ("∞" if value > 0 else "−∞")
    magnitude = abs(value)
    if magnitude < (0.0005 if wide else 0.005):
        return "0"
    if magnitude < 1:
        text = f"{magnitude:.{3 if wide else 2}f}"[1:]
    elif magnitude < 10:
        text = f"{magnitude:.{2 if wide else 1}f}"
    elif magnitude < 1000:
        text = f"{magnitude:.0f}"
    else:
        text = f"{magnitude:.0e}".replace("e+0", "e")
    return ("−" if value < 0 else "") + text


def number(value: float | None, digits: int = 4) -> str:
    """A value for the working: 4 decimals, a real minus sign."""
    if value is None:
        return "—"
    value = float(value)
    if not math.isfinite(value):
        return str(value)
    text = f"{value:.{digits}f}" if abs(value) < 1e5 else f"{value:.{digits}g}"
    return text.replace("-", "−")


class GridTable(QWidget):
    """The rows of grids of one Explanation, with × and = between a conv row's patch, kernel and products."""

    #: (row, grid, cell row, cell column) clicked.
    cellClicked = Signal(int, int, int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("explanationGrids")
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._rows: list[list[Grid]] = []
        self._products = False  # rows are patch × kernel = products
        self._scales: dict[tuple[int, int], float] = {}
        self._cell = MAX_CELL
        self._width_for_cell = -1
        self._ramps: dict[tuple[bool, bool], tuple[np.ndarray, np.ndarray]] = {}
        self._pixmaps: OrderedDict = OrderedDict()  # grid content → its painted cells (see _grid_pixmap)
        self._texts: dict[str, tuple[QStaticText, float, float]] = {}  # for the cell font of _texts_font
        self._texts_font = None
        #: (row, grid, i, j) → words for the input unit behind a cell, or None (set by the view).
        self.source_of = None
        self.setFixedHeight(0)

    # --- data ---------------------------------------------------------------------------------
    def set_rows(self, rows: list[list[Grid]], products: bool) -> None:
        shape_before = [[g.values.shape for g in row] for row in self._rows]
        self._products = products and all(len(row) == 3 for row in rows)
        self._rows = []
        for row in rows:
            if not self._products and self._row_cells(row) > WRAP_CELLS:
                self._rows.extend([grid] for grid in row)  # long strips (softmax over 10 classes): one a line
            else:
                self._rows.append(list(row))
        # A conv's patches share one colour scale, its kernels another, its products a third, so
        # rows compare at a glance; any other grid is scaled by its own largest value.
        def peak(grids) -> float:
            values = [np.abs(np.asarray(g.values, dtype=float)) for g in grids]
            finite = [v[np.isfinite(v)] for v in values]
            return max((float(v.max()) for v in finite if v.size), default=0.0) or 1.0

        if self._products:
            columns = [peak([row[c] for row in self._rows]) for c in range(3)]
            self._scales = {(r, c): columns[c] for r in range(len(self._rows)) for c in range(3)}
        else:
            self._scales = {(r, c): peak([g]) for r, row in enumerate(self._rows) for c, g in enumerate(row)}
        if [[g.values.shape for g in row] for row in self._rows] != shape_before:
            self._width_for_cell = -1
            self._relayout()
        self.update()

    def rows(self) -> list[list[Grid]]:
        return self._rows

    def cell_size(self) -> int:
        return self._cell

    # --- layout -------------------------------------------------------------------------------
    def _row_cells(self, row: list[Grid]) -> int:
        return sum(np.asarray(g.values).shape[1] if np.ndim(g.values) == 2 else 1 for g in row)

    def _relayout(self) -> None:
        width = max(self.width(), 200)
        if width == self._width_for_cell:
            return
        self._width_for_cell = width
        if not self._rows:
            self.setFixedHeight(0)
            return
        widest = max(self._row_cells(row) for row in self._rows)
        grids = max(len(row) for row in self._rows)
        room = width - ROW_LABEL_WIDTH - GRID_GAP * max(grids - 1, 0) - (SUM_WIDTH if self._products else 8)
        self._cell = int(min(MAX_CELL, max(MIN_CELL, room // max(widest, 1))))
        self.setFixedHeight(sum(self._row_height(row) for row in self._rows) + ROW_GAP * len(self._rows))

    def _grid_shape(self, grid: Grid) -> tuple[int, int]:
        values = np.asarray(grid.values)
        if values.ndim == 2:
            return values.shape
        return 1, max(values.size, 1)

    def _row_height(self, row: list[Grid]) -> int:
        return TITLE_HEIGHT + max(self._grid_shape(g)[0] for g in row) * self._cell

    def _layout_rects(self):
        """(row, grid, rect of its cells) for every grid, in widget coordinates."""
        top = 0
        for r, row in enumerate(self._rows):
            x = ROW_LABEL_WIDTH
            for g, grid in enumerate(row):
                h, w = self._grid_shape(grid)
                yield r, g, QRect(x, top + TITLE_HEIGHT, w * self._cell, h * self._cell)
                x += w * self._cell + GRID_GAP
            top += self._row_height(row) + ROW_GAP

    def grid_rect(self, row: int, grid: int) -> QRect:
        return next(rect for r, g, rect in self._layout_rects() if (r, g) == (row, grid))

    def cell_center(self, row: int, grid: int, i: int, j: int) -> QPointF:
        rect = self.grid_rect(row, grid)
        return QPointF(rect.x() + (j + 0.5) * self._cell, rect.y() + (i + 0.5) * self._cell)

    def cell_at(self, pos) -> tuple[int, int, int, int] | None:
        for r, g, rect in self._layout_rects():
            if rect.contains(pos.toPoint() if hasattr(pos, "toPoint") else pos):
                i = int((pos.y() - rect.y()) // self._cell)
                j = int((pos.x() - rect.x()) // self._cell)
                return r, g, i, j
        return None

    def sizeHint(self) -> QSize:
        return QSize(520, self.height())

    def resizeEvent(self, event) -> None:
        self._relayout()
        super().resizeEvent(event)

    # --- painting -----------------------------------------------------------------------------
    def _ramp(self, signed: bool, dark: bool) -> tuple[np.ndarray, np.ndarray]:
        """The colour map as ARGB words, and for each colour whether dark text reads on it."""
        key = (signed, dark)
        if key not in self._ramps:
            colors = theme.ramp_colors(signed, dark, RAMP_STEPS)
            argb = np.array([c.rgba() for c in colors], dtype=np.uint32)
            luminance = np.array([0.299 * c.red() + 0.587 * c.green() + 0.114 * c.blue() for c in colors])
            self._ramps[key] = (argb, luminance > 140)
        return self._ramps[key]

    def _grid_pixmap(self, r: int, g: int, palette: QPalette) -> QPixmap:
        """Grid (r, g)'s cells, numbers and padding, painted once per content.

        While the pen moves, a conv's kernels never change and most patches stay
        as they were: those grids are one drawPixmap, not 25 cells and numbers.
        """
        grid = self._rows[r][g]
        values = np.asarray(grid.values, dtype=float)
        values = values if values.ndim == 2 else values.reshape(1, -1)
        padding = None if grid.padding is None else np.asarray(grid.padding, dtype=bool).reshape(values.shape)
        dark = theme.is_dark(palette)
        ratio = self.devicePixelRatioF()
        key = (values.tobytes(), values.shape, None if padding is None else padding.tobytes(), bool(grid.signed),
               self._scales.get((r, g), 1.0), self._cell, dark, ratio, palette.cacheKey(), self.font().key())
        pixmap = self._pixmaps.get(key)
        if pixmap is not None:
            self._pixmaps.move_to_end(key)
            return pixmap
        c = self._cell
        height, width = values.shape
        pixmap = QPixmap(max(1, round(width * c * ratio)), max(1, round(height * c * ratio)))
        pixmap.setDevicePixelRatio(ratio)
        finite = np.isfinite(values)
        signed = bool(grid.signed) or bool(values[finite].min() < 0 if finite.any() else False)
        t = np.where(finite, values, 0.0) / self._scales.get((r, g), 1.0)
        position = (t + 1) / 2 if signed else t
        argb, dark_text = self._ramp(signed, dark)
        index = np.rint(np.clip(position, 0.0, 1.0) * (RAMP_STEPS - 1)).astype(np.intp)
        pixels = np.ascontiguousarray(np.where(finite, argb[index], np.uint32(0xFF808080)), dtype=np.uint32)
        image = QImage(pixels.data, width, height, width * 4, QImage.Format.Format_RGB32)
        painter = QPainter(pixmap)
        painter.drawImage(QRect(0, 0, width * c, height * c), image)  # every cell's colour, nearest neighbour
        dim = palette.color(QPalette.ColorRole.PlaceholderText)
        hatch = QBrush(dim, Qt.BrushStyle.BDiagPattern)
        pad_fill = palette.color(QPalette.ColorRole.Window).darker(112 if not dark else 80)
        on_light, on_dark = QColor(20, 20, 24), QColor(245, 245, 245)
        font = self._cell_font()
        if font.key() != self._texts_font:  # another cell size or font: lay the numbers out again
            self._texts, self._texts_font = {}, font.key()
        painter.setFont(font)
        show_values, wide = c >= VALUE_CELL, c >= WIDE_CELL
        light_text = dark_text[index]
        for i in range(height):
            for j in range(width):
                cell = QRect(j * c, i * c, c, c)
                if padding is not None and padding[i, j]:
                    painter.fillRect(cell, pad_fill)
                    painter.fillRect(cell, hatch)
                    if c >= 22:
                        painter.setPen(dim)
                        painter.drawText(cell, Qt.AlignmentFlag.AlignCenter, "pad")
                elif show_values:
                    painter.setPen(on_light if light_text[i, j] else on_dark)
                    text, w, h = self._static_text(cell_text(values[i, j], wide))
                    painter.drawStaticText(QPointF(j * c + (c - w) / 2, i * c + (c - h) / 2), text)
        painter.end()
        self._pixmaps[key] = pixmap
        while len(self._pixmaps) > PIXMAP_CACHE:
            self._pixmaps.popitem(last=False)
        return pixmap

    def _static_text(self, text: str) -> tuple[QStaticText, float, float]:
        """A cell's number laid out once: the same few hundred strings come back every frame."""
        found = self._texts.get(text)
        if found is None:
            static = QStaticText(text)
            static.setTextFormat(Qt.TextFormat.PlainText)
            static.prepare(font=self._cell_font())
            size = static.size()
            found = self._texts[text] = (static, size.width(), size.height())
        return found

    def _small_font(self) -> QFont:
        small = QFont(self.font())
        small.setPointSizeF(max(6.5, self.font().pointSizeF() * 0.78))
        return small

    def _cell_font(self) -> QFont:
        font = self._small_font()
        if self._cell < 30:
            font.setPointSizeF(max(6.0, font.pointSizeF() * 0.9))
        return font

    def paintEvent(self, event) -> None:
        palette = self.palette()
        exposed = event.rect()
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        text_color = palette.color(QPalette.ColorRole.WindowText)
        dim = palette.color(QPalette.ColorRole.PlaceholderText)
        frame = palette.color(QPalette.ColorRole.Mid)
        small = self._small_font()
        small_metrics = QFontMetrics(small)
        outline = theme.highlight_outline(palette)
        c = self._cell
        for r, g, rect in self._layout_rects():
            if not rect.adjusted(-GRID_GAP, -TITLE_HEIGHT, SUM_WIDTH, 0).intersects(exposed):
                continue  # scrolled out of view: a conv over 16 channels paints a third of its grids
            grid = self._rows[r][g]
            painter.setFont(small)
            painter.setPen(dim)
            last = g == len(self._rows[r]) - 1  # the last title may run on to the widget's edge
            room = self.width() - rect.x() if last else rect.width() + GRID_GAP - 4
            title_rect = QRectF(rect.x(), rect.y() - TITLE_HEIGHT, max(room, 40), TITLE_HEIGHT)
            painter.drawText(title_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             small_metrics.elidedText(grid.title, Qt.TextElideMode.ElideRight, int(title_rect.width())))
            painter.drawPixmap(rect.topLeft(), self._grid_pixmap(r, g, palette))
            painter.setPen(QPen(frame, 1))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(rect.adjusted(0, 0, -1, -1))
            if grid.highlight is not None:
                hi, hj = grid.highlight
                painter.setPen(QPen(outline, 3))
                painter.drawRect(QRect(rect.x() + hj * c + 1, rect.y() + hi * c + 1, c - 3, c - 3))
            if self._products and g < 2:  # the operators between patch, kernel and products
                painter.setFont(self.font())
                painter.setPen(text_color)
                sign = "×" if g == 0 else "="
                painter.drawText(QRectF(rect.right() + 1, rect.y(), GRID_GAP, rect.height()),
                                 Qt.AlignmentFlag.AlignCenter, sign)
            if self._products and g == 2:
                painter.setFont(small)
                painter.setPen(text_color)
                total = float(np.nansum(np.asarray(grid.values, dtype=float)))
                painter.drawText(QRectF(rect.right() + 8, rect.y(), SUM_WIDTH - 8, rect.height()),
                                 Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, f"Σ = {number(total)}")
        painter.end()

    # --- pointer ------------------------------------------------------------------------------
    def tooltip_text(self, pos) -> str | None:
        hit = self.cell_at(pos)
        if hit is None:
            return None
        r, g, i, j = hit
        grid = self._rows[r][g]
        values = np.asarray(grid.values, dtype=float)
        values = values if values.ndim == 2 else values.reshape(1, -1)
        if i >= values.shape[0] or j >= values.shape[1]:
            return None
        text = f"{grid.title}, row {i}, column {j}: {number(values[i, j], 6)}"
        source = self.source_of(r, g, i, j) if self.source_of is not None else None
        if source is not None:
            text += f"\nthe input unit {source}; click to explain it"
        if grid.padding is not None and np.asarray(grid.padding, dtype=bool).reshape(values.shape)[i, j]:
            text += " (padding: outside the input)"
        if grid.highlight == (i, j):
            text += " (the largest: the pool's output)"
        return text

    def event(self, event) -> bool:
        if event.type() == event.Type.ToolTip:
            text = self.tooltip_text(event.position() if hasattr(event, "position") else QPointF(event.pos()))
            if text:
                QToolTip.showText(event.globalPos(), text, self)
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return super().event(event)

    def mouseMoveEvent(self, event) -> None:
        hit = self.cell_at(event.position())
        linked = hit is not None and self.source_of is not None and self.source_of(*hit) is not None
        self.setCursor(Qt.CursorShape.PointingHandCursor if linked else Qt.CursorShape.ArrowCursor)
        super().mouseMoveEvent(event)

    def mousePressEvent(self, event) -> None:
        hit = self.cell_at(event.position())
        if hit is not None and event.button() == Qt.MouseButton.LeftButton:
            self.cellClicked.emit(*hit)
            event.accept()
            return
        super().mousePressEvent(event)
