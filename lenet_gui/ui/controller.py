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

What is fetched depends on what it costs. While the pen is down, a model whose
full run (every activation, and the window showing them) took more than
``LIVE_FULL_LIMIT_S`` is asked for its class scores alone: the prediction still
follows the pen, at a fraction of the cost (ResNet-18: 12 ms instead of 91), and
the panel keeps its pictures. When the pen rests for ``REST_MS`` (lifted or
held still) the full run follows, and every view catches up. LeNet-5's full run
takes a fraction of a millisecond, so it always gets everything.
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
# A full run (onnxruntime plus showing it) costlier than this gives way to a class-scores-only run while drawing.
LIVE_FULL_LIMIT_S = 0.004
# After this long with no new input, the full run follows a class-scores-only one.
REST_MS = 120


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
        self._job = None  # (generation, session, tensor, prepared, run_options, outputs)
        self._running = None  # run_options of the job in flight
        self._idle = threading.Event()
        self._idle.set()
        self._thread = threading.Thread(target=self._loop, name="lenet-gui inference", daemon=True)
        self._thread.start()

    def submit(self, generation: int, session, tensor, prepared, outputs=None) -> None:
        import onnxruntime as ort

        with self._lock:
            options = ort.RunOptions()
            options.log_severity_level = 4  # a cancelled run is not an error to print
            self._job = (generation, session, tensor, prepared, options, outputs)
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
                generation, session, tensor, prepared, options, outputs = self._job
                self._job = None
                self._running = options
                self._running_session = session
            result, error = None, None
            try:
                result = session.run(tensor, prepared, run_options=options, outputs=outputs)
            except Exception as exc:  # onnxruntime, numpy: reported on the GUI thread
                error = "cancelled" if options.terminate else _failure_message(exc)
            with self._lock:
                self._running = None
                done = self._job is None
            try:
                self._deliver(generation, result, error)
            except RuntimeError:  # the window is gone (closed while a run was in flight): nothing to tell
                self._idle.set()
                return
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
        self._rest_timer = QTimer(self)
        self._rest_timer.setSingleShot(True)
        self._rest_timer.timeout.connect(self._run_full)
        self._pen_down: Callable[[], bool] = lambda: False
        self._full_cost: float | None = None  # seconds of the last full run, shown; None: not known yet
        self._finished.connect(self._on_finished)
        self._worker: _Worker | None = None
        self._generation = 0  # of the newest request; results of older ones are dropped
        self._delivered = 0  # generation of the newest result shown (or None shown for an empty canvas)
        self._dropped = 0  # results of this generation and older are not shown (cancelled, another model)
        # Whether a run is quick enough for the GUI thread, known per kind of run (full, light).
        self._inline = {False: False, True: False}
        self._busy_shown = False
        self._last_run = -1e9
        self.last_result: Result | None = None
        #: The newest result with every activation (``last_result`` may hold class scores only).
        self.last_full_result: Result | None = None
        self.last_error: str | None = None
        self.last_preprocess_seconds = 0.0

    @property
    def session(self) -> ModelSession | None:
        return self._session

    def set_session(self, session: ModelSession) -> None:
        if self._worker is not None and self._worker.busy():
            self.cancel()  # a run of the old model must not land after the new one's
        self._session = session
        self._dropped = self._generation  # nothing of the old model is shown from here on
        self._inline = {False: False, True: False}  # its first runs go to the worker: they might be slow
        self._full_cost = None
        self._rest_timer.stop()
        self.sessionChanged.emit(session)
        self.request()

    def set_source(self, source: Callable[[InputSpec], Prepared | None]) -> None:
        """``source(spec)`` gives the network's input for what is on screen now."""
        self._source = source

    def set_pen_probe(self, pen_down: Callable[[], bool]) -> None:
        """``pen_down()`` says whether a stroke is being drawn now (class scores only for a costly model)."""
        self._pen_down = pen_down

    def is_light(self) -> bool:
        """Whether the next run fetches the class scores alone (a costly model while the pen is down)."""
        cost = self._full_cost
        return cost is not None and cost > LIVE_FULL_LIMIT_S and self._pen_down()

    def request(self) -> None:
        """The input changed: read it again within a frame."""
        if self._timer.isActive():
            return
        since_ms = (time.perf_counter() - self._last_run) * 1000.0
        self._timer.start(max(0, int(FRAME_MS - since_ms)))

    def is_pending(self) -> bool:
        """Whether a run is still to come: a request, or the full run that follows a light one."""
        return self._timer.isActive() or self._rest_timer.isActive()

    def is_running(self) -> bool:
        """Whether an inference is running on the worker now."""
        return self._worker is not None and self._worker.busy()

    def flush(self, timeout: float = 60.0) -> None:
        """Run a pending request now and wait for its result (for screenshots and tests)."""
        if self._timer.isActive():
            self._timer.stop()
            self.run_now()
        self._wait_worker(timeout)
        if self._rest_timer.isActive():  # the full run that would follow at rest: now
            self._run_full()
            self._wait_worker(timeout)

    def _wait_worker(self, timeout: float) -> None:
        if self._worker is not None:
            if self._worker.busy():
                self._worker.wait(timeout)
            self._take_finished()  # also a run that ended before this call, its result not yet delivered

    def cancel(self) -> None:
        """Stop the running inference (if any); the drawing and the last result stay."""
        self._timer.stop()
        self._rest_timer.stop()
        if self._worker is None or not self._worker.busy():
            return
        self._generation += 1  # whatever the worker returns now is dropped
        self._dropped = self._generation
        self._worker.cancel()
        self._set_busy(False)
        self.cancelled.emit()

    def run_now(self) -> None:
        self._run(light=self.is_light())

    def _run_full(self) -> None:
        self._run(light=False)

    def _run(self, light: bool) -> None:
        self._timer.stop()
        self._rest_timer.stop()
        self._last_run = time.perf_counter()
        if self._source is None or self._session is None:
            return
        self._generation += 1
        outputs = () if light else None
        if light:  # the full run follows once the pen rests (a newer request pushes it back)
            self._rest_timer.start(REST_MS)
        try:
            started = time.perf_counter()
            prepared = self._source(self._session.spec)
            self.last_preprocess_seconds = time.perf_counter() - started
            if prepared is None:
                self._rest_timer.stop()
                self._show(None, self._generation)
                return
            if not self._inline[light]:
                self._start_worker(prepared, outputs)
                return
            started = time.perf_counter()
            result = self._session.run(prepared.tensor, prepared, outputs=outputs)
            if time.perf_counter() - started > INLINE_LIMIT_S:
                self._inline[light] = False  # the next runs of this kind go to the worker
        except Exception as exc:  # report it, keep the drawing and the app
            self._rest_timer.stop()
            self._fail(_failure_message(exc))
            return
        self._show(result, self._generation)

    # --- the worker ---------------------------------------------------------------------------------
    def _start_worker(self, prepared: Prepared, outputs=None) -> None:
        if self._worker is None:
            self._worker = _Worker(self._finished.emit)
        self._worker.submit(self._generation, self._session, prepared.tensor, prepared, outputs)
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
        if generation <= max(self._delivered, self._dropped):
            return  # something newer is shown already, or the user cancelled this one
        # A result whose input is older than the newest request is still shown: with a model slower
        # than the pen, every result is overtaken by newer strokes before it comes back, and dropping
        # those would leave the prediction still until the pen stops.
        if error == "cancelled" or (error and generation != self._generation):
            return  # a failure on an older input: the newer one, on its way, decides
        if error:
            self._fail(error)
            return
        if result is not None:
            self._inline[result.partial] = result.seconds <= INLINE_LIMIT_S
        self._show(result, generation)

    def _show(self, result, generation: int) -> None:
        self._delivered = generation
        self.last_error = None
        self.last_result = result
        if result is None or not result.partial:
            self.last_full_result = result
        started = time.perf_counter()
        self.resultReady.emit(result)
        if result is not None and not result.partial:
            # What a full result costs the pen: onnxruntime's time plus the views showing it.
            self._full_cost = result.seconds + (time.perf_counter() - started)

    def _fail(self, message: str) -> None:
        self.last_error = message
        self.failed.emit(message)
