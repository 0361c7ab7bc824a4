"""The inference controller: quick models inline, slow ones on a worker that keeps only
the newest request, shows that it is running and can be cancelled."""

import threading
import time

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from lenet_gui.core import preprocess
from lenet_gui.core.runtime import Prediction
from lenet_gui.core.session import ModelSession
from lenet_gui.ui.controller import InferenceController

F = TensorProto.FLOAT


class SlowSession:
    """Takes ``seconds`` per run, stops early when the run options say so, records its inputs."""

    spec = preprocess.LENET5_SPEC
    labels = [str(i) for i in range(10)]

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.ran: list[float] = []
        self.stopped = 0
        self.threads: set[str] = set()
        self.fetched: list = []  # the outputs= of each run: None for every activation

    def run(self, tensor, prepared=None, run_options=None, outputs=None):
        self.threads.add(threading.current_thread().name)
        self.fetched.append(outputs)
        started = time.perf_counter()
        while time.perf_counter() - started < self.seconds:
            if run_options is not None and run_options.terminate:
                self.stopped += 1
                raise RuntimeError("Exiting due to terminate flag being set to true.")
            time.sleep(0.002)
        value = float(tensor.ravel()[0])
        self.ran.append(value)
        probs = np.full(10, 0.1, np.float32)
        return Prediction(int(value) % 10, str(int(value) % 10), probs, probs, {}, time.perf_counter() - started, prepared,
                          partial=outputs is not None)


def numbered_source():
    """A source whose n-th input has n in its first pixel, so a result says which input it read."""
    count = [0]

    def source(spec):
        count[0] += 1
        tensor = np.full((1, 1, 32, 32), float(count[0]), np.float32)
        return preprocess.Prepared(np.zeros((28, 28), np.float32), np.zeros((32, 32), np.float32), tensor)

    return source, count


def slow_loop_model(path, trips=50_000_000):
    """A classifier whose logits come out of a Loop of ``trips`` additions: seconds per run."""
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), helper.make_node("Add", ["acc_in", "one"], ["acc_out"])],
        "body",
        [helper.make_tensor_value_info("i", TensorProto.INT64, []), helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
         helper.make_tensor_value_info("acc_in", F, [1, 10])],
        [helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []), helper.make_tensor_value_info("acc_out", F, [1, 10])],
        [helper.make_tensor("one", F, [1], [1.0])],
    )
    nodes = [
        helper.make_node("ReduceMean", ["image"], ["m"], keepdims=0),
        helper.make_node("Reshape", ["m", "shape"], ["m2"]),
        helper.make_node("Expand", ["m2", "shape10"], ["start"]),
        helper.make_node("Loop", ["trips", "cond", "start"], ["logits"], body=body),
    ]
    graph = helper.make_graph(
        nodes, "slow", [helper.make_tensor_value_info("image", F, [1, 1, 32, 32])],
        [helper.make_tensor_value_info("logits", F, [1, 10])],
        [helper.make_tensor("trips", TensorProto.INT64, [], [trips]), helper.make_tensor("cond", TensorProto.BOOL, [], [True]),
         helper.make_tensor("shape", TensorProto.INT64, [2], [1, 1]), helper.make_tensor("shape10", TensorProto.INT64, [2], [1, 10])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


@pytest.fixture
def controller(qtbot):
    c = InferenceController(None)
    yield c
    c.cancel()


def test_a_quick_model_runs_inline_after_its_first_run(controller, qtbot):
    source, count = numbered_source()
    session = ModelSession(provider="cpu")
    controller.set_source(source)
    results = []
    controller.resultReady.connect(results.append)
    controller.set_session(session)
    controller.flush()  # the first run of a new session goes to the worker
    assert len(results) == 1 and not controller.is_running()
    controller.request()
    controller.flush()
    assert len(results) == 2  # inline: delivered before flush returns, no waiting
    assert threading.current_thread() is threading.main_thread()


def test_only_the_newest_request_is_run_and_every_newer_result_shown(controller, qtbot):
    source, count = numbered_source()
    slow = SlowSession(0.3)
    controller.set_source(source)
    results = []
    controller.resultReady.connect(results.append)
    controller._session = slow  # no request yet
    controller.run_now()  # input 1: the worker starts on it
    qtbot.waitUntil(lambda: bool(slow.threads), timeout=2000)
    for _ in range(5):  # inputs 2..6 while 1 runs: only 6 is kept
        controller.run_now()
    assert controller.is_running()
    qtbot.waitUntil(lambda: len(slow.ran) == 2, timeout=5000)
    qtbot.waitUntil(lambda: not controller.is_running(), timeout=5000)
    qtbot.wait(50)
    assert slow.ran == [1.0, 6.0]  # 2..5 were never run
    # 1 was overtaken by newer input but is still shown while 6 runs: a model slower than the
    # pen would otherwise show nothing until the pen stops.
    assert [r.prepared.tensor.ravel()[0] for r in results] == [1.0, 6.0]
    assert slow.threads == {"lenet-gui inference"}


def test_a_slow_run_shows_busy_and_cancel_keeps_the_last_result(controller, qtbot):
    source, count = numbered_source()
    slow = SlowSession(0.05)
    controller.set_source(source)
    results, busy, cancelled = [], [], []
    controller.resultReady.connect(results.append)
    controller.busyChanged.connect(busy.append)
    controller.cancelled.connect(lambda: cancelled.append(True))
    controller.set_session(slow)
    controller.flush()
    assert len(results) == 1 and busy == []  # quicker than the busy delay: no flicker
    slow.seconds = 30.0
    controller.request()
    qtbot.waitUntil(lambda: busy == [True], timeout=3000)
    # The GUI thread is free meanwhile: five zero-delay timers, each posted after the
    # last fired, all fire while the 30 s run goes on. Counted, not timed.
    from PySide6.QtCore import QTimer

    ticks = []
    for _ in range(5):
        QTimer.singleShot(0, lambda: ticks.append(1))
        count = len(ticks)
        qtbot.waitUntil(lambda: len(ticks) > count, timeout=3000)
    assert len(ticks) == 5 and len(slow.ran) == 1 and controller.is_running()
    controller.cancel()
    assert busy == [True, False] and cancelled == [True]
    qtbot.waitUntil(lambda: slow.stopped == 1, timeout=3000)
    qtbot.wait(50)
    assert len(results) == 1 and controller.last_result is results[0]


def test_cancel_stops_onnxruntime_in_a_long_loop(controller, qtbot, tmp_path):
    session = ModelSession(slow_loop_model(tmp_path / "slow.onnx"), provider="cpu")
    source, _ = numbered_source()
    controller.set_source(source)
    failed = []
    controller.failed.connect(failed.append)
    # Whether onnxruntime's run returned or was stopped, recorded rather than timed.
    outcomes = []
    run = session.run

    def recorded(*args, **kwargs):
        try:
            result = run(*args, **kwargs)
        except Exception:
            outcomes.append("stopped")
            raise
        outcomes.append("returned")
        return result

    session.run = recorded
    controller._session = session
    controller.run_now()
    qtbot.waitUntil(controller.is_running, timeout=2000)
    qtbot.wait(200)
    controller.cancel()
    qtbot.waitUntil(lambda: not controller.is_running(), timeout=5000)
    assert outcomes == ["stopped"]  # stopped, not run to its end
    qtbot.wait(50)
    assert failed == [] and controller.last_result is None


def test_the_window_shows_running_and_cancel_and_keeps_drawing(qtbot):
    from lenet_gui.core.drawing import Drawing
    from lenet_gui.ui.main_window import MainWindow
    from lenet_gui.ui.settings import AppSettings

    window = MainWindow(settings=AppSettings(persistent=False), restore=False, interactive=False)
    qtbot.addWidget(window)
    window.show()
    window.flush()
    assert not window.busy.isVisible()
    slow = SlowSession(30.0)
    window.controller.set_session(slow)
    window.canvas.set_drawing(Drawing(280, 280, [[(140, 40), (140, 240)]]))
    qtbot.waitUntil(lambda: window.busy.isVisible(), timeout=3000)
    assert "Running" in window.busy.label.text()
    # The canvas keeps taking ink while the model runs.
    window.canvas.set_drawing(Drawing(280, 280, [[(100, 40), (100, 240)], [(60, 100), (200, 100)]]))
    qtbot.wait(50)
    assert len(window.canvas.drawing().strokes) == 2
    window.busy.cancel_button.click()
    assert not window.busy.isVisible()
    assert "cancelled" in window.statusBar().currentMessage()
    qtbot.waitUntil(lambda: slow.stopped >= 1, timeout=3000)
    assert len(window.canvas.drawing().strokes) == 2
    window.close()


def test_a_costly_model_reads_class_scores_only_while_the_pen_is_down(controller, qtbot):
    from lenet_gui.ui import controller as controller_module

    source, count = numbered_source()
    slow = SlowSession(0.01)  # 10 ms a run: above LIVE_FULL_LIMIT_S
    pen = [True]
    controller.set_source(source)
    controller.set_pen_probe(lambda: pen[0])
    results = []
    controller.resultReady.connect(results.append)
    controller._session = slow
    controller.run_now()  # the cost is not known yet: everything
    qtbot.waitUntil(lambda: len(results) == 1, timeout=5000)
    assert slow.fetched == [None] and not results[0].partial
    assert not controller.is_light() or slow.seconds > controller_module.LIVE_FULL_LIMIT_S
    controller.run_now()  # known to be costly, pen down: class scores alone
    qtbot.waitUntil(lambda: len(results) == 2, timeout=5000)
    assert slow.fetched == [None, ()] and results[1].partial
    assert controller.last_result is results[1] and controller.last_full_result is results[0]
    assert controller.is_pending()  # the full run that follows at rest is due
    qtbot.waitUntil(lambda: len(results) == 3, timeout=5000)  # ...after REST_MS with no new input
    assert slow.fetched == [None, (), None] and not results[2].partial
    assert controller.last_full_result is results[2]
    assert results[2].prepared.tensor.ravel()[0] == 3.0  # the newest drawing, read again
    pen[0] = False
    controller.run_now()  # pen up: the full run at once
    qtbot.waitUntil(lambda: len(results) == 4, timeout=5000)
    assert slow.fetched[-1] is None and not controller.is_pending()


def test_requests_while_drawing_push_the_full_run_back(controller, qtbot):
    source, count = numbered_source()
    slow = SlowSession(0.01)
    controller.set_source(source)
    controller.set_pen_probe(lambda: True)
    controller._session = slow
    controller._full_cost = 0.05  # measured earlier: costly
    controller._inline = {False: False, True: True}  # light runs quick enough for this thread
    for _ in range(4):
        controller.run_now()
        qtbot.wait(30)  # well within REST_MS: no full run in between
    assert slow.fetched == [(), (), (), ()]
    controller.flush()  # flush does the full run that was due, and waits for it
    assert slow.fetched == [(), (), (), (), None]
    assert controller.last_full_result.prepared.tensor.ravel()[0] == 5.0


def test_a_quick_model_reads_everything_while_the_pen_is_down(controller, qtbot):
    source, count = numbered_source()
    controller.set_source(source)
    controller.set_pen_probe(lambda: True)
    results = []
    controller.resultReady.connect(results.append)
    controller.set_session(ModelSession(provider="cpu"))
    controller.flush()
    for _ in range(3):
        controller.run_now()
    assert len(results) == 4 and not any(r.partial for r in results)
    assert all(len(r.activations) == 12 for r in results)  # LeNet-5: every activation, every time
    assert not controller.is_light()



def test_an_older_result_never_replaces_a_newer_one(controller, qtbot):
    """A slow run overtaken by a cleared canvas (shown at once) must not bring its digit back."""
    source, count = numbered_source()
    slow = SlowSession(0.2)
    results = []
    controller.resultReady.connect(results.append)
    controller.set_source(source)
    controller._session = slow
    controller.run_now()  # input 1 on the worker
    qtbot.waitUntil(lambda: bool(slow.threads), timeout=2000)
    controller.set_source(lambda spec: None)  # the canvas is cleared: None, shown at once
    controller.run_now()
    assert results == [None]
    qtbot.waitUntil(lambda: slow.ran == [1.0], timeout=5000)
    qtbot.waitUntil(lambda: not controller.is_running(), timeout=5000)
    qtbot.wait(50)
    assert results == [None] and controller.last_result is None


def test_a_failure_on_an_overtaken_input_is_not_shown(controller, qtbot):
    source, count = numbered_source()
    slow = SlowSession(0.2)
    real_run = slow.run

    def run(tensor, *args, **kwargs):
        if float(tensor.ravel()[0]) == 1.0:
            real_run(tensor, *args, **kwargs)
            raise RuntimeError("input 1 does not compute")
        return real_run(tensor, *args, **kwargs)

    slow.run = run
    failures, results = [], []
    controller.failed.connect(failures.append)
    controller.resultReady.connect(results.append)
    controller.set_source(source)
    controller._session = slow
    controller.run_now()
    qtbot.waitUntil(lambda: bool(slow.threads), timeout=2000)
    controller.run_now()  # input 2 waits for the worker
    qtbot.waitUntil(lambda: len(results) == 1, timeout=5000)
    assert failures == [] and results[0].prepared.tensor.ravel()[0] == 2.0
