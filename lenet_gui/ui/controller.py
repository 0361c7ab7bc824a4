"""Runs preprocessing and inference for the window, at most once per display frame.

Pointer events arrive faster than the screen refreshes (a tablet sends 200+ a
second). ``request()`` only marks the input as stale; a single-shot timer then
runs the network once on the newest input, immediately when the last run is at
least a frame old, otherwise when that frame is over. So the prediction follows
the pen at display rate and never lags behind a queue of old drawings.

Where inference runs depends on how long it takes. A model's first run, and
every run of a model whose last run took more than ``INLINE_LIMIT_S``, goes to
a worker thread (onnxruntime releases the GIL while it computes), so a model
that needs seconds never freezes the window: the canvas keeps drawing, only
the newest input waits for the worker (older ones are dropped), ``busyChanged``
tells the window to show that it is running, and ``cancel()`` stops it
(onnxruntime's ``RunOptions.terminate``). A quick model such as LeNet-5 runs on
the GUI thread: well under a millisecond, less than a thread hand-over costs.
Preprocessing reads the canvas and always runs on the GUI thread (a fraction
of a millisecond).
"""

from __future__ import annotations

import threading
import time
from typing import TYPE_CHECKING, Callable

from PySide6.QtCore import QObject, QTimer, Signal

from lenet_gui.core.errors import LenetGuiError
from lenet_gui.core.preprocess import InputSpec, Prepared

if TYPE_CHECKING:  # session imports onnx, which the window loads after its first paint
    from lenet_gui.core.session import ModelSession, Result

FRAME_MS = 16
# A run faster than this stays on the GUI thread; a slower one sends the next ones to the worker.
INLINE_LIMIT_S = 0.004
# The busy indicator appears only for runs longer than this (no flicker for quick ones).
BUSY_DELAY_MS = 150


def _failure_message(exc: BaseException) -> str:
    if isinstance(exc, LenetGuiError):
        return str(exc)
    first = str(exc).splitlines()[0] if str(exc) else ""
    return f"Inference failed: {type(exc).__name__}: {first}".rstrip(": ")


class _Worker:
    """One thread that runs the newest job it was given; older waiting jobs are replaced."""

    def __init__(self, deliver: Callable[[int, object, str | None], None]) -> None:
        self._deliver = deliver
        self._lock = threading.Condition()
        self._job = None  # (generation, session, tensor, prepared, run_options)
        self._running = None  # run_options of the job in flight
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._loop, name="lenet-gui inference", daemon=True)
        self._thread.start()

    def submit(self, generation: int, session, tensor, prepared) -> None:
        import onnxruntime as ort

        with self._lock:
            options = ort.RunOptions()
            options.log_severity_level = 4  # a cancelled run is not an error to print
            self._job = (generation, session, tensor, prepared, options)
            self._idle.clear()
            self._lock.notify()

    def cancel(self) -> None:
        with self._lock:
            self._job = None
            if self._running is not None:
                self._running.terminate = True  # onnxruntime stops between kernels
                # A model run in a memory-limited worker process is stopped by ending that process.
                worker = getattr(getattr(self, "_running_session", None), "session", None)
                if hasattr(worker, "cancel"):
                    worker.cancel()
            else:
                self._idle.set()

    def wait(self, timeout: float) -> bool:
        return self._idle.wait(timeout)

    def busy(self) -> bool:
        return not self._idle.is_set()

    def _loop(self) -> None:
        while True:
            with self._lock:
                while self._job is None:
                    self._lock.wait()
                generation, session, tensor, prepared, options = self._job
                self._job = None
                self._running = options
                self._running_session = session
            result, error = None, None
            try:
                result = session.run(tensor, prepared, run_options=options)
            except Exception as exc:  # onnxruntime, numpy: reported on the GUI thread
                error = "cancelled" if options.terminate else _failure_message(exc)
            with self._lock:
                self._running = None
                done = self._job is None
            self._deliver(generation, result, error)
            if done:
                self._idle.set()


class InferenceController(QObject):
    """Owns the ModelSession; turns "the input changed" into ``resultReady``."""

    #: A Result, or None when there is nothing to read (an empty canvas).
    resultReady = Signal(object)
    #: A one-line message when preprocessing or inference failed; the input is kept.
    failed = Signal(str)
    #: A new ModelSession is in use (another model or provider).
    sessionChanged = Signal(object)
    #: True while a slow inference is running on the worker (after ``BUSY_DELAY_MS``), then False.
    busyChanged = Signal(bool)
    #: The user stopped a running inference; the drawing and the last result are kept.
    cancelled = Signal()
    _finished = Signal(int, object, object)  # from the worker thread, queued to this one

    def __init__(self, session: ModelSession | None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._session = session
        self._source: Callable[[InputSpec], Prepared | None] | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.run_now)
        self._busy_timer = QTimer(self)
        self._busy_timer.setSingleShot(True)
        self._busy_timer.timeout.connect(self._show_busy)
        self._finished.connect(self._on_finished)
        self._worker: _Worker | None = None
        self._generation = 0  # of the newest request; results of older ones are dropped
        self._delivered = 0
        self._inline = False  # the session has shown that it is quick
        self._busy_shown = False
        self._last_run = -1e9
        self.last_result: Result | None = None
        self.last_error: str | None = None
        self.last_preprocess_seconds = 0.0

    @property
    def session(self) -> ModelSession | None:
        return self._session

    def set_session(self, session: ModelSession) -> None:
        if self._worker is not None and self._worker.busy():
            self.cancel()  # a run of the old model must not land after the new one's
        self._session = session
        self._inline = False  # its first run goes to the worker: it might be slow
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

    def is_running(self) -> bool:
        """Whether an inference is running on the worker now."""
        return self._worker is not None and self._worker.busy()

    def flush(self, timeout: float = 60.0) -> None:
        """Run a pending request now and wait for its result (for screenshots and tests)."""
        if self._timer.isActive():
            self._timer.stop()
            self.run_now()
        if self._worker is not None:
            if self._worker.busy():
                self._worker.wait(timeout)
            self._take_finished()  # also a run that ended before this call, its result not yet delivered

    def cancel(self) -> None:
        """Stop the running inference (if any); the drawing and the last result stay."""
        self._timer.stop()
        if self._worker is None or not self._worker.busy():
            return
        self._generation += 1  # whatever the worker returns now is dropped
        self._worker.cancel()
        self._set_busy(False)
        self.cancelled.emit()

    def run_now(self) -> None:
        self._timer.stop()
        self._last_run = time.perf_counter()
        if self._source is None or self._session is None:
            return
        self._generation += 1
        try:
            started = time.perf_counter()
            prepared = self._source(self._session.spec)
            self.last_preprocess_seconds = time.perf_counter() - started
            if prepared is None:
                self._show(None)
                return
            if not self._inline:
                self._start_worker(prepared)
                return
            started = time.perf_counter()
            result = self._session.run(prepared.tensor, prepared)
            if time.perf_counter() - started > INLINE_LIMIT_S:
                self._inline = False  # the next runs go to the worker
        except Exception as exc:  # report it, keep the drawing and the app
            self._fail(_failure_message(exc))
            return
        self._show(result)

    # --- the worker ---------------------------------------------------------------------------------
    def _start_worker(self, prepared: Prepared) -> None:
        if self._worker is None:
            self._worker = _Worker(self._finished.emit)
        self._worker.submit(self._generation, self._session, prepared.tensor, prepared)
        if not self._busy_timer.isActive() and not self._busy_shown:
            self._busy_timer.start(BUSY_DELAY_MS)

    def _show_busy(self) -> None:
        if self.is_running():
            self._set_busy(True)

    def _set_busy(self, busy: bool) -> None:
        if not busy:
            self._busy_timer.stop()
        if busy != self._busy_shown:
            self._busy_shown = busy
            self.busyChanged.emit(busy)

    def _take_finished(self) -> None:
        # flush(): the queued signal may not have been delivered yet; deliver it now.
        from PySide6.QtCore import QCoreApplication

        QCoreApplication.sendPostedEvents(self)

    def _on_finished(self, generation: int, result, error) -> None:
        if not self.is_running():
            self._set_busy(False)
        if generation != self._generation or generation <= self._delivered:
            return  # a newer request is on its way, or the user cancelled this one
        self._delivered = generation
        if error == "cancelled":
            return
        if error:
            self._fail(error)
            return
        self._inline = result is not None and result.seconds <= INLINE_LIMIT_S
        self._show(result)

    def _show(self, result) -> None:
        self.last_error = None
        self.last_result = result
        self.resultReady.emit(result)

    def _fail(self, message: str) -> None:
        self.last_error = message
        self.failed.emit(message)
