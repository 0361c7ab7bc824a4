"""The unit inspector and the evidence overlay, connected to the main window.

The window builds one ``ExplainFeature`` (``MainWindow._build_inspector``); it
creates the inspector dock and the "Show Evidence" action and listens to what
the window already says: a unit clicked in the layer panel or the enlarged map,
every result shown, a new model, a probability bar clicked. All it changes in
the window's views goes through their public setters.

Evidence costs one batched run of a few hundred images (for LeNet-5 on a
two-core laptop CPU: 4.5 ms when it is quiet, 9–16 ms when it is busy, up to a
display frame), so while the pen is down it is recomputed only when the last
one took under half a frame; otherwise it follows pen-up, and every other
finished edit. One run gives every class's
map, so clicking another probability bar costs nothing.
"""

from __future__ import annotations

import time

import numpy as np
from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu, QToolBar

from lenet_gui.core import placement, unit_cursor
from lenet_gui.core.explanation import PROBABILITIES, layer_id
from lenet_gui.ui import evidence_overlay
from lenet_gui.ui.inspector import InspectorDock
from lenet_gui.ui.layer_text import layer_names
from lenet_gui.ui.map_dialog import FeatureMapDialog, receptive_box_for

LIVE_EVIDENCE_BUDGET_S = 0.008  # half a 60 Hz frame
INSPECTOR_WIDTH = 560  # room for a conv row (patch × kernel = products) with a number in every cell


class ExplainFeature(QObject):
    """Owns the inspector dock and the evidence overlay of one MainWindow."""

    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.explainer: Explainer | None = None
        self._model_key = None
        self._selected_cell = None  # (ActivationMaps, cell) marked in the panel
        self.evidence = None  # the Evidence shown, or None
        self.evidence_class: int | None = None  # None: follow the predicted class
        self.evidence_seconds: float | None = None  # what the last evidence run cost
        self._evidence_key = None
        self._all_evidence: list = []  # every class's Evidence for the tensor in _evidence_key
        self._sized = False  # the dock gets its width the first time it opens
        self.patch_box = None  # the inspected unit's field on the network input (y0, x0, y1, x1)

        self.inspector = InspectorDock(window)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.inspector)
        self.inspector.hide()
        self.inspector.unitShown.connect(self._unit_shown)
        self.inspector.forwardRequested.connect(self.forward)
        self.inspector.feeds_for = self.feeds_for
        self.inspector.visibilityChanged.connect(self._inspector_visibility)

        self.show_evidence = QAction("Show &Evidence", window)
        self.show_evidence.setObjectName("showEvidence")
        self.show_evidence.setCheckable(True)
        self.show_evidence.setShortcut(QKeySequence("Ctrl+Shift+V"))
        tip = ("Colour the network input by what made the network say its answer: blanking orange parts "
               "lowers the class's probability, blanking blue parts raises it. Click a bar for another class.")
        self.show_evidence.setToolTip(tip)
        self.show_evidence.setStatusTip(tip)
        self.show_evidence.toggled.connect(self._evidence_toggled)
        self.inspect_action = self.inspector.toggleViewAction()
        self.inspect_action.setText("Unit &Inspector")
        self.inspect_action.setShortcut(QKeySequence("Ctrl+I"))
        self._add_to_menus()

        window.layer_panel.unitActivated.connect(self.select_from_panel)
        window.resultShown.connect(self.show_result)
        window.canvas.drawingCommitted.connect(self._pen_up)
        window.controller.sessionChanged.connect(self.model_changed)
        window.prediction.bars.classClicked.connect(self.evidence_for_class)
        window.prediction.bars.classDoubleClicked.connect(self.explain_probability)
        window.prediction.bars.setToolTip("Click a bar to see what in the drawing speaks for or against that class; "
                                          "double-click it to see how its probability was computed")
        if window.session is not None:
            self.model_changed(window.session)
        window.installEventFilter(self)

    def eventFilter(self, watched, event) -> bool:
        # The window saves its layout when it closes. The selected unit is not kept between
        # sessions, so neither is the open dock: it opens, at its own width, on the next click.
        if watched is self.window and event.type() == QEvent.Type.Close:
            self.inspector.hide()
        return False

    def _add_to_menus(self) -> None:
        view = next((a.menu() for a in self.window.menuBar().actions()
                     if isinstance(a.menu(), QMenu) and a.menu().title().replace("&", "") == "View"), None)
        if view is not None:
            view.addSeparator()
            view.addActions([self.show_evidence, self.inspect_action])
        tools = self.window.findChild(QToolBar, "toolsToolbar")
        if tools is not None:
            tools.addSeparator()
            tools.addAction(self.show_evidence)

    # --- the model --------------------------------------------------------------------------------------
    def model_changed(self, session) -> None:
        """A new session: a new model (rebuild the Explainer) or only a new provider (keep it)."""
        layers = self.window.layers
        if getattr(session, "path", None) is None or not layers:
            # Not a model file the layer panel has read (the light start-up session, a stand-in):
            # nothing to explain until the full model is open.
            self.explainer, self._model_key = None, None
            return
        if self._model_key is not None and self._model_key[0] == str(session.path) and self._model_key[1] is layers:
            return  # the same model on another provider: the explainer stays
        self._model_key = (str(session.path), layers)
        problem = ""
        try:
            from lenet_gui.core.explain import Explainer  # onnx: only once a model is open

            # The session's own copy of the file's graph: reading the file again would hold its weights twice.
            model = getattr(session, "model", None)
            if model is None:
                from lenet_gui.core.onnx_io import load_model

                model = load_model(session.path)
            self.explainer = Explainer(model, layers, getattr(session, "weights", None))
        except Exception as exc:  # a model the explainer cannot read: the rest of the window still works
            self.explainer = None
            problem = (str(exc).splitlines()[0] if str(exc) else type(exc).__name__)[:160]
        names = layer_names(layers, session.meta)
        titles = {layer_id(layer): names[layer.index].title(layer) for layer in layers}
        self.inspector.set_explainer(self.explainer, layers, titles, problem)
        self.inspector.input_size = (session.spec.height, session.spec.width)
        self.inspector.class_layer = layer_id(layers[-1]) if layers else None
        self.inspector.class_labels = list(session.labels)
        self._clear_selected_cell()
        if self.inspector.layer_name is None:  # the unit went with the old model: so do its marks
            self.patch_box = None
            self.window.network_input.set_patch(None)
            self._update_canvas_overlay()
        self.evidence_class = None
        self._evidence_key = None

    # --- choosing units ----------------------------------------------------------------------------------
    def select_from_panel(self, layer, tile: int, row: int, col: int) -> bool:
        """A unit clicked (or chosen with Enter) in the layer panel or the enlarged map."""
        panel_row = self.window.layer_panel.row_for(layer)
        maps = panel_row.maps if panel_row is not None else None
        if maps is None:
            return False
        unit = unit_cursor.from_tile(maps.shape, maps.kind, tile, row, col)
        return self.select(layer_id(layer), unit)

    def select(self, layer_name: str, unit) -> bool:
        if self.inspector.result is None:
            self.inspector.result = self.window.last_result
        selected = self.inspector.select(layer_name, tuple(unit))
        if selected and not self._sized and not self.inspector.isFloating():
            self._sized = True
            self._widen()
            QTimer.singleShot(0, self._widen)  # again once shown: a restored layout may size it later
        return selected

    def _widen(self) -> None:
        if self.inspector.width() < INSPECTOR_WIDTH and not self.inspector.isFloating():
            self.window.resizeDocks([self.inspector], [INSPECTOR_WIDTH], Qt.Orientation.Horizontal)

    def explain_probability(self, index: int) -> bool:
        """A probability bar double-clicked: the softmax that made it, in the inspector."""
        return self.select(PROBABILITIES, (index,))

    def feeds_for(self, layer_name: str) -> list[tuple[str, str]]:
        """The layers that read this one's output, with their titles; the class output feeds the bars."""
        layer = self._layer(layer_name)
        if layer is None or self.explainer is None:
            return []
        names = self.inspector.titles()
        feeds = [(layer_id(c), names.get(layer_id(c), c.display_name))
                 for c in self.explainer.consumers.get(layer.output, []) if not c.constant]
        if not feeds and self.window.layers and layer is self.window.layers[-1]:
            feeds.append((PROBABILITIES, "the probability bars"))
        return feeds

    def forward(self, consumer_name: str) -> bool:
        """Walk forward from the inspected unit into ``consumer_name`` (see unit_cursor.forward_unit)."""
        unit = self.inspector.unit
        if unit is None:
            return False
        if consumer_name == PROBABILITIES:
            return self.select(PROBABILITIES, (unit[-1] if len(unit) else 0,))
        consumer, result = self._layer(consumer_name), self.inspector.result
        shape = self.inspector.shape()
        if consumer is None or shape is None:
            return False
        values = None if result is None else result.activations.get(consumer.output)
        consumer_shape = tuple(values.shape) if values is not None else tuple(consumer.output_shape[1:])
        target, _ = unit_cursor.forward_unit(shape, unit, consumer.op, consumer_shape, consumer.hyper, values)
        return self.select(consumer_name, target)

    def _layer(self, layer_name: str):
        return next((layer for layer in self.window.layers if layer_id(layer) == layer_name), None)

    def _unit_shown(self, layer_name: str, unit: tuple, explanation) -> None:
        """The inspector moved or re-explained: its patch follows on the input, the canvas and the panel."""
        layer = self._layer(layer_name)
        box = self.inspector.input_box()
        if box is None and layer is not None and len(unit) == 3:
            box = receptive_box_for(layer, "maps", unit[1], unit[2])  # units whose rule gives no box (ReLU)
        size = self.window.network_input.input_size()
        if box is not None and box[0] <= 0 and box[1] <= 0 and box[2] >= size[0] and box[3] >= size[1]:
            box = None  # a unit that sees the whole input (dense layers): nothing to single out
        self.patch_box = box
        self.window.network_input.set_patch(box)
        self._mark_in_panel(layer, unit)
        self._mark_in_enlarged_map(layer, unit, box)
        self._update_canvas_overlay()

    def _mark_in_enlarged_map(self, layer, unit, box) -> None:
        dialog = self.window.findChild(FeatureMapDialog, options=Qt.FindChildOption.FindDirectChildrenOnly)
        if dialog is not None:
            dialog.set_inspected(layer, unit, box)

    def _mark_in_panel(self, layer, unit) -> None:
        panel_row = self.window.layer_panel.row_for(layer) if layer is not None else None
        maps = panel_row.maps if panel_row is not None else None
        if maps is None:
            self._clear_selected_cell()
            return
        cell = unit_cursor.to_tile(maps.shape, maps.kind, unit)
        if self._selected_cell == (maps, cell):
            return  # a new result for the same unit: nothing moves
        another_layer = self._selected_cell is None or self._selected_cell[0] is not maps
        self._clear_selected_cell()
        maps.set_selected(cell)
        self._selected_cell = (maps, cell)
        if another_layer:  # walking back to another layer brings it into view; stepping does not scroll
            self.window.layer_panel.expand_to(layer)  # out of a closed block, if it is in one
            self.window.layer_panel.scroll.ensureWidgetVisible(maps, 0, 10)

    def _clear_selected_cell(self) -> None:
        if self._selected_cell is not None:
            maps, _ = self._selected_cell
            try:
                maps.set_selected(None)
            except RuntimeError:  # the row went with the previous model
                pass
            self._selected_cell = None

    def _inspector_visibility(self, visible: bool) -> None:
        import shiboken6

        if not shiboken6.isValid(self.window):
            return  # the dock hides as the window is torn down: nothing left to unmark
        if not visible:
            self.patch_box = None
            self.window.network_input.set_patch(None)
            self._clear_selected_cell()
            self._mark_in_enlarged_map(None, None, None)
            self._update_canvas_overlay()
        elif self.inspector.layer_name is not None:
            self.inspector.show_result(self.window.last_result)

    # --- results -------------------------------------------------------------------------------------------
    def show_result(self, result) -> None:
        if self.inspector.isVisible():
            self.inspector.show_result(result)
        else:
            self.inspector.result = result
        self._update_evidence(result)
        if self.patch_box is not None or self.evidence is not None:
            self._update_canvas_overlay()  # the strokes moved under it

    # --- evidence ---------------------------------------------------------------------------------------------
    def _evidence_toggled(self, on: bool) -> None:
        if not on:
            self.evidence = None
            self._evidence_key = None
            self.window.network_input.set_evidence(None)
            self.window.network_input.setToolTip("")
            self.window.prediction.bars.set_marked(None)
            self._update_canvas_overlay()
            return
        self._update_evidence(self.window.last_result)

    def _pen_up(self, _drawing=None) -> None:
        """A finished stroke: the evidence skipped while drawing is due now.

        A release where the pen did not move brings no new result, so the newest
        one is used, unless a run is still pending (its result will do it).
        """
        if self.show_evidence.isChecked() and not self.window.controller.is_pending():
            self._update_evidence(self.window.last_result)

    def evidence_for_class(self, index: int) -> None:
        """A probability bar was clicked: show that class's evidence ("why not 9?")."""
        result = self.window.last_result
        predicted = None if result is None else result.digit
        self.evidence_class = None if index == predicted else index
        if not self.show_evidence.isChecked():
            self.show_evidence.setChecked(True)  # computes it
        else:
            self._update_evidence(result, force=True)  # the same tensor: taken from the run before

    def _update_evidence(self, result, force: bool = False) -> None:
        if not self.show_evidence.isChecked():
            return
        session = self.window.session
        if result is None or result.prepared is None or session is None:
            self.evidence = None
            self._evidence_key = None
            self.window.network_input.set_evidence(None)
            self.window.prediction.bars.set_marked(None)
            self._update_canvas_overlay()
            return
        if (self.window.canvas.is_drawing() and not force
                and (self.evidence_seconds is None or self.evidence_seconds > LIVE_EVIDENCE_BUDGET_S)):
            return  # the pen-up result brings it up to date
        wanted = self.evidence_class if self.evidence_class is not None else result.digit
        if wanted >= len(result.probabilities):
            wanted = result.digit
        tensor = result.prepared.tensor
        same_input = self._evidence_key is not None and np.array_equal(self._evidence_key, tensor)
        if same_input and not force and self.evidence is not None and self.evidence.class_index == wanted:
            return
        if not same_input:
            try:
                started = time.perf_counter()
                from lenet_gui.core.explain import evidence_all

                self._all_evidence = evidence_all(session, tensor)
                self.evidence_seconds = time.perf_counter() - started
            except Exception as exc:  # say it once, keep the drawing and the prediction
                self.window.show_status(f"The evidence map could not be computed: {str(exc).splitlines()[0][:160]}")
                return
            self._evidence_key = np.array(tensor, copy=True)
        shown = next((e for e in self._all_evidence if e.class_index == wanted), None)
        if shown is None:
            return
        self.evidence = shown
        self.window.network_input.set_evidence(shown.map, self.evidence_title(shown, result))
        self.window.network_input.setToolTip(self.evidence_tooltip(shown, self.evidence_seconds))
        self.window.prediction.bars.set_marked(shown.class_index)
        self._update_canvas_overlay()

    @staticmethod
    def evidence_title(shown, result) -> str:
        if shown.class_index == result.digit:
            return f"Evidence for {shown.label} ({shown.probability * 100:.0f} %)"
        return f"Why not {shown.label}? ({shown.probability * 100:.1f} %)"

    @staticmethod
    def evidence_tooltip(shown, seconds: float | None = None) -> str:
        peak = float(np.max(np.abs(shown.map))) if np.size(shown.map) else 0.0
        cost = f" Worked out in {seconds * 1000:.0f} ms, in one batched run." if seconds else ""
        return (f"Evidence for {shown.label}: each input pixel is coloured by how much blanking a "
                f"{shown.patch}×{shown.patch} square over it changes p({shown.label}), now "
                f"{shown.probability * 100:.1f} %. Orange: blanking lowers it (the ink there speaks for "
                f"{shown.label}); blue: blanking raises it. The strongest colour is {peak * 100:.1f} "
                f"percentage points.{cost}")

    # --- the canvas -----------------------------------------------------------------------------------------
    def _update_canvas_overlay(self) -> None:
        """The patch and a faint evidence map over the person's own strokes (not over an opened image)."""
        canvas = self.window.canvas
        box = self.patch_box
        session = self.window.session
        if (box is None and self.evidence is None) or canvas.backdrop() is not None or session is None:
            canvas.set_explain_overlay(None)
            return
        place = placement.stroke_placement(canvas.drawing().strokes, session.spec)
        if place is None:
            canvas.set_explain_overlay(None)
            return
        field_box = None if box is None else place.box_to_canvas(box)
        image = rect = None
        if self.evidence is not None:
            height, width = np.shape(self.evidence.map)
            image = evidence_overlay.evidence_image(self.evidence.map, evidence_overlay.FAINT_ALPHA)
            rect = place.box_to_canvas((0, 0, height, width))
        canvas.set_explain_overlay(field_box, image, rect)
