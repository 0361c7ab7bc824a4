"""The main window: canvas, what the network sees, the prediction, and the layer panel.

Data flow: the canvas emits ``drawingChanged`` on every point; the
InferenceController reads the canvas (at most once per frame) and emits
``resultReady``; the window hands the Result to the network-input view, the
prediction and the layer panel. Finished edits (``drawingCommitted``) are
autosaved, so a crash or a bad file never costs the drawing.

Stable names for automation: the canvas has objectName ``canvas``, the
predicted digit ``prediction``, the layer panel ``layerPanel``.
"""

from __future__ import annotations

import html
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QApplication,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QMainWindow,
    QMessageBox,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from lenet_gui import __version__
from lenet_gui.core import calibrate, memory, preprocess
from lenet_gui.core.drawing import SUFFIX as DRAWING_SUFFIX
from lenet_gui.core.drawing import Drawing, load_drawing, save_drawing
from lenet_gui.core.errors import DrawingError, ImageError, LenetGuiError
from lenet_gui.core.runtime import default_model_path
from lenet_gui.core.structure import graph_input_shapes
from lenet_gui.ui import menus, theme
from lenet_gui.ui.busy_indicator import BusyIndicator
from lenet_gui.ui.canvas import Backdrop, DrawingCanvas
from lenet_gui.ui.controller import InferenceController
from lenet_gui.ui.kernel_dialog import KernelDialog
from lenet_gui.ui.layer_panel import DEFAULT_TILE_SIZE, TILE_SIZES, LayerPanel
from lenet_gui.ui.layer_text import box_text, layer_names, unit_text
from lenet_gui.ui.map_dialog import FeatureMapDialog, receptive_box_for
from lenet_gui.ui.message_bar import MessageBar
from lenet_gui.ui.network_input import NetworkInputView
from lenet_gui.ui.overview import NetworkOverview
from lenet_gui.ui.probabilities import PredictionView
from lenet_gui.ui.settings import AppSettings
from lenet_gui.ui.startup import DeferredModel, import_model_tools

if TYPE_CHECKING:  # onnx-based: imported after the first paint (ui/startup.py)
    from lenet_gui.core import graph
    from lenet_gui.core.session import ModelSession

APP_NAME = "lenet-gui"
IMAGE_FILTER = "Images (*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff *.webp)"
DRAWING_FILTER = f"Drawings (*{DRAWING_SUFFIX} *.json)"
MODEL_FILTER = "ONNX models (*.onnx)"
DEFAULT_SIZE = (1360, 860)
STATUS_MS = 8000
TIMING_INTERVAL_S = 0.25
TIMING_TEMPLATE = "Inference 000.00 ms · preprocessing 000.0 ms"  # sets the timing label's width


def _caption(text: str, parent: QWidget) -> QLabel:
    label = QLabel(text, parent)
    font = label.font()
    font.setBold(True)
    label.setFont(font)
    label.setWordWrap(True)  # a narrow window wraps the caption instead of growing wider
    return label


class MainWindow(QMainWindow):
    """The app's window. ``MainWindow()`` opens the shipped model with the automatic provider."""

    #: A Result (or None for an empty canvas) after every view shows it.
    resultShown = Signal(object)
    #: A message about something that went wrong (a bad file, a failed inference).
    errorShown = Signal(str)

    def __init__(self, model: str | None = None, provider: str | None = None, *,
                 settings: AppSettings | None = None, restore: bool = True, interactive: bool = True,
                 defer_model: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.settings = settings if settings is not None else AppSettings()
        self.settings.claim_session()  # a second window autosaves beside this one, not over it
        self.interactive = interactive  # False: messages go to stderr, never a dialog (screenshots)
        self.document_path: str | None = None
        self.last_message = ""
        self.session: ModelSession | None = None
        self.layers: list[graph.Layer] = []
        self._titles: dict[int, str] = {}
        self._kernels: dict[int, tuple[np.ndarray, np.ndarray | None]] = {}
        self._map_dialog: FeatureMapDialog | None = None
        self._kernel_dialogs: list[KernelDialog] = []
        self._timing_shown_at = 0.0
        self._failure_shown = False
        self.setWindowIcon(theme.app_icon())
        self.setAcceptDrops(True)

        self._build_views()
        self.actions = menus.build(self)
        self._build_status_bar()
        self.controller = InferenceController(None, self)
        self.controller.set_source(self.canvas.prepare_input)
        self.controller.set_pen_probe(self.canvas.is_drawing)
        self.controller.resultReady.connect(self._show_result)
        self.controller.failed.connect(self._inference_failed)
        # Collect mode (a dock and the Collect menu) and the evaluation view: lenet_gui/ui/collect_mode.py
        from lenet_gui.ui import collect_mode

        self.collect = collect_mode.install(self)
        self.busy = BusyIndicator(self.controller, self.statusBar())  # a slow model: running…, Cancel
        self._build_inspector()

        provider = provider or self.settings.provider
        if defer_model:  # the app: paint first, then the model (see ui/startup.py)
            self.deferred_model = DeferredModel(self, model, provider)
        else:
            self._open_initial_model(model, provider)
        self.actions.providers[provider].setChecked(True)
        self.actions.schemes[self.settings.color_scheme].setChecked(True)
        self.actions.show_grid.setChecked(self.settings.show_grid)
        self.network_input.set_show_grid(self.settings.show_grid)
        self.layer_panel.set_tile_size(self.settings.map_size if self.settings.map_size in TILE_SIZES
                                       else DEFAULT_TILE_SIZE)

        # Bound methods, not lambdas: Qt drops them when the window goes, so signals
        # sent while it is being torn down reach nothing half-deleted.
        self.canvas.drawingChanged.connect(self._drawing_changed)
        self.canvas.drawingCommitted.connect(self._autosave)
        self.canvas.penSizeChanged.connect(self._remember_pen)
        self.canvas.toolChanged.connect(self._tool_changed)
        self.canvas.undo_stack.cleanChanged.connect(self._clean_changed)

        if restore:
            self._restore_session()
        if self.settings.problem:
            self.message_bar.show_message(self.settings.problem, "settings")
        self._update_title()
        self.controller.request()

    # --- construction -----------------------------------------------------------------------------
    def _build_views(self) -> None:
        self.canvas = DrawingCanvas()
        if self.settings.pen_width:
            self.canvas.set_pen_size(self.settings.pen_width)
        self.canvas.set_tool(self.settings.tool)
        self.network_input = NetworkInputView()
        self.network_input.pixelHovered.connect(self._input_pixel_hovered)
        self.network_input.hoverLeft.connect(self.statusBar().clearMessage)
        self.prediction = PredictionView()
        self.prediction_label = self.prediction.digit
        self.layer_panel = LayerPanel()
        self.layer_panel.unitHovered.connect(self._unit_hovered)
        self.layer_panel.hoverLeft.connect(self._unit_left)
        self.layer_panel.mapActivated.connect(self.open_map)
        self.layer_panel.kernelsRequested.connect(self.show_kernels)

        left = QWidget()
        left.setObjectName("drawingSide")
        self.input_caption = _caption("What the network sees", left)
        self.input_caption.setToolTip("The image handed to the network, before normalisation")
        input_box = QVBoxLayout()
        input_box.setSpacing(4)
        input_box.addWidget(self.input_caption)
        input_box.addWidget(self.network_input, 1)
        prediction_box = QVBoxLayout()
        prediction_box.setSpacing(4)
        prediction_box.addWidget(_caption("Prediction", left))
        prediction_box.addWidget(self.prediction, 1)
        bottom = QHBoxLayout()
        bottom.setSpacing(14)
        bottom.addLayout(input_box, 2)
        bottom.addLayout(prediction_box, 3)
        column = QVBoxLayout(left)
        column.setContentsMargins(8, 8, 4, 8)
        column.setSpacing(8)
        column.addWidget(self.canvas, 3)
        column.addLayout(bottom, 2)

        right = QWidget()
        right.setObjectName("panelSide")
        panel_box = QVBoxLayout(right)
        panel_box.setContentsMargins(4, 8, 0, 0)
        panel_box.addWidget(self.layer_panel)

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("mainSplitter")
        self.splitter.addWidget(left)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 3)
        self.splitter.setChildrenCollapsible(False)
        self.message_bar = MessageBar()
        central = QWidget()
        central_box = QVBoxLayout(central)
        central_box.setContentsMargins(0, 0, 0, 0)  # hidden bar: the layout is as without one
        central_box.setSpacing(0)
        central_box.addWidget(self.message_bar)
        central_box.addWidget(self._build_overview(self.splitter), 1)
        self.setCentralWidget(central)
        self.resize(*DEFAULT_SIZE)
        self.splitter.setSizes([560, 800])
        self.setTabOrder(self.canvas, self.layer_panel)

    def _build_overview(self, below: QWidget) -> QWidget:
        """The network at a glance across the top, always visible; ``below`` under it."""
        self.overview = NetworkOverview()
        self.overview.layerSelected.connect(self._overview_selected)
        self.overview.mapActivated.connect(self.open_map)
        self.overview.unitHovered.connect(self._unit_hovered)
        self.overview.hoverLeft.connect(self._unit_left)
        central = QWidget()
        box = QVBoxLayout(central)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        box.addWidget(self.overview)
        box.addWidget(below, 1)
        return central

    def _overview_selected(self, layer, item: int) -> None:
        """A layer chosen in the overview: its detailed row comes into view."""
        self.layer_panel.show_layer(layer, item)
        self.show_status(f"{self._titles.get(layer.index, layer.display_name)}: its row is shown in the layer panel")
        if self.inspector.isVisible():
            self._inspect_strongest(layer, max(item, 0))

    def _inspect_strongest(self, layer, item: int) -> bool:
        """The unit inspector follows a layer chosen in the overview: its strongest unit there (in map ``item``)."""
        result = self.last_result
        values = None if result is None else result.activations.get(layer.output)
        if values is None:
            return False
        values = np.asarray(values)
        if values.ndim == 3:  # channel, row, column: the strongest unit of that map
            item = min(item, values.shape[0] - 1)
            row, col = np.unravel_index(int(np.argmax(values[item])), values.shape[1:])
            return self.explain.select_from_panel(layer, item, int(row), int(col))
        return self.explain.select_from_panel(layer, int(np.argmax(values.reshape(-1))), 0, 0)

    def _build_inspector(self) -> None:
        """The unit inspector dock and the evidence overlay (see explain_wiring.py)."""
        from lenet_gui.ui.explain_wiring import ExplainFeature

        self.explain = ExplainFeature(self)
        self.inspector = self.explain.inspector

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.timing_label = QLabel("")
        self.timing_label.setObjectName("timing")
        self.timing_label.setAccessibleName("Last inference time")
        # A fixed width: the text changes a few times a second while drawing, and a
        # label that may change size makes the status bar lay itself out again.
        self.timing_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.timing_label.setFixedWidth(self.timing_label.fontMetrics().horizontalAdvance(TIMING_TEMPLATE) + 8)
        self.provider_label = QLabel("")
        self.provider_label.setObjectName("provider")
        self.provider_label.setAccessibleName("Active provider")
        bar.addPermanentWidget(self.timing_label)
        bar.addPermanentWidget(self.provider_label)

    # --- the model ------------------------------------------------------------------------------------
    def _open_initial_model(self, model: str | None, provider: str) -> None:
        wanted = model or self.settings.model_path or None
        if wanted and self._load_model(wanted, provider):
            return
        # The shipped model; should even that fail, the window still opens and keeps the drawing.
        self._load_model(None, provider)

    def _load_model(self, path: str | None, provider: str, report: bool = True) -> bool:
        """Open a model; on any failure keep the current one and say why."""
        if self._opening:  # a drop or a recent file while another model is still opening
            self.show_status("A model is still opening; try again when it is open")
            return False
        ModelSession, _, graph = import_model_tools()  # onnx: after the first paint
        if self.session is not None:
            memory.unsettle_objects()  # the current model's objects may soon be garbage
        try:
            return self._open_model(path, provider, report, ModelSession, graph)
        finally:
            memory.settle_objects()  # the open model's (new or kept) objects are long-lived

    def _open_model(self, path: str | None, provider: str, report: bool, ModelSession, graph) -> bool:

        def open_and_probe():
            session = ModelSession(path, provider=provider, memory_limit=self.settings.memory_limit,
                                   timeout=self.settings.inference_timeout)
            calibration = calibrate.apply_to_session(session)
            original = session.model  # the file's own graph (the session's run has more outputs)
            layers = graph.analyze(original)
            spec = session.spec
            blank = preprocess.view_to_tensor(np.zeros((spec.height, spec.width), np.float32), spec)
            probe = session.run(blank)
            session.prepare_class_scores()  # a slow model: its class-scores session opens meanwhile
            # Layers no formula gives show the shape onnxruntime produced, and say so.
            graph.adopt_runtime_shapes(layers, {name: value.shape for name, value in probe.activations.items()},
                                       spec.batch or 1)
            return session, calibration, original, layers, spec, probe

        try:
            session, calibration, original, layers, spec, probe = self._responsively(open_and_probe)
            current = self.canvas.prepare_input(spec)  # a model that fails on this drawing is no better
            if current is not None:
                self._responsively(lambda: session.run(current.tensor, current))
        except LenetGuiError as exc:
            if report:
                self._model_refused(str(exc))
            return False
        except Exception as exc:  # onnxruntime refusing the graph, and the like
            name = Path(path).name if path else "the shipped model"
            if report:
                self._model_refused(f"{name} cannot be run: {str(exc).splitlines()[0][:200]}")
            return False
        self.message_bar.clear("model")
        self.session = session
        self.layers = layers
        self.controller.set_session(session)
        self._kernels = self._conv_kernels(original, layers, session.weights)
        memory.release_free_memory()  # the analysis and the test runs' temporaries
        self._titles = self._titles_for(layers)
        self.network_input.set_input_size(spec.height, spec.width, spec.field if spec.field < min(spec.height, spec.width) else None)
        self.input_caption.setText(f"What the network sees · {spec.height}×{spec.width}")
        self.prediction.set_labels(session.labels)
        self.layer_panel.set_layers(layers, session.meta, self.model_title(), (spec.height, spec.width),
                                    set(self._kernels), graph_input_shapes(original))
        self.layer_panel.set_runtime_shapes({name: value.shape for name, value in probe.activations.items()})
        self.layer_panel.set_class_labels(session.class_output.name, session.labels)
        self.overview.set_model(layers, session.meta, self.model_title(), (spec.height, spec.width), session.labels,
                                session.class_output.name)
        if self._map_dialog is not None:
            self._map_dialog.close()
        self._show_provider()
        if session.warning:
            self.show_warning(session.warning)
        if calibration is not None:
            # Said where the person looks; a model that reads no digits is a warning.
            (self.show_status if calibration.looks_like_digits else self.show_warning)(
                f"{session.path.name}: {calibration.message()}")
        is_default = path is None or Path(path).resolve() == default_model_path().resolve()
        self.settings.model_path = "" if is_default else str(Path(path).resolve())
        self._update_title()
        self.controller.request()
        return True

    def _titles_for(self, layers) -> dict[int, str]:
        names = layer_names(layers, self.session.meta)
        return {layer.index: names[layer.index].title(layer) for layer in layers}

    @staticmethod
    def _conv_kernels(model, layers, weight_file) -> dict[int, tuple]:
        """Every 2-D convolution whose weights are stored in the file: layer index → (weights, bias) tensors.

        The tensors stay protobuf, or in the file (``weight_file``, see ``ModelSession.weights``), until
        a kernel view asks (``_kernel_arrays``): a copy of every weight as numpy would add the
        model's size again to the window's memory."""
        from onnx import TensorProto

        initializers = {t.name: t for t in model.graph.initializer}
        kernels = {}
        for layer in layers:
            if layer.op != "Conv" or len(layer.inputs) < 2 or layer.inputs[1] not in initializers:
                continue
            weights = initializers[layer.inputs[1]]
            if len(weights.dims) != 4 or weights.data_location == TensorProto.EXTERNAL and not weight_file.holds(weights):
                continue
            bias = initializers.get(layer.inputs[2]) if len(layer.inputs) > 2 else None
            kernels[layer.index] = (weights, bias)
        return kernels

    def _kernel_arrays(self, tensors) -> tuple[np.ndarray, np.ndarray | None] | None:
        weights, bias = tensors
        weight_file = self.session.weights  # the session the kernels were taken from (_load_model)
        try:
            return weight_file.array(weights), None if bias is None else weight_file.array(bias)
        except LenetGuiError:  # the file changed on disk since it was opened: the caller says so
            raise
        except Exception:  # external data that is not there: no kernels to show
            return None

    def model_title(self) -> str:
        if self.session is None:
            return "no model"
        if self.session.path.resolve() == default_model_path().resolve():
            return "LeNet-5"
        return self.session.path.name

    _opening = False  # a model is being opened (see _responsively)

    def _responsively(self, work):
        """``work()`` on a thread while the window keeps painting and the pen keeps drawing.

        Opening a model loads, analyses and test-runs it, which for a slow model takes up
        to the run time limit: the window must not freeze meanwhile. Menus that would start
        another model change are off until it is done. Returns what ``work`` returns and
        raises what it raises.
        """
        import threading

        from PySide6.QtCore import QEventLoop

        outcome: dict = {}

        def run() -> None:
            try:
                outcome["value"] = work()
            except BaseException as exc:  # handed to the GUI thread below
                outcome["error"] = exc

        thread = threading.Thread(target=run, name="open-model", daemon=True)
        guarded = [self.actions.open_model, *self.actions.providers.values()]
        enabled = [a.isEnabled() for a in guarded]
        for action in guarded:
            action.setEnabled(False)
        self._opening = True
        thread.start()
        try:
            thread.join(0.05)  # a quick model never spins the event loop
            if thread.is_alive():
                self.show_status("Opening the model…", 0)
                while thread.is_alive():
                    QApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 30)
                    thread.join(0.01)
                self.statusBar().clearMessage()
        finally:
            self._opening = False
            for action, on in zip(guarded, enabled):
                action.setEnabled(on)
        if "error" in outcome:
            raise outcome["error"]
        return outcome["value"]

    def open_model(self, path: str) -> bool:
        """Open another ONNX model; the drawing stays, a bad model changes nothing."""
        provider = self._requested_provider()
        if not self._load_model(str(path), provider):
            return False
        self.settings.add_recent(str(path))
        self.show_status(f"Opened the model {Path(path).name}: {len(self.layers)} nodes")
        return True

    def set_provider(self, key: str) -> bool:
        """Run on "auto", "cpu" or "cuda"; an unavailable choice falls back to the CPU with a message."""
        if self.session is None:
            return False
        try:
            session = import_model_tools()[0](self.session.path, provider=key, memory_limit=self.settings.memory_limit,
                                              timeout=self.settings.inference_timeout)
        except LenetGuiError as exc:
            self.show_error("Cannot switch provider", str(exc))
            return False
        self.session = session
        self.controller.set_session(session)
        self.settings.provider = key
        self.actions.providers[key].setChecked(True)
        self._show_provider()
        if session.warning:
            self.show_warning(session.warning)
        else:
            self.show_status(f"Inference runs on the {session.provider}")
        return True

    def show_convention_dialog(self):
        """Compute → Input Convention…: what calibration found, and the person's override."""
        from lenet_gui.ui.convention_dialog import ConventionDialog

        if self.session is None:
            return None
        current = self.session.spec
        chosen = {k: getattr(current, k) for k in ("pixel_max", "mean", "std", "invert", "field", "box")}
        dialog = ConventionDialog(getattr(self.session, "calibration", None), chosen, self)
        dialog.conventionChosen.connect(self.set_input_convention)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        return dialog

    def set_input_convention(self, overrides: dict) -> None:
        """Feed the open model another way (the person overrides calibration)."""
        session = self.session
        base = getattr(session, "uncalibrated_spec", session.spec)
        spec = session.spec = base.with_overrides(**overrides)
        self.network_input.set_input_size(spec.height, spec.width, spec.field if spec.field < min(spec.height, spec.width) else None)
        self.show_status(f"Input convention changed for {session.path.name}")
        self.controller.request()

    def _requested_provider(self) -> str:
        checked = self.actions.provider_group.checkedAction()
        return next((k for k, a in self.actions.providers.items() if a is checked), "auto")

    def _show_provider(self) -> None:
        if self.session is None:
            self.provider_label.setText("No model")
            return
        text = f"Provider: {self.session.provider}"
        if self.session.warning:
            text += " (fallback)"
        self.provider_label.setText(text)
        self.provider_label.setToolTip(self.session.warning or f"onnxruntime runs on the {self.session.provider}")

    # --- results ------------------------------------------------------------------------------------------
    def _show_result(self, result) -> None:
        if self._failure_shown:
            self._failure_shown = False
            self.statusBar().clearMessage()
            self.message_bar.clear("inference")
        self.prediction.show_result(result)
        prepared = None if result is None else result.prepared
        self.network_input.set_view(None if prepared is None else prepared.network_view)
        if result is not None and result.partial:
            # Class scores only (a costly model while the pen moves): the layer views keep
            # the last full run until the one that follows at rest.
            self._show_timing(result)
            return
        self.layer_panel.show_result(result)
        self.overview.show_result(result)
        if self._map_dialog is not None and self._map_dialog.isVisible():
            self._feed_map_dialog(result)
        if result is not None:
            self._show_timing(result)
        if getattr(self.session, "large_runs", False):
            # The run before this one is dropped now; its megabytes go back to the system.
            memory.release_free_memory()
        self.resultShown.emit(result)

    def _show_timing(self, result) -> None:
        # A few times a second is all a person can read; a changing label costs a relayout.
        now = time.monotonic()
        if now - self._timing_shown_at < TIMING_INTERVAL_S and self.canvas.is_drawing():
            return
        self._timing_shown_at = now
        what = " (class scores only, while drawing)" if result.partial else ""
        text = (f"Inference {result.seconds * 1000:.2f} ms{what} · preprocessing "
                f"{self.controller.last_preprocess_seconds * 1000:.1f} ms")
        needed = self.timing_label.fontMetrics().horizontalAdvance(text) + 8
        if needed > self.timing_label.maximumWidth():  # longer than the template: widen once
            self.timing_label.setFixedWidth(needed)
        self.timing_label.setText(text)

    def _inference_failed(self, message: str) -> None:
        self._failure_shown = True
        self.prediction.show_failure()  # no digit for an input the model could not read
        self.message_bar.show_message(f"{message} — your drawing is kept.", "inference")
        self.show_status(f"{message} — your drawing is kept.", 0)
        self.errorShown.emit(message)

    def flush(self) -> None:
        """Run a pending inference now and let the views repaint (screenshots, tests)."""
        self.controller.flush()
        QApplication.processEvents()

    @property
    def last_result(self):
        """The newest result with every activation: what the layer views and the inspector show."""
        return self.controller.last_full_result

    # --- pointing at units --------------------------------------------------------------------------------
    def _unit_hovered(self, layer, channel: int, row: int, col: int) -> None:
        panel_row = self.layer_panel.row_for(layer)
        kind = panel_row.maps.kind if panel_row is not None and panel_row.maps is not None else "strip"
        box = receptive_box_for(layer, kind, row, col)
        self.network_input.set_highlight(box)
        value = panel_row.maps.value_at(channel, row, col) if panel_row and panel_row.maps else None
        maps = panel_row.maps if panel_row is not None else None
        count = 1 if maps is None else maps.total if kind == "strip" else maps.shape[0] if len(maps.shape) == 3 else 1
        where = unit_text(kind, channel, count, row, col)
        text = f"{self._titles.get(layer.index, layer.display_name)} · {where}"
        if value is not None:
            text += f" = {value:.4f}"
        if box is not None:
            text += " · " + box_text(box, *self.network_input.input_size())
        self.statusBar().showMessage(text)

    def _unit_left(self) -> None:
        self.network_input.set_highlight(None)
        self.statusBar().clearMessage()

    def _input_pixel_hovered(self, row: int, col: int, value: float) -> None:
        if self.session is None:
            return
        spec = self.session.spec
        normalised = ((1.0 - value if spec.invert else value) * spec.pixel_max - spec.mean) / spec.std
        self.statusBar().showMessage(
            f"Input pixel row {row + 1}, column {col + 1} (index [{row}, {col}]): {value:.3f} → the network gets "
            f"({value:.3f} − {spec.mean:g}) / {spec.std:g} = {normalised:.3f}"
        )

    def open_map(self, layer, channel: int) -> FeatureMapDialog:
        """The enlarged view of one map (a dialog that follows the drawing)."""
        if self._map_dialog is None:
            self._map_dialog = FeatureMapDialog(self)
            self._map_dialog.unitHovered.connect(self._unit_hovered)
            self._map_dialog.hoverLeft.connect(self._unit_left)
            self._map_dialog.unitActivated.connect(self.explain.select_from_panel)
        row = self.layer_panel.row_for(layer)
        shape = row.maps.shape if row is not None and row.maps is not None else tuple(layer.output_shape[1:])
        signed = row.maps.signed if row is not None and row.maps is not None else True
        result = self.controller.last_full_result
        activation = None if result is None else result.activations.get(layer.output)
        view = None if result is None or result.prepared is None else result.prepared.network_view
        spec = self.session.spec
        labels = self.session.labels if layer.output == self.session.class_output.name else None
        self._map_dialog.show_map(layer, self._titles.get(layer.index, layer.display_name), shape, signed, channel,
                                  activation, view, (spec.height, spec.width), labels)
        self._map_dialog.show()
        self._map_dialog.raise_()
        return self._map_dialog

    def _feed_map_dialog(self, result) -> None:
        dialog = self._map_dialog
        activation = None if result is None or dialog.layer is None else result.activations.get(dialog.layer.output)
        view = None if result is None or result.prepared is None else result.prepared.network_view
        dialog.set_activation(activation, view)

    def show_kernels(self, layer) -> KernelDialog | None:
        try:
            arrays = self._kernel_arrays(self._kernels[layer.index]) if layer.index in self._kernels else None
        except LenetGuiError as exc:
            self.show_warning(str(exc))
            return None
        if arrays is None:
            return None
        weights, bias = arrays
        dialog = KernelDialog(self._titles.get(layer.index, layer.display_name), weights, bias, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.destroyed.connect(lambda _=None, d=dialog: self._kernel_dialogs.remove(d) if d in self._kernel_dialogs else None)
        self._kernel_dialogs.append(dialog)
        dialog.show()
        return dialog

    # --- files ---------------------------------------------------------------------------------------------
    def open_path(self, path: str) -> bool:
        """Open an image, a .strokes.json drawing or an .onnx model (by its name)."""
        name = str(path).lower()
        if name.endswith(".onnx"):
            return self.open_model(path)
        if name.endswith(".json"):
            return self.open_drawing(path)
        return self.open_image(path)

    def open_drawing(self, path: str) -> bool:
        drawing = self._read_file(path, load_drawing, DrawingError, "drawing")
        if drawing is None:
            return False
        self.canvas.set_drawing(drawing, f"Open {Path(path).name}")
        self._opened(path, f"Opened the drawing {Path(path).name} ({len(drawing.strokes)} strokes)")
        return True

    def open_example(self, path: str) -> bool:
        """A shipped example: opened as an untitled drawing, so Save asks where (the package stays as it is)."""
        drawing = self._read_file(path, load_drawing, DrawingError, "drawing")
        if drawing is None:
            return False
        name = Path(path).name.removesuffix(DRAWING_SUFFIX)
        self.canvas.set_drawing(drawing, f"Open example {name}")
        self.document_path = None
        self.settings.document_path = ""
        self._update_title()
        self.show_status(f"Opened the example {name}: a real pen-written digit (UCI pen digits, CC BY 4.0)")
        return True

    def open_image(self, path: str) -> bool:
        def show_behind_strokes(p: str) -> bool:
            self.canvas.set_backdrop_image(str(p))
            return True

        if self._read_file(path, show_behind_strokes, ImageError, "image") is None:
            return False
        self._opened(path, f"Opened the image {Path(path).name}; strokes you draw go on top of it")
        return True

    def _read_file(self, path: str, read, expected: type[Exception], kind: str):
        """``read(path)``, or None after one message; the drawing on screen stays as it was."""
        try:
            return read(path)
        except expected as exc:
            detail = str(exc)
        except Exception as exc:  # a reader bug must not cost the drawing on screen
            detail = f"{Path(path).name}: cannot be read as {'an' if kind[0] in 'aeiou' else 'a'} {kind} ({type(exc).__name__})"
        self.show_error(f"Cannot open the {kind}", f"{detail}\n\nYour drawing is unchanged.")
        return None

    def _opened(self, path: str, message: str) -> None:
        self.document_path = str(Path(path).resolve())
        self.settings.document_path = self.document_path
        self.settings.add_recent(str(path))
        self.settings.last_folder = str(Path(path).resolve().parent)
        self.canvas.undo_stack.setClean()
        self._update_title()
        self.show_status(message)

    def save_drawing(self, path: str) -> bool:
        """Write the strokes as ``.strokes.json``; the drawing becomes that document."""
        path = str(path)
        if not path.lower().endswith(".json"):
            path += DRAWING_SUFFIX
        try:
            save_drawing(self.canvas.drawing(), path)
        except OSError as exc:
            self.show_error("Cannot save the drawing", f"{path}: {exc.strerror or exc}")
            return False
        note = ""
        if self.canvas.backdrop() is not None:
            note = " (the strokes only: the opened image is not part of a .strokes.json; export a PNG to keep it)"
        self.document_path = str(Path(path).resolve())
        self.settings.document_path = self.document_path
        self.settings.add_recent(path)
        self.canvas.undo_stack.setClean()
        self._update_title()
        self.show_status(f"Saved {Path(path).name}{note}")
        return True

    def export_png(self, path: str) -> bool:
        """The drawing as a PNG: dark ink on white, twice the canvas size."""
        return self._save_png(self.canvas.render_image(scale=2.0), path, "Cannot save the PNG", "Saved {}")

    def export_layer_panel(self, path: str) -> bool:
        return self._save_png(
            self.layer_panel.render_image(), path, "Cannot export the layer panel", "Exported the layer panel to {}"
        )

    def _save_png(self, image, path: str, failure_title: str, success: str) -> bool:
        path = str(path)
        if not path.lower().endswith(".png"):
            path += ".png"
        if not image.save(path, "PNG"):
            self.show_error(failure_title, f"{path} could not be written")
            return False
        self.show_status(success.format(Path(path).name))
        return True

    def _start_folder(self) -> str:
        folder = self.settings.last_folder
        return folder if folder and Path(folder).is_dir() else str(Path.home())

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open an Image or a Drawing", self._start_folder(),
            f"Images and drawings (*.png *.jpg *.jpeg *.bmp *.gif *.tif *.tiff *.webp *.json);;"
            f"{IMAGE_FILTER};;{DRAWING_FILTER};;All files (*)")
        if path:
            self.open_path(path)

    def open_model_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open an ONNX Model", self._start_folder(),
                                              f"{MODEL_FILTER};;All files (*)")
        if path:
            self.open_model(path)

    def save(self) -> None:
        if self.document_path and self.document_path.lower().endswith(".json"):
            self.save_drawing(self.document_path)
        else:
            self.save_as()

    def save_as(self) -> None:
        stem = Path(self.document_path).name.split(".")[0] if self.document_path else "digit"
        path, _ = QFileDialog.getSaveFileName(self, "Save the Drawing", str(Path(self._start_folder()) / f"{stem}{DRAWING_SUFFIX}"),
                                              DRAWING_FILTER)
        if path:
            self.save_drawing(path)

    def export_png_dialog(self) -> None:
        stem = Path(self.document_path).name.split(".")[0] if self.document_path else "digit"
        path, _ = QFileDialog.getSaveFileName(self, "Export the Drawing as PNG",
                                              str(Path(self._start_folder()) / f"{stem}.png"), "PNG images (*.png)")
        if path:
            self.export_png(path)

    def export_panel_dialog(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export the Layer Panel as PNG",
                                              str(Path(self._start_folder()) / "layers.png"), "PNG images (*.png)")
        if path:
            self.export_layer_panel(path)

    def fill_recent_menu(self, menu) -> None:
        menu.clear()
        recent = self.settings.recent_files
        for path in recent:
            act = menu.addAction(Path(path).name)
            act.setToolTip(path)
            act.setStatusTip(path)
            act.triggered.connect(lambda checked=False, p=path: self._open_recent(p))
        if not recent:
            menu.addAction("No recent files").setEnabled(False)
        menu.addSeparator()
        menu.addAction("Clear Recent Files", self.settings.clear_recent).setEnabled(bool(recent))

    def _open_recent(self, path: str) -> None:
        if not Path(path).exists():
            self.settings.remove_recent(path)
            self.show_error("File not found", f"{path} is no longer there; it was removed from the recent files.")
            return
        self.open_path(path)

    # --- drag and drop ---------------------------------------------------------------------------------------
    def dragEnterEvent(self, event) -> None:
        if any(url.isLocalFile() for url in event.mimeData().urls()):
            event.acceptProposedAction()

    def dropEvent(self, event) -> None:
        paths = [url.toLocalFile() for url in event.mimeData().urls() if url.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.open_path(paths[0])

    # --- editing ----------------------------------------------------------------------------------------------
    def _drawing_changed(self, _drawing) -> None:
        self.controller.request()

    def _clean_changed(self, clean: bool) -> None:
        self.setWindowModified(not clean)

    def clear_drawing(self) -> None:
        if self.canvas.clear():  # an edit of the document, as any stroke is: Save still writes to its file
            self._update_title()
            self.show_status("Cleared (Undo brings it back)")

    def _tool_changed(self, tool: str) -> None:
        self.settings.tool = tool
        (self.actions.eraser if tool == "eraser" else self.actions.pen).setChecked(True)

    def _remember_pen(self, size: float) -> None:
        self.settings.pen_width = size
        self._autosave()

    # --- view -------------------------------------------------------------------------------------------------
    def step_tile_size(self, step: int) -> None:
        sizes = list(TILE_SIZES)
        current = self.layer_panel.tile_size()
        index = sizes.index(current) if current in sizes else sizes.index(DEFAULT_TILE_SIZE)
        size = sizes[min(max(index + step, 0), len(sizes) - 1)]
        self.layer_panel.set_tile_size(size)
        self.settings.map_size = size

    def set_show_grid(self, show: bool) -> None:
        self.network_input.set_show_grid(bool(show))
        self.settings.show_grid = bool(show)

    def set_color_scheme(self, scheme: str) -> None:
        theme.scheme_manager(QApplication.instance()).apply(scheme)
        self.settings.color_scheme = scheme
        self.actions.schemes[scheme].setChecked(True)

    def show_help(self) -> None:
        self._message(
            QMessageBox.Icon.Information, "How to Read the Panel",
            "<p><b>What the network sees</b> is the 32×32 image handed to the first layer: your ink scaled into "
            "a 20×20 box, centred by its centre of mass in 28×28, padded by 2 pixels (the dashed frame).</p>"
            "<p><b>The network at a glance</b>, across the top, draws every layer as a column: its maps "
            "(6@28×28 is 6 maps of 28×28) or its units, the outputs labelled with their classes and the winner "
            "outlined. Click a column to see its row in the panel; double-click a map to enlarge it.</p>"
            "<p>Maps, units, rows and columns are counted from 1; the 0-based index an array uses is given beside "
            "them, e.g. map 2 of 6 (index 1).</p>"
            "<p>Each <b>row</b> of the layer panel is one node of the ONNX graph. The shape formula is the hand "
            "calculation, e.g. (32 + 2·0 − 5)/1 + 1 = 28; ✓ says onnxruntime produced exactly that shape.</p>"
            "<p>The <b>heatmaps</b> are that layer's activations for your drawing, one tile per feature map. "
            "Dark is zero, bright the layer's largest value; where values can be negative, blue is below zero "
            "and red above.</p>"
            "<p>Hover a unit to outline the input pixels it sees (its receptive field). Click a unit (or press "
            "Enter on it) to see in the <b>Unit Inspector</b> how it was computed, with your drawing's numbers; "
            "double-click a map to enlarge it. <b>Kernels…</b> shows a convolution's learned weights.</p>"
            "<p><b>View → Show Evidence</b> colours the input by what made the network answer; click a "
            "probability bar to see another class's evidence.</p>")

    def show_about(self) -> None:
        meta = self.session.meta if self.session else {}
        accuracy = meta.get("mnist_test_accuracy")
        lines = [f"<h3>lenet-gui {__version__}</h3>",
                 "<p>Draw a digit and watch a LeNet-5 read it, layer by layer. Runs offline with onnxruntime.</p>",
                 f"<p>Model: {html.escape(self.model_title())}"]
        if meta.get("model"):
            lines.append(f" — {html.escape(meta['model'])}")
        if accuracy:
            try:
                lines.append(f"<br>MNIST test accuracy: {float(accuracy) * 100:.2f} %")
            except ValueError:
                pass
        if meta.get("training_data"):
            lines.append(f"<br>Training data: {html.escape(meta['training_data'])}")
        calibration = getattr(self.session, "calibration", None)
        if calibration is not None:
            lines.append(f"<br>Input: {html.escape(calibration.message())}")
        lines.append("</p>")
        self._message(QMessageBox.Icon.Information, "About lenet-gui", "".join(lines))

    # --- messages --------------------------------------------------------------------------------------------
    def show_status(self, message: str, timeout: int = STATUS_MS) -> None:
        self.statusBar().showMessage(message, timeout)

    def show_warning(self, message: str) -> None:
        self.last_message = message
        self.show_status(message, 0)
        self.errorShown.emit(message)

    def _model_refused(self, message: str) -> None:
        """A model that cannot be used: said in the message bar; the drawing and the current model stay."""
        self.last_message = message
        kept = f" The model in use is still {self.model_title()}." if self.session is not None else ""
        self.message_bar.show_message(f"Cannot open the model: {message.rstrip('.')}.{kept}", "model")
        self.statusBar().showMessage(message.split("\n")[0], STATUS_MS * 2)
        self.errorShown.emit(message)
        if not self.interactive:
            print(f"lenet-gui: {message.splitlines()[0]}", file=sys.stderr)

    def show_error(self, title: str, message: str) -> None:
        """One clear message; never blocks (a window-modal box, or stderr without a user)."""
        self.last_message = message
        self.statusBar().showMessage(message.split("\n")[0], STATUS_MS * 2)
        self.errorShown.emit(message)
        if self.interactive:
            self._message(QMessageBox.Icon.Warning, title, message)
        else:
            print(f"lenet-gui: {message.splitlines()[0]}", file=sys.stderr)

    def _message(self, icon, title: str, text: str) -> None:
        box = QMessageBox(icon, title, text, QMessageBox.StandardButton.Ok, self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setWindowModality(Qt.WindowModality.WindowModal)
        box.open()

    def _update_title(self) -> None:
        document = Path(self.document_path).name if self.document_path else "Untitled drawing"
        self.setWindowTitle(f"{document}[*] — {self.model_title()} — {APP_NAME}")
        self.setWindowModified(not self.canvas.undo_stack.isClean())

    # --- session state ------------------------------------------------------------------------------------------
    def _autosave(self, _drawing=None) -> None:
        backdrop = self.canvas.backdrop()
        self.settings.drawing_json = self.canvas.drawing().to_json()
        self.settings.backdrop_path = backdrop.path if backdrop is not None else ""
        self.settings.document_path = self.document_path or ""
        self.settings.sync()

    def _restore_session(self) -> None:
        settings = self.settings
        if settings.geometry is not None:
            self.restoreGeometry(settings.geometry)
        if settings.window_state is not None:
            self.restoreState(settings.window_state)
        if settings.splitter_state is not None:
            self.splitter.restoreState(settings.splitter_state)
        if settings.color_scheme != "system":
            self.set_color_scheme(settings.color_scheme)
        text = settings.drawing_json
        if not text:
            return
        try:
            drawing = Drawing.from_json(text, source="the autosaved drawing")
        except Exception as exc:  # a damaged autosave must not keep the app from starting
            self.show_status(f"The last drawing could not be restored: {exc}")
            return
        backdrop = None
        if settings.backdrop_path and Path(settings.backdrop_path).is_file():
            try:
                backdrop = Backdrop(settings.backdrop_path, preprocess.load_image(settings.backdrop_path))
            except Exception:  # the image changed or went bad since: restore the strokes alone
                backdrop = None
        self.canvas.restore_session(drawing, backdrop)
        document = settings.document_path
        self.document_path = document if document and Path(document).exists() else None

    def closeEvent(self, event) -> None:
        self.settings.geometry = self.saveGeometry()
        self.settings.window_state = self.saveState()
        self.settings.splitter_state = self.splitter.saveState()
        self._autosave()
        self.settings.release_session()
        for dialog in list(self._kernel_dialogs):
            dialog.close()
        if self._map_dialog is not None:
            self._map_dialog.close()
        super().closeEvent(event)
