"""The drawing canvas: strokes kept as vectors, painted smooth, with pen, eraser and undo.

Input comes from the mouse, a pen tablet (its eraser end erases) or a finger.
Points are stored in the drawing's own coordinates (``Drawing.width`` ×
``Drawing.height`` logical pixels), not in widget pixels, so resizing the
window or a high-DPI screen never changes the drawing; the paper is scaled to
fit the widget.

An opened image is shown as a backdrop under the strokes; the network then
reads the image with the strokes drawn over it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from PySide6.QtCore import QEvent, QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QImage,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
    QPixmap,
    QPointingDevice,
    QUndoCommand,
    QUndoStack,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from lenet_gui.core import preprocess
from lenet_gui.core.drawing import Drawing, default_pen_width
from lenet_gui.core.eraser import erase
from lenet_gui.core.preprocess import InputSpec, Prepared
from lenet_gui.ui import evidence_overlay

PEN = "pen"
ERASER = "eraser"
DEFAULT_SIZE = 280.0
# Pen sizes are given relative to a canvas of this side, whatever the drawing's size.
REFERENCE_SIDE = 280.0
DEFAULT_PEN_SIZE = default_pen_width(REFERENCE_SIDE, REFERENCE_SIDE)
MIN_PEN_SIZE, MAX_PEN_SIZE = 3.0, 48.0
# Pointer moves shorter than this (widget pixels) add no point: a resting hand
# would otherwise pile up thousands of identical points.
MIN_STEP = 0.75
PAPER_MARGIN = 10
# Undo steps kept: a long session must not grow without bound.
UNDO_LIMIT = 1000
# Built once: event() sees every event the canvas gets, pointer moves included.
_TOUCH_EVENTS = frozenset(
    (QEvent.Type.TouchBegin, QEvent.Type.TouchUpdate, QEvent.Type.TouchEnd, QEvent.Type.TouchCancel)
)


@dataclass(frozen=True)
class Backdrop:
    """An opened image shown under the strokes."""

    path: str
    ink: np.ndarray  # white ink on black, 0..1 (preprocess.load_image)


@dataclass
class CanvasState:
    """Everything undo restores.

    The strokes list is a snapshot owned by the history: it is never changed in
    place, and neither is any stroke in it, so states share strokes freely and
    an undo step costs a list of pointers, not a copy of the drawing.
    """

    drawing: Drawing
    backdrop: Backdrop | None = None


class _StrokeAdded(QUndoCommand):
    """One finished pen stroke: the most common edit, kept as just that stroke."""

    def __init__(self, canvas: "DrawingCanvas", stroke) -> None:
        super().__init__("Draw Stroke")
        self._canvas = canvas
        self._stroke = stroke
        self._already_applied = True  # QUndoStack.push calls redo() at once

    def redo(self) -> None:
        if self._already_applied:
            self._already_applied = False
            return
        self._canvas._append_stroke(self._stroke)

    def undo(self) -> None:
        self._canvas._remove_last_stroke()


class _StateChanged(QUndoCommand):
    """Any other edit (erase, clear, open) as the canvas state before and after it."""

    def __init__(self, canvas: "DrawingCanvas", before: CanvasState, after: CanvasState, text: str) -> None:
        super().__init__(text)
        self._canvas = canvas
        self._before = before
        self._after = after
        self._already_applied = True

    def redo(self) -> None:
        if self._already_applied:
            self._already_applied = False
            return
        self._canvas._restore(self._after)

    def undo(self) -> None:
        self._canvas._restore(self._before)


def _midpoint(a, b) -> tuple[float, float]:
    return ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2)


def stroke_path(points) -> QPainterPath:
    """A smooth path through the points: quadratic curves between segment midpoints."""
    first = QPointF(*points[0])
    path = QPainterPath(first)
    if len(points) == 1:
        path.lineTo(first)
        return path
    if len(points) == 2:
        path.lineTo(QPointF(*points[1]))
        return path
    for point, after in zip(points[1:-1], points[2:]):
        path.quadTo(QPointF(*point), QPointF(*_midpoint(point, after)))
    path.lineTo(QPointF(*points[-1]))
    return path


def paint_strokes(painter: QPainter, strokes, color: QColor, width: float) -> None:
    pen = QPen(color, width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    for stroke in strokes:
        if len(stroke) == 1:
            painter.drawPoint(QPointF(*stroke[0]))  # a dot: the round cap makes it a disc
        elif stroke:
            painter.drawPath(stroke_path(stroke))


def _qimage_to_array(image: QImage) -> np.ndarray:
    """A Grayscale8 QImage as an H×W uint8 copy (rows may be padded in the QImage)."""
    width, height = image.width(), image.height()
    raw = np.frombuffer(image.constBits(), dtype=np.uint8, count=image.bytesPerLine() * height)
    return raw.reshape(height, image.bytesPerLine())[:, :width].copy()


class DrawingCanvas(QWidget):
    """Paper to draw a digit on. objectName ``canvas``."""

    #: The drawing (with the stroke being drawn) after every change, point by point.
    drawingChanged = Signal(object)
    #: The drawing after a finished edit: a stroke, an erase, clear, open, undo or redo.
    drawingCommitted = Signal(object)
    toolChanged = Signal(str)
    penSizeChanged = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("canvas")
        self.setAccessibleName("Drawing canvas")
        self.setAccessibleDescription(
            "Draw a digit with the mouse, a pen or a finger. The network reads it while you draw."
        )
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setAttribute(Qt.WidgetAttribute.WA_AcceptTouchEvents)
        self.setMouseTracking(True)  # the eraser's outline follows the pointer
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(180, 180)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)  # paints its whole area

        self._drawing = Drawing(DEFAULT_SIZE, DEFAULT_SIZE, [], DEFAULT_PEN_SIZE)
        self._backdrop: Backdrop | None = None
        self._pen_size = DEFAULT_PEN_SIZE
        self._tool = PEN
        self._active: str | None = None  # PEN or ERASER while a stroke is under way
        self._live: list[tuple[float, float]] | None = None
        self._erase_before: CanvasState | None = None
        self._erase_last: tuple[float, float] | None = None
        self._hover: QPointF | None = None
        self._ink_cache: QPixmap | None = None
        self._ink_cache_key = None
        # Everything but the stroke under the pen (window, paper, finished ink, the
        # empty-canvas hint) as one opaque pixmap: a pointer move repaints a small
        # rect from it instead of drawing the paper and its frame again.
        self._surface: QPixmap | None = None
        self._surface_key = None
        self._paper_rect: QRect | None = None
        self._paper_key = None
        self._pen: QPen | None = None
        self._pen_key = None
        self._backdrop_image: QImage | None = None
        self._backdrop_key = None
        # The stroke being drawn is painted piece by piece onto a layer of its own,
        # so a new point costs one short curve, not the whole stroke again.
        self._live_layer: QPixmap | None = None
        self._live_layer_key = None
        self._live_pieces = 0
        # The unit inspector's receptive field and the evidence map, in drawing coordinates.
        self._field_box: tuple[float, float, float, float] | None = None
        self._evidence: tuple[QImage, tuple[float, float, float, float]] | None = None

        self._undo = QUndoStack(self)
        self._undo.setUndoLimit(UNDO_LIMIT)
        self._undo.indexChanged.connect(self._history_moved)

    # --- public state ---------------------------------------------------------------------
    @property
    def undo_stack(self) -> QUndoStack:
        return self._undo

    def drawing(self) -> Drawing:
        """A copy of the drawing, including a stroke that is being drawn."""
        drawing = self._drawing.copy()
        if self._live:
            drawing.strokes.append(list(self._live))
        return drawing

    def backdrop(self) -> Backdrop | None:
        return self._backdrop

    def is_empty(self) -> bool:
        return self._drawing.is_empty() and not self._live and self._backdrop is None

    def is_drawing(self) -> bool:
        """True while the pen or eraser is down."""
        return self._active is not None

    def tool(self) -> str:
        return self._tool

    def set_tool(self, tool: str) -> None:
        if tool not in (PEN, ERASER) or tool == self._tool:
            return
        self._tool = tool
        self.setCursor(Qt.CursorShape.BlankCursor if tool == ERASER else Qt.CursorShape.CrossCursor)
        self.update()
        self.toolChanged.emit(tool)

    def pen_size(self) -> float:
        """Pen width as on a 280-pixel canvas (the drawing's pen width scaled to that)."""
        return self._pen_size

    def set_pen_size(self, size: float) -> None:
        size = float(min(max(size, MIN_PEN_SIZE), MAX_PEN_SIZE))
        if abs(size - self._pen_size) < 1e-9:
            return
        self._pen_size = size
        self._drawing.pen_width = self._pen_width_for(self._drawing)
        self._invalidate()
        self.penSizeChanged.emit(size)

    def eraser_radius(self) -> float:
        """Radius of the eraser in drawing units: as wide as two pen strokes."""
        return self._pen_width_for(self._drawing)

    # --- edits (each one an undo step) ------------------------------------------------------
    def set_drawing(self, drawing: Drawing, text: str = "Open Drawing") -> None:
        """Show ``drawing`` (copied); its pen width, when it has one, becomes the pen."""
        drawing = drawing.copy()  # the caller's lists stay the caller's
        if drawing.pen_width is not None:
            self._set_pen_size_quietly(drawing.pen_width * REFERENCE_SIDE / min(drawing.width, drawing.height))
        drawing.pen_width = self._pen_width_for(drawing)
        self._commit(CanvasState(drawing, None), text)

    def set_backdrop_image(self, path: str) -> None:
        """Open an image as the backdrop of an empty drawing; ImageError leaves all as it was."""
        ink = preprocess.load_image(path)  # raises before anything changes
        height, width = ink.shape
        scale = DEFAULT_SIZE / max(width, height)
        drawing = Drawing(max(1.0, round(width * scale, 3)), max(1.0, round(height * scale, 3)), [])
        drawing.pen_width = self._pen_width_for(drawing)
        self._commit(CanvasState(drawing, Backdrop(str(path), ink)), "Open Image")

    def clear(self) -> bool:
        """Remove every stroke and the backdrop; False when there was nothing to clear."""
        dropped = self._cancel_live()
        if self._drawing.is_empty() and self._backdrop is None:
            if dropped:  # only a stroke still under the pen: it goes
                self._invalidate()
                self.drawingChanged.emit(self._shared_drawing())
            return dropped
        drawing = Drawing(DEFAULT_SIZE, DEFAULT_SIZE, [])
        drawing.pen_width = self._pen_width_for(drawing)
        self._commit(CanvasState(drawing, None), "Clear")
        return True

    def restore_session(self, drawing: Drawing, backdrop: Backdrop | None = None) -> None:
        """Show a drawing from the last session without making it an undo step."""
        drawing = drawing.copy()
        if drawing.pen_width is not None:
            self._set_pen_size_quietly(drawing.pen_width * REFERENCE_SIDE / min(drawing.width, drawing.height))
        drawing.pen_width = self._pen_width_for(drawing)
        self._restore(CanvasState(drawing, backdrop))

    # --- what the network looked at (unit inspector, evidence) ---------------------------------------
    def set_explain_overlay(self, field_box=None, evidence: QImage | None = None, evidence_rect=None) -> None:
        """A unit's receptive field and a faint evidence map, each (left, top, width, height) on the drawing."""
        self._field_box = None if field_box is None else tuple(float(v) for v in field_box)
        self._evidence = None if evidence is None or evidence_rect is None else (
            evidence, tuple(float(v) for v in evidence_rect))
        self.update()

    def explain_overlay(self):
        """(field box, evidence rect) as shown now, each None when absent."""
        return self._field_box, None if self._evidence is None else self._evidence[1]

    def _paint_explain_overlay(self, painter: QPainter, paper: QRect, palette: QPalette) -> None:
        sx, sy = paper.width() / self._drawing.width, paper.height() / self._drawing.height

        def on_screen(rect) -> QRectF:
            left, top, width, height = rect
            return QRectF(paper.x() + left * sx, paper.y() + top * sy, width * sx, height * sy)

        painter.save()
        painter.setClipRect(paper)
        if self._evidence is not None:
            image, rect = self._evidence
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
            painter.drawImage(on_screen(rect), image)
        if self._field_box is not None:
            evidence_overlay.paint_patch(painter, on_screen(self._field_box), palette)
        painter.restore()

    # --- what the network reads ---------------------------------------------------------------
    def prepare_input(self, spec: InputSpec) -> Prepared | None:
        """The network's input for what the canvas shows now (None when there is no ink)."""
        strokes = self._drawing.strokes + ([self._live] if self._live else [])
        if self._backdrop is None:
            drawing = Drawing(self._drawing.width, self._drawing.height, strokes, self._drawing.pen_width)
            return preprocess.prepare_drawing(drawing, spec)
        ink = self._backdrop.ink
        if strokes:
            ink = np.maximum(ink, self._strokes_as_ink(strokes, ink.shape))
        return preprocess.prepare_field(preprocess.image_to_field(ink, spec.field, spec.box), spec)

    def _strokes_as_ink(self, strokes, shape) -> np.ndarray:
        """Strokes rendered white on black at the backdrop image's resolution."""
        height, width = shape
        image = QImage(width, height, QImage.Format.Format_Grayscale8)
        image.fill(0)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        scale = width / self._drawing.width
        painter.scale(scale, height / self._drawing.height)
        paint_strokes(painter, strokes, QColor(255, 255, 255), self._drawing.effective_pen_width)
        painter.end()
        return _qimage_to_array(image).astype(np.float32) / 255.0

    def render_image(self, scale: float = 1.0) -> QImage:
        """The drawing as dark ink on white paper, the drawing's size times ``scale``."""
        width = max(1, math.ceil(self._drawing.width * scale))
        height = max(1, math.ceil(self._drawing.height * scale))
        image = QImage(width, height, QImage.Format.Format_RGB32)
        image.fill(QColor(255, 255, 255))
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        if self._backdrop is not None:
            painter.drawImage(QRectF(0, 0, width, height), self._backdrop_qimage(QColor(0, 0, 0)))
        painter.scale(width / self._drawing.width, height / self._drawing.height)
        paint_strokes(painter, self._shared_drawing().strokes, QColor(0, 0, 0), self._drawing.effective_pen_width)
        painter.end()
        return image

    # --- internals ------------------------------------------------------------------------------------
    def _history_moved(self, _index: int) -> None:
        self.drawingCommitted.emit(self._shared_drawing())

    def _shared_drawing(self) -> Drawing:
        """The drawing for signals: a new list of the same strokes (read-only for receivers).

        Cheap on every pointer move, unlike drawing(), which copies every point.
        """
        strokes = self._drawing.strokes + ([list(self._live)] if self._live else [])
        return Drawing(self._drawing.width, self._drawing.height, strokes, self._drawing.pen_width)

    def _pen_width_for(self, drawing: Drawing) -> float:
        return self._pen_size * min(drawing.width, drawing.height) / REFERENCE_SIDE

    def _set_pen_size_quietly(self, size: float) -> None:
        size = float(min(max(size, MIN_PEN_SIZE), MAX_PEN_SIZE))
        if abs(size - self._pen_size) > 1e-9:
            self._pen_size = size
            self.penSizeChanged.emit(size)

    def _state(self) -> CanvasState:
        drawing = self._drawing
        return CanvasState(Drawing(drawing.width, drawing.height, list(drawing.strokes), drawing.pen_width),
                           self._backdrop)

    def _commit(self, after: CanvasState, text: str) -> None:
        self._cancel_live()
        before = self._state()
        self._restore(after)
        self._undo.push(_StateChanged(self, before, after, text))

    def _append_stroke(self, stroke) -> None:
        self._cancel_live()
        self._drawing.strokes.append(stroke)
        self._invalidate()
        self.drawingChanged.emit(self._shared_drawing())

    def _remove_last_stroke(self) -> None:
        self._cancel_live()
        if self._drawing.strokes:
            self._drawing.strokes.pop()
        self._invalidate()
        self.drawingChanged.emit(self._shared_drawing())

    def _restore(self, state: CanvasState) -> None:
        self._cancel_live()
        saved = state.drawing
        # A list of its own: the history's snapshot must not see later strokes appended.
        drawing = Drawing(saved.width, saved.height, list(saved.strokes), saved.pen_width)
        # The pen is the person's choice, not part of the history: keep it unless the
        # paper itself changes size.
        if (drawing.width, drawing.height) == (self._drawing.width, self._drawing.height):
            drawing.pen_width = self._pen_width_for(drawing)
        elif drawing.pen_width is not None:
            self._set_pen_size_quietly(drawing.pen_width * REFERENCE_SIDE / min(drawing.width, drawing.height))
        self._drawing = drawing
        self._backdrop = state.backdrop
        self._invalidate()
        self.drawingChanged.emit(self._shared_drawing())

    def _cancel_live(self) -> bool:
        """End an unfinished gesture before the state is replaced under it; True if a stroke was dropped."""
        dropped = bool(self._active == PEN and self._live)
        self._live = None
        self._live_layer = None
        self._active = None
        self._erase_before = None
        return dropped

    def _invalidate(self) -> None:
        self._ink_cache = None
        self._surface = None
        self.update()

    # --- geometry ---------------------------------------------------------------------------------------
    def paper_rect(self) -> QRect:
        """Where the paper lies in the widget (whole pixels, so the ink cache is crisp)."""
        return QRect(self._paper())  # a copy: callers may change theirs

    def _paper(self) -> QRect:
        """paper_rect, shared: for use here only, where it is never changed."""
        key = (self.width(), self.height(), self._drawing.width, self._drawing.height)
        if self._paper_key != key:  # needed several times per pointer move
            self._paper_rect, self._paper_key = self._fit_paper(), key
        return self._paper_rect

    def _fit_paper(self) -> QRect:
        avail = QRectF(self.rect()).adjusted(PAPER_MARGIN, PAPER_MARGIN, -PAPER_MARGIN, -PAPER_MARGIN)
        scale = max(1e-6, min(avail.width() / self._drawing.width, avail.height() / self._drawing.height))
        width, height = self._drawing.width * scale, self._drawing.height * scale
        left = avail.center().x() - width / 2
        top = avail.center().y() - height / 2
        return QRect(round(left), round(top), max(1, round(width)), max(1, round(height)))

    def _scale(self) -> float:
        return self._paper().width() / self._drawing.width

    def to_drawing(self, pos: QPointF) -> tuple[float, float]:
        """Widget position → drawing coordinates, kept on the paper."""
        paper = self._paper()
        scale = paper.width() / self._drawing.width
        x = (pos.x() - paper.x()) / scale
        y = (pos.y() - paper.y()) / (paper.height() / self._drawing.height)
        return (round(min(max(x, 0.0), self._drawing.width), 2), round(min(max(y, 0.0), self._drawing.height), 2))

    def to_widget(self, point: tuple[float, float]) -> QPointF:
        paper = self._paper()
        return QPointF(
            paper.x() + point[0] * paper.width() / self._drawing.width,
            paper.y() + point[1] * paper.height() / self._drawing.height,
        )

    def sizeHint(self) -> QSize:
        return QSize(440, 440)

    # --- gestures (mouse, tablet and touch all end up here) -------------------------------------------------
    def _begin(self, pos: QPointF, erasing: bool) -> None:
        if self._active is not None:
            self._end()
        point = self.to_drawing(pos)
        self._hover = pos
        if erasing:
            self._active = ERASER
            self._erase_before = self._state()
            self._erase_last = point
            self._erase_along([point])
            self.update()
        else:
            hint_shown = self.is_empty()
            self._active = PEN
            self._live = [point]
            self._live_layer_key = None
            if hint_shown:
                self.update()  # the "Draw a digit here" hint goes: the whole paper, not just the dot
            else:
                self._update_around(self._live)
            self.drawingChanged.emit(self._shared_drawing())

    def _extend(self, pos: QPointF) -> None:
        self._hover = pos
        point = self.to_drawing(pos)
        if self._active == PEN and self._live is not None:
            last = self._live[-1]
            if math.dist(point, last) * self._scale() < MIN_STEP:
                return
            self._live.append(point)
            self._update_around(self._live[-3:])
            self.drawingChanged.emit(self._shared_drawing())
        elif self._active == ERASER:
            self._erase_along([self._erase_last, point])
            self._erase_last = point
            self.update()

    def _end(self) -> None:
        if self._active == PEN and self._live:
            stroke = self._live  # from now on never changed: the history shares it
            self._live = None
            self._live_layer = None
            self._active = None
            self._drawing.strokes.append(stroke)
            self._invalidate()
            self._undo.push(_StrokeAdded(self, stroke))
        elif self._active == ERASER and self._erase_before is not None:
            before = self._erase_before
            self._active = None
            self._erase_before = None
            if before.drawing.strokes != self._drawing.strokes:
                self._undo.push(_StateChanged(self, before, self._state(), "Erase"))
        self._active = None

    def _erase_along(self, path) -> None:
        radius = self.eraser_radius() + self._drawing.effective_pen_width / 2
        strokes = erase(self._drawing.strokes, path, radius)
        if strokes != self._drawing.strokes:
            self._drawing.strokes = strokes  # a new list: the gesture's "before" keeps the old one
            self._invalidate()
            self.drawingChanged.emit(self._shared_drawing())

    def _update_around(self, points) -> None:
        """Repaint only the part the newest piece of stroke covers."""
        paper = self._paper()
        sx, sy = paper.width() / self._drawing.width, paper.height() / self._drawing.height
        xs = [paper.x() + p[0] * sx for p in points]
        ys = [paper.y() + p[1] * sy for p in points]
        reach = self._drawing.effective_pen_width * sx / 2 + 2
        self.update(QRectF(min(xs) - reach, min(ys) - reach, max(xs) - min(xs) + 2 * reach,
                           max(ys) - min(ys) + 2 * reach).toAlignedRect())

    # --- Qt input events ----------------------------------------------------------------------------
    def mousePressEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            self._begin(event.position(), self._tool == ERASER)
            event.accept()
        else:
            super().mousePressEvent(event)

    def mouseMoveEvent(self, event) -> None:
        if self._active is not None:
            self._extend(event.position())
        else:
            self._hover = event.position()
            if self._tool == ERASER:
                self.update()
        event.accept()

    def mouseReleaseEvent(self, event) -> None:
        if event.button() == Qt.MouseButton.LeftButton and self._active is not None:
            self._extend(event.position())
            self._end()
            event.accept()
        else:
            super().mouseReleaseEvent(event)

    def leaveEvent(self, event) -> None:
        self._hover = None
        self.update()
        super().leaveEvent(event)

    def tabletEvent(self, event) -> None:
        kind = event.type()
        if kind == QEvent.Type.TabletPress:
            flipped = event.pointerType() == QPointingDevice.PointerType.Eraser
            self._begin(event.position(), flipped or self._tool == ERASER)
        elif kind == QEvent.Type.TabletMove:
            if self._active is not None:
                self._extend(event.position())
            else:
                self._hover = event.position()
        elif kind == QEvent.Type.TabletRelease and self._active is not None:
            self._extend(event.position())
            self._end()
        event.accept()  # no synthesised mouse events: they would draw the stroke twice

    def event(self, event) -> bool:
        kind = event.type()
        if kind in _TOUCH_EVENTS:
            points = event.points()
            if points:
                pos = points[0].position()
                if kind == QEvent.Type.TouchBegin:
                    self._begin(pos, self._tool == ERASER)
                elif self._active is not None:
                    self._extend(pos)
            if kind in (QEvent.Type.TouchEnd, QEvent.Type.TouchCancel) and self._active is not None:
                self._end()
            event.accept()
            return True
        return super().event(event)

    def changeEvent(self, event) -> None:
        if event.type() == QEvent.Type.PaletteChange:
            self._invalidate()
        super().changeEvent(event)

    def resizeEvent(self, event) -> None:
        self._ink_cache = None
        self._surface = None
        super().resizeEvent(event)

    # --- painting --------------------------------------------------------------------------------------------
    def _backdrop_qimage(self, ink_color: QColor) -> QImage:
        """The backdrop as ink of ``ink_color`` with the ink's strength as alpha."""
        key = (id(self._backdrop), ink_color.rgba())
        if self._backdrop_key != key or self._backdrop_image is None:
            ink = self._backdrop.ink
            height, width = ink.shape
            argb = np.empty((height, width, 4), dtype=np.uint8)  # B, G, R, A in memory
            argb[..., 0], argb[..., 1], argb[..., 2] = ink_color.blue(), ink_color.green(), ink_color.red()
            argb[..., 3] = np.clip(ink * 255.0 + 0.5, 0, 255).astype(np.uint8)
            image = QImage(argb.data, width, height, width * 4, QImage.Format.Format_ARGB32)
            self._backdrop_image = image.copy()  # detach from the numpy buffer
            self._backdrop_key = key
        return self._backdrop_image

    def _ink_pixmap(self, paper: QRect, ink: QColor) -> QPixmap:
        """Backdrop and finished strokes, drawn once per change instead of on every repaint."""
        ratio = self.devicePixelRatioF()
        key = (paper.size().width(), paper.size().height(), ratio, ink.rgba())
        if self._ink_cache is not None and self._ink_cache_key == key:
            return self._ink_cache
        pixmap = QPixmap(max(1, round(paper.width() * ratio)), max(1, round(paper.height() * ratio)))
        pixmap.setDevicePixelRatio(ratio)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        if self._backdrop is not None:
            painter.drawImage(QRectF(0, 0, paper.width(), paper.height()), self._backdrop_qimage(ink))
        painter.scale(paper.width() / self._drawing.width, paper.height() / self._drawing.height)
        paint_strokes(painter, self._drawing.strokes, ink, self._drawing.effective_pen_width)
        painter.end()
        self._ink_cache, self._ink_cache_key = pixmap, key
        return pixmap

    def _live_layer_pixmap(self, paper: QRect, ink: QColor) -> QPixmap:
        """The finished curve pieces of the live stroke (all but its last half segment).

        stroke_path draws piece i (1 ≤ i ≤ n − 2) as a quadratic curve from the
        midpoint before point i, with point i as control, to the midpoint after it;
        here each piece is added once, as soon as the point after it exists.
        """
        ratio = self.devicePixelRatioF()
        key = (paper.width(), paper.height(), ratio, ink.rgba())
        if self._live_layer is None or self._live_layer_key != key:
            layer = QPixmap(max(1, round(paper.width() * ratio)), max(1, round(paper.height() * ratio)))
            layer.setDevicePixelRatio(ratio)
            layer.fill(Qt.GlobalColor.transparent)
            self._live_layer, self._live_layer_key, self._live_pieces = layer, key, 0
        points = self._live
        last_piece = len(points) - 2
        if last_piece > self._live_pieces:
            painter = QPainter(self._live_layer)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing)
            painter.scale(paper.width() / self._drawing.width, paper.height() / self._drawing.height)
            painter.setPen(self._ink_pen(ink))
            for i in range(self._live_pieces + 1, last_piece + 1):
                start = points[0] if i == 1 else _midpoint(points[i - 1], points[i])
                piece = QPainterPath(QPointF(*start))
                piece.quadTo(QPointF(*points[i]), QPointF(*_midpoint(points[i], points[i + 1])))
                painter.drawPath(piece)
            painter.end()
            self._live_pieces = last_piece
        return self._live_layer

    def _ink_pen(self, ink: QColor) -> QPen:
        """The pen of the stroke being drawn, made once per colour and width rather than per point."""
        key = (ink.rgba(), self._drawing.effective_pen_width)
        if self._pen_key != key:
            self._pen = QPen(ink, key[1], Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap, Qt.PenJoinStyle.RoundJoin)
            self._pen_key = key
        return self._pen

    def _paint_live_tail(self, painter: QPainter, ink: QColor) -> None:
        """The live stroke's last half segment, which moves with every new point."""
        points = self._live
        painter.setPen(self._ink_pen(ink))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        if len(points) == 1:
            painter.drawPoint(QPointF(*points[0]))  # a dot: the round cap makes it a disc
            return
        start = points[0] if len(points) == 2 else _midpoint(points[-2], points[-1])
        painter.drawPath(stroke_path([start, points[-1]]))

    def _surface_pixmap(self, paper: QRect, palette: QPalette) -> QPixmap:
        """The window around the paper, the paper and its frame, the finished ink and the hint."""
        ratio = self.devicePixelRatioF()
        focus = self.hasFocus()
        hint = self.is_empty()
        key = (ratio, focus, hint)  # a resize, a new paper size or new colours drop the pixmap themselves
        if self._surface is not None and self._surface_key == key:
            return self._surface
        ink = palette.color(QPalette.ColorRole.Text)
        pixmap = QPixmap(max(1, round(self.width() * ratio)), max(1, round(self.height() * ratio)))
        pixmap.setDevicePixelRatio(ratio)
        painter = QPainter(pixmap)
        painter.fillRect(self.rect(), palette.color(QPalette.ColorRole.Window))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        frame = palette.color(QPalette.ColorRole.Highlight) if focus else palette.color(QPalette.ColorRole.Mid)
        painter.setPen(QPen(frame, 2 if focus else 1))
        painter.setBrush(palette.color(QPalette.ColorRole.Base))
        painter.drawRoundedRect(QRectF(paper).adjusted(-1.5, -1.5, 1.5, 1.5), 4, 4)
        painter.drawPixmap(paper.topLeft(), self._ink_pixmap(paper, ink))
        if hint:
            painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
            font = QFont(self.font())
            font.setPointSizeF(font.pointSizeF() * 1.3)
            painter.setFont(font)
            painter.drawText(paper, Qt.AlignmentFlag.AlignCenter, "Draw a digit here")
        painter.end()
        self._surface, self._surface_key = pixmap, key
        return pixmap

    def paintEvent(self, event) -> None:
        palette = self.palette()
        paper = self._paper()
        painter = QPainter(self)
        painter.drawPixmap(0, 0, self._surface_pixmap(paper, palette))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        if self._live:
            ink = palette.color(QPalette.ColorRole.Text)
            painter.drawPixmap(paper.topLeft(), self._live_layer_pixmap(paper, ink))
            painter.save()
            painter.setClipRect(paper)
            painter.translate(paper.topLeft())
            painter.scale(paper.width() / self._drawing.width, paper.height() / self._drawing.height)
            self._paint_live_tail(painter, ink)
            painter.restore()

        if self._field_box is not None or self._evidence is not None:
            self._paint_explain_overlay(painter, paper, palette)
        if self._tool == ERASER and self._hover is not None and (self.underMouse() or self._active == ERASER):
            radius = self.eraser_radius() * self._scale()
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(QPen(palette.color(QPalette.ColorRole.Base), 3))
            painter.drawEllipse(self._hover, radius, radius)
            painter.setPen(QPen(palette.color(QPalette.ColorRole.Text), 1.2))
            painter.drawEllipse(self._hover, radius, radius)
        painter.end()
