"""One unit's computation drawn as a student would write it down.

``GridTable`` paints the rows of small grids of an Explanation (for a
convolution: per input channel the patch, the kernel slice and their products;
for a pooling unit: its window); ``ExplanationView`` adds the weighted-sum terms
(with links to their source units), the working line by line and the verdict:
the value onnxruntime returned, ✓ when the working agrees with it.

Drawing only: the numbers come from ``lenet_gui.core.explain``.
"""

from __future__ import annotations

import html
import math

import numpy as np
from PySide6.QtCore import QPointF, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontDatabase, QFontMetrics, QPainter, QPalette, QPen
from PySide6.QtWidgets import QLabel, QSizePolicy, QToolTip, QVBoxLayout, QWidget

from lenet_gui.core.explanation import Explanation, Grid, Term
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
TOP_TERMS = 12  # terms listed one by one; the rest are summed in one line


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


def _readable_on(color: QColor) -> QColor:
    """Black or white text, whichever reads better on ``color``."""
    luminance = 0.299 * color.red() + 0.587 * color.green() + 0.114 * color.blue()
    return QColor(20, 20, 24) if luminance > 140 else QColor(245, 245, 245)


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
        self._ramps: dict[tuple[bool, bool], list[QColor]] = {}
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
    def _ramp(self, signed: bool, dark: bool) -> list[QColor]:
        key = (signed, dark)
        if key not in self._ramps:
            self._ramps[key] = theme.ramp_colors(signed, dark, 101)
        return self._ramps[key]

    def _fill(self, value: float, signed: bool, scale: float, dark: bool) -> QColor:
        ramp = self._ramp(signed, dark)
        if not math.isfinite(value):
            return QColor(128, 128, 128)
        t = value / scale
        position = (t + 1) / 2 if signed else t
        return ramp[int(round(min(max(position, 0.0), 1.0) * (len(ramp) - 1)))]

    def paintEvent(self, event) -> None:
        palette = self.palette()
        dark = theme.is_dark(palette)
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        text_color = palette.color(QPalette.ColorRole.WindowText)
        dim = palette.color(QPalette.ColorRole.PlaceholderText)
        frame = palette.color(QPalette.ColorRole.Mid)
        small = QFont(self.font())
        small.setPointSizeF(max(6.5, self.font().pointSizeF() * 0.78))
        cell_font = QFont(small)
        if self._cell < 30:
            cell_font.setPointSizeF(max(6.0, small.pointSizeF() * 0.9))
        show_values = self._cell >= VALUE_CELL
        wide = self._cell >= WIDE_CELL
        hatch = QBrush(dim, Qt.BrushStyle.BDiagPattern)
        pad_fill = palette.color(QPalette.ColorRole.Window).darker(112 if not dark else 80)
        outline = theme.highlight_outline(palette)
        for r, g, rect in self._layout_rects():
            grid = self._rows[r][g]
            values = np.asarray(grid.values, dtype=float)
            values = values if values.ndim == 2 else values.reshape(1, -1)
            signed = bool(grid.signed) or bool(np.nanmin(values) < 0) if values.size else grid.signed
            scale = self._scales.get((r, g), 1.0)
            padding = None if grid.padding is None else np.asarray(grid.padding, dtype=bool).reshape(values.shape)
            painter.setFont(small)
            painter.setPen(dim)
            last = g == len(self._rows[r]) - 1  # the last title may run on to the widget's edge
            room = self.width() - rect.x() if last else rect.width() + GRID_GAP - 4
            title_rect = QRectF(rect.x(), rect.y() - TITLE_HEIGHT, max(room, 40), TITLE_HEIGHT)
            painter.drawText(title_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             QFontMetrics(small).elidedText(grid.title, Qt.TextElideMode.ElideRight, int(title_rect.width())))
            painter.setFont(cell_font)
            c = self._cell
            for i in range(values.shape[0]):
                for j in range(values.shape[1]):
                    cell = QRect(rect.x() + j * c, rect.y() + i * c, c, c)
                    if padding is not None and padding[i, j]:
                        painter.fillRect(cell, pad_fill)
                        painter.fillRect(cell, hatch)
                        if c >= 22:
                            painter.setPen(dim)
                            painter.drawText(cell, Qt.AlignmentFlag.AlignCenter, "pad")
                        continue
                    fill = self._fill(values[i, j], signed, scale, dark)
                    painter.fillRect(cell, fill)
                    if show_values:
                        painter.setPen(_readable_on(fill))
                        painter.drawText(cell, Qt.AlignmentFlag.AlignCenter, cell_text(values[i, j], wide))
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
                total = float(np.nansum(values))
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

    def mousePressEvent(self, event) -> None:
        hit = self.cell_at(event.position())
        if hit is not None and event.button() == Qt.MouseButton.LeftButton:
            self.cellClicked.emit(*hit)
            event.accept()
            return
        super().mousePressEvent(event)


class ExplanationView(QWidget):
    """Grids, terms, working and verdict of one Explanation."""

    #: A listed term was clicked: (its source layer name, its source unit).
    sourceClicked = Signal(str, tuple)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("explanationView")
        self.explanation: Explanation | None = None
        self._titles: dict[str, str] = {}
        self._listed: list[Term] = []
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)

        self.grids = GridTable(self)
        self.grids.cellClicked.connect(self._cell_clicked)
        self.terms = QLabel(self)
        self.terms.setObjectName("explanationTerms")
        self.terms.setTextFormat(Qt.TextFormat.RichText)
        self.terms.setOpenExternalLinks(False)
        self.terms.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse
                                           | Qt.TextInteractionFlag.LinksAccessibleByKeyboard)
        self.terms.linkActivated.connect(self._link)
        self.steps = QLabel(self)
        self.steps.setObjectName("explanationSteps")
        self.steps.setTextFormat(Qt.TextFormat.RichText)
        self.steps.setFont(mono)
        self.steps.setWordWrap(True)
        self.steps.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.verdict = QLabel(self)
        self.verdict.setObjectName("explanationVerdict")
        self.verdict.setTextFormat(Qt.TextFormat.RichText)
        self.verdict.setWordWrap(True)
        self.verdict.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 8)
        layout.setSpacing(8)
        layout.addWidget(self.grids)
        layout.addWidget(self.terms)
        layout.addWidget(self.steps)
        layout.addWidget(self.verdict)
        layout.addStretch(1)
        self.show_message("Click a unit in the layer panel, or move to one with the arrow keys and press Enter.")

    def set_titles(self, titles: dict[str, str]) -> None:
        """Short names of the layers for the term links (layer name → e.g. "C3")."""
        self._titles = dict(titles)

    def show_message(self, text: str) -> None:
        self.explanation = None
        self._listed = []
        self.grids.set_rows([], False)
        self.grids.hide()
        self.terms.hide()
        self.steps.hide()
        self.verdict.setText(html.escape(text))

    def show_explanation(self, explanation: Explanation) -> None:
        self.explanation = explanation
        palette = self.palette()
        if not explanation.explained:
            self.show_message("")
            self.explanation = explanation
            self.verdict.setText(f"<span style='color:{theme.bad_color(palette).name()}'>Not explained:</span> "
                                 f"{html.escape(explanation.reason or 'this operation is not covered')}")
            return
        has_grids = bool(explanation.rows)
        self.grids.set_rows(explanation.rows, products=explanation.kind == "conv")
        self.grids.setVisible(has_grids)
        # A conv's or pool's grids are its terms; a softmax row still links to its logits.
        self._show_terms(explanation, listed_as_grids=explanation.kind in ("conv", "pool"))
        self._show_steps(explanation)
        self.verdict.setText(self.verdict_html(explanation, palette))

    @staticmethod
    def verdict_html(explanation: Explanation, palette: QPalette) -> str:
        """The working's value beside onnxruntime's, ✓ or ✗, and the tolerance the check used."""
        worked = f"Worked out: <b>{html.escape(number(explanation.value, 6))}</b>"
        runtime = f"onnxruntime: <b>{html.escape(number(explanation.runtime_value, 6))}</b>"
        agrees = explanation.agrees
        tolerance = f"{explanation.tolerance:g}"
        dim = palette.color(QPalette.ColorRole.PlaceholderText).name()
        if agrees is True:
            color = theme.ok_color(palette).name()
            return (f"{worked} &nbsp;·&nbsp; {runtime} <span style='color:{color}; font-weight:bold; "
                    f"font-size:large'>✓</span><br><span style='color:{dim}'>The two agree within {tolerance} "
                    f"relative.</span>")
        if agrees is False:
            color = theme.bad_color(palette).name()
            return (f"{worked} &nbsp;·&nbsp; {runtime} <span style='color:{color}; font-weight:bold; "
                    f"font-size:large'>✗</span><br><span style='color:{color}'>The two differ by more than "
                    f"{tolerance} relative.</span>")
        if explanation.value is None:
            return f"{runtime}<br><span style='color:{dim}'>There is no working to compare it with.</span>"
        return f"{worked}<br><span style='color:{dim}'>onnxruntime's value is not known for this unit.</span>"

    def _source_name(self, term: Term) -> str:
        where = ", ".join(str(i) for i in term.source_unit)
        if term.source_layer is None:
            return f"input ({where})"
        return f"{self._titles.get(term.source_layer, term.source_layer)} ({where})"

    def _show_terms(self, explanation: Explanation, listed_as_grids: bool) -> None:
        terms = list(explanation.terms)
        if listed_as_grids or not terms:
            self._listed = []
            self.terms.hide()
            return
        listed = terms[:TOP_TERMS]
        self._listed = listed
        dim = self.palette().color(QPalette.ColorRole.PlaceholderText).name()
        link = self.palette().color(QPalette.ColorRole.Link).name()
        if explanation.kind != "dense":  # not a weighted sum: the inputs this unit was read from
            head = "Read from" if len(listed) == 1 else "Inputs"
            lines = [f"<b>{head}</b> <span style='color:{dim}'>(click to explain it)</span><br>"]
            for k, term in enumerate(listed):
                source = html.escape(self._source_name(term))
                target = source if term.source_layer is None else f"<a href='term:{k}' style='color:{link}'>{source}</a>"
                lines.append(f"{target} = {html.escape(number(term.value))}<br>")
            self.terms.setText("".join(lines))
            self.terms.show()
            return
        pos = theme.bad_color(self.palette()).name()  # warm: adds
        neg = theme.highlight_outline(self.palette()).name()  # cool: takes away
        head = "Largest contributions w · x" if len(terms) > 1 else "The input"
        lines = [f"<b>{head}</b> <span style='color:{dim}'>(sorted by size; click a source to explain it)</span>",
                 "<table cellspacing='0' cellpadding='1'>"]
        for k, term in enumerate(listed):
            color = pos if term.product >= 0 else neg
            source = html.escape(self._source_name(term))
            if term.padding:
                source = f"{source}, padding"
            target = source if term.padding else f"<a href='term:{k}' style='color:{link}'>{source}</a>"
            lines.append(
                f"<tr><td align='right'>{html.escape(number(term.weight))}</td><td>&nbsp;×&nbsp;</td>"
                f"<td align='right'>{html.escape(number(term.value))}</td><td>&nbsp;=&nbsp;</td>"
                f"<td align='right' style='color:{color}'><b>{html.escape(number(term.product))}</b></td>"
                f"<td>&nbsp;&nbsp;{target}</td></tr>")
        lines.append("</table>")
        unlisted = terms[TOP_TERMS:]
        rest_parts = []
        if unlisted:
            rest_parts.append(f"{len(unlisted)} smaller terms add up to {number(sum(t.product for t in unlisted))}")
        if explanation.rest is not None:
            rest_parts.append(explanation.rest.text)
        if rest_parts:
            lines.append(f"<span style='color:{dim}'>{html.escape('; '.join(rest_parts))}</span>")
        self.terms.setText("".join(lines))
        self.terms.show()

    def _show_steps(self, explanation: Explanation) -> None:
        if not explanation.steps:
            self.steps.hide()
            return
        # A step's text already carries its number ("+ bias 0.0237 = −1.2967").
        self.steps.setText("<br>".join(html.escape(step.text) for step in explanation.steps))
        self.steps.show()

    # --- walking back ----------------------------------------------------------------------------
    def listed_terms(self) -> list[Term]:
        return list(self._listed)

    def activate_term(self, k: int) -> bool:
        """Select the source unit of listed term ``k`` (what clicking its link does)."""
        if not 0 <= k < len(self._listed):
            return False
        term = self._listed[k]
        if term.source_layer is None or term.padding:
            return False
        self.sourceClicked.emit(term.source_layer, tuple(term.source_unit))
        return True

    def _link(self, href: str) -> None:
        if href.startswith("term:"):
            self.activate_term(int(href.split(":", 1)[1]))

    def _cell_clicked(self, row: int, grid: int, i: int, j: int) -> None:
        """A patch cell of a conv or pool row: walk back to the input unit it shows, when known."""
        explanation = self.explanation
        if explanation is None:
            return
        source = _grid_source(explanation, row, grid, i, j)
        if source is not None:
            self.sourceClicked.emit(*source)


def _grid_source(explanation: Explanation, row: int, grid: int, i: int, j: int):
    """(layer, unit) behind cell (i, j) of a row's input patch: the term that read it, when there is one.

    The cell's input position comes from where the window was taken (start,
    dilation); the term with that source unit confirms it and names the layer,
    so a cell never links to a unit the working did not use.
    """
    if grid != 0 or row >= len(explanation.rows) or not explanation.terms:
        return None
    window = explanation.window if isinstance(explanation.window, dict) else {}
    start, dilation = window.get("start"), window.get("dilation") or [1, 1]
    if start is None or len(start) != 2:
        return None
    if explanation.kind == "conv":
        first = (window.get("input_channels") or [0])[0]
        channel = int(first) + row
    elif explanation.kind == "pool" and explanation.unit:
        channel = int(explanation.unit[0])
    else:
        return None
    wanted = (channel, int(start[0]) + i * int(dilation[0]), int(start[1]) + j * int(dilation[1]))
    for term in explanation.terms:
        if tuple(term.source_unit)[-3:] == wanted and not term.padding:
            return (term.source_layer, tuple(term.source_unit)) if term.source_layer else None
    return None
