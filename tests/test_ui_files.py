"""Files and settings: round trips that lose nothing, bad files that change nothing."""

import json

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent, QImage

from lenet_gui.core.drawing import Drawing, load_drawing, save_drawing
from lenet_gui.ui.settings import AppSettings

SEVEN = [[(72, 66), (140, 58), (206, 62), (170, 120), (150, 170), (132, 228)], [(118, 146), (184, 144)]]


def _draw(window, draw, strokes):
    for stroke in strokes:
        draw(window.canvas, stroke)
    window.flush()


def _messages(window):
    seen = []
    window.errorShown.connect(seen.append)
    return seen


def _small_model(path, size=28):
    """A 4-node classifier for 1×size×size images with a padded, strided convolution."""
    rng = np.random.default_rng(0)
    out = (size + 2 - 3) // 2 + 1
    weights = numpy_helper.from_array(rng.normal(0, 0.3, (4, 1, 3, 3)).astype(np.float32), "w")
    dense = numpy_helper.from_array(rng.normal(0, 0.05, (10, 4 * out * out)).astype(np.float32), "d")
    nodes = [
        helper.make_node("Conv", ["image", "w"], ["conv"], name="conv", kernel_shape=[3, 3], pads=[1, 1, 1, 1],
                         strides=[2, 2]),
        helper.make_node("Relu", ["conv"], ["relu"], name="relu"),
        helper.make_node("Flatten", ["relu"], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", "d"], ["scores"], name="dense", transB=1),
    ]
    graph = helper.make_graph(
        nodes, "tiny",
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["batch", 1, size, size])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", 10])],
        [weights, dense],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_save_and_open_a_drawing_lose_nothing(window, draw, qtbot, tmp_path):
    _draw(window, draw, SEVEN)
    drawn = window.canvas.drawing()
    path = tmp_path / "seven.strokes.json"
    assert window.save_drawing(str(path))
    saved = load_drawing(path)
    assert saved.strokes == drawn.strokes
    assert (saved.width, saved.height) == (drawn.width, drawn.height)
    assert json.loads(path.read_text())["version"] == 1
    assert "seven.strokes.json" in window.windowTitle()
    window.actions.clear.trigger()
    assert window.open_path(str(path))
    assert window.canvas.drawing().strokes == drawn.strokes
    assert abs(window.canvas.drawing().pen_width - drawn.pen_width) < 1e-3


def test_save_adds_the_suffix_and_save_reuses_the_file(window, draw, tmp_path):
    _draw(window, draw, SEVEN)
    assert window.save_drawing(str(tmp_path / "mine"))
    assert (tmp_path / "mine.strokes.json").exists()
    draw(window.canvas, [(40, 250), (240, 250)])
    window.save()  # no dialog: the drawing already has its file
    assert len(load_drawing(tmp_path / "mine.strokes.json").strokes) == 3


def test_a_png_export_is_a_picture_of_the_drawing(window, draw, qtbot, tmp_path):
    _draw(window, draw, SEVEN)
    qtbot.waitUntil(lambda: window.prediction_label.text() != "")
    digit = window.prediction_label.text()
    path = tmp_path / "seven.png"
    assert window.export_png(str(path))
    image = QImage(str(path)).convertToFormat(QImage.Format.Format_Grayscale8)
    assert image.width() == 560 and image.height() == 560
    values = np.array([[image.pixelColor(x, y).value() for x in range(0, 560, 7)] for y in range(0, 560, 7)])
    assert values.max() > 240 and values.min() < 30  # white paper, black ink
    assert 0.02 < (values < 128).mean() < 0.4
    # Opened again, the picture reads as the same digit.
    assert window.open_path(str(path))
    window.flush()
    assert window.canvas.backdrop() is not None
    qtbot.waitUntil(lambda: window.prediction_label.text() == digit)


def test_the_layer_panel_exports_every_row(window, draw, tmp_path):
    _draw(window, draw, SEVEN)
    path = tmp_path / "layers.png"
    assert window.export_layer_panel(str(path))
    image = QImage(str(path))
    assert image.height() > window.layer_panel.scroll.viewport().height()  # not only what is on screen
    last_row = window.layer_panel.rows()[-1]
    assert image.height() >= last_row.geometry().bottom()
    grey = image.convertToFormat(QImage.Format.Format_Grayscale8)
    sample = [grey.pixelColor(x, y).value() for x in range(0, grey.width(), 9) for y in range(0, grey.height(), 9)]
    assert np.std(sample) > 20


def test_a_bad_image_or_drawing_changes_nothing(window, draw, tmp_path):
    _draw(window, draw, SEVEN)
    before = window.canvas.drawing()
    seen = _messages(window)
    broken_png = tmp_path / "broken.png"
    broken_png.write_bytes(b"\x89PNG\r\n\x1a\n this is not really a png")
    broken_json = tmp_path / "broken.strokes.json"
    broken_json.write_text('{"version": 1, "width": 280, "height": 280, "strokes": [[[1, "a"]]]}')
    missing = tmp_path / "missing.png"
    for path in (broken_png, broken_json, missing, tmp_path / "half.json"):
        if path.name == "half.json":
            path.write_text("{")
        assert not window.open_path(str(path))
        assert window.canvas.drawing().strokes == before.strokes
    assert len(seen) == 4
    assert "broken.png" in seen[0] and "unchanged" in seen[0]
    assert "point 0 of stroke 0" in seen[1]
    assert "not found" in seen[2]
    assert window.canvas.undo_stack.count() == 2  # only the two strokes


def test_a_bad_model_keeps_the_model_and_the_drawing(window, draw, qtbot, tmp_path):
    _draw(window, draw, SEVEN)
    qtbot.waitUntil(lambda: window.prediction_label.text() != "")
    session, rows, digit = window.session, window.layer_panel.rows(), window.prediction_label.text()
    seen = _messages(window)
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"definitely not protobuf" * 10)
    not_images = tmp_path / "vector.onnx"
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])], "vector",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8])],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(not_images))
    for path in (garbage, not_images):
        assert not window.open_path(str(path))
        assert window.session is session and window.layer_panel.rows() == rows
        assert window.canvas.drawing().strokes and window.prediction_label.text() == digit
    assert "not a valid ONNX model" in seen[0]
    assert "not an image classifier" in seen[1]
    assert "LeNet-5" in window.windowTitle()


def test_another_model_rebuilds_the_panel(window, draw, qtbot, tmp_path):
    _draw(window, draw, SEVEN)
    path = _small_model(tmp_path / "tiny.onnx")
    assert window.open_path(str(path))
    rows = window.layer_panel.rows()
    assert [row.layer.op for row in rows] == ["Conv", "Relu", "Flatten", "Gemm"]
    # 27/2 does not come out even: the working shows the floor.
    assert rows[0].formula.text() == "⌊(28 + 2·1 − 3)/2⌋ + 1 = 14 → 4×14×14"
    assert "stride 2" in " ".join(label.text() for label in rows[0].findChildren(type(rows[0].title)))
    assert all(row.check().status == "ok" for row in rows)
    assert window.network_input.input_size() == (28, 28)
    assert "tiny.onnx" in window.windowTitle() and "tiny.onnx" in window.layer_panel.heading.text()
    assert window.canvas.drawing().strokes  # the drawing stays
    qtbot.waitUntil(lambda: window.last_result is not None and "conv" in window.last_result.activations)
    assert rows[0].maps.values() is window.last_result.activations["conv"]
    assert str(path.resolve()) in window.settings.recent_files


def test_files_dropped_on_the_window_open(window, tmp_path):
    path = tmp_path / "dropped.strokes.json"
    save_drawing(Drawing(280, 280, [[(140, 40), (140, 240)]]), path)
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(path))])
    event = QDropEvent(QPointF(200, 200), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    window.dropEvent(event)
    assert window.canvas.drawing().strokes == [[(140, 40), (140, 240)]]


def test_recent_files_are_remembered(window, tmp_path):
    path = tmp_path / "recent.strokes.json"
    save_drawing(Drawing(280, 280, [[(10, 10), (90, 90)]]), path)
    assert window.open_path(str(path))
    menu = window.actions.recent_menu
    window.fill_recent_menu(menu)
    names = [a.text() for a in menu.actions()]
    assert "recent.strokes.json" in names
    window.actions.clear.trigger()
    next(a for a in menu.actions() if a.text() == "recent.strokes.json").trigger()
    assert window.canvas.drawing().strokes == [[(10, 10), (90, 90)]]


def test_the_drawing_and_layout_survive_a_restart(make_window, draw, qtbot, settings_dir):
    first = make_window()
    _draw(first, draw, SEVEN)
    first.canvas.set_pen_size(24)
    first.resize(780, 580)  # within the offscreen screen (800×600), where restoreGeometry keeps windows
    first.splitter.setSizes([300, 460])
    sizes = first.splitter.sizes()
    first.step_tile_size(1)
    strokes = first.canvas.drawing().strokes
    first.close()
    assert (settings_dir / "lenet-gui.ini").exists()
    second = make_window()
    assert second.canvas.drawing().strokes == strokes
    assert abs(second.canvas.pen_size() - 24) < 1e-6
    assert (second.width(), second.height()) == (780, 580)
    assert second.splitter.sizes() == sizes
    assert second.layer_panel.tile_size() == first.layer_panel.tile_size() != 56
    qtbot.waitUntil(lambda: second.prediction_label.text() == "7")


def test_the_drawing_is_autosaved_at_every_stroke(window, draw, settings_dir):
    draw(window.canvas, [(140, 40), (140, 240)])
    stored = Drawing.from_json(AppSettings().drawing_json)  # a fresh reader, as after a crash
    assert stored.strokes == window.canvas.drawing().strokes


def test_a_damaged_autosave_does_not_stop_the_app(make_window, settings_dir):
    stored = AppSettings()
    stored.drawing_json = '{"version": 1, "width": 280, "height": 280, "strokes": [[[1, 2], [3]]]}'
    stored.sync()
    window = make_window()
    assert window.canvas.drawing().is_empty()
    assert "could not be restored" in window.statusBar().currentMessage()


def test_layers_no_formula_gives_show_onnxruntimes_shape_and_say_so(window, qtbot, tmp_path):
    from tests.test_runtime_shapes import model_with_an_op_the_app_does_not_know

    path = tmp_path / "gelu.onnx"
    model_with_an_op_the_app_does_not_know(path)
    assert window.open_path(str(path))
    rows = window.layer_panel.rows()
    assert [row.layer.op for row in rows] == ["Conv", "Gelu", "MaxPool", "Flatten", "MatMul"]
    assert [row.layer.output_shape for row in rows] == [[1, 2, 26, 26], [1, 2, 26, 26], [1, 2, 13, 13], [1, 338],
                                                        [1, 10]]
    assert [row.check().status for row in rows] == ["ok"] + ["runtime"] * 4
    assert rows[1].check().text == "onnxruntime's shape"
    assert rows[1].layer.note == "Gelu is not analysed here; the shape shown is the one onnxruntime produced"


def test_an_empty_pooling_output_is_said_not_drawn(window, draw, qtbot, tmp_path):
    # A 30-row window over 26 rows with stride 3: (26 − 30)/3 rounds toward zero to −1, so
    # onnxruntime returns 0 rows. The model still runs (the empty branch is a side output).
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    nodes = [helper.make_node("Conv", ["image", "w"], ["conv"], kernel_shape=[3, 3], name="conv"),
             helper.make_node("MaxPool", ["conv"], ["empty"], kernel_shape=[30, 1], strides=[3, 1], name="empty"),
             helper.make_node("Relu", ["empty"], ["empty_relu"], name="after"),
             helper.make_node("Flatten", ["conv"], ["flat"], name="flat"),
             helper.make_node("MatMul", ["flat", "fc"], ["scores"], name="fc")]
    inits = [numpy_helper.from_array(rng.normal(size=(2, 1, 3, 3)).astype(np.float32), "w"),
             numpy_helper.from_array(rng.normal(size=(2 * 26 * 26, 10)).astype(np.float32), "fc")]
    graph = helper.make_graph(
        nodes, "g", [helper.make_tensor_value_info("image", TensorProto.FLOAT, [1, 1, 28, 28])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [1, 10]),
         helper.make_tensor_value_info("empty_relu", TensorProto.FLOAT, None)], inits)
    path = tmp_path / "empty.onnx"
    onnx.save_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), str(path))
    assert window.open_path(str(path))
    rows = window.layer_panel.rows()
    assert [row.layer.output_shape for row in rows[1:3]] == [[1, 2, 0, 26], [1, 2, 0, 26]]
    assert rows[1].layer.note == ("the 30-pixel window is wider than the padded input (26): "
                                  "onnxruntime gives an empty output (size 0)")
    _draw(window, draw, SEVEN)
    qtbot.waitUntil(lambda: window.last_result is not None and "empty" in window.last_result.activations)
    assert window.last_result.activations["empty"].shape == (2, 0, 26)
    assert rows[1].maps is None and rows[2].maps is None and rows[0].maps is not None
    assert [row.check().status for row in rows] == ["ok"] * 5
    texts = [label.text() for label in rows[1].findChildren(type(rows[1].title))]
    assert "Empty output: no values to draw" in texts
    window.layer_panel.render_image()  # every row painted, the empty ones too
    window.overview.canvas.grab()
