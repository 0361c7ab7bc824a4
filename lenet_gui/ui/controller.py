"""Runs preprocessing and inference for the window, at most once per display frame.

Pointer events arrive faster than the screen refreshes (a tablet sends 200+ a
second). ``request()`` only marks the input as stale; a single-shot timer then
runs the network once on the newest input, immediately when the last run is at
least a frame old, otherwise when that frame is over. So the prediction follows
the pen at display rate and never lags behind a queue of old drawings.

Inference runs on the GUI thread: on LeNet-5 preprocessing takes about 1 ms and
onnxruntime about 0.3 ms, less than a thread hand-over would cost.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Callable

from PySide6.QtCore import QObject, QTimer, Signal

from lenet_gui.core.errors import LenetGuiError
from lenet_gui.core.preprocess import InputSpec, Prepared

if TYPE_CHECKING:  # session imports onnx, which the window loads after its first paint
    from lenet_gui.core.session import ModelSession, Result

FRAME_MS = 16


class InferenceController(QObject):
    """Owns the ModelSession; turns "the input changed" into ``resultReady``."""

    #: A Result, or None when there is nothing to read (an empty canvas).
    resultReady = Signal(object)
    #: A one-line message when preprocessing or inference failed; the input is kept.
    failed = Signal(str)
    #: A new ModelSession is in use (another model or provider).
    sessionChanged = Signal(object)

    def __init__(self, session: ModelSession | None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._session = session
        self._source: Callable[[InputSpec], Prepared | None] | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.run_now)
        self._last_run = -1e9
        self.last_result: Result | None = None
        self.last_error: str | None = None
        self.last_preprocess_seconds = 0.0

    @property
    def session(self) -> ModelSession | None:
        return self._session

    def set_session(self, session: ModelSession) -> None:
        self._session = session
        self.sessionChanged.emit(session)
        self.request()

    def set_source(self, source: Callable[[InputSpec], Prepared | None]) -> None:
        """``source(spec)`` gives the network's input for what is on screen now."""
        self._source = source

    def request(self) -> None:
        """The input changed: read it again within a frame."""
        if self._timer.isActive():
            return
        since_ms = (time.perf_counter() - self._last_run) * 1000.0
        self._timer.start(max(0, int(FRAME_MS - since_ms)))

    def is_pending(self) -> bool:
        return self._timer.isActive()

    def flush(self) -> None:
        """Run a pending request now (for screenshots and tests)."""
        if self._timer.isActive():
            self._timer.stop()
            self.run_now()

    def run_now(self) -> None:
        self._timer.stop()
        self._last_run = time.perf_counter()
        if self._source is None or self._session is None:
            return
        try:
            started = time.perf_counter()
            prepared = self._source(self._session.spec)
            self.last_preprocess_seconds = time.perf_counter() - started
            result = None if prepared is None else self._session.run(prepared.tensor, prepared)
        except LenetGuiError as exc:
            self._fail(str(exc))
            return
        except Exception as exc:  # onnxruntime or numpy: report it, keep the drawing and the app
            self._fail(f"Inference failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}".rstrip(": "))
            return
        self.last_error = None
        self.last_result = result
        self.resultReady.emit(result)

    def _fail(self, message: str) -> None:
        self.last_error = message
        self.failed.emit(message)
