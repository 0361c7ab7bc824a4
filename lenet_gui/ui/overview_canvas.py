"""The painted part of the network overview: every layer as a column, left to right.

Each column has the layer's name and op above its pictures and its shape under
them (``6@28×28``: 6 maps of 28×28); thin lines join each column to the next,
as in the LeNet-5 figure of LeCun et al. (1998). The pictures use the same
colour maps as the layer panel, a pixel per value in a small image that
QPainter enlarges (mosaic.py), so a frame costs a few numpy calls per layer.

Pointer and keyboard: hovering shows a tooltip with the layer's name, op and
shape, and the map or unit under the pointer (counted from 1, with its
0-based index); a click or Enter selects a layer (``layerSelected``), a
double click opens the enlarged view of a map (``mapActivated``);
Left/Right/Home/End move the selection.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # graph imports onnx, which the window loads after its first paint
    from lenet_gui.core.graph import Layer

import math

import numpy as np
from PySide6.QtCore import QEvent, QLine, QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QPainter, QPalette, QPen, QPixmap
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from lenet_gui.ui import layer_text, overview_plan, theme
from lenet_gui.ui.mosaic import KEEP_WORK_BUFFERS_UP_TO, Geometry, Mosaic
from lenet_gui.ui.overview_plan import Column, Plan

_GREYS = (np.arange(256, dtype=np.uint32) * 0x010101) | 0xFF000000
MARGIN = 6
TEXT_GAP = 3
# A canvas wider than this caches its static underlay only around the part in view.
UNDERLAY_WHOLE_UP_TO = 4096


class _Pictures:
    """The pixels of one column: a Mosaic of its maps or cells, coloured by the column's values."""

    def __init__(self, column: Column, signed: bool) -> None:
        self.column = column
        self.signed = signed
        # Maps are kept at most at the size they are shown: every step-th unit of each row and
        # column, as the painter's nearest-neighbour scaling would pick (a 112×112 map shown
        # 24 pixels high holds 28×28 pixels, not 112×112; DenseNet-121's overview: 96 MB → 6 MB).
        self.step_y = self.step_x = 1
        self.tile_h, self.tile_w = column.tile_h, column.tile_w
        if column.kind == "maps":
            shown_h, shown_w = column.tile_px
            self.step_y, self.step_x = max(1, column.tile_h // shown_h), max(1, column.tile_w // shown_w)
            self.tile_h, self.tile_w = -(-column.tile_h // self.step_y), -(-column.tile_w // self.step_x)
            geometry = Geometry(column.count, self.tile_h, self.tile_w, 1, 1, 1, 0, 0)
        else:
            geometry = Geometry(column.count, 1, 1, column.grid_cols, 1, 1, 0, 0)
        self.mosaic = Mosaic(geometry)
        m = self.mosaic
        self.image = QImage(m.pixels.data, m.width, m.height, m.stride, QImage.Format.Format_RGB32)
        self.values: np.ndarray | None = None

    def set_colors(self, palette: QPalette) -> None:
        gap = palette.color(QPalette.ColorRole.Base)
        frame = palette.color(QPalette.ColorRole.Mid)
        self.mosaic.set_colors(theme.color_table(self.signed, theme.is_dark(palette), gap, frame))

    def fill(self, values: np.ndarray | None, palette: QPalette) -> None:
        self.values = None if values is None else np.asarray(values).reshape(-1)
        shown, scale = values, None
        if values is not None and (self.step_y > 1 or self.step_x > 1):
            c = self.column
            maps = self.values[: c.count * c.tile_h * c.tile_w]
            # The colour scale and the sign come from every value, as the layer panel's do.
            scale = self.mosaic._magnitude(maps)
            if not math.isfinite(scale):
                scale = None  # NaN or infinity somewhere: the mosaic's own handling
            shown = maps.reshape(c.count, c.tile_h, c.tile_w)[:, :: self.step_y, :: self.step_x]
            low = self.mosaic.low
        self.mosaic.fill(shown, self.signed, scale)
        if scale is not None:
            self.mosaic.low = low
        if not self.signed and self.mosaic.low < 0:  # negatives where none were expected: the signed map
            self.signed = True
            self.set_colors(palette)
            self.mosaic.fill(shown, self.signed, scale)
        if self.mosaic.values > KEEP_WORK_BUFFERS_UP_TO:
            self.mosaic.drop_work_buffers()  # ResNet-18's overview: 41 MB held between frames, 10 without


class OverviewCanvas(QWidget):
    """Columns planned by overview_plan, painted, with hover, selection and live values."""

    #: (layer, map or unit index, or -1 for the whole layer): a layer was chosen.
    layerSelected = Signal(object, int)
    #: (layer, map): a map was double-clicked.
    mapActivated = Signal(object, int)
    #: (layer, map or unit, row, column) under the pointer, as the layer panel reports its units.
    unitHovered = Signal(object, int, int, int)
    hoverLeft = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("overviewCanvas")
        self.setAccessibleName("Network overview")
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)  # the underlay covers every pixel
        self._layers: list[Layer] = []
        self._names: dict[int, layer_text.LayerName] = {}
        self._signed: dict[int, bool] = {}
        self._labels: list[str] = []
        self._class_output: str | None = None
        self._input_size: tuple[int, int] | None = None
        self._available = (800, 160)
        self.plan: Plan = Plan([], "all", 0, 0)
        self._pictures: dict[int, _Pictures] = {}  # column index → pixels
        self._input_pixels = np.zeros((1, 1), np.uint32)
        self._input_image = QImage()
        self._activations: dict[str, np.ndarray] = {}
        self._view: np.ndarray | None = None
        self._selected: int | None = None  # column index
        self._hover: tuple[int, int] | None = None  # (column, item)
        self._hover_unit: tuple[int, int, int, int] | None = None  # (column, item, row, col)
        self._set_fonts()
        self._static: QPixmap | None = None
        self._plan_serial = 0  # a new plan, a new layout: the cached geometry and underlay go
        self._static_key_now = None
        self._static_band = QRect()
        self._geometry_cache: list = []
        self._geometry_key = None

    # --- model and values -----------------------------------------------------------------------
    def set_model(self, layers: list[Layer], meta: dict, input_size: tuple[int, int] | None,
                  labels: list[str], class_output: str | None) -> None:
        self._layers = list(layers)
        self._names = layer_text.layer_names(layers, meta)
        self._signed = layer_text.may_be_negative(layers)
        self._labels = list(labels)
        self._class_output = class_output
        self._input_size = input_size
        self._selected = None
        self._hover = None
        self._activations = {}
        self._view = None
        self._replan()

    def layers(self) -> list[Layer]:
        return list(self._layers)

    def summary(self) -> str:
        """The columns in words, for screen readers: 'Input 32×32, C1 Conv 6@28×28, …'."""
        return ", ".join(f"{self.tag(c)} {self.op_text(c)} {self.shape_caption(c)}" for c in self.plan.columns)

    def set_available(self, width: int, height: int) -> None:
        """The space the scroll area gives: the plan is made for it."""
        if (width, height) != self._available:
            self._available = (width, height)
            self._replan()

    def show_result(self, result) -> None:
        """A session Result, or None for an empty canvas."""
        self._activations = {} if result is None else result.activations
        prepared = None if result is None else result.prepared
        self._view = None if prepared is None else prepared.network_view
        self._fill()
        # Only the pictures change, in one band across the columns; the names above and shapes below stay.
        # (One rectangle: a clip made of many costs the raster engine more than it saves.)
        band = QRect()
        for _, content, _ in self._geometry():
            band = band.united(content.adjusted(-2, -2, 2, 2))
        self.update(band)

    def _set_fonts(self) -> None:
        self._small = QFont(self.font())
        self._small.setPointSizeF(self.font().pointSizeF() * 0.85)
        self._bold = QFont(self.font())
        self._bold.setBold(True)
        # Line heights, asked for thousands of times a layout with hundreds of columns.
        self._bold_line, self._small_line = QFontMetrics(self._bold).height(), QFontMetrics(self._small).height()

    def _text_height(self) -> int:
        return self._bold_line + self._small_line + TEXT_GAP  # name line, op line

    def _content_height(self) -> int:
        return max(40, self._available[1] - 2 * MARGIN - self._text_height() - self._small_line - 2 * TEXT_GAP)

    def _replan(self) -> None:
        bold, small = QFontMetrics(self._bold), QFontMetrics(self._small)
        label_width = max((small.horizontalAdvance(label) for label in self._labels), default=0)

        def text_width(column: Column) -> int:
            return max(bold.horizontalAdvance(self.tag(column)), small.horizontalAdvance(self.op_text(column)),
                       small.horizontalAdvance(self.shape_caption(column)))

        self.plan = overview_plan.plan(self._layers, self._input_size, self._labels, self._class_output,
                                       self._available[0] - 2 * MARGIN, self._content_height(), text_width,
                                       label_width)
        self._plan_serial += 1
        self._pictures = {}
        for i, column in enumerate(self.plan.columns):
            if column.kind in ("maps", "vector"):
                pictures = _Pictures(column, self._signed.get(column.layer.index, True))
                pictures.set_colors(self.palette())
                self._pictures[i] = pictures
        if self._selected is not None and self._selected >= len(self.plan.columns):
            self._selected = None
        self.setMinimumWidth(self.plan.width + 2 * MARGIN)
        self._fill()
        self.updateGeometry()
        self.update()

    def _fill(self) -> None:
        palette = self.palette()
        for i, pictures in self._pictures.items():
            layer = self.plan.columns[i].layer
            values = self._activations.get(layer.output)
            if values is not None and values.size != pictures.column.total * (
                    pictures.column.tile_h * pictures.column.tile_w if pictures.column.kind == "maps" else 1):
                values = None  # a shape the arithmetic did not foresee: the layer panel shows it
            pictures.fill(values, palette)
        view = self._view
        if view is not None and self._input_size and view.shape == tuple(self._input_size):
            levels = np.clip(np.asarray(view, np.float32) * 255.0 + 0.5, 0, 255).astype(np.intp)
            self._input_pixels = np.ascontiguousarray(_GREYS[levels])
        elif self._input_size:
            self._input_pixels = np.full(self._input_size, 0xFF000000, np.uint32)
        h, w = self._input_pixels.shape
        self._input_image = QImage(self._input_pixels.data, w, h, w * 4, QImage.Format.Format_RGB32)

    # --- words ------------------------------------------------------------------------------------
    def tag(self, column: Column) -> str:
        if column.kind == "input":
            return "Input"
        name = self._names.get(column.first.index)
        return name.tag if name is not None and name.tag else f"#{column.first.index + 1}"

    def op_text(self, column: Column) -> str:
        if column.kind == "input":
            return "image"
        extra = "".join(f" +{layer_text.op_title(layer.op)}" for layer in column.layers[1:])
        return f"{column.first.op}{extra}"

    def shape_caption(self, column: Column) -> str:
        shape = column.shape
        if column.kind == "input" or (len(shape) == 2 and column.kind == "maps"):
            return f"{shape[-2]}{layer_text.TIMES}{shape[-1]}"
        if len(shape) == 3 and column.kind == "maps":
            return f"{shape[0]}@{shape[1]}{layer_text.TIMES}{shape[2]}"
        return layer_text.shape_text(shape) if shape else "?"

    def layer_tooltip(self, column: Column) -> str:
        if column.kind == "input":
            h, w = column.shape
            return f"Input: the {h}{layer_text.TIMES}{w} image the network receives"
        lines = []
        for i, layer in enumerate(column.layers):
            name = self._names.get(layer.index)
            title = name.title(layer) if name is not None else layer.display_name
            shape = None if layer.output_shape is None else layer.output_shape[1:]
            prefix = "" if i == 0 else "then "
            lines.append(f"{prefix}{title}: node {layer.name or '(unnamed)'}, op {layer.op}, "
                         f"output {layer_text.shape_text(shape)}")
        if len(column.layers) > 1:
            lines.append("The pictures are the output of the last of these.")
        if column.count < column.total:
            what = "maps" if column.kind == "maps" else "units"
            lines.append(f"The first {column.count} of {column.total} {what} are drawn.")
        return "\n".join(lines)

    def item_tooltip(self, column_index: int, item: int) -> str:
        column = self.plan.columns[column_index]
        text = self.layer_tooltip(column)
        if column.kind == "maps":
            text += f"\n{layer_text.counted('map', item, column.total)}"
        elif column.kind == "vector":
            pictures = self._pictures.get(column_index)
            values = None if pictures is None else pictures.values
            value = f" = {float(values[item]):.4f}" if values is not None and item < values.size else ""
            label = f"class {column.labels[item]}, " if column.labels else ""
            text += f"\n{label}{layer_text.counted('unit', item, column.total)}{value}"
        return text

    # --- geometry -----------------------------------------------------------------------------------
    def column_rect(self, index: int) -> QRect:
        """The whole column, its text included, in widget coordinates."""
        column = self.plan.columns[index]
        return QRect(MARGIN + column.x, MARGIN, column.width, self.height() - 2 * MARGIN)

    def content_rect(self, index: int) -> QRect:
        """The pictures of a column, centred in the band between the text above and below."""
        column = self.plan.columns[index]
        top = MARGIN + self._text_height() + TEXT_GAP
        band = self._content_height()
        x = MARGIN + column.x + (column.width - column.content_w) // 2
        y = top + max(0, (band - column.content_h) // 2)
        return QRect(x, y, column.content_w, column.content_h)

    def item_rect(self, index: int, item: int) -> QRect:
        """One map's thumbnail or one unit's cell."""
        return self._item_rect(self.plan.columns[index], self.content_rect(index), item)

    @staticmethod
    def _item_rect(column: Column, content: QRect, item: int) -> QRect:
        if column.kind == "maps":
            th, tw = column.tile_px
            row, col = divmod(item, column.grid_cols)
            return QRect(content.x() + col * (tw + overview_plan.TILE_GAP),
                         content.y() + row * (th + overview_plan.TILE_GAP), tw, th)
        if column.kind == "vector":
            row, col = divmod(item, column.grid_cols)
            return QRect(content.x() + col * column.cell, content.y() + row * column.cell, column.cell, column.cell)
        return content

    def column_index_of(self, layer: Layer) -> int | None:
        column = self.plan.column_of(layer)
        return None if column is None else self.plan.columns.index(column)

    def hit(self, pos: QPoint) -> tuple[int, int] | None:
        """(column, map or unit, or -1 for the column's text) under ``pos``."""
        half_gap = overview_plan.COLUMN_GAP // 2
        for i, (column_rect, content, items) in enumerate(self._geometry()):
            if not column_rect.adjusted(-half_gap, 0, half_gap, 0).contains(pos):
                continue
            if content.adjusted(-1, -1, 1, 1).contains(pos):
                for item, rect in enumerate(items):
                    if rect.adjusted(-1, -1, 1, 1).contains(pos):
                        return i, item
            return i, -1
        return None

    def sizeHint(self) -> QSize:
        return QSize(self.plan.width + 2 * MARGIN, self._available[1])

    def minimumSizeHint(self) -> QSize:
        return QSize(self.plan.width + 2 * MARGIN, 60)

    # --- selection -----------------------------------------------------------------------------------
    def selected_layer(self) -> Layer | None:
        if self._selected is None:
            return None
        return self.plan.columns[self._selected].layer

    def selected_index(self) -> int | None:
        return self._selected

    def select(self, index: int, item: int = -1) -> None:
        """Select column ``index`` and say so (the input column selects nothing in the panel)."""
        if not self.plan.columns:
            return
        index = min(max(index, 0), len(self.plan.columns) - 1)
        self._selected = index
        self.update()
        layer = self.plan.columns[index].layer
        if layer is not None:
            self.layerSelected.emit(layer, item)

    def select_layer(self, layer: Layer) -> None:
        """Mark the column that shows ``layer`` without sending layerSelected (the panel chose it)."""
        index = self.column_index_of(layer)
        if index is not None and index != self._selected:
            self._selected = index
            self.update()

    # --- events --------------------------------------------------------------------------------------------
    def event(self, event) -> bool:
        if event.type() == QEvent.Type.ToolTip:
            found = self.hit(event.pos())
            if found is None:
                QToolTip.hideText()
                event.ignore()
                return True
            i, item = found
            text = self.item_tooltip(i, item) if item >= 0 else self.layer_tooltip(self.plan.columns[i])
            QToolTip.showText(event.globalPos(), text, self, self.column_rect(i))
            return True
        return super().event(event)

    def unit_at(self, pos: QPoint) -> tuple[int, int, int, int] | None:
        """(column, map or unit, row, column in the map) under ``pos``; None off the pictures."""
        found = self.hit(pos)
        if found is None or found[1] < 0:
            return None
        i, item = found
        column = self.plan.columns[i]
        if column.kind != "maps":
            return i, item, 0, 0
        rect = self._geometry()[i][2][item]
        row = (pos.y() - rect.y()) * column.tile_h // max(1, rect.height())
        col = (pos.x() - rect.x()) * column.tile_w // max(1, rect.width())
        return i, item, min(max(row, 0), column.tile_h - 1), min(max(col, 0), column.tile_w - 1)

    def mouseMoveEvent(self, event) -> None:
        pos = event.position().toPoint()
        found = self.hit(pos)
        if found != self._hover:
            self._hover = found
            self.update()
        unit = self.unit_at(pos)
        if unit != self._hover_unit:
            self._hover_unit = unit
            if unit is None:
                self.hoverLeft.emit()
            else:
                self.unitHovered.emit(self.plan.columns[unit[0]].layer, *unit[1:])

    def leaveEvent(self, event) -> None:
        if self._hover is not None:
            self._hover = None
            self.update()
        if self._hover_unit is not None:
            self._hover_unit = None
            self.hoverLeft.emit()
        super().leaveEvent(event)

    def mousePressEvent(self, event) -> None:
        found = self.hit(event.position().toPoint())
        if event.button() == Qt.MouseButton.LeftButton and found is not None:
            self.select(*found)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseDoubleClickEvent(self, event) -> None:
        found = self.hit(event.position().toPoint())
        if found is not None and found[1] >= 0:
            column = self.plan.columns[found[0]]
            if column.layer is not None:
                self.mapActivated.emit(column.layer, found[1] if column.kind == "maps" else 0)
                return
        super().mouseDoubleClickEvent(event)

    def keyPressEvent(self, event) -> None:
        key = event.key()
        current = -1 if self._selected is None else self._selected
        moves = {Qt.Key.Key_Left: current - 1, Qt.Key.Key_Right: current + 1, Qt.Key.Key_Home: 0,
                 Qt.Key.Key_End: len(self.plan.columns) - 1}
        if key in moves:
            self.select(max(moves[key], 0))
        elif key in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Space) and self._selected is not None:
            self.select(self._selected)
        else:
            super().keyPressEvent(event)

    def changeEvent(self, event) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            for pictures in self._pictures.values():
                pictures.set_colors(self.palette())
            self._fill()
        elif event.type() == QEvent.Type.FontChange:
            self._set_fonts()
            self._replan()
        super().changeEvent(event)

    # --- painting ---------------------------------------------------------------------------------------------
    # What changes only with the layout, the colours or the selection (background, names, shapes,
    # connecting lines, frames) is painted once into a pixmap; a frame draws that and the values.
    def _static_key(self):
        return (self._plan_serial, self.width(), self.height(), self.devicePixelRatioF(), self._selected,
                None if self._hover is None else self._hover[0], self.palette().cacheKey())

    def _geometry(self) -> list[tuple[QRect, QRect, list[QRect]]]:
        """(column rect, content rect, item rects) per column, worked out once per layout and size."""
        key = (self._plan_serial, self.width(), self.height())
        if self._geometry_key != key:
            rects = []
            for i, column in enumerate(self.plan.columns):
                count = column.count if column.kind in ("maps", "vector") else 0
                content = self.content_rect(i)
                rects.append((self.column_rect(i), content, [self._item_rect(column, content, k) for k in range(count)]))
            self._geometry_cache, self._geometry_key = rects, key
        return self._geometry_cache

    def _band(self, dirty: QRect) -> QRect:
        """The part of the canvas the static underlay covers: all of it, or for a canvas wider than
        UNDERLAY_WHOLE_UP_TO the part in view and a screen either side (DenseNet-121's overview is
        25,000 pixels wide: 19 MB as one pixmap)."""
        if self.width() <= UNDERLAY_WHOLE_UP_TO:
            return self.rect()
        view = self.visibleRegion().boundingRect().united(dirty)
        return QRect(view.x() - view.width(), 0, 3 * view.width(), self.height()).intersected(self.rect())

    def _underlay(self, dirty: QRect) -> tuple[QPixmap, QRect]:
        """The static pixmap and the part of the canvas it covers (see _band)."""
        key = self._static_key()
        cached = self._static is not None and self._static_key_now == key and self._static_band.contains(dirty)
        if not cached:
            band = self._band(dirty)
            ratio = self.devicePixelRatioF()
            pixmap = QPixmap(max(1, round(band.width() * ratio)), max(1, round(band.height() * ratio)))
            pixmap.setDevicePixelRatio(ratio)
            palette = self.palette()
            pixmap.fill(palette.color(QPalette.ColorRole.Base))
            painter = QPainter(pixmap)
            painter.translate(-band.x(), -band.y())
            self._paint_connections(painter, palette)
            frame = QPen(palette.color(QPalette.ColorRole.Mid), 1)
            for i, column in enumerate(self.plan.columns):
                column_rect, content, items = self._geometry()[i]
                if not column_rect.adjusted(-8, 0, 8, 0).intersects(band):
                    continue  # off the band: its text and frames are painted when it comes into view
                self._paint_text(painter, palette, i, column)
                painter.setPen(frame)
                painter.setBrush(Qt.BrushStyle.NoBrush)
                if column.kind == "maps":
                    painter.drawRects([r.adjusted(-1, -1, 0, 0) for r in items])
                elif column.kind in ("vector", "input"):
                    painter.drawRect(QRect(content.x() - 1, content.y() - 1,
                                           (column.grid_cols * column.cell if column.labels else content.width()) + 1,
                                           content.height() + 1))
                if column.labels:
                    painter.setFont(self._small)
                    painter.setPen(palette.color(QPalette.ColorRole.Text))
                    for rect, label in zip(self._label_rects(column, content), column.labels):
                        painter.drawText(rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, label)
            painter.end()
            self._static, self._static_key_now, self._static_band = pixmap, key, band
        return self._static, self._static_band

    def paintEvent(self, event) -> None:
        palette = self.palette()
        painter = QPainter(self)
        rect = event.rect()  # the dirty part only: a new frame repaints the pictures, not the text
        underlay, band = self._underlay(rect)
        ratio = self.devicePixelRatioF()
        source = QRect(round((rect.x() - band.x()) * ratio), round((rect.y() - band.y()) * ratio),
                       round(rect.width() * ratio), round(rect.height() * ratio))
        painter.drawPixmap(rect, underlay, source)
        geometry = self._geometry()
        base = palette.color(QPalette.ColorRole.Base)
        for i, column in enumerate(self.plan.columns):
            column_rect, content, items = geometry[i]
            if not column_rect.adjusted(-2, 0, 2, 0).intersects(event.rect()):
                continue
            if column.kind == "input":
                painter.drawImage(content, self._input_image)
            elif column.kind == "maps":
                pictures = self._pictures[i]
                image, h, w = pictures.image, pictures.tile_h, pictures.tile_w
                for item, target in enumerate(items):
                    painter.drawImage(target, image, QRect(0, item * h, w, h))
            elif column.kind == "vector":
                self._paint_vector(painter, palette, base, i, column, content)
            self._paint_hover(painter, palette, i)
        painter.end()

    def _paint_connections(self, painter: QPainter, palette: QPalette) -> None:
        painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1))
        geometry = self._geometry()
        for i in range(len(self.plan.columns) - 1):
            a, b = geometry[i][1], geometry[i + 1][1]
            if a.isEmpty() or b.isEmpty():
                continue
            x0, x1 = a.right() + 3, b.left() - 3
            painter.drawLine(x0, a.top(), x1, b.top())
            painter.drawLine(x0, a.bottom(), x1, b.bottom())

    def _paint_text(self, painter: QPainter, palette: QPalette, i: int, column: Column) -> None:
        rect, content, _ = self._geometry()[i]
        if i == self._selected:
            painter.setPen(QPen(theme.accent_color(palette), 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(rect.adjusted(-6, -3, 6, 3), 5, 5)
        elif self._hover is not None and self._hover[0] == i:
            painter.setPen(QPen(palette.color(QPalette.ColorRole.Mid), 1))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(rect.adjusted(-6, -3, 6, 3), 5, 5)
        bold, small = QFontMetrics(self._bold), QFontMetrics(self._small)
        center = Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop
        painter.setPen(palette.color(QPalette.ColorRole.Text))
        painter.setFont(self._bold)
        painter.drawText(QRect(rect.x() - 8, rect.y(), rect.width() + 16, bold.height()), center, self.tag(column))
        painter.setFont(self._small)
        op_rect = QRect(rect.x() - 8, rect.y() + bold.height(), rect.width() + 16, small.height())
        if len(column.layers) > 1:  # collapsed layers: the marker in the accent colour
            painter.setPen(theme.accent_color(palette))
        else:
            painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
        painter.drawText(op_rect, center, self.op_text(column))
        painter.setPen(palette.color(QPalette.ColorRole.Text))
        below = QRect(rect.x() - 8, content.bottom() + TEXT_GAP + 2, rect.width() + 16, small.height())
        caption = self.shape_caption(column)
        if column.count < column.total and column.kind in ("maps", "vector"):
            caption += f" (+{column.total - column.count})"
        painter.drawText(below, center, caption)

    def _paint_vector(self, painter: QPainter, palette: QPalette, base: QColor, i: int, column: Column,
                      content: QRect) -> None:
        pictures = self._pictures[i]
        cell = column.cell
        cols, rows = column.grid_cols, column.grid_rows
        painter.drawImage(QRect(content.x(), content.y(), cols * cell, rows * cell), pictures.image)
        missing = cols * rows - column.count
        if missing:  # the last line's empty places
            painter.fillRect(QRect(content.x() + (cols - missing) * cell, content.y() + (rows - 1) * cell,
                                   missing * cell, cell), base)
        if cell >= 6:  # a line of the background between cells, so each unit reads as one
            painter.setPen(QPen(base, 1))
            x, y = content.x(), content.y()
            painter.drawLines([QLine(x + k * cell, y, x + k * cell, y + rows * cell - 1) for k in range(1, cols)]
                              + [QLine(x, y + k * cell, x + cols * cell - 1, y + k * cell) for k in range(1, rows)])
        if column.labels:
            self._paint_labels(painter, palette, i, column, pictures, content)

    def _paint_labels(self, painter: QPainter, palette: QPalette, i: int, column: Column, pictures,
                      content: QRect) -> None:
        """The labels are in the underlay; the winner's is painted over it in bold, outlined."""
        winner = None
        if pictures.values is not None and pictures.values.size:
            winner = int(np.argmax(pictures.values[: column.count]))
        if winner is not None:
            rect = self._label_rects(column, content)[winner]
            painter.fillRect(rect, palette.color(QPalette.ColorRole.Base))
            font = QFont(self._small)
            font.setBold(True)
            painter.setFont(font)
            painter.setPen(theme.accent_color(palette))
            painter.drawText(rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, column.labels[winner])
            painter.setPen(QPen(theme.highlight_outline(palette), 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(self._geometry()[i][2][winner].adjusted(-1, -1, 0, 0))

    @staticmethod
    def _label_rects(column: Column, content: QRect) -> list[QRect]:
        x = content.x() + column.cell + 4
        return [QRect(x, content.y() + k * column.cell, content.width() - column.cell - 4, column.cell)
                for k in range(len(column.labels))]

    def _paint_hover(self, painter: QPainter, palette: QPalette, i: int) -> None:
        if self._hover is None or self._hover[0] != i or self._hover[1] < 0:
            return
        items = self._geometry()[i][2]
        if self._hover[1] < len(items):
            painter.setPen(QPen(theme.highlight_outline(palette), 2))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRect(items[self._hover[1]].adjusted(-1, -1, 0, 0))

    # --- for tests and checks of the layout ---------------------------------------------------------------------
    def winner(self) -> int | None:
        """The index of the largest output cell now drawn, or None."""
        for i, column in enumerate(self.plan.columns):
            if column.labels and self._pictures.get(i) is not None and self._pictures[i].values is not None:
                return int(np.argmax(self._pictures[i].values[: column.count]))
        return None
