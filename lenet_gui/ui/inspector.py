"""The unit inspector: a dock that shows how one unit of one layer was computed.

It follows the pen: every new Result explains the same unit again with the new
numbers. Previous/Next step the unit across its map in row-major order, the
way a kernel slides; Play walks a whole row or map at a readable pace (Space
pauses). The arithmetic is the Explainer's (lenet_gui.core.explain); this file
only chooses the unit and hands the Explanation to ExplanationView.

objectName ``unitInspector``.
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QKeySequence, QPalette, QShortcut
from PySide6.QtWidgets import (
    QComboBox,
    QDockWidget,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from lenet_gui.core import unit_cursor
from lenet_gui.core.explanation import PROBABILITIES, Explanation, layer_id
from lenet_gui.ui.explanation_view import ExplanationView

DEFAULT_RATE = 4  # units a second while playing: slow enough to read the sum change
MAX_RATE = 30
PLAY_SCOPES = (("Row", unit_cursor.ROW), ("Map", unit_cursor.MAP))


class InspectorDock(QDockWidget):
    """Select a unit with ``select``; feed results with ``show_result``."""

    #: (layer name, unit, Explanation or None) after every new explanation or selection.
    unitShown = Signal(str, tuple, object)
    #: (layer name): a "Feeds" link was clicked; the window picks the unit there (see forward_unit).
    forwardRequested = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Unit Inspector", parent)
        self.setObjectName("unitInspector")
        self.setAllowedAreas(Qt.DockWidgetArea.RightDockWidgetArea | Qt.DockWidgetArea.LeftDockWidgetArea
                             | Qt.DockWidgetArea.BottomDockWidgetArea)
        self.explainer = None
        self.problem = ""  # why there is no explainer
        self._layers: dict[str, object] = {}
        self._titles: dict[str, str] = {}
        self.result = None
        self.layer_name: str | None = None
        self.unit: tuple[int, ...] | None = None
        self.explanation: Explanation | None = None
        self.input_size: tuple[int, int] | None = None  # the network input's height and width
        self.class_layer: str | None = None  # the layer whose units are the classes (the logits)
        self.class_labels: list[str] = []

        body = QWidget(self)
        body.setObjectName("inspectorBody")
        self.heading = QLabel("No unit selected", body)
        self.heading.setObjectName("inspectorHeading")
        font = self.heading.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.1)
        self.heading.setFont(font)
        self.heading.setWordWrap(True)
        self.where = QLabel("", body)
        self.where.setObjectName("inspectorWhere")
        self.where.setWordWrap(True)
        self.where.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.feeds = QLabel("", body)
        self.feeds.setObjectName("inspectorFeeds")
        self.feeds.setWordWrap(True)
        self.feeds.setTextFormat(Qt.TextFormat.RichText)
        self.feeds.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse)
        self.feeds.linkActivated.connect(self._feed_clicked)
        self.feeds_for = None  # layer name → [(consumer layer name, its title)], set by the window
        self._feeds: list[tuple[str, str]] = []
        self._feeds_layer = None

        self.previous = QPushButton("◀ Previous", body)
        self.previous.setToolTip("The unit before this one, row by row (Left arrow)")
        self.previous.clicked.connect(lambda: self.step(-1))
        self.next = QPushButton("Next ▶", body)
        self.next.setToolTip("The next unit, row by row, like a sliding kernel (Right arrow)")
        self.next.clicked.connect(lambda: self.step(1))
        self.play_button = QPushButton("Play", body)
        self.play_button.setObjectName("inspectorPlay")
        self.play_button.setCheckable(True)
        self.play_button.setToolTip("Step through the whole row or map on its own (Space pauses)")
        self.play_button.toggled.connect(self._play_toggled)
        self.scope = QComboBox(body)
        self.scope.setAccessibleName("What Play walks through")
        for text, key in PLAY_SCOPES:
            self.scope.addItem(f"the {text.lower()}", key)
        self.scope.setCurrentIndex(1)
        self.rate = QSpinBox(body)
        self.rate.setAccessibleName("Units per second while playing")
        self.rate.setRange(1, MAX_RATE)
        self.rate.setValue(DEFAULT_RATE)
        self.rate.setSuffix(" units/s")
        self.rate.valueChanged.connect(self._rate_changed)
        for widget in (self.previous, self.next, self.play_button, self.scope, self.rate):
            widget.setFocusPolicy(Qt.FocusPolicy.TabFocus)  # a click leaves the keys with the inspector
        for button in (self.previous, self.next, self.play_button):
            button.clicked.connect(self._take_keys)

        navigation = QHBoxLayout()
        navigation.setSpacing(6)
        navigation.addWidget(self.previous)
        navigation.addWidget(self.next)
        navigation.addSpacing(8)
        navigation.addWidget(self.play_button)
        navigation.addWidget(self.scope)
        navigation.addWidget(self.rate)
        navigation.addStretch(1)

        self.view = ExplanationView()
        self.view.sourceClicked.connect(self.select)
        self.scroll = QScrollArea(body)
        self.scroll.setObjectName("inspectorScroll")
        self.scroll.setWidgetResizable(True)
        self.scroll.setFrameShape(QFrame.Shape.NoFrame)
        self.scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.scroll.setWidget(self.view)
        self.scroll.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # its arrow keys step units instead of scrolling

        layout = QVBoxLayout(body)
        layout.setContentsMargins(8, 4, 4, 4)
        layout.setSpacing(6)
        layout.addWidget(self.heading)
        layout.addWidget(self.where)
        layout.addWidget(self.feeds)
        layout.addLayout(navigation)
        layout.addWidget(self.scroll, 1)
        body.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        body.setMinimumWidth(380)  # narrower still works: the cells drop their numbers, tooltips stay
        self.setWidget(body)
        self.setFocusProxy(body)

        self.timer = QTimer(self)
        self.timer.setInterval(1000 // DEFAULT_RATE)
        self.timer.timeout.connect(self.advance)

        # The keys work wherever the focus is inside the dock, not only on its background.
        context = Qt.ShortcutContext.WidgetWithChildrenShortcut
        for key, slot in ((Qt.Key.Key_Left, lambda: self.step(-1)), (Qt.Key.Key_Right, lambda: self.step(1)),
                          (Qt.Key.Key_Up, lambda: self.step_row(-1)), (Qt.Key.Key_Down, lambda: self.step_row(1)),
                          (Qt.Key.Key_Space, self.toggle_play)):
            shortcut = QShortcut(QKeySequence(key), body)
            shortcut.setContext(context)
            shortcut.activated.connect(slot)
        self._update_buttons()

    # --- the model ------------------------------------------------------------------------------------
    def set_explainer(self, explainer, layers, titles: dict[str, str], problem: str = "") -> None:
        """A new model: its Explainer (None, with ``problem`` saying why), its layers and their titles."""
        self.pause()
        self.explainer = explainer
        self.problem = problem
        self.result = None  # the previous model's numbers; the new model's first result comes next
        self._layers = {layer_id(layer): layer for layer in layers}
        self._titles = dict(titles)
        self.view.set_titles(titles)  # "C1 · ReLU", not just "C1": C1's conv and its ReLU share the tag
        self._feeds_layer = None  # the links to the next layers are worked out again
        if self.layer_name not in self._layers:
            self.layer_name, self.unit, self.explanation = None, None, None
            self.heading.setText("No unit selected")
            self.where.setText("")
            self.view.show_message("Click a unit in the layer panel, or move to one with the arrow keys and press Enter.")
        self._update_buttons()

    def titles(self) -> dict[str, str]:
        return dict(self._titles)

    def shape(self) -> tuple[int, ...] | None:
        if self.layer_name == PROBABILITIES:
            return None if self.result is None else (len(self.result.probabilities),)
        layer = self._layers.get(self.layer_name)
        if layer is None:
            return None
        if self.result is not None and layer.output in self.result.activations:
            return tuple(self.result.activations[layer.output].shape)
        return None if layer.output_shape is None else tuple(int(d or 1) for d in layer.output_shape[1:])

    # --- choosing the unit ---------------------------------------------------------------------------
    def select(self, layer_name: str, unit) -> bool:
        """Explain ``unit`` of ``layer_name``; shows the dock. False for a layer the model lacks.

        ``PROBABILITIES`` with ``(k,)`` explains the probability bar of class k (the softmax).
        """
        if layer_name not in self._layers and layer_name != PROBABILITIES:
            return False
        self.layer_name = layer_name
        shape = self.shape()
        self.unit = unit_cursor.clamp_unit(shape, tuple(unit)) if shape else tuple(int(i) for i in unit)
        if not self.isVisible():
            self.show()
        self.raise_()
        self._explain()
        return True

    def step(self, delta: int) -> None:
        shape = self.shape()
        if shape is None or self.unit is None:
            return
        unit = unit_cursor.step(shape, self.unit, delta)
        if unit != self.unit:
            self.unit = unit
            self._explain()

    def step_row(self, delta: int) -> None:
        """Up and down: a whole row of the map (one unit for vectors)."""
        shape = self.shape()
        if shape is None:
            return
        self.step(delta * (shape[-1] if len([n for n in shape if n > 1]) >= 2 else 1))

    # --- playing ------------------------------------------------------------------------------------------
    def play_scope(self) -> str:
        return self.scope.currentData()

    def is_playing(self) -> bool:
        return self.timer.isActive()

    def play(self) -> None:
        if self.unit is None or self.shape() is None:
            return
        if unit_cursor.scope_end(self.shape(), self.unit, self.play_scope()):
            self.unit = unit_cursor.scope_start(self.shape(), self.unit, self.play_scope())  # play it again
            self._explain()
        self.timer.start()
        self._sync_play_button()

    def pause(self) -> None:
        self.timer.stop()
        self._sync_play_button()

    def toggle_play(self) -> None:
        self.pause() if self.is_playing() else self.play()

    def advance(self) -> None:
        """One tick of Play: the next unit, stopping at the end of the row or map."""
        shape = self.shape()
        if shape is None or self.unit is None:
            self.pause()
            return
        if unit_cursor.scope_end(shape, self.unit, self.play_scope()):
            self.pause()
            return
        self.step(1)
        if unit_cursor.scope_end(shape, self.unit, self.play_scope()):
            self.pause()

    def _take_keys(self) -> None:
        """After a click on Previous, Next or Play the arrows and Space step and pause here."""
        self.widget().setFocus(Qt.FocusReason.OtherFocusReason)

    def _play_toggled(self, checked: bool) -> None:
        if checked != self.is_playing():
            self.play() if checked else self.pause()

    def _sync_play_button(self) -> None:
        playing = self.is_playing()
        self.play_button.blockSignals(True)
        self.play_button.setChecked(playing)
        self.play_button.blockSignals(False)
        self.play_button.setText("Pause" if playing else "Play")

    def _rate_changed(self, rate: int) -> None:
        self.timer.setInterval(max(1, 1000 // max(1, rate)))

    # --- results ----------------------------------------------------------------------------------------
    def show_result(self, result) -> None:
        """A new Result (or None for an empty canvas): explain the same unit again with its numbers."""
        self.result = result
        if self.layer_name is not None and self.isVisible():
            self._explain()

    def _explain(self) -> None:
        layer = self._layers.get(self.layer_name)
        bars = self.layer_name == PROBABILITIES
        if (layer is None and not bars) or self.unit is None:
            return
        shape = self.shape() or ()
        title = "Probabilities · softmax of the logits" if bars else self._titles.get(self.layer_name, layer.display_name)
        where = f"class {self.unit[0]}" if bars else unit_cursor.describe(shape, self.unit)
        if self.layer_name == self.class_layer and len(self.unit) == 1 and self.unit[0] < len(self.class_labels):
            what = "probability" if self._layers[self.layer_name].op == "Softmax" else "logit"
            where += f": the {what} of class {self.class_labels[self.unit[0]]}"
        if bars and self.unit[0] < len(self.class_labels) and self.class_labels[self.unit[0]] != str(self.unit[0]):
            where += f" ({self.class_labels[self.unit[0]]})"
        self.heading.setText(f"{title} — {where}")
        self.setWindowTitle(f"Unit Inspector: {title.split(' · ')[0]}")
        self.explanation = None
        if self.explainer is None:
            self.view.show_message(f"The inspector cannot read this model: {self.problem or 'no model is open'}.")
        elif self.result is None:
            self.view.show_message("Draw a digit: this unit is then worked out with the numbers of your drawing.")
        else:
            try:
                if bars:
                    self.explanation = self.explainer.explain_probability(self.result, self.unit[0])
                else:
                    self.explanation = self.explainer.explain(self.result, self.layer_name, self.unit)
            except Exception as exc:  # a rule's bug must not reach the person as a traceback
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                self.view.show_message(f"This unit cannot be explained: {first}")
            else:
                self.view.show_explanation(self.explanation)
        self.where.setText(self._where_text())
        self._show_feeds()
        self._update_buttons()
        self.unitShown.emit(self.layer_name, tuple(self.unit), self.explanation)

    def _show_feeds(self) -> None:
        """Links to the layers this one feeds, to walk forward (set again only when the layer changes)."""
        if self.layer_name == self._feeds_layer:
            return
        self._feeds_layer = self.layer_name
        feeds = self.feeds_for(self.layer_name) if self.feeds_for is not None and self.layer_name else []
        link = self.palette().color(QPalette.ColorRole.Link).name()
        self._feeds = feeds
        parts = [f"<a href='feed:{k}' style='color:{link}'>{html.escape(title)}</a>" for k, (_, title) in enumerate(feeds)]
        self.feeds.setText("Feeds " + ", ".join(parts) + " ▸" if parts else "")
        self.feeds.setVisible(bool(parts))

    def _feed_clicked(self, href: str) -> None:
        if href.startswith("feed:"):
            k = int(href.split(":", 1)[1])
            if 0 <= k < len(self._feeds):
                self.forwardRequested.emit(self._feeds[k][0])

    def feed_names(self) -> list[str]:
        return [name for name, _ in self._feeds]

    def _where_text(self) -> str:
        explanation = self.explanation
        if explanation is None:
            return ""
        lines = []
        if explanation.kind in ("conv", "pool"):
            source = next((t.source_layer for t in explanation.terms), None)
            name = "the network input" if source is None else self._titles.get(source, source)
            lines.append(unit_cursor.describe_window(explanation.window, name))
        if explanation.input_box is not None:
            top, left, height, width = explanation.input_box
            if self.input_size is not None and (top, left, height, width) == (0, 0, *self.input_size):
                lines.append("Sees the whole input: every pixel can change this value.")
            else:
                lines.append(f"Sees input rows {top}–{top + height - 1}, columns {left}–{left + width - 1} "
                             f"({height}×{width}), outlined on the network input.")
        return "\n".join(line for line in lines if line)

    def input_box(self) -> tuple[int, int, int, int] | None:
        """The receptive field of the unit shown as (y0, x0, y1, x1), the network input's convention."""
        if self.explanation is None or self.explanation.input_box is None:
            return None
        top, left, height, width = self.explanation.input_box
        return top, left, top + height, left + width

    def _update_buttons(self) -> None:
        shape = self.shape()
        has_unit = shape is not None and self.unit is not None
        total = 1
        for n in shape or ():
            total *= n
        index = unit_cursor.flat_index(shape, self.unit) if has_unit else 0
        self.previous.setEnabled(has_unit and index > 0)
        self.next.setEnabled(has_unit and index < total - 1)
        self.play_button.setEnabled(has_unit and total > 1)

    def hideEvent(self, event) -> None:
        self.pause()
        super().hideEvent(event)

