"""A long session: 10,000 strokes drawn by mouse into one window, with undo and clear.

Resident memory may grow by less than 20 MB after a warm-up, and the window must
still read a digit right at the end. Strokes are short (four points), as in quick
scribbling. Every 20 strokes the window is flushed: the pending reading runs and
every view repaints, 500 times in the session. Nothing here depends on the
machine's speed: each flush must answer exactly the one reading the strokes
requested, with the drawing then on the canvas, and the memory is compared with
a baseline taken after the same warm-up work on any machine.
"""

import gc
import random

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from lenet_gui.core import preprocess
from lenet_gui.ui.settings import AppSettings

STROKES = 10_000
WARM_UP = 1_000
UNDO_EVERY = 50
# Every 200 strokes rather than 500: the cost of a stroke grows with the strokes on
# the canvas (autosave, preprocessing), and this keeps the test near half a minute.
CLEAR_EVERY = 200
EVENT_LOOP_EVERY = 20
GROWTH_LIMIT_MB = 20.0

LEFT, NONE = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton


def resident_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as fh:
        return next(int(line.split()[1]) / 1024 for line in fh if line.startswith("VmRSS:"))


def _send(canvas, kind, point, button, buttons):
    pos = canvas.to_widget(point)
    event = QMouseEvent(kind, pos, QPointF(canvas.mapToGlobal(pos)), button, buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(canvas, event)


def drag(canvas, points):
    """Press, move through the points, release: a stroke as the mouse draws it."""
    _send(canvas, QEvent.Type.MouseButtonPress, points[0], LEFT, LEFT)
    for p in points[1:]:
        _send(canvas, QEvent.Type.MouseMove, p, NONE, LEFT)
    _send(canvas, QEvent.Type.MouseButtonRelease, points[-1], LEFT, NONE)


def scribble(rng: random.Random):
    x, y = rng.uniform(20, 240), rng.uniform(20, 240)
    dx, dy = rng.uniform(-8, 8), rng.uniform(-8, 8)
    return [(x + k * dx, y + k * dy) for k in range(4)]


@pytest.mark.slow
def test_ten_thousand_strokes_with_undo_and_clear(make_window, qtbot):
    # In-memory settings: the autosave still serialises the drawing on every stroke,
    # but does not write a file 10,000 times.
    window = make_window(settings=AppSettings(persistent=False), restore=False)
    canvas = window.canvas
    rng = random.Random(1998)
    # Count the answers and keep only the latest: holding 500 results (each with
    # every layer's activations) would itself look like a leak.
    shown = {"count": 0, "last": None}

    def on_result(result):
        shown["count"] += 1
        shown["last"] = result

    window.resultShown.connect(on_result)
    requested = answered = 0
    expected = 0  # strokes that should be on the canvas
    baseline = None
    for i in range(1, STROKES + 1):
        drag(canvas, scribble(rng))
        expected += 1
        if i % EVENT_LOOP_EVERY == 0:
            assert window.controller.is_pending()  # the strokes asked for a reading...
            requested += 1
            before = shown["count"]
            window.flush()  # ... which runs now, whatever the timer would have done
            assert not window.controller.is_pending()
            answered += shown["count"] - before
            assert shown["last"] is not None and shown["last"] is window.last_result
            if i % (EVENT_LOOP_EVERY * 25) == 0:  # and it read the drawing on the canvas now
                expected_input = preprocess.prepare_drawing(canvas.drawing(), window.session.spec)
                assert np.array_equal(shown["last"].prepared.tensor, expected_input.tensor)
        if i % UNDO_EVERY == 0:
            window.actions.undo.trigger()
            expected -= 1
        if i % CLEAR_EVERY == 0:
            window.actions.clear.trigger()
            expected = 0
        if i == WARM_UP:
            window.flush()
            gc.collect()
            baseline = resident_mb()
    window.flush()
    assert len(canvas.drawing().strokes) == expected
    assert requested == answered == STROKES // EVENT_LOOP_EVERY  # one answer per request, none lost

    gc.collect()
    growth = resident_mb() - baseline
    history = canvas.undo_stack.count()

    # The session still works: a plain vertical line is a 1, a two-stroke 7 a 7.
    window.actions.clear.trigger()
    drag(canvas, [(140, 40 + 10 * k) for k in range(21)])
    window.flush()
    qtbot.waitUntil(lambda: window.prediction_label.text() == "1")
    window.actions.clear.trigger()
    drag(canvas, [(72, 66), (140, 58), (206, 62), (170, 120), (150, 170), (132, 228)])
    drag(canvas, [(118, 146), (184, 144)])
    window.flush()
    qtbot.waitUntil(lambda: window.prediction_label.text() == "7")

    assert growth < GROWTH_LIMIT_MB, (
        f"resident memory grew by {growth:.1f} MB over {STROKES - WARM_UP} strokes "
        f"(undo history: {history} commands, each holding whole-drawing snapshots)"
    )
