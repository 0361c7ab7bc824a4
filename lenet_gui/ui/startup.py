"""Opening the model after the window's first paint.

The window paints without waiting for the model. Then, from the event loop:
1. a light onnxruntime session (``core.runtime``: no ``onnx`` import) reads the
   digit, so the canvas predicts within a few milliseconds of the first paint;
2. ``onnx``, the graph analysis and the activation session (``ModelSession``)
   are imported on a background thread, which keeps the pen responsive
   while the half second of ``import onnx`` runs;
3. back on the GUI thread the window opens the model as always (``_open_initial_model``):
   layer panel, kernels, every activation. Failures are reported as they always were.
"""

from __future__ import annotations

import threading

from PySide6.QtCore import QEvent, QObject, QTimer, Signal

from lenet_gui.core.errors import LenetGuiError

FALLBACK_MS = 300


def import_model_tools():
    """(ModelSession, load_model, graph): the onnx-based modules, imported on first use."""
    from lenet_gui.core import graph
    from lenet_gui.core.onnx_io import load_model
    from lenet_gui.core.session import ModelSession

    return ModelSession, load_model, graph


class DeferredModel(QObject):
    """Loads ``window``'s model in the steps above; ``stage`` says how far it got."""

    #: "light" (digits can be read), then "full" (the layer panel is filled).
    stageReached = Signal(str)
    _imported = Signal()

    def __init__(self, window, model: str | None, provider: str) -> None:
        super().__init__(window)
        self._window = window
        self._model = model
        self._provider = provider
        self.stage = "waiting"
        self._imported.connect(self._open_full)
        # Start once the canvas has painted (a window never shown starts after a moment).
        window.canvas.installEventFilter(self)
        self._fallback = QTimer(self)
        self._fallback.setSingleShot(True)
        self._fallback.timeout.connect(self._start)
        self._fallback.start(FALLBACK_MS)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.Paint and self.stage == "waiting":
            QTimer.singleShot(0, self._start)  # after this paint has finished
        return False

    def _start(self) -> None:
        if self.stage != "waiting":
            return
        self.stage = "starting"
        self._fallback.stop()
        self._window.canvas.removeEventFilter(self)
        self._open_light()

    def _open_light(self) -> None:
        from lenet_gui.core.runtime import LightSession

        window = self._window
        wanted = self._model or window.settings.model_path or None
        light = None
        for path in ([wanted] if wanted else []) + [None]:
            try:
                light = LightSession(path, provider="cpu" if self._provider == "cpu" else "auto")
                break
            except LenetGuiError:
                continue  # the full load below says why, as it always has
        if light is not None and window.session is None:
            spec = light.spec
            window.prediction.set_labels(light.labels)
            window.network_input.set_input_size(spec.height, spec.width,
                                                spec.field if spec.field < min(spec.height, spec.width) else None)
            window.controller.set_session(light)
            window.show_status("Opening the layer panel…", 0)
        self.stage = "light"
        self.stageReached.emit("light")
        threading.Thread(target=self._import_in_background, name="lenet-gui model tools", daemon=True).start()

    def _import_in_background(self) -> None:
        try:
            import_model_tools()
        except Exception:  # the GUI thread imports again and reports it properly
            pass
        self._imported.emit()  # queued to the GUI thread

    def _open_full(self) -> None:
        window = self._window
        window._open_initial_model(self._model, self._provider)
        window.statusBar().clearMessage()
        self.stage = "full"
        self.stageReached.emit("full")
