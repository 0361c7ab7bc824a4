"""One unit's computation drawn as a student would write it down.

``GridTable`` (explanation_grids.py) paints the rows of small grids of an
Explanation; ``ExplanationView`` adds the weighted-sum terms (with links to
their source units), the working line by line and the verdict: the value
onnxruntime returned, ✓ when the working agrees with it.

Drawing only: the numbers come from ``lenet_gui.core.explain``.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase, QPalette
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from lenet_gui.core.explanation import Explanation, Term
from lenet_gui.ui import theme
from lenet_gui.ui.explanation_grids import GridTable, number
from lenet_gui.ui.explanation_terms import TermRow, TermsTable

TOP_TERMS = 12  # terms listed one by one; the rest are summed in one line
# What the colours of the grids mean, by kind of explanation.
GRID_KEYS = {
    "conv": "Each row is one input channel: its patch × the kernel's slice = the products, and their sum Σ. "
            "Kernels and products: blue below zero, red above; patches dark at zero, bright at the largest "
            "value (one scale for all patches). Hatched cells are padding. Hover a cell for its exact value; "
            "click a patch cell to explain the unit it shows.",
    "pool": "The window over the input: dark at zero, bright at its largest value. Hatched cells are "
            "padding. Click a cell to explain that unit.",
    "max pool": "The window over the input: dark at zero, bright at its largest value; the outlined cell is "
                "the largest, the one max pooling passes on. Click a cell to explain that unit.",
    "other": "Blue below zero, red above (or dark to bright where all are positive); hover a cell for its "
             "exact value.",
}


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
        self.grids.source_of = self._cell_source_text
        self.terms = TermsTable(self)
        self.terms.termClicked.connect(self.activate_term)
        self.key = QLabel(self)
        self.key.setObjectName("explanationKey")
        self.key.setWordWrap(True)
        self.key.setForegroundRole(QPalette.ColorRole.PlaceholderText)
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
        layout.addWidget(self.key)
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
        self.key.hide()
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
        kind = explanation.kind
        if kind == "pool" and any(g.highlight is not None for row in explanation.rows for g in row):
            kind = "max pool"
        key = GRID_KEYS.get(kind, GRID_KEYS["other"]) if has_grids else ""
        if self.key.text() != key:  # the same every frame: no relayout while the pen moves
            self.key.setText(key)
        self.key.setVisible(bool(key))
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
        weighted = explanation.kind == "dense"
        rows = []
        for term in listed:
            source = self._source_name(term) + (", padding" if term.padding else "")
            rows.append(TermRow(number(term.weight), number(term.value), number(term.product), term.product >= 0,
                                source, term.source_layer is not None and not term.padding))
        rest_parts = []
        unlisted = terms[TOP_TERMS:]
        if unlisted:
            rest_parts.append(f"{len(unlisted)} smaller terms add up to {number(sum(t.product for t in unlisted))}")
        if explanation.rest is not None:
            rest_parts.append(explanation.rest.text)
        if weighted:
            header = "Largest contributions w × x" if len(terms) > 1 else "The input"
            hint = "(sorted by size; click a source to explain it)"
        else:  # not a weighted sum: the inputs this unit was read from
            header, hint = ("Read from" if len(listed) == 1 else "Inputs"), "(click to explain it)"
        self.terms.set_content(header, hint, rows, "; ".join(rest_parts), weighted)
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

    def _cell_source_text(self, row: int, grid: int, i: int, j: int) -> str | None:
        source = None if self.explanation is None else _grid_source(self.explanation, row, grid, i, j)
        if source is None:
            return None
        layer, unit = source
        return f"{self._titles.get(layer, layer)} ({', '.join(str(k) for k in unit)})"

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
