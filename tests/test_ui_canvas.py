"""The drawing canvas: real mouse, tablet and touch input; eraser; undo, redo, clear."""

from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QImage, QInputDevice, QKeySequence, QPointingDevice, QTabletEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from lenet_gui.core.drawing import Drawing
from lenet_gui.ui.canvas import ERASER, PEN


def test_a_mouse_drag_records_one_stroke_in_drawing_coordinates(window, draw):
    canvas = window.canvas
    assert canvas.objectName() == "canvas"
    drawn = draw(canvas, [(60, 140), (220, 140)])
    drawing = canvas.drawing()
    assert len(drawing.strokes) == 1
    stroke = drawing.strokes[0]
    assert len(stroke) > 20
    # Widget pixels map back to the 280×280 drawing, whatever the widget's size.
    assert abs(stroke[0][0] - drawn[0][0]) < 2 and abs(stroke[-1][0] - drawn[-1][0]) < 2
    assert all(abs(y - 140) < 2 for _, y in stroke)


def test_the_stroke_is_live_before_the_pen_lifts(window, draw, qtbot):
    draw(window.canvas, [(140, 40), (140, 240)], release=False)
    assert window.canvas.is_drawing()
    assert len(window.canvas.drawing().strokes) == 1
    qtbot.waitUntil(lambda: window.prediction_label.text() != "")
    QTest.mouseRelease(window.canvas, Qt.MouseButton.LeftButton)
    assert not window.canvas.is_drawing()


def test_undo_redo_and_clear(window, draw):
    canvas = window.canvas
    draw(canvas, [(60, 60), (200, 60)])
    draw(canvas, [(140, 60), (140, 230)])
    assert len(canvas.drawing().strokes) == 2
    window.actions.undo.trigger()
    assert len(canvas.drawing().strokes) == 1
    window.actions.redo.trigger()
    assert len(canvas.drawing().strokes) == 2
    window.actions.clear.trigger()
    assert canvas.drawing().is_empty()
    window.actions.undo.trigger()
    assert len(canvas.drawing().strokes) == 2


def test_the_shortcuts_are_the_standard_ones(window):
    actions = window.actions
    assert QKeySequence(QKeySequence.StandardKey.Undo) in actions.undo.shortcuts()
    redo = actions.redo.shortcuts()
    assert QKeySequence("Ctrl+Shift+Z") in redo and QKeySequence("Ctrl+Y") in redo
    clear = actions.clear.shortcuts()
    assert QKeySequence("Esc") in clear and QKeySequence("Del") in clear
    assert QKeySequence(QKeySequence.StandardKey.Open) in actions.open_file.shortcuts()
    assert QKeySequence(QKeySequence.StandardKey.Save) in actions.save.shortcuts()


def test_keyboard_undo_redo_and_clear(window, draw, qtbot):
    canvas = window.canvas
    window.activateWindow()
    qtbot.waitActive(window)
    canvas.setFocus()
    draw(canvas, [(60, 60), (200, 60)])
    draw(canvas, [(140, 60), (140, 230)])
    QTest.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert len(canvas.drawing().strokes) == 1
    QTest.keyClick(canvas, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert len(canvas.drawing().strokes) == 2
    QTest.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert len(canvas.drawing().strokes) == 2  # nothing left to redo
    QTest.keyClick(canvas, Qt.Key.Key_Escape)
    assert canvas.drawing().is_empty()
    QTest.keyClick(canvas, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    QTest.keyClick(canvas, Qt.Key.Key_Delete)
    assert canvas.drawing().is_empty()


def test_the_eraser_splits_a_stroke_and_is_one_undo_step(window, draw):
    canvas = window.canvas
    draw(canvas, [(40, 140), (240, 140)])
    canvas.set_tool(ERASER)
    draw(canvas, [(140, 90), (140, 190)])
    strokes = canvas.drawing().strokes
    assert len(strokes) == 2
    radius = canvas.eraser_radius() + canvas.drawing().effective_pen_width / 2
    left, right = sorted(strokes, key=lambda s: s[0][0])
    assert left[-1][0] <= 140 - radius + 1.5 and right[0][0] >= 140 + radius - 1.5
    window.actions.undo.trigger()
    assert len(canvas.drawing().strokes) == 1
    canvas.set_tool(PEN)


def test_pen_size_changes_the_drawing_and_not_the_history(window, draw):
    canvas = window.canvas
    draw(canvas, [(60, 60), (200, 200)])
    canvas.set_pen_size(30)
    assert abs(canvas.drawing().pen_width - 30) < 1e-6
    assert window.actions.pen_slider.value() == 30
    window.actions.undo.trigger()
    assert abs(canvas.pen_size() - 30) < 1e-6  # undoing a stroke keeps the pen


def _tablet(canvas, kind, pos, pointer=QPointingDevice.PointerType.Pen):
    device = QPointingDevice("test stylus", 4242, QInputDevice.DeviceType.Stylus, pointer,
                             QInputDevice.Capability.Position | QInputDevice.Capability.Pressure, 1, 2)
    button = Qt.MouseButton.LeftButton if kind != QEvent.Type.TabletMove else Qt.MouseButton.NoButton
    event = QTabletEvent(kind, device, QPointF(pos), QPointF(canvas.mapToGlobal(pos)), 0.6, 0, 0, 0, 0, 0,
                         Qt.KeyboardModifier.NoModifier, button, Qt.MouseButton.LeftButton)
    QApplication.sendEvent(canvas, event)
    return event


def test_a_pen_tablet_draws_and_its_eraser_end_erases(window):
    canvas = window.canvas
    points = [canvas.to_widget((40 + 8 * i, 140)) for i in range(26)]
    _tablet(canvas, QEvent.Type.TabletPress, points[0])
    for p in points[1:]:
        _tablet(canvas, QEvent.Type.TabletMove, p)
    _tablet(canvas, QEvent.Type.TabletRelease, points[-1])
    assert len(canvas.drawing().strokes) == 1
    assert len(canvas.drawing().strokes[0]) > 10
    eraser = QPointingDevice.PointerType.Eraser
    rub = [canvas.to_widget((140, 100 + 8 * i)) for i in range(11)]
    _tablet(canvas, QEvent.Type.TabletPress, rub[0], eraser)
    for p in rub[1:]:
        _tablet(canvas, QEvent.Type.TabletMove, p, eraser)
    _tablet(canvas, QEvent.Type.TabletRelease, rub[-1], eraser)
    assert len(canvas.drawing().strokes) == 2
    assert canvas.tool() == PEN  # flipping the pen does not change the chosen tool


def test_a_finger_draws(window):
    canvas = window.canvas
    device = QTest.createTouchDevice()
    points = [canvas.to_widget((140, 40 + 10 * i)).toPoint() for i in range(21)]
    QTest.touchEvent(canvas, device, False).press(0, points[0], canvas).commit()
    for p in points[1:]:
        QTest.touchEvent(canvas, device, False).move(0, p, canvas).commit()
    QTest.touchEvent(canvas, device, False).release(0, points[-1], canvas).commit()
    strokes = canvas.drawing().strokes
    assert len(strokes) == 1 and len(strokes[0]) > 10


def test_resizing_the_window_keeps_the_drawing(window, draw, qtbot):
    draw(window.canvas, [(60, 60), (220, 220)])
    before = window.canvas.drawing().strokes
    window.resize(900, 640)
    qtbot.waitUntil(lambda: window.canvas.width() < 500)
    assert window.canvas.drawing().strokes == before
    assert window.canvas.to_drawing(window.canvas.to_widget((60, 60))) == (60, 60)


def test_painting_is_antialiased_ink_on_paper(window, draw):
    canvas = window.canvas
    draw(canvas, [(60, 140), (220, 140)])
    image = canvas.grab().toImage().convertToFormat(QImage.Format.Format_Grayscale8)
    paper = canvas.paper_rect()
    column = [image.pixelColor(canvas.to_widget((140, 140)).toPoint().x(), y).value()
              for y in range(paper.top() + 5, paper.bottom() - 5)]
    levels = set(column)
    assert min(levels) < 60 and max(levels) > 200  # ink and paper
    assert any(60 < v < 200 for v in levels)  # soft edges, not a jagged on/off line


def test_an_opened_drawing_is_undoable(window):
    canvas = window.canvas
    canvas.set_drawing(Drawing(400, 200, [[(10, 10), (300, 150)]], pen_width=20))
    assert canvas.drawing().width == 400
    assert abs(canvas.pen_size() - 20 * 280 / 200) < 1e-6
    window.actions.undo.trigger()
    assert canvas.drawing().is_empty()


def test_a_stroke_looks_the_same_while_drawn_and_after(window, draw):
    canvas = window.canvas
    curve = [(60 + 4 * i, 140 + 60 * ((i % 20) / 10 - 1) ** 2) for i in range(40)]
    draw(canvas, curve, release=False)
    while_drawn = canvas.grab().toImage().convertToFormat(QImage.Format.Format_Grayscale8)
    QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                       canvas.to_widget(curve[-1]).toPoint())
    finished = canvas.grab().toImage().convertToFormat(QImage.Format.Format_Grayscale8)
    paper = canvas.paper_rect()
    differing = sum(
        abs(while_drawn.pixelColor(x, y).value() - finished.pixelColor(x, y).value()) > 60
        for x in range(paper.left() + 2, paper.right() - 2, 3)
        for y in range(paper.top() + 2, paper.bottom() - 2, 3)
    )
    inked = sum(
        finished.pixelColor(x, y).value() < 128
        for x in range(paper.left() + 2, paper.right() - 2, 3)
        for y in range(paper.top() + 2, paper.bottom() - 2, 3)
    )
    assert inked > 100
    assert differing <= inked * 0.02  # the same stroke, up to anti-aliasing at the joints
