"""The terms of a weighted sum, ``w × x = product  ← source``, each source a link.

Painted, not rich text: the inspector follows the pen, and laying out an HTML
table of a dozen rows on every frame cost more than a frame (25 ms). Columns
have fixed widths, so a new frame repaints the numbers without a relayout.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QFont, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

from lenet_gui.ui import theme

GAP = 6


@dataclass
class TermRow:
    weight: str  # "" for a plain input (no weight to show)
    value: str
    product: str
    positive: bool
    source: str
    linked: bool  # the source is a unit one can walk back to


class TermsTable(QWidget):
    """A header, rows of terms and a closing line; ``termClicked(k)`` when row k's source is clicked."""

    termClicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("explanationTerms")
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setToolTip("Click a source to explain that unit; with the focus here, Enter follows the current row")
        self.header = ""
        self.hint = ""
        self.footer = ""
        self.weighted = True
        self.rows: list[TermRow] = []
        self.current = 0
        self._lines = -1

    def set_content(self, header: str, hint: str, rows: list[TermRow], footer: str, weighted: bool) -> None:
        self.header, self.hint, self.rows, self.footer, self.weighted = header, hint, rows, footer, weighted
        self.current = min(self.current, max(len(rows) - 1, 0))
        lines = 1 + len(rows) + (1 if footer else 0)
        if lines != self._lines:  # the height changes only with the number of rows
            self._lines = lines
            self.setFixedHeight(lines * self._row_height() + 4)
        self.update()

    def text(self) -> str:
        """Everything shown, as plain lines (tests and accessibility)."""
        lines = [f"{self.header} {self.hint}".strip()]
        for row in self.rows:
            if self.weighted:
                lines.append(f"{row.weight} × {row.value} = {row.product}  {row.source}")
            else:
                lines.append(f"{row.source} = {row.value}")
        if self.footer:
            lines.append(self.footer)
        return "\n".join(lines)

    # --- geometry ------------------------------------------------------------------------------------
    def _row_height(self) -> int:
        return QFontMetrics(self.font()).height() + 2

    def _columns(self) -> tuple[float, float, float, float]:
        """x of the right edges of weight, value and product, and where the source starts.

        Widths follow the numbers shown (a paint-time measure: the height never changes for it).
        """
        if not self.weighted:
            return 0.0, 0.0, 0.0, 0.0
        metrics = QFontMetrics(self.font())
        bold = QFont(self.font())
        bold.setBold(True)
        heavy = QFontMetrics(bold)
        sign = metrics.horizontalAdvance(" × ")
        widest = metrics.horizontalAdvance("0.0000")
        weight = max([widest] + [metrics.horizontalAdvance(r.weight) for r in self.rows])
        value = weight + sign + max([widest] + [metrics.horizontalAdvance(r.value) for r in self.rows])
        product = value + sign + max([widest] + [heavy.horizontalAdvance(r.product) for r in self.rows])
        return weight, value, product, product + GAP * 2

    def source_rect(self, k: int) -> QRectF:
        metrics = QFontMetrics(self.font())
        top = (1 + k) * self._row_height() + 2
        if self.weighted:
            left = self._columns()[3]
        else:
            left = 0.0
        width = metrics.horizontalAdvance(self.rows[k].source) if 0 <= k < len(self.rows) else 0
        return QRectF(left, top, width, self._row_height())

    def row_at(self, pos) -> int | None:
        k = int((pos.y() - 2) // self._row_height()) - 1
        if 0 <= k < len(self.rows) and self.rows[k].linked and self.source_rect(k).contains(pos):
            return k
        return None

    def sizeHint(self) -> QSize:
        return QSize(480, self.height())

    # --- painting ---------------------------------------------------------------------------------------
    def paintEvent(self, event) -> None:
        palette = self.palette()
        painter = QPainter(self)
        height = self._row_height()
        text = palette.color(QPalette.ColorRole.WindowText)
        dim = palette.color(QPalette.ColorRole.PlaceholderText)
        link = palette.color(QPalette.ColorRole.Link)
        warm, cool = theme.bad_color(palette), theme.highlight_outline(palette)
        bold = QFont(self.font())
        bold.setBold(True)
        underlined = QFont(self.font())
        underlined.setUnderline(True)
        left_middle = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        right_middle = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
        painter.setFont(bold)
        painter.setPen(text)
        head_width = QFontMetrics(bold).horizontalAdvance(self.header)
        painter.drawText(QRectF(0, 2, head_width + 2, height), left_middle, self.header)
        painter.setFont(self.font())
        painter.setPen(dim)
        painter.drawText(QRectF(head_width + GAP, 2, self.width(), height), left_middle, self.hint)
        weight_x, value_x, product_x, source_x = self._columns()
        sign = QFontMetrics(self.font()).horizontalAdvance(" × ")
        focused = self.hasFocus()
        for k, row in enumerate(self.rows):
            top = (1 + k) * height + 2
            if self.weighted:
                painter.setFont(self.font())
                painter.setPen(text)
                painter.drawText(QRectF(0, top, weight_x, height), right_middle, row.weight)
                painter.drawText(QRectF(weight_x, top, sign, height), Qt.AlignmentFlag.AlignCenter, "×")
                painter.drawText(QRectF(weight_x + sign, top, value_x - weight_x - sign, height), right_middle, row.value)
                painter.drawText(QRectF(value_x, top, sign, height), Qt.AlignmentFlag.AlignCenter, "=")
                painter.setFont(bold)
                painter.setPen(warm if row.positive else cool)
                painter.drawText(QRectF(value_x + sign, top, product_x - value_x - sign, height), right_middle,
                                 row.product)
            source = self.source_rect(k)
            painter.setFont(underlined if row.linked else self.font())
            painter.setPen(link if row.linked else dim)
            painter.drawText(source.adjusted(0, 0, 4, 0), left_middle, row.source)
            if not self.weighted:
                painter.setFont(self.font())
                painter.setPen(text)
                painter.drawText(QRectF(source.right() + 4, top, self.width(), height), left_middle, f"= {row.value}")
            if focused and k == self.current:
                painter.setPen(theme.highlight_outline(palette))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRect(source.adjusted(-2, 0, 3, -1))
        if self.footer:
            painter.setFont(self.font())
            painter.setPen(dim)
            top = (1 + len(self.rows)) * height + 2
            painter.drawText(QRectF(0, top, self.width(), height), left_middle, self.footer)
        painter.end()

    # --- pointer and keyboard -------------------------------------------------------------------------
    def mouseMoveEvent(self, event) -> None:
        linked = self.row_at(event.position()) is not None
        self.setCursor(Qt.CursorShape.PointingHandCursor if linked else Qt.CursorShape.ArrowCursor)

    def mousePressEvent(self, event) -> None:
        k = self.row_at(event.position())
        if event.button() == Qt.MouseButton.LeftButton and k is not None:
            self.current = k
            self.termClicked.emit(k)
            event.accept()
            return
        super().mousePressEvent(event)

    def keyPressEvent(self, event) -> None:
        if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter) and self.rows:
            self.termClicked.emit(self.current)
            return
        if event.key() in (Qt.Key.Key_PageDown, Qt.Key.Key_PageUp) and self.rows:
            step = 1 if event.key() == Qt.Key.Key_PageDown else -1
            self.current = min(max(self.current + step, 0), len(self.rows) - 1)
            self.update()
            return
        super().keyPressEvent(event)
