"""Collect mode and the evaluation view, hooked into the main window in one call.

``install(window)`` adds the Collect dock (``collect_panel.CollectPanel``), the
Collect menu and the evaluation view (``evaluation_view.EvaluationView``), and
returns the ``CollectMode`` that ties them together (``window.collect``).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QDockWidget, QFileDialog

from lenet_gui.ui import menus
from lenet_gui.ui.collect_panel import CollectPanel
from lenet_gui.ui.evaluation_view import DATASET_FILTER, EvaluationView, open_sample


class CollectMode(QObject):
    def __init__(self, window) -> None:
        super().__init__(window)
        self.window = window
        self.panel = CollectPanel(window)
        self.dock = QDockWidget("Collect Digits", window)
        self.dock.setObjectName("collectDock")
        self.dock.setWidget(self.panel)
        self.dock.setAllowedAreas(Qt.DockWidgetArea.LeftDockWidgetArea | Qt.DockWidgetArea.RightDockWidgetArea
                                  | Qt.DockWidgetArea.BottomDockWidgetArea)
        window.addDockWidget(Qt.DockWidgetArea.LeftDockWidgetArea, self.dock)
        self.dock.hide()
        self.dock.visibilityChanged.connect(self._dock_visibility)
        self.evaluation: EvaluationView | None = None
        self.actions = menus.build_collect(window, self)
        self.panel.evaluateRequested.connect(lambda folder: self.evaluate([folder]))
        window.installEventFilter(self)

    # --- collect mode -------------------------------------------------------------------------
    def set_active(self, active: bool) -> None:
        active = bool(active)
        self.actions.collect_mode.setChecked(active)
        self.dock.setVisible(active)
        if active != self.panel.is_active():
            self.panel.set_active(active)
        self.window.show_status("Collect mode: draw the digit asked for, then press its key (Enter accepts "
                                "the prediction)" if active else "Collect mode is off")

    def _dock_visibility(self, _visible: bool) -> None:
        # isHidden: closed by its button (not merely tabbed away or minimised)
        if self.dock.isHidden() and self.panel.is_active():
            self.panel.set_active(False)
            self.actions.collect_mode.setChecked(False)
        elif not self.dock.isHidden() and not self.panel.is_active():  # shown again by a restored layout
            self.actions.collect_mode.setChecked(True)
            self.panel.set_active(True)

    # --- evaluation -----------------------------------------------------------------------------
    def view(self) -> EvaluationView:
        if self.evaluation is None:
            self.evaluation = EvaluationView(self.window)
            self.evaluation.sampleActivated.connect(self._open_sample)
        return self.evaluation

    def evaluate(self, paths: list[str]) -> EvaluationView | None:
        if self.window.session is None:
            self.window.show_error("Cannot evaluate", "No model is open.")
            return None
        view = self.view()
        view.evaluate(self.window.session, [str(p) for p in paths])
        view.show()
        view.raise_()
        return view

    def _start(self) -> str:
        return self.panel.folder if Path(self.panel.folder).is_dir() else str(Path.home())

    def evaluate_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Evaluate a Collection Folder", self._start())
        if folder:
            self.evaluate([folder])

    def evaluate_file_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self.window, "Evaluate a Data Set", self._start(), DATASET_FILTER)
        if path:
            self.evaluate([path])

    def _open_sample(self, sample) -> None:
        if open_sample(self.window, sample):
            self.window.raise_()

    def eventFilter(self, obj, event) -> bool:
        if obj is self.window and event.type() == QEvent.Type.Close and self.evaluation is not None:
            self.evaluation.cancel()  # a running thread must end before the window goes
            self.evaluation.wait()
        return False


def install(window) -> CollectMode:
    return CollectMode(window)
