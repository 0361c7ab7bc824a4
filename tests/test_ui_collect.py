"""Collect mode and the evaluation view, through the real window."""

import csv
import json
import math

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QDockWidget, QInputDialog

from lenet_gui import cli
from lenet_gui.core.drawing import load_drawing

ONE = [[(140, 40), (140, 240)]]
SEVEN = [[(72, 66), (140, 58), (206, 62), (170, 120), (150, 170), (132, 228)], [(118, 146), (184, 144)]]
ZERO = [[(140 + 60 * math.sin(2 * math.pi * i / 48), 140 - 95 * math.cos(2 * math.pi * i / 48)) for i in range(49)]]


def rows(folder):
    with open(folder / "labels.csv", newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def answer_writer_dialog(qtbot, panel, name):
    qtbot.waitUntil(lambda: panel.writer_dialog is not None and panel.writer_dialog.isVisible())
    dialog = panel.writer_dialog
    assert isinstance(dialog, QInputDialog)
    dialog.setTextValue(name)
    dialog.accept()
    qtbot.waitUntil(lambda: panel.writer == name)


def focus_canvas(qtbot, window):
    window.activateWindow()
    qtbot.waitUntil(window.isActiveWindow)
    window.canvas.setFocus()


def draw_digit(window, draw, strokes):
    for stroke in strokes:
        draw(window.canvas, stroke)
    window.flush()


@pytest.fixture
def collecting(window, qtbot, tmp_path):
    panel = window.collect.panel
    folder = tmp_path / "class 4b"
    assert panel.set_folder(str(folder))
    window.collect.actions.collect_mode.trigger()
    assert window.collect.dock.isVisible() and panel.is_active()
    answer_writer_dialog(qtbot, panel, "Ana")
    focus_canvas(qtbot, window)
    return window, panel, folder


def test_collect_through_the_window(collecting, draw, qtbot):
    window, panel, folder = collecting
    asked = panel.prompt
    assert panel.prompt_label.text() == (f"Draw an {asked}" if asked == "8" else f"Draw a {asked}")

    draw_digit(window, draw, ONE)
    QTest.keyClick(window.canvas, Qt.Key.Key_1)  # label by key
    assert rows(folder) == [["file", "label", "writer"], ["00001.strokes.json", "1", "Ana"]]
    assert load_drawing(folder / "00001.strokes.json").point_count() > 10
    assert window.canvas.drawing().is_empty()  # cleared for the next digit
    assert panel.writer_cells["1"].text() == "1" and panel.folder_cells["1"].text() == "1"
    assert "00001.strokes.json" in panel.status.text()

    draw_digit(window, draw, SEVEN)
    qtbot.waitUntil(lambda: window.last_result is not None and window.last_result.label == "7")
    QTest.keyClick(window.canvas, Qt.Key.Key_Return)  # confirm the prediction
    assert rows(folder)[-1] == ["00002.strokes.json", "7", "Ana"]
    assert window.canvas.drawing().is_empty()

    QTest.keyClick(window.canvas, Qt.Key.Key_Enter)  # nothing drawn: nothing saved
    assert len(rows(folder)) == 3 and "Draw a digit first" in panel.status.text()

    panel.ask_writer()  # change writer
    answer_writer_dialog(qtbot, panel, "Bo, row 2")
    focus_canvas(qtbot, window)
    assert panel.writer_label.text() == "Writer: Bo, row 2"
    assert [panel.writer_cells[d].text() for d in "17"] == ["0", "0"]  # Bo's own counts
    draw_digit(window, draw, ZERO)
    QTest.keyClick(window.canvas, Qt.Key.Key_0)
    assert rows(folder)[-1] == ["00003.strokes.json", "0", "Bo, row 2"]
    draw_digit(window, draw, ONE)
    QTest.keyClick(window.canvas, Qt.Key.Key_7)  # a wrong label on purpose: a sure mistake
    assert rows(folder)[-1] == ["00004.strokes.json", "7", "Bo, row 2"]
    assert [panel.folder_cells[d].text() for d in "0179"] == ["1", "1", "2", "0"]
    draw_digit(window, draw, ONE)
    QTest.keyClick(window.canvas, Qt.Key.Key_1, Qt.KeyboardModifier.KeypadModifier)  # the number pad too
    assert rows(folder)[-1] == ["00005.strokes.json", "1", "Bo, row 2"]
    assert window.settings.collect_writer == "Bo, row 2" and window.settings.collect_folder == str(folder)


def test_backspace_takes_the_last_save_back_onto_the_canvas(collecting, draw, qtbot):
    window, panel, folder = collecting
    assert not panel.take_back_button.isEnabled()
    draw_digit(window, draw, ONE)
    QTest.keyClick(window.canvas, Qt.Key.Key_1)
    draw_digit(window, draw, ONE)
    QTest.keyClick(window.canvas, Qt.Key.Key_4)  # the wrong key
    saved = load_drawing(folder / "00002.strokes.json")
    assert panel.take_back_button.isEnabled()
    QTest.keyClick(window.canvas, Qt.Key.Key_Backspace)
    assert rows(folder) == [["file", "label", "writer"], ["00001.strokes.json", "1", "Ana"]]
    assert not (folder / "00002.strokes.json").exists()
    assert window.canvas.drawing().strokes == saved.strokes and panel.folder_cells["4"].text() == "0"
    QTest.keyClick(window.canvas, Qt.Key.Key_1)  # labelled again
    assert rows(folder)[-1] == ["00003.strokes.json", "1", "Ana"]
    QTest.keyClick(window.canvas, Qt.Key.Key_Backspace)
    QTest.keyClick(window.canvas, Qt.Key.Key_Escape)  # cleared: the first save is next
    QTest.keyClick(window.canvas, Qt.Key.Key_Backspace)
    assert rows(folder) == [["file", "label", "writer"]] and not panel.take_back_button.isEnabled()


def test_digit_keys_do_nothing_outside_collect_mode(window, draw, qtbot, tmp_path):
    window.collect.panel.set_folder(str(tmp_path / "f"))
    focus_canvas(qtbot, window)
    draw_digit(window, draw, ONE)
    QTest.keyClick(window.canvas, Qt.Key.Key_1)
    assert not (tmp_path / "f" / "labels.csv").exists() and not window.canvas.drawing().is_empty()


def test_closing_the_dock_ends_collect_mode(collecting):
    window, panel, _ = collecting
    window.collect.dock.close()
    assert not panel.is_active() and not window.collect.actions.collect_mode.isChecked()
    assert window.findChild(QDockWidget, "collectDock") is window.collect.dock


def test_the_writer_is_asked_once_per_session(collecting, qtbot):
    window, panel, _ = collecting
    window.collect.set_active(False)
    window.collect.set_active(True)
    assert panel.writer_dialog is None and panel.writer == "Ana"


def test_a_folder_that_cannot_be_used_says_so_and_changes_nothing(window, tmp_path):
    (tmp_path / "file").write_text("x")
    window.interactive = False
    panel = window.collect.panel
    before = panel.folder
    assert not panel.set_folder(str(tmp_path / "file"))
    assert panel.folder == before and "file" in window.last_message


def _collect_three_writers(window, panel, draw, qtbot, folder):
    plan = [("Ana", ONE, "1"), ("Ana", SEVEN, "7"), ("Bo", ZERO, "0"), ("Bo", ONE, "7"), ("Cy", ONE, "1")]
    for who, strokes, key in plan:
        if panel.writer != who:
            panel.set_writer(who)
            focus_canvas(qtbot, window)
        draw_digit(window, draw, strokes)
        QTest.keyClick(window.canvas, getattr(Qt.Key, f"Key_{key}"))
    assert len(rows(folder)) == 6


def test_evaluated_in_the_window_and_in_the_cli_alike(collecting, draw, qtbot, capsys, tmp_path):
    window, panel, folder = collecting
    _collect_three_writers(window, panel, draw, qtbot, folder)

    assert cli.main(["evaluate", str(folder), "--json"]) == 0
    expected = json.loads(capsys.readouterr().out)

    view = window.collect.evaluate([str(folder)])
    qtbot.waitUntil(lambda: not view.is_running() and len(view.reports) == 1, timeout=20000)
    report = view.reports[0]
    assert report.confusion.tolist() == expected["confusion"]
    assert (view.matrix.matrix() == np.array(expected["confusion"])).all()
    assert f"of {expected['n']} digits" in view.summary.text()
    per_class = {view.per_class.item(r, 0).text(): view.per_class.item(r, 2).text()
                 for r in range(view.per_class.rowCount())}
    assert per_class["7"] == "50.0 %" and per_class["1"] == "100.0 %" and per_class["5"] == "–"
    writers = {view.per_writer.item(r, 0).text(): view.per_writer.item(r, 2).text()
               for r in range(view.per_writer.rowCount())}
    assert writers == {"Ana": "100.0 %", "Bo": "50.0 %", "Cy": "100.0 %"}
    assert view.sources.item(0, 2).text() == "5" and view.sources.item(0, 4).text() == "0"

    # The worst mistake: the "1" labelled 7. Clicking it puts it in the canvas and the layer panel.
    assert view.worst.count() == 1
    item = view.worst.item(0)
    assert item.text().startswith("7 → 1")
    view.worst.itemClicked.emit(item)
    window.flush()
    assert window.canvas.drawing().strokes == load_drawing(folder / "00004.strokes.json").strokes
    qtbot.waitUntil(lambda: window.last_result is not None and window.last_result.label == "1")
    assert window.layer_panel.isVisible()
    # In collect mode, an opened drawing is not saved a second time.
    focus_canvas(qtbot, window)
    QTest.keyClick(window.canvas, Qt.Key.Key_7)
    assert len(rows(folder)) == 6 and "not collected again" in panel.status.text()

    png = tmp_path / "cm.png"
    assert view.export_png(str(png)) and png.stat().st_size > 1000


def test_window_evaluation_shows_skipped_files_and_cancels(window, qtbot, data_dir, tmp_path):
    folder = tmp_path / "f"
    folder.mkdir()
    (folder / "labels.csv").write_text("file,label,writer\nmissing.strokes.json,3,Ana\n")
    view = window.collect.evaluate([str(folder), str(tmp_path / "nothing-here")])
    qtbot.waitUntil(lambda: not view.is_running(), timeout=20000)
    assert view.reports[0].n == 0 and len(view.reports[0].skipped) == 1
    assert view.sources.item(0, 4).text() == "1" and "1 skipped" in view.summary.text()
    assert "missing.strokes.json" in view.skipped.toPlainText()
    assert "nothing-here" in view.skipped.toPlainText()

    view.evaluate(window.session, [str(data_dir / "pendigits-heldout.tra.gz")])
    qtbot.waitUntil(lambda: view.progress_box.isVisible() and view.progress.maximum() == 2498, timeout=20000)
    QTest.mouseClick(view.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not view.is_running(), timeout=20000)
    report = view.reports[0]
    assert report.cancelled and report.n < 2498
    assert "cancelled" in view.summary.text() and not view.progress_box.isVisible()


def test_worst_pendigits_and_mnist_open_in_the_canvas(window, qtbot, data_dir):
    view = window.collect.evaluate([str(data_dir / "pendigits-heldout.tra.gz")])
    qtbot.waitUntil(lambda: not view.is_running() and bool(view.reports), timeout=60000)
    mistake = view.worst.item(0).data(Qt.ItemDataRole.UserRole)
    view.worst.itemClicked.emit(view.worst.item(0))
    window.flush()
    assert window.canvas.drawing().strokes == mistake.sample.drawing.strokes
    qtbot.waitUntil(lambda: window.last_result is not None)
    assert window.last_result.digit == mistake.predicted

    view.evaluate(window.session, [str(data_dir / "mnist-mini")])
    qtbot.waitUntil(lambda: not view.is_running() and bool(view.reports), timeout=60000)
    assert view.worst.count() > 0
    view.worst.itemClicked.emit(view.worst.item(0))
    window.flush()
    assert window.canvas.backdrop() is not None and window.document_path is None


def test_screenshot_of_the_evaluation_view(collecting, draw, qtbot, data_dir, tmp_path):
    """Renders docs-style PNGs of the view (looked at by hand when the view changes)."""
    window, panel, folder = collecting
    _collect_three_writers(window, panel, draw, qtbot, folder)
    view = window.collect.evaluate([str(folder), str(data_dir / "pendigits-heldout.tra.gz")])
    qtbot.waitUntil(lambda: not view.is_running() and len(view.reports) == 2, timeout=60000)
    image = view.grab()
    assert image.width() > 600 and image.height() > 500
    assert image.save(str(tmp_path / "evaluation.png"))


def test_the_painted_matrix_looks_like_the_png():
    from PySide6.QtGui import QColor

    from lenet_gui.core.confusion_png import cell_colours, geometry
    from lenet_gui.ui.confusion_view import ConfusionMatrixView

    rng = np.random.default_rng(0)
    confusion = rng.integers(0, 4, size=(10, 10)) * (rng.random((10, 10)) < 0.3)
    np.fill_diagonal(confusion, rng.integers(5, 30, size=10))
    view = ConfusionMatrixView()
    view.set_matrix(confusion, [str(d) for d in range(10)])
    g = geometry(10)
    view.resize(g["width"], g["height"])  # scale 1: cells where the PNG has them
    image = view.grab().toImage()
    totals = confusion.sum(axis=1)
    for i in range(10):
        for j in range(10):
            expected, _ = cell_colours(int(confusion[i, j]), int(totals[i]), i == j)
            x, y = g["left"] + j * g["cell"] + 5, g["top"] + i * g["cell"] + 5
            assert image.pixelColor(x, y) == QColor(*expected), (i, j)
    assert view.cell_at(g["left"] + 3 * g["cell"] + 20, g["top"] + 7 * g["cell"] + 20) == (7, 3)
