"""The unit inspector and the evidence overlay, driven through the window with the real Explainer."""

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from lenet_gui.core import arithmetic, placement
from lenet_gui.core.explain import evidence
from lenet_gui.ui import explain_wiring

SEVEN = [[(72, 66), (140, 58), (206, 62), (170, 120), (150, 170), (132, 228)], [(118, 146), (184, 144)]]
C3 = 3  # LeNet-5's layers in panel order: c1.conv, c1.relu, s2.maxpool, c3.conv, …


def _draw_seven(window, draw):
    for stroke in SEVEN:
        draw(window.canvas, stroke)
    window.flush()
    assert window.last_result is not None and window.last_result.label == "7"


def _activation(window, layer_name, unit):
    layer = next(layer for layer in window.layers if layer.name == layer_name)
    return float(window.last_result.activations[layer.output][unit])


def _click_unit(window, qtbot, row_index, unit):
    maps = window.layer_panel.rows()[row_index].maps
    window.layer_panel.scroll.ensureWidgetVisible(maps)
    QTest.mouseClick(maps, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, maps.unit_center(*unit))
    qtbot.waitUntil(lambda: window.inspector.isVisible())
    return maps


@pytest.fixture
def seven(window, draw):
    _draw_seven(window, draw)
    return window


def test_clicking_a_unit_explains_it_in_the_dock(seven, qtbot):
    window = seven
    maps = _click_unit(window, qtbot, C3, (2, 3, 4))
    inspector = window.inspector
    assert window.dockWidgetArea(inspector) == Qt.DockWidgetArea.RightDockWidgetArea and not inspector.isFloating()
    assert (inspector.layer_name, inspector.unit) == ("c3.conv", (2, 3, 4))
    explanation = inspector.explanation
    assert explanation.kind == "conv" and explanation.agrees is True
    assert explanation.runtime_value == pytest.approx(_activation(window, "c3.conv", (2, 3, 4)), abs=1e-6)
    # Six input channels, each a row of patch × kernel = products, 5×5 each.
    rows = inspector.view.grids.rows()
    assert len(rows) == 6 and all(g.values.shape == (5, 5) for row in rows for g in row)
    assert "map 2, row 3, column 4" in inspector.heading.text()
    assert inspector.where.text().startswith("Patch from S2 · Max pooling: rows 3 to 7, columns 4 to 8 (stride 1")
    verdict = inspector.view.verdict.text()
    assert "✓" in verdict and "within 0.0001 relative" in verdict and f"{explanation.runtime_value:.6f}".replace("-", "−") in verdict
    # The unit is marked in the panel and its receptive field framed on the network input.
    assert maps.selected() == (2, 3, 4)
    assert window.network_input.patch() == arithmetic.receptive_box(window.layers[C3], 3, 4)
    field_box, _ = window.canvas.explain_overlay()
    assert field_box is not None and field_box[2] > 0 and field_box[3] > 0


def test_numbers_are_written_in_cells_large_enough(seven, qtbot):
    _click_unit(seven, qtbot, C3, (2, 3, 4))
    grids = seven.inspector.view.grids
    qtbot.waitUntil(lambda: grids.cell_size() >= 24)  # the default dock width leaves room for a number per cell
    text = grids.tooltip_text(grids.cell_center(0, 1, 2, 3))
    weight = seven.inspector.explanation.rows[0][1].values[2, 3]
    assert text.startswith("kernel 2, channel 0, row 2, column 3") and f"{weight:.6f}".replace("-", "−") in text


def test_the_keyboard_selects_a_unit_with_arrows_and_enter(seven, qtbot):
    window = seven
    maps = window.layer_panel.rows()[0].maps
    window.activateWindow()
    maps.setFocus()
    qtbot.waitUntil(maps.hasFocus)
    for key in (Qt.Key.Key_Right, Qt.Key.Key_Right, Qt.Key.Key_Down, Qt.Key.Key_PageDown):
        QTest.keyClick(maps, key)
    assert not window.inspector.isVisible()  # moving the cursor only points
    QTest.keyClick(maps, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: window.inspector.isVisible())
    assert (window.inspector.layer_name, window.inspector.unit) == ("c1.conv", (1, 1, 2))
    assert window.inspector.explanation.agrees is True
    assert window._map_dialog is None  # Enter explains; Space enlarges
    QTest.keyClick(maps, Qt.Key.Key_Space)
    qtbot.waitUntil(lambda: window._map_dialog is not None and window._map_dialog.isVisible())
    assert window._map_dialog.channel == 1 and window.inspector.unit == (1, 1, 2)
    window._map_dialog.close()


def test_the_enlarged_map_selects_units_too(seven, qtbot):
    window = seven
    maps = window.layer_panel.rows()[2].maps  # S2
    window.layer_panel.scroll.ensureWidgetVisible(maps)
    QTest.mouseDClick(maps, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, maps.unit_center(3, 0, 0))
    dialog = window._map_dialog
    qtbot.waitExposed(dialog)
    assert dialog.channel == 3
    enlarged = dialog.maps
    QTest.mouseClick(enlarged, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, enlarged.unit_center(0, 5, 6))
    assert (window.inspector.layer_name, window.inspector.unit) == ("s2.maxpool", (3, 5, 6))
    explanation = window.inspector.explanation
    assert explanation.kind == "pool" and explanation.agrees is True
    # The enlarged map marks the unit and frames its field on its own input view, while on its map.
    assert enlarged.selected() == (0, 5, 6) and dialog.input_view.patch() == window.network_input.patch()
    QTest.mouseClick(window.inspector.next, Qt.MouseButton.LeftButton)
    assert enlarged.selected() == (0, 5, 7)
    QTest.mouseClick(dialog.next, Qt.MouseButton.LeftButton)  # another map: the unit is not on it
    assert dialog.channel == 4 and enlarged.selected() is None and dialog.input_view.patch() is None
    assert "the one max pooling passes on" in window.inspector.view.key.text()
    window_grid = explanation.rows[0][0]
    i, j = window_grid.highlight
    assert window_grid.values[i, j] == pytest.approx(np.max(window_grid.values))
    dialog.close()


def test_the_inspector_follows_the_pen(seven, draw, qtbot):
    window = seven
    unit = (0, 10, 12)
    _click_unit(window, qtbot, 0, unit)
    before = window.inspector.explanation.runtime_value
    assert before == pytest.approx(_activation(window, "c1.conv", unit), abs=1e-6)
    draw(window.canvas, [(60, 150), (230, 150)])  # a bar through the middle changes what C1 sees there
    window.flush()
    after = window.inspector.explanation
    assert after.unit == unit and after.agrees is True
    assert after.runtime_value == pytest.approx(_activation(window, "c1.conv", unit), abs=1e-6)
    assert abs(after.runtime_value - before) > 1e-3
    # While the pen is still down, too.
    draw(window.canvas, [(100, 200), (200, 230)], release=False)
    window.flush()
    assert window.canvas.is_drawing()
    assert window.inspector.explanation.runtime_value == pytest.approx(_activation(window, "c1.conv", unit), abs=1e-6)


def test_stepping_slides_the_unit_and_its_patch(seven, qtbot):
    window = seven
    _click_unit(window, qtbot, C3, (2, 3, 8))
    inspector = window.inspector
    y0, x0, y1, x1 = window.network_input.patch()
    canvas_before, _ = window.canvas.explain_overlay()
    QTest.mouseClick(inspector.next, Qt.MouseButton.LeftButton)
    assert inspector.unit == (2, 3, 9)
    assert window.network_input.patch() == (y0, x0 + 2, y1, x1 + 2)  # C3 units are 2 input pixels apart
    # The field on the canvas moves with it: 2 input pixels, in canvas pixels.
    place = placement.stroke_placement(window.canvas.drawing().strokes, window.session.spec)
    canvas_after, _ = window.canvas.explain_overlay()
    assert canvas_after[0] - canvas_before[0] == pytest.approx(2 / place.scale)
    assert canvas_after[1:] == pytest.approx(canvas_before[1:])
    QTest.mouseClick(inspector.next, Qt.MouseButton.LeftButton)
    assert inspector.unit == (2, 4, 0)  # the end of a row: on to the next, like a kernel
    assert window.network_input.patch()[:2] == (y0 + 2, 0)
    QTest.mouseClick(inspector.previous, Qt.MouseButton.LeftButton)
    assert inspector.unit == (2, 3, 9)
    assert inspector.explanation.runtime_value == pytest.approx(_activation(window, "c3.conv", (2, 3, 9)), abs=1e-6)
    assert window.layer_panel.rows()[C3].maps.selected() == (2, 3, 9)
    # The arrow keys step while the inspector has the focus.
    body = inspector.widget()
    inspector.activateWindow()
    body.setFocus()
    qtbot.waitUntil(body.hasFocus)
    QTest.keyClick(body, Qt.Key.Key_Left)
    assert inspector.unit == (2, 3, 8)
    QTest.keyClick(body, Qt.Key.Key_Down)
    assert inspector.unit == (2, 4, 8)


def test_play_walks_a_row_and_space_pauses(seven, qtbot):
    window = seven
    _click_unit(window, qtbot, C3, (5, 0, 7))
    inspector = window.inspector
    inspector.scope.setCurrentIndex(inspector.scope.findData("row"))
    inspector.rate.setValue(10)
    assert inspector.timer.interval() == 100
    QTest.mouseClick(inspector.play_button, Qt.MouseButton.LeftButton)
    assert inspector.is_playing() and inspector.play_button.text() == "Pause"
    inspector.advance()  # what each tick of the timer does
    assert inspector.unit == (5, 0, 8) and inspector.is_playing()
    inspector.advance()
    assert inspector.unit == (5, 0, 9) and not inspector.is_playing()  # the row is done
    assert inspector.play_button.text() == "Play"
    # Play again from the end of a row replays it; Space pauses (the click left the keys with the inspector).
    window.activateWindow()
    QTest.mouseClick(inspector.play_button, Qt.MouseButton.LeftButton)
    assert inspector.unit == (5, 0, 0) and inspector.is_playing()
    body = inspector.widget()
    qtbot.waitUntil(body.hasFocus)
    QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Space)
    assert not inspector.is_playing()
    QTest.keyClick(body, Qt.Key.Key_Space)
    assert inspector.is_playing()
    # The real timer advances too, at the rate chosen.
    qtbot.waitUntil(lambda: inspector.unit[2] >= 2, timeout=3000)
    inspector.pause()
    assert inspector.unit[:2] == (5, 0)


def test_play_over_a_map_runs_to_its_last_unit(seven, qtbot):
    window = seven
    _click_unit(window, qtbot, 5, (4, 4, 2))  # S4: 5×5 maps
    inspector = window.inspector
    assert inspector.play_scope() == "map"
    inspector.play()
    ticks = 0
    while inspector.is_playing() and ticks < 100:
        inspector.advance()
        ticks += 1
    assert ticks == 2 and inspector.unit == (4, 4, 4)


def test_clicking_a_term_walks_back_through_the_network(seven, qtbot):
    window = seven
    _click_unit(window, qtbot, 11, (7, 0, 0))  # the output layer, class 7
    inspector = window.inspector
    explanation = inspector.explanation
    assert explanation.kind == "dense" and explanation.agrees is True
    assert inspector.where.text().startswith("Sees the whole input")
    assert inspector.heading.text().endswith("unit 7: the logit of class 7")
    assert window.network_input.patch() is None  # nothing to single out on the input
    terms = inspector.view.listed_terms()
    assert len(terms) == 12 and [abs(t.product) for t in terms] == sorted((abs(t.product) for t in terms), reverse=True)
    table = inspector.view.terms
    first = terms[0]
    lines = table.text().splitlines()
    assert lines[0].startswith("Largest contributions w × x") and len(lines) == 1 + 12 + 1  # header, 12, the rest
    assert lines[1].startswith(f"{first.weight:.4f} × {first.value:.4f} = {first.product:.4f}".replace("-", "−"))
    assert table.rows[0].source == f"F6 · ReLU ({first.source_unit[0]})" and table.rows[0].linked
    QTest.mouseClick(table, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     table.source_rect(0).center().toPoint())  # a click on the first term's source
    assert (inspector.layer_name, inspector.unit) == ("f6.relu", first.source_unit)
    assert inspector.explanation.runtime_value == pytest.approx(first.value, abs=1e-6)
    # From there, link by link, back to a C5 map: F6's ReLU reads F6, F6 reads C5 (through Flatten).
    walked = [inspector.layer_name]
    for _ in range(3):
        assert inspector.view.activate_term(0)
        walked.append(inspector.layer_name)
        assert inspector.explanation.agrees in (True, None) and inspector.explanation.explained
    assert walked == ["f6.relu", "f6.gemm", "c5.relu", "c5.conv"]
    assert len(inspector.unit) == 3 and inspector.explanation.kind == "conv"
    assert len(inspector.view.grids.rows()) == 16  # C5 reads all 16 maps of S4


def test_clicking_a_patch_cell_walks_back_to_that_input_unit(seven, qtbot):
    window = seven
    _click_unit(window, qtbot, C3, (2, 3, 4))
    grids = window.inspector.view.grids
    # C3's unit (3, 4) reads S2 rows 3–7, columns 4–8; row 4 of the working is input channel 4.
    tip = grids.tooltip_text(grids.cell_center(4, 0, 1, 2))
    assert tip.endswith("the input unit S2 · Max pooling (4, 4, 6); click to explain it")
    assert "click to explain" not in grids.tooltip_text(grids.cell_center(4, 1, 1, 2))  # a kernel weight
    QTest.mouseClick(grids, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     grids.cell_center(4, 0, 1, 2).toPoint())
    assert (window.inspector.layer_name, window.inspector.unit) == ("s2.maxpool", (4, 4, 6))


def test_the_evidence_overlay_and_why_not(seven, qtbot, monkeypatch):
    window = seven
    feature = window.explain
    runs = []
    import lenet_gui.core.explain as core_explain

    real = core_explain.evidence_all
    monkeypatch.setattr(core_explain, "evidence_all", lambda *a, **k: runs.append(1) or real(*a, **k))
    assert window.network_input.evidence_title() is None
    feature.show_evidence.trigger()
    assert len(runs) == 1
    assert window.network_input.evidence_title() == f"Evidence for 7 ({window.last_result.confidence * 100:.0f} %)"
    expected = evidence(window.session, window.last_result.prepared.tensor, class_index=7)
    np.testing.assert_allclose(feature.evidence.map, expected.map, atol=1e-6)
    assert feature.evidence.map.shape == (32, 32) and float(feature.evidence.map.max()) > 0.01
    assert window.prediction.bars.marked() == 7
    assert window.canvas.explain_overlay()[1] is not None  # faintly over the canvas too
    bars = window.prediction.bars
    QTest.mouseClick(bars, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, bars.row_center(9).toPoint())
    assert feature.evidence.class_index == 9 and bars.marked() == 9
    assert len(runs) == 1  # every class's map came from the one batch
    assert window.network_input.evidence_title().startswith("Why not 9?")
    np.testing.assert_allclose(feature.evidence.map, evidence(window.session, window.last_result.prepared.tensor,
                                                               class_index=9).map, atol=1e-6)
    QTest.mouseClick(bars, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, bars.row_center(7).toPoint())
    assert feature.evidence.class_index == 7 and feature.evidence_class is None  # follows the prediction again
    feature.show_evidence.trigger()
    assert window.network_input.evidence_title() is None and bars.marked() is None
    assert window.canvas.explain_overlay() == (None, None)


def test_evidence_follows_pen_up_when_it_costs_more_than_a_frame(seven, draw, qtbot, monkeypatch):
    window = seven
    feature = window.explain
    feature.show_evidence.trigger()
    monkeypatch.setattr(explain_wiring, "LIVE_EVIDENCE_BUDGET_S", 0.0)  # as if it took longer than half a frame
    shown = feature.evidence
    draw(window.canvas, [(60, 230), (230, 230)], release=False)
    window.flush()
    assert window.canvas.is_drawing() and feature.evidence is shown  # not on every pen move
    QTest.mouseRelease(window.canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                       window.canvas.to_widget((230, 230)).toPoint())
    window.flush()
    assert feature.evidence is not shown
    np.testing.assert_allclose(feature.evidence.map, evidence(window.session, window.last_result.prepared.tensor,
                                                               class_index=window.last_result.digit).map, atol=1e-6)
    assert feature.evidence_seconds is not None and feature.evidence_seconds > 0


def test_clearing_the_canvas_keeps_the_unit_and_says_what_to_do(seven, qtbot):
    window = seven
    _click_unit(window, qtbot, C3, (2, 3, 4))
    window.explain.show_evidence.trigger()
    window.actions.clear.trigger()
    window.flush()
    assert window.inspector.unit == (2, 3, 4) and window.inspector.explanation is None
    assert "Draw a digit" in window.inspector.view.verdict.text()
    assert window.network_input.evidence_title() is None


def test_closing_the_dock_removes_its_marks(seven, qtbot):
    window = seven
    maps = _click_unit(window, qtbot, C3, (2, 3, 4))
    window.inspector.close()
    qtbot.waitUntil(lambda: not window.inspector.isVisible())
    assert window.network_input.patch() is None and maps.selected() is None
    assert window.canvas.explain_overlay() == (None, None)
    window.explain.inspect_action.trigger()  # View → Unit Inspector brings it back on the same unit
    qtbot.waitUntil(lambda: window.inspector.isVisible())
    assert window.network_input.patch() == arithmetic.receptive_box(window.layers[C3], 3, 4)


def test_a_layer_the_explainer_does_not_cover_says_why(seven, qtbot, monkeypatch):
    window = seven

    def not_covered(layer_name):
        return False, "this op is not explained yet (its output is still shown)"

    monkeypatch.setattr(window.explain.explainer, "can_explain", not_covered)
    _click_unit(window, qtbot, C3, (2, 3, 4))
    text = window.inspector.view.verdict.text()
    assert "Not explained" in text and "not explained yet" in text
    assert not window.inspector.view.grids.isVisible()


def test_a_failing_rule_is_one_line_not_a_traceback(seven, qtbot, monkeypatch):
    window = seven

    def broken(result, layer_name, unit):
        raise RuntimeError("the rule fell over\nTraceback details")

    monkeypatch.setattr(window.explain.explainer, "explain", broken)
    _click_unit(window, qtbot, C3, (2, 3, 4))
    text = window.inspector.view.verdict.text()
    assert "cannot be explained: the rule fell over" in text and "Traceback" not in text


def test_light_and_dark_schemes_recolour_the_verdict(seven, qtbot):
    window = seven
    _click_unit(window, qtbot, C3, (2, 3, 4))
    window.set_color_scheme("dark")
    QApplication.processEvents()
    window.inspector.select("c3.conv", (2, 3, 4))
    assert "#4cc76a" in window.inspector.view.verdict.text()  # theme.ok_color on dark
    window.set_color_scheme("light")
    QApplication.processEvents()
    window.inspector.select("c3.conv", (2, 3, 4))
    assert "#1f8a3b" in window.inspector.view.verdict.text()


def test_evidence_follows_the_pen_live_when_it_is_cheap(seven, draw, qtbot, monkeypatch):
    window = seven
    feature = window.explain
    feature.show_evidence.trigger()
    monkeypatch.setattr(explain_wiring, "LIVE_EVIDENCE_BUDGET_S", 10.0)  # as if it cost nothing
    shown = feature.evidence
    draw(window.canvas, [(60, 230), (230, 230)], release=False)
    window.flush()
    assert window.canvas.is_drawing() and feature.evidence is not shown
    np.testing.assert_allclose(feature.evidence.map, evidence(window.session, window.last_result.prepared.tensor,
                                                               class_index=window.last_result.digit).map, atol=1e-6)


def test_another_model_starts_the_inspector_afresh(seven, qtbot, tmp_path):
    from tests.helpers import tiny_classifier

    window = seven
    _click_unit(window, qtbot, C3, (2, 3, 4))
    window.explain.show_evidence.trigger()
    assert window.open_model(str(tiny_classifier(tmp_path / "tiny.onnx", channels_last=True)))
    window.flush()
    inspector = window.inspector
    assert inspector.layer_name is None and inspector.heading.text() == "No unit selected"
    assert window.network_input.patch() is None
    conv = next(layer for layer in window.layers if layer.op == "Conv")  # unnamed: goes by its display name
    assert conv.name == "" and window.explain.select_from_panel(conv, 3, 5, 6)
    assert (inspector.layer_name, inspector.unit) == (conv.display_name, (3, 5, 6))
    assert inspector.explanation.agrees is True
    assert inspector.explanation.runtime_value == pytest.approx(
        float(window.last_result.activations[conv.output][3, 5, 6]), abs=1e-6)
    assert window.explain.evidence is not None and window.explain.evidence.map.shape == (28, 28)


def test_double_clicking_a_bar_explains_its_probability(seven, qtbot):
    window = seven
    bars = window.prediction.bars
    QTest.mouseDClick(bars, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, bars.row_center(7).toPoint())
    qtbot.waitUntil(lambda: window.inspector.isVisible())
    inspector = window.inspector
    explanation = inspector.explanation
    assert (inspector.layer_name, inspector.unit) == ("probabilities", (7,)) and explanation.kind == "softmax"
    assert explanation.agrees is True
    assert explanation.runtime_value == pytest.approx(float(window.last_result.probabilities[7]), abs=1e-7)
    assert inspector.heading.text().endswith("class 7")
    # Logits, exponentials and probabilities, each a strip of ten under the other.
    assert [row[0].values.size for row in inspector.view.grids.rows()] == [10, 10, 10]
    QTest.mouseClick(inspector.next, Qt.MouseButton.LeftButton)
    assert inspector.unit == (8,)
    assert inspector.explanation.runtime_value == pytest.approx(float(window.last_result.probabilities[8]), abs=1e-7)
    # Each logit links back to its unit of the output layer.
    inspector.view.activate_term(0)
    assert (inspector.layer_name, inspector.unit) == ("output.gemm", (7,)) and inspector.explanation.kind == "dense"


def test_a_model_the_explainer_cannot_read_leaves_the_window_working(window, draw, qtbot, monkeypatch, tmp_path):
    from tests.helpers import tiny_classifier

    def refuses(model, layers, weights=None):
        raise ValueError("an op this explainer has never seen")

    import lenet_gui.core.explain as core_explain

    monkeypatch.setattr(core_explain, "Explainer", refuses)
    assert window.open_model(str(tiny_classifier(tmp_path / "tiny.onnx")))
    assert window.explain.explainer is None
    draw(window.canvas, [(140, 40), (140, 240)])
    window.flush()
    assert window.last_result is not None  # the prediction still runs
    conv = next(layer for layer in window.layers if layer.op == "Conv")
    window.explain.select_from_panel(conv, 0, 2, 2)
    assert "cannot read this model: an op this explainer has never seen" in window.inspector.view.verdict.text()


def test_over_an_opened_image_the_canvas_shows_no_overlay(window, qtbot, tmp_path):
    from PIL import Image, ImageDraw

    path = tmp_path / "seven.png"
    image = Image.new("L", (200, 200), 255)
    ImageDraw.Draw(image).line([(40, 40), (160, 40), (90, 170)], fill=0, width=14)
    image.save(path)
    assert window.open_image(str(path))
    window.flush()
    _click_unit(window, qtbot, C3, (2, 3, 4))
    window.explain.show_evidence.trigger()
    assert window.network_input.patch() is not None and window.network_input.evidence_title() is not None
    # The image was scaled by its own ink box, not the strokes': the canvas cannot place the field.
    assert window.canvas.explain_overlay() == (None, None)


def test_another_provider_keeps_the_explainer_and_the_unit(seven, qtbot):
    window = seven
    _click_unit(window, qtbot, C3, (2, 3, 4))
    explainer = window.explain.explainer
    assert window.set_provider("cpu")
    window.flush()
    assert window.explain.explainer is explainer
    assert window.inspector.unit == (2, 3, 4) and window.inspector.explanation.agrees is True
    # Opening a model file again builds a new explainer for its new layers.
    assert window.open_model(str(window.session.path))
    window.flush()
    assert window.explain.explainer is not explainer and window.explain.explainer.layers is window.layers
    assert window.inspector.unit == (2, 3, 4) and window.inspector.explanation.agrees is True


def test_walking_forward_from_c3_reaches_the_answer(seven, qtbot):
    window = seven
    _click_unit(window, qtbot, C3, (2, 3, 4))
    inspector = window.inspector
    walked = [(inspector.layer_name, inspector.unit)]
    while inspector.layer_name != "probabilities" and len(walked) < 20:
        assert inspector.feeds.isVisible() and "feed:0" in inspector.feeds.text()
        inspector.feeds.linkActivated.emit("feed:0")  # what a click on the first "Feeds" link sends
        walked.append((inspector.layer_name, inspector.unit))
    names = [name for name, _ in walked]
    assert names == ["c3.conv", "c3.relu", "s4.maxpool", "c5.conv", "c5.relu", "flatten", "f6.gemm", "f6.relu",
                     "output.gemm", "probabilities"]
    units = dict(walked)
    assert units["c3.relu"] == (2, 3, 4) and units["s4.maxpool"] == (2, 1, 2)  # the 2×2 window holding it
    c5 = window.last_result.activations[window.layers[6].output]
    assert units["c5.conv"] == tuple(int(i) for i in np.unravel_index(np.argmax(c5), c5.shape))
    assert units["flatten"] == (units["c5.relu"][0],)
    assert units["output.gemm"] == (7,) and units["probabilities"] == (7,)  # the answer, and its bar
    assert inspector.explanation.agrees is True and not inspector.feeds.isVisible()
