"""The main window: predictions from real strokes, the layer panel, looking closer."""

import math

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPointF, Qt
from PySide6.QtGui import QMouseEvent, QPalette
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QLabel, QWidget

import lenet_gui
from lenet_gui.core import arithmetic
from lenet_gui.core.onnx_io import default_model_path, load_model
from lenet_gui.ui import theme
from lenet_gui.ui.kernel_dialog import KernelDialog

SEVEN = [[(72, 66), (140, 58), (206, 62), (170, 120), (150, 170), (132, 228)], [(118, 146), (184, 144)]]
ZERO = [[(140 + 60 * math.sin(2 * math.pi * i / 48), 140 - 95 * math.cos(2 * math.pi * i / 48)) for i in range(49)]]
ONE = [[(140, 40), (140, 240)]]


def _hover(widget, pos):
    """A pointer move over ``widget`` (QTest's moves do not reach a second offscreen window)."""
    event = QMouseEvent(QEvent.Type.MouseMove, QPointF(pos), QPointF(widget.mapToGlobal(pos)),
                        Qt.MouseButton.NoButton, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)


def _draw_digit(window, draw, strokes):
    for stroke in strokes:
        draw(window.canvas, stroke)
    window.flush()


def test_stable_names_for_automation(window):
    assert isinstance(window, lenet_gui.MainWindow)
    assert window.findChild(QWidget, "canvas") is window.canvas
    label = window.findChild(QLabel, "prediction")
    assert label is window.prediction_label and label.text() == ""
    assert window.findChild(QWidget, "layerPanel") is window.layer_panel
    assert "LeNet-5" in window.windowTitle() and "lenet-gui" in window.windowTitle()
    assert not window.windowIcon().isNull()


def test_a_vertical_line_reads_as_1(window, draw, qtbot):
    _draw_digit(window, draw, ONE)
    qtbot.waitUntil(lambda: window.prediction_label.text() == "1")
    assert window.last_result.digit == 1
    assert "%" in window.prediction.confidence.text()
    probabilities = window.prediction.bars.probabilities()
    assert probabilities is not None and abs(float(np.sum(probabilities)) - 1) < 1e-4


@pytest.mark.parametrize("strokes, digit", [(SEVEN, "7"), (ZERO, "0")], ids=["seven", "zero"])
def test_drawn_digits_are_read(window, draw, qtbot, strokes, digit):
    # Needs the trained LeNet-5 (99 % on MNIST); the placeholder model reads only the "1".
    _draw_digit(window, draw, strokes)
    qtbot.waitUntil(lambda: window.prediction_label.text() == digit)


def test_clearing_empties_the_prediction(window, draw, qtbot):
    _draw_digit(window, draw, ONE)
    qtbot.waitUntil(lambda: window.prediction_label.text() == "1")
    window.actions.clear.trigger()
    qtbot.waitUntil(lambda: window.prediction_label.text() == "")
    assert window.network_input.values() is None


def test_the_network_input_is_what_the_network_got(window, draw, qtbot):
    _draw_digit(window, draw, ONE)
    qtbot.waitUntil(lambda: window.last_result is not None)
    view = window.network_input.values()
    assert view.shape == (32, 32)
    np.testing.assert_array_equal(view, window.last_result.prepared.network_view)


def test_the_panel_lists_every_node_with_its_shape_checked(window, draw, qtbot):
    model = load_model(default_model_path())
    rows = window.layer_panel.rows()
    assert [row.layer.op for row in rows] == [node.op_type for node in model.graph.node]
    conv = rows[0]
    assert conv.formula.text() == "(32 + 2·0 − 5)/1 + 1 = 28 → 6×28×28"
    assert conv.shape_label.text() == "6×28×28"
    assert "C1" in conv.title.text() and "Convolution" in conv.title.text()
    # onnxruntime already ran once on a blank input when the model opened: every mark is there.
    assert all(row.check().status == "ok" for row in rows)
    assert all("✓" in row.mark.text() for row in rows)
    _draw_digit(window, draw, ONE)
    qtbot.waitUntil(lambda: window.last_result is not None)
    for row in rows:
        activation = window.last_result.activations[row.layer.output]
        assert row.maps is not None and row.maps.values() is activation
        assert list(activation.shape) == row.layer.output_shape[1:]
    assert rows[0].maps.kind == "maps" and rows[0].maps.count == 6
    assert rows[-1].maps.kind == "strip" and rows[-1].maps.count == 10


def test_hovering_a_unit_outlines_its_receptive_field(window, draw, qtbot):
    _draw_digit(window, draw, ONE)
    qtbot.waitUntil(lambda: window.last_result is not None)
    rows = window.layer_panel.rows()
    for row, (channel, i, j) in ((rows[1], (2, 10, 12)), (rows[2], (3, 4, 5)), (rows[5], (7, 1, 3))):
        maps = row.maps
        window.layer_panel.scroll.ensureWidgetVisible(maps)
        QTest.mouseMove(maps, maps.unit_center(channel, i, j))
        expected = arithmetic.receptive_box(row.layer, i, j)
        qtbot.waitUntil(lambda expected=expected: window.network_input.highlight() == expected)
        value = float(window.last_result.activations[row.layer.output][channel, i, j])
        assert f"{value:.4f}" in window.statusBar().currentMessage()
    assert rows[1].layer.rf.size == (5, 5) and window.network_input.highlight() is not None


def test_the_keyboard_reaches_the_units(window, draw, qtbot):
    _draw_digit(window, draw, ONE)
    maps = window.layer_panel.rows()[1].maps
    maps.setFocus()
    qtbot.waitUntil(lambda: window.network_input.highlight() == (0, 0, 5, 5))
    QTest.keyClick(maps, Qt.Key.Key_Right)
    QTest.keyClick(maps, Qt.Key.Key_Down)
    assert window.network_input.highlight() == (1, 1, 6, 6)


def test_double_clicking_a_map_enlarges_it_with_the_value_under_the_pointer(window, draw, qtbot):
    _draw_digit(window, draw, ONE)
    qtbot.waitUntil(lambda: window.last_result is not None)
    row = window.layer_panel.rows()[1]
    window.layer_panel.scroll.ensureWidgetVisible(row.maps)
    QTest.mouseDClick(row.maps, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, row.maps.unit_center(4, 3, 3))
    dialog = window._map_dialog
    qtbot.waitExposed(dialog)
    assert dialog.channel == 4
    enlarged = dialog.maps
    assert enlarged.width() > 250  # 28 units at about 12 px each
    _hover(enlarged, enlarged.unit_center(0, 14, 13))
    value = float(window.last_result.activations[row.layer.output][4, 14, 13])
    qtbot.waitUntil(lambda: f"{value:.4f}" in dialog.readout.text())
    assert "map 5 of 6, row 15, column 14 (index [4, 14, 13])" in dialog.readout.text()
    assert dialog.input_view.highlight() == (14, 13, 19, 18)
    # It follows the drawing.
    draw(window.canvas, [(80, 80), (200, 80)])
    window.flush()
    np.testing.assert_array_equal(dialog.maps.values()[0], window.last_result.activations[row.layer.output][4])
    QTest.mouseClick(dialog.next, Qt.MouseButton.LeftButton)
    assert dialog.channel == 5
    dialog.close()


def test_conv_kernels_are_shown_from_the_weights(window, qtbot):
    rows = window.layer_panel.rows()
    with_kernels = [row for row in rows if row.kernels_button is not None]
    assert [row.layer.op for row in with_kernels] == ["Conv", "Conv", "Conv"]
    QTest.mouseClick(with_kernels[1].kernels_button, Qt.MouseButton.LeftButton)
    dialog = window.findChild(KernelDialog)
    assert dialog is not None
    qtbot.waitExposed(dialog)
    assert dialog.weights.shape == (16, 6, 5, 5)
    assert dialog.maps.count == 96 and dialog.maps.signed
    _hover(dialog.maps, dialog.maps.unit_center(7, 2, 3))  # output map 1, input map 1 (0-based)
    assert f"{float(dialog.weights[1, 1, 2, 3]):+.4f}" in dialog.readout.text()
    # Counted from 1 as people count, with the array index beside it.
    assert "output map 2 ← input map 2, kernel row 3, column 4 (weights[1, 1, 2, 3])" in dialog.readout.text()
    dialog.close()


def test_a_failing_inference_keeps_the_drawing(window, draw, qtbot, monkeypatch):
    messages = []
    window.errorShown.connect(messages.append)

    def broken(*args, **kwargs):
        raise RuntimeError("the accelerator fell over")

    monkeypatch.setattr(window.session, "run", broken)
    _draw_digit(window, draw, ONE)
    qtbot.waitUntil(lambda: bool(messages))
    assert "Inference failed" in messages[-1] and "fell over" in messages[-1]
    assert "drawing is kept" in window.statusBar().currentMessage()
    assert len(window.canvas.drawing().strokes) == 1
    monkeypatch.undo()
    draw(window.canvas, [(140, 60), (140, 220)])
    qtbot.waitUntil(lambda: window.prediction_label.text() != "")


def test_the_dark_scheme_repaints_everything(window, draw, qtbot):
    app = QApplication.instance()
    _draw_digit(window, draw, ONE)
    try:
        window.set_color_scheme("dark")
        assert theme.is_dark(app.palette())
        qtbot.waitUntil(lambda: window.grab().toImage().pixelColor(window.width() - 5, window.height() // 2).lightness() < 100)
        paper = window.canvas.paper_rect()
        assert window.canvas.grab().toImage().pixelColor(paper.left() + 4, paper.top() + 4).lightness() < 100
    finally:
        window.set_color_scheme("system")
    # Back to the system's scheme: the system's own palette again, light or dark.
    system = theme.scheme_manager(app).system_palette
    assert theme.is_dark(app.palette()) == theme.is_dark(system)
    assert app.palette().color(QPalette.ColorRole.Window) == system.color(QPalette.ColorRole.Window)


def test_controls_have_accessible_names(window):
    for widget in (window.canvas, window.prediction_label, window.layer_panel, window.network_input,
                   window.prediction.bars, window.actions.pen_slider):
        assert widget.accessibleName()
    assert all(row.maps.accessibleName() for row in window.layer_panel.rows())


def test_a_costly_model_keeps_the_panel_while_drawing_and_catches_up_at_rest(window, draw, qtbot, monkeypatch):
    from lenet_gui.ui import controller as controller_module

    monkeypatch.setattr(controller_module, "LIVE_FULL_LIMIT_S", -1.0)  # every model counts as costly
    draw(window.canvas, [(60, 40), (200, 40), (120, 250)])
    window.flush()
    before = window.last_result
    c1 = window.layer_panel.row_for(next(layer for layer in window.layers if layer.output == "c1"))
    maps_before = c1.maps.values()
    draw(window.canvas, [(60, 150), (200, 150)], release=False)  # pen still down
    window.controller.run_now()
    qtbot.waitUntil(lambda: window.controller.last_result is not before, timeout=5000)
    assert window.controller.last_result.partial
    assert window.last_result is before and c1.maps.values() is maps_before  # the panel keeps the last full run
    qtbot.waitUntil(lambda: window.last_result is not before, timeout=5000)  # the pen rests: full run
    assert not window.last_result.partial
    assert window.last_result.prepared is window.controller.last_result.prepared
    assert c1.maps.values() is window.last_result.activations["c1"]
    assert not np.array_equal(c1.maps.values(), maps_before)  # the second stroke is in it
