"""1-D layers in the panel and the enlarged view, and counting from 1 wherever a person reads an index."""

import numpy as np
from PySide6.QtCore import QEvent, QPoint
from PySide6.QtGui import QHelpEvent
from PySide6.QtWidgets import QApplication, QToolTip

from lenet_gui.ui import layer_text
from tests.test_ui_window import ONE, SEVEN, _draw_digit, _hover


def _row(window, name):
    return next(row for row in window.layer_panel.rows() if row.layer.name == name)


def test_the_output_row_labels_its_cells_with_the_classes(window, draw):
    _draw_digit(window, draw, SEVEN)
    output = _row(window, "output.gemm")
    maps = output.maps
    assert maps.kind == "strip" and maps.labels() == [str(d) for d in range(10)]
    # Only the class output is labelled.
    assert _row(window, "f6.gemm").maps.labels() is None
    # The labels take a line of their own under the cells.
    assert maps.height() >= maps.mosaic().geometry.height + maps.fontMetrics().height()
    logits = window.last_result.logits
    tip = maps.unit_tooltip(3)
    assert tip == f"class 3: unit 4 of 10 (index 3) = {float(logits[3]):.4f}"


def test_hovering_a_1d_cell_gives_its_index_and_value(window, draw):
    _draw_digit(window, draw, SEVEN)
    row = _row(window, "f6.relu")
    window.layer_panel.scroll.ensureWidgetVisible(row.maps)
    pos = row.maps.unit_center(41)
    QApplication.sendEvent(row.maps, QHelpEvent(QEvent.Type.ToolTip, pos, row.maps.mapToGlobal(pos)))
    value = float(window.last_result.activations[row.layer.output][41])
    assert QToolTip.text() == f"unit 42 of 84 (index 41) = {value:.4f}"
    QToolTip.hideText()
    _hover(row.maps, pos)
    assert "unit 42 of 84 (index 41)" in window.statusBar().currentMessage()


def test_the_status_bar_counts_maps_rows_and_columns_from_1(window, draw):
    _draw_digit(window, draw, ONE)
    row = _row(window, "c1.relu")
    window.layer_panel.scroll.ensureWidgetVisible(row.maps)
    _hover(row.maps, row.maps.unit_center(1, 3, 5))
    message = window.statusBar().currentMessage()
    assert "map 2 of 6, row 4, column 6 (index [1, 3, 5])" in message
    # Unit (3, 5) of C1 sees input rows 3..7 and columns 5..9 counted from 0: 4–8 and 6–10 counted from 1.
    assert "sees input rows 4–8, columns 6–10 (5×5)" in message


def test_a_1d_layer_fills_its_enlarged_view_as_bars_that_sort(window, draw, qtbot):
    _draw_digit(window, draw, SEVEN)
    layer = _row(window, "output.gemm").layer
    dialog = window.open_map(layer, 0)
    qtbot.waitExposed(dialog)
    bars = dialog.bars
    assert bars is not None and dialog.maps is None
    assert bars.labels == [str(d) for d in range(10)]
    assert not dialog.input_view.isVisible() and not dialog.spin.isVisible()
    # The bars take most of the dialog's width.
    assert bars.width() > dialog.width() * 0.5
    logits = window.last_result.logits
    np.testing.assert_allclose(bars.values(), logits)
    assert bars.order() == list(range(10))
    dialog.sort_box.setChecked(True)
    assert bars.order() == [int(i) for i in np.argsort(-logits, kind="stable")]
    assert bars.order()[0] == window.last_result.digit
    # The leftmost bar is now the winner: hovering it names it.
    x = int(bars.bar_rect(0).center().x())
    _hover(bars, QPoint(x, bars.height() // 2))
    assert dialog.readout.text().startswith(f"class 7, unit 8 of 10 (index 7): {float(logits[7]):.4f}")
    # It follows the drawing.
    window.clear_drawing()
    window.flush()
    assert bars.values() is None
    dialog.close()


def test_the_map_dialog_counts_from_1(window, draw, qtbot):
    _draw_digit(window, draw, SEVEN)
    layer = _row(window, "c3.conv").layer
    dialog = window.open_map(layer, 1)
    assert dialog.channel == 1 and dialog.spin.value() == 2
    assert (dialog.spin.minimum(), dialog.spin.maximum()) == (1, 16)
    assert "map 2 of 16" in dialog.heading.text()
    assert dialog.spin.toolTip() == "map 2 of 16 (index 1)"
    dialog.spin.setValue(16)
    assert dialog.channel == 15
    dialog.close()


def test_conv_rows_say_their_maps_are_before_the_relu(window):
    conv = _row(window, "c1.conv")
    words = " ".join(label.text() for label in conv.findChildren(type(conv.title)))
    assert "before the ReLU" in words
    assert not any(label.text().rstrip().endswith(", ReLU") for label in conv.findChildren(type(conv.title)))
    name = layer_text.LayerName("C1", "C1: 6 feature maps, 5×5 convolution of the input, ReLU", "ReLU")
    assert layer_text.row_description(name).startswith("6 feature maps, 5×5 convolution of the input; these are the maps before")
    plain = layer_text.LayerName("S2", "S2: 2×2 max pooling of C1")
    assert layer_text.row_description(plain) == "2×2 max pooling of C1"


def test_counting_helpers():
    assert layer_text.counted("map", 0, 6) == "map 1 of 6 (index 0)"
    assert layer_text.unit_text("strip", 9, 10) == "unit 10 of 10 (index 9)"
    assert layer_text.box_text((0, 0, 5, 5), 32, 32) == "sees input rows 1–5, columns 1–5 (5×5)"
    clipped = layer_text.box_text((-1, -1, 29, 29), 28, 28)
    assert clipped.startswith("sees input rows 1–28, columns 1–28 (28×28)") and "30×30 field reaches into the padding" in clipped
