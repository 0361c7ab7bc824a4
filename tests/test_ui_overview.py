"""The network at a glance: every layer on screen at the default size, labelled, live, and a way into the panel."""

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, QRect, Qt
from PySide6.QtGui import QHelpEvent, QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QToolTip

from lenet_gui.ui import overview_plan
from lenet_gui.ui.main_window import DEFAULT_SIZE
from tests.helpers import deep_classifier, tiny_classifier
from tests.test_ui_window import SEVEN, _draw_digit


def _visible_in_window(window, widget, rect: QRect) -> bool:
    """``rect`` (in ``widget`` coordinates) lies inside the scroll area's viewport and inside the window."""
    overview = window.overview
    viewport = overview.scroll.viewport()
    top_left = widget.mapTo(viewport, rect.topLeft())
    in_viewport = QRect(top_left, rect.size())
    if not viewport.rect().contains(in_viewport):
        return False
    in_window = QRect(viewport.mapTo(window, top_left), rect.size())
    return window.rect().contains(in_window) and viewport.isVisible()


def test_at_the_default_size_every_layer_of_lenet5_is_on_screen(window, draw, qtbot):
    assert (window.width(), window.height()) == DEFAULT_SIZE
    _draw_digit(window, draw, SEVEN)
    canvas = window.overview.canvas
    plan = canvas.plan
    assert plan.mode == "all"  # LeNet-5 fits whole: no collapsing, no scrolling
    assert not window.overview.scroll.horizontalScrollBar().isVisible()
    drawn = [layer.index for column in plan.columns for layer in column.layers]
    assert drawn == [layer.index for layer in window.layers]  # every node, once, in order
    assert plan.columns[0].kind == "input"
    described = canvas.accessibleDescription()
    assert described.startswith("Input image 32×32, C1 Conv 6@28×28, C1 Relu 6@28×28, S2 MaxPool 6@14×14")
    assert described.endswith("Output Gemm 10")
    for i, column in enumerate(plan.columns):
        assert _visible_in_window(window, canvas, canvas.column_rect(i)), f"column {i} is cut off"
        assert _visible_in_window(window, canvas, canvas.content_rect(i))
        for item in range(column.count):
            rect = canvas.item_rect(i, item)
            assert _visible_in_window(window, canvas, rect)
            assert min(rect.width(), rect.height()) >= overview_plan.MIN_CELL  # never too small to see
    # Columns run left to right without overlapping.
    rights = [canvas.column_rect(i) for i in range(len(plan.columns))]
    assert all(a.right() < b.left() for a, b in zip(rights, rights[1:]))
    # The canvas, the network input, the prediction and the panel are all still there.
    for widget in (window.canvas, window.network_input, window.prediction, window.layer_panel):
        assert widget.isVisible() and widget.width() > 150 and widget.height() > 150


def test_the_output_is_labelled_with_its_classes_and_the_winner_marked(window, draw, qtbot):
    canvas = window.overview.canvas
    output = canvas.plan.columns[-1]
    assert output.layer.output == window.session.class_output.name
    assert output.labels == [str(d) for d in range(10)]
    assert canvas.winner() is None  # nothing drawn yet
    _draw_digit(window, draw, SEVEN)
    assert canvas.winner() == window.last_result.digit == 7
    # Each label sits beside its own cell, top to bottom.
    cells = [canvas.item_rect(len(canvas.plan.columns) - 1, k) for k in range(10)]
    assert all(a.bottom() < b.top() for a, b in zip(cells, cells[1:]))
    tip = canvas.item_tooltip(len(canvas.plan.columns) - 1, 7)
    assert "class 7" in tip and "unit 8 of 10 (index 7)" in tip
    logit = float(window.last_result.logits[7])
    assert f"{logit:.4f}" in tip


def test_the_overview_follows_the_pen(window, draw, qtbot):
    canvas = window.overview.canvas
    c1 = canvas.plan.columns[1]
    before = canvas.grab().toImage()
    _draw_digit(window, draw, SEVEN)
    values = canvas._pictures[1].values
    expected = window.last_result.activations[c1.layer.output].reshape(-1)
    assert values is not None and np.array_equal(values, expected)
    assert canvas.grab().toImage() != before
    window.clear_drawing()
    window.flush()
    assert canvas._pictures[1].values is None


def test_hovering_names_the_layer_its_op_and_shape(window, draw, qtbot):
    _draw_digit(window, draw, SEVEN)
    canvas = window.overview.canvas
    c3 = next(i for i, c in enumerate(canvas.plan.columns) if c.layers and c.layers[0].name == "c3.conv")
    centre = canvas.item_rect(c3, 1).center()
    event = QHelpEvent(QEvent.Type.ToolTip, centre, canvas.mapToGlobal(centre))
    QApplication.sendEvent(canvas, event)
    text = QToolTip.text()
    assert "C3" in text and "op Conv" in text and "16×10×10" in text
    assert "map 2 of 16 (index 1)" in text
    # Over the column's name (not a map): the layer alone.
    header = canvas.column_rect(c3).topLeft() + QPoint(canvas.column_rect(c3).width() // 2, 4)
    assert canvas.hit(header) == (c3, -1)
    assert "map" not in canvas.layer_tooltip(canvas.plan.columns[c3]).split("\n")[-1]
    QToolTip.hideText()


def test_selecting_a_layer_scrolls_the_panel_to_its_row(window, draw, qtbot):
    _draw_digit(window, draw, SEVEN)
    canvas = window.overview.canvas
    panel = window.layer_panel
    viewport = panel.scroll.viewport()
    assert panel.scroll.verticalScrollBar().value() == 0
    last = len(canvas.plan.columns) - 1  # the output, far down the panel
    target = canvas.plan.columns[last].layer
    row = panel.row_for(target)
    assert not viewport.rect().intersects(QRect(row.mapTo(viewport, QPoint(0, 0)), row.size()))
    with qtbot.waitSignal(canvas.layerSelected) as signal:
        QTest.mouseClick(canvas, Qt.MouseButton.LeftButton, pos=canvas.item_rect(last, 3).center())
    assert signal.args[0].index == target.index and signal.args[1] == 3
    top = row.mapTo(viewport, QPoint(0, 0))
    assert viewport.rect().contains(QRect(top, row.size()).intersected(QRect(top, viewport.size())))
    assert 0 <= top.y() < viewport.height()
    assert row.is_marked() and sum(r.is_marked() for r in panel.rows()) == 1
    # The keyboard walks the columns the same way.
    canvas.setFocus()
    QTest.keyClick(canvas, Qt.Key.Key_Home)
    QTest.keyClick(canvas, Qt.Key.Key_Right)
    first = panel.row_for(canvas.plan.columns[1].layer)
    assert first.is_marked()
    assert 0 <= first.mapTo(viewport, QPoint(0, 0)).y() < viewport.height()


def test_double_clicking_a_map_enlarges_it(window, draw, qtbot):
    _draw_digit(window, draw, SEVEN)
    canvas = window.overview.canvas
    pos = canvas.item_rect(2, 4).center()
    event = QMouseEvent(QEvent.Type.MouseButtonDblClick, QPointF(pos), QPointF(canvas.mapToGlobal(pos)),
                        Qt.MouseButton.LeftButton, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(canvas, event)
    dialog = window._map_dialog
    assert dialog is not None and dialog.isVisible()
    assert dialog.layer.index == canvas.plan.columns[2].layer.index and dialog.channel == 4


def test_a_30_layer_model_collapses_element_wise_layers_and_says_so(make_window, tmp_path, qtbot):
    path = deep_classifier(tmp_path / "deep.onnx", blocks=12)
    window = make_window(str(path))
    assert len(window.layers) == 30
    overview = window.overview
    plan = overview.canvas.plan
    assert plan.mode in ("collapsed", "scroll")
    relu_columns = [c for c in plan.columns if c.layers and [l.op for l in c.layers] == ["Conv", "Relu"]]
    assert len(relu_columns) == 12  # each ReLU drawn with its convolution
    assert all("+ReLU" in overview.canvas.op_text(c) for c in relu_columns)
    assert not any(c.layers[0].op == "Relu" for c in plan.columns if c.layers)
    drawn = sorted(layer.index for c in plan.columns for layer in c.layers)
    assert drawn == list(range(30))  # collapsed, not dropped
    note = overview.note.text()
    assert "30 layers" in note and "marked +" in note
    if plan.mode == "scroll":
        assert "scrolls sideways" in note
        assert overview.scroll.horizontalScrollBar().maximum() > 0
    for i, column in enumerate(plan.columns):
        for item in range(column.count):
            rect = overview.canvas.item_rect(i, item)
            assert min(rect.width(), rect.height()) >= overview_plan.MIN_CELL
    # The output, Softmax, keeps its own labelled column.
    assert plan.columns[-1].layers[-1].op == "Softmax" and plan.columns[-1].labels == [str(d) for d in range(10)]


def test_a_narrow_window_scrolls_sideways_and_says_which(make_window, tmp_path, qtbot):
    window = make_window(str(deep_classifier(tmp_path / "deep.onnx", blocks=12)))
    window.resize(900, 700)
    qtbot.waitUntil(lambda: window.overview.canvas.plan.mode == "scroll")
    bar = window.overview.scroll.horizontalScrollBar()
    assert bar.maximum() > 0
    assert "scrolls sideways" in window.overview.note.text()
    canvas = window.overview.canvas
    # Walking to the last column with the keyboard scrolls the overview itself to it.
    assert bar.value() == 0
    canvas.setFocus()
    QTest.keyClick(canvas, Qt.Key.Key_End)
    assert bar.value() > 0
    last = len(canvas.plan.columns) - 1
    assert _visible_in_window(window, canvas, canvas.column_rect(last))


def test_a_small_model_gets_one_column_per_layer(make_window, tmp_path):
    window = make_window(str(tiny_classifier(tmp_path / "tiny.onnx")))
    plan = window.overview.canvas.plan
    assert plan.mode == "all"
    assert [c.kind for c in plan.columns] == ["input", "maps", "maps", "vector", "vector", "vector"]
    assert "layers, each a column" in window.overview.note.text()
    assert "not drawn" not in window.overview.note.text()  # every node works on the image


def test_nodes_that_only_prepare_weights_are_left_out_and_counted(make_window, tmp_path):
    from tests.helpers import exporter_style_classifier

    window = make_window(str(exporter_style_classifier(tmp_path / "keras.onnx")))
    drawn = [layer for column in window.overview.canvas.plan.columns for layer in column.layers]
    assert len(window.layers) == 9 and len(drawn) == 7 and not any(layer.constant for layer in drawn)
    assert "(2 nodes preparing weights or shapes not drawn)" in window.overview.note.text()


@pytest.mark.parametrize("maps, side", [(6, 28), (16, 10), (256, 5), (1024, 2)])
def test_planned_thumbnails_fit_and_stay_readable(maps, side):
    from lenet_gui.core.graph import Layer

    layer = Layer(0, "conv", "Conv", ["x", "w"], "y", [1, maps, side, side], "")
    result = overview_plan.plan([layer], None, None, None, 2000, 150, lambda c: 40)
    column = result.columns[0]
    assert column.kind == "maps"
    assert 1 <= column.count <= min(maps, overview_plan.MAX_MAPS)
    assert column.cell >= overview_plan.MIN_TILE
    assert column.content_h <= 150
    th, tw = column.tile_px
    assert column.grid_rows * th + (column.grid_rows - 1) * overview_plan.TILE_GAP == column.content_h


def test_opening_another_model_rebuilds_the_overview(window, draw, tmp_path):
    _draw_digit(window, draw, SEVEN)
    assert window.overview.canvas.plan.mode == "all"
    assert window.open_model(str(deep_classifier(tmp_path / "deep.onnx", blocks=12)))
    window.flush()
    canvas = window.overview.canvas
    assert sum(len(c.layers) for c in canvas.plan.columns) == 30
    assert "30 layers" in window.overview.note.text() and window.overview.heading.text() == "deep.onnx at a glance"
    # The drawing stays, and the new model's layers show it.
    first = canvas.plan.columns[1]
    assert canvas._pictures[1].values is not None
    assert np.array_equal(canvas._pictures[1].values, window.last_result.activations[first.layer.output].reshape(-1))


def test_the_dark_scheme_repaints_the_overview(window, draw):
    _draw_digit(window, draw, SEVEN)
    canvas = window.overview.canvas
    window.set_color_scheme("light")
    window.flush()
    light = canvas.grab().toImage().pixelColor(2, 2)
    window.set_color_scheme("dark")
    window.flush()
    dark = canvas.grab().toImage().pixelColor(2, 2)
    assert light.lightness() > 200 and dark.lightness() < 60
    window.set_color_scheme("light")


def test_hovering_a_unit_in_the_overview_outlines_its_receptive_field(window, draw):
    from lenet_gui.core import arithmetic
    from tests.test_ui_window import _hover

    _draw_digit(window, draw, SEVEN)
    canvas = window.overview.canvas
    s2 = next(i for i, c in enumerate(canvas.plan.columns) if c.layers and c.layers[0].name == "s2.maxpool")
    rect = canvas.item_rect(s2, 3)
    # The unit at row 10, column 4 of map 4 (0-based 3), 14×14 units drawn in rect.
    pos = QPoint(rect.x() + (4 * rect.width() + rect.width() // 2) // 14,
                 rect.y() + (10 * rect.height() + rect.height() // 2) // 14)
    assert canvas.unit_at(pos) == (s2, 3, 10, 4)
    _hover(canvas, pos)
    layer = canvas.plan.columns[s2].layer
    assert window.network_input.highlight() == arithmetic.receptive_box(layer, 10, 4)
    message = window.statusBar().currentMessage()
    value = float(window.last_result.activations[layer.output][3, 10, 4])
    assert "map 4 of 6, row 11, column 5 (index [3, 10, 4])" in message and f"{value:.4f}" in message
    QApplication.sendEvent(canvas, QEvent(QEvent.Type.Leave))
    assert window.network_input.highlight() is None


def test_selecting_a_map_far_down_a_tall_row_brings_that_map_into_view(make_window, tmp_path):
    window = make_window(str(deep_classifier(tmp_path / "wide.onnx", blocks=2, channels=160)))
    window.step_tile_size(2)  # larger heatmaps: the row is taller than the panel
    canvas, panel = window.overview.canvas, window.layer_panel
    column = next(i for i, c in enumerate(canvas.plan.columns) if c.layers and c.layers[-1].op == "Relu")
    layer = canvas.plan.columns[column].layer
    row = panel.row_for(layer)
    viewport = panel.scroll.viewport()
    assert row.height() > viewport.height()
    last = canvas.plan.columns[column].count - 1
    canvas.select(column, last)
    centre = row.maps.mapTo(viewport, row.maps.unit_center(last))
    assert viewport.rect().contains(centre)
    canvas.select(column, 0)
    assert viewport.rect().contains(row.maps.mapTo(viewport, row.maps.unit_center(0)))


def test_large_maps_are_kept_at_the_size_they_are_shown_with_the_scale_of_every_value(qapp):
    from PySide6.QtGui import QPalette

    from lenet_gui.ui.overview_canvas import _Pictures

    # 3 maps of 12×10 shown 4×3 pixels (cell 4): every 3rd row and every 3rd column are kept.
    column = overview_plan.Column("maps", [], (3, 12, 10), count=3, total=3, tile_h=12, tile_w=10, cell=4)
    assert column.tile_px == (4, 3)
    pictures = _Pictures(column, signed=False)
    assert (pictures.step_y, pictures.step_x) == (3, 3)
    assert (pictures.tile_h, pictures.tile_w) == (4, 4)  # rows 0, 3, 6, 9; columns 0, 3, 6, 9
    assert pictures.mosaic.values == 3 * 4 * 4  # not 3 × 12 × 10
    values = np.zeros((3, 12, 10), np.float32)
    values[1, 3, 6] = 2.0  # picked
    values[2, 4, 4] = 8.0  # not picked, yet the brightest colour stands for it
    palette = QPalette()
    pictures.fill(values, palette)
    levels = pictures.mosaic.levels.reshape(3, 4, 4)
    # 2 of 8 on a 0..253 ramp: level 63; everything else 0.
    assert levels[1, 1, 2] == int(2.0 * 253 / 8.0 + 0.5)
    assert np.count_nonzero(levels) == 1
    assert pictures.signed is False
    # A negative value anywhere, picked or not, makes the map signed, as the layer panel's would be.
    values[0, 1, 1] = -1.0
    pictures.fill(values, palette)
    assert pictures.signed is True
    np.testing.assert_array_equal(pictures.values, values.reshape(-1))  # hover readouts use every value


def test_a_wide_overview_caches_only_the_part_in_view_and_paints_the_same(make_window, draw, tmp_path, qtbot,
                                                                         monkeypatch):
    from lenet_gui.ui import overview_canvas

    path = deep_classifier(tmp_path / "deep.onnx", blocks=60, size=32, channels=8)
    window = make_window(str(path))
    qtbot.waitUntil(lambda: window.session is not None and window.session.path == path, timeout=20000)
    draw(window.canvas, [(60, 40), (200, 40), (120, 250)])
    window.flush()
    canvas, scroll = window.overview.canvas, window.overview.scroll
    assert canvas.width() > overview_canvas.UNDERLAY_WHOLE_UP_TO
    bar = scroll.horizontalScrollBar()
    shots = []
    for whole_up_to in (overview_canvas.UNDERLAY_WHOLE_UP_TO, 10**6):
        monkeypatch.setattr(overview_canvas, "UNDERLAY_WHOLE_UP_TO", whole_up_to)
        for value in (0, bar.maximum() // 2, bar.maximum()):
            bar.setValue(value)
            canvas._static = None
            shots.append(scroll.viewport().grab().toImage())
            if whole_up_to < canvas.width():
                # Only the part in view and a screen either side: not the whole width.
                assert canvas._static_band.width() <= 3 * scroll.viewport().width() < canvas.width()
                assert canvas._static_band.contains(canvas.visibleRegion().boundingRect())
    assert shots[:3] == shots[3:]
    assert shots[0] != shots[2]  # the canvas did scroll
