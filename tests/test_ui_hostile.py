"""The hostile corpus opened in the window; the drawing's autosave against SIGKILL,
damaged settings files and two windows at once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from lenet_gui.core.drawing import Drawing
from tests.hostile_corpus import CASES, NEEDS_INK, WINDOW_FRAGMENTS

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile-ui")
    paths = {}
    for name, (build, _) in CASES.items():
        folder = root / name
        folder.mkdir()
        paths[name] = build(folder)
    return paths


@pytest.fixture
def fast_window(make_window, settings_dir):
    """A window whose runs stop after 1 s (the Loop case), with a 7 drawn on it."""
    from lenet_gui.ui.settings import AppSettings

    settings = AppSettings()
    settings.inference_timeout = 1.0
    return make_window(settings=settings)


@pytest.mark.parametrize("case", list(CASES))
def test_opening_a_hostile_model_keeps_the_drawing_and_the_model(case, corpus, fast_window, draw, qtbot):
    window = fast_window
    draw(window.canvas, [(60, 60), (220, 60), (120, 240)])
    window.flush()
    qtbot.waitUntil(lambda: window.prediction_label.text() == "7")
    strokes = window.canvas.drawing().strokes
    session, layers, title = window.session, window.layers, window.windowTitle()
    errors = []
    window.errorShown.connect(errors.append)

    assert window.open_model(str(corpus[case])) is False
    window.flush()
    assert window.canvas.drawing().strokes == strokes
    assert window.session is session and window.layers is layers and window.windowTitle() == title
    fragment = WINDOW_FRAGMENTS.get(case, CASES[case][1])
    assert fragment in window.message_bar.message()
    assert "The model in use is still LeNet-5" in window.message_bar.message()
    assert len(errors) == 1 and fragment in errors[0]
    assert window.prediction_label.text() == "7"  # the old model still reads the drawing
    assert window.settings.model_path == ""  # a restart opens the good model too


@pytest.mark.parametrize("case", sorted(NEEDS_INK))
def test_a_model_that_fails_only_on_ink_shows_no_digit_when_drawn_later(case, corpus, fast_window, draw, qtbot):
    """On a blank canvas it opens; the first stroke then fails in its worker, and the window says so."""
    window = fast_window
    assert window.open_model(str(corpus[case]))
    failures = []
    window.controller.failed.connect(failures.append)
    draw(window.canvas, [(140, 40), (140, 240)])
    window.flush()
    qtbot.waitUntil(lambda: bool(failures), timeout=20000)
    assert CASES[case][1] in failures[0] and CASES[case][1] in window.message_bar.message()
    assert window.prediction_label.text() == "" and window.prediction.confidence.text() == "No reading"
    assert len(window.canvas.drawing().strokes) == 1
    window.canvas.clear()  # a blank input runs again: the worker survived or was replaced
    window.flush()
    qtbot.waitUntil(lambda: window.message_bar.message() == "", timeout=20000)
    if hasattr(window.session.session, "close"):
        window.session.session.close()


def test_the_message_bar_can_be_dismissed(corpus, fast_window, qtbot):
    window = fast_window
    window.open_model(str(corpus["digit_box_1e9"]))
    assert not window.message_bar.isHidden()
    qtbot.mouseClick(window.message_bar.close_button, Qt.MouseButton.LeftButton)
    assert window.message_bar.isHidden() and window.message_bar.message() == ""


def test_a_good_model_after_a_bad_one_clears_the_message(corpus, fast_window, tmp_path):
    from tests.helpers import tiny_classifier

    window = fast_window
    window.open_model(str(corpus["zero_classes"]))
    assert window.message_bar.message()
    assert window.open_model(str(tiny_classifier(tmp_path / "ok.onnx")))
    assert window.message_bar.message() == ""


# --- damaged settings files -----------------------------------------------------------------


@pytest.mark.parametrize("content, why", [
    (b"\x00\xff\xfe\x00garbage" * 40, "it holds binary data"),
    (bytes(range(1, 256)) * 8, "it is not text"),
    (b"[session\ndrawing=1\n", "it is not in the settings format"),
])
def test_a_damaged_settings_file_starts_with_defaults_and_says_so(content, why, make_window, settings_dir):
    settings_dir.mkdir(parents=True, exist_ok=True)
    (settings_dir / "lenet-gui.ini").write_bytes(content)
    window = make_window()
    message = window.message_bar.message()
    assert f"could not be read ({why}), so lenet-gui started with default settings" in message
    aside = [p.name for p in settings_dir.iterdir() if ".damaged-" in p.name]
    assert len(aside) == 1 and aside[0] in message
    assert (settings_dir / aside[0]).read_bytes() == content  # kept for the user, not overwritten
    assert window.canvas.drawing().is_empty() and window.model_title() == "LeNet-5"


def test_a_truncated_settings_file_starts_with_defaults_and_says_so(make_window, settings_dir, draw, qtbot):
    first = make_window()
    draw(first.canvas, [(140, 40), (140, 240)])
    first.step_tile_size(1)
    first.close()
    ini = settings_dir / "lenet-gui.ini"
    text = ini.read_text()
    cut = text.index("strokes") + 20  # in the middle of the drawing
    ini.write_text(text[:cut])
    second = make_window()
    assert "could not be read (it ends in the middle of a value, as a file cut short does)" in \
        second.message_bar.message()
    assert second.canvas.drawing().is_empty() and second.layer_panel.tile_size() != first.layer_panel.tile_size()
    assert [p.read_text() for p in settings_dir.iterdir() if ".damaged-" in p.name] == [text[:cut]]


@pytest.mark.parametrize("line, cut", [('a="x"', False), ('a="x', True), ('a="x\\"', True), ('a="x\\\\"', False),
                                       ("a=1", False), ("[s]", False), ('a="', True), ('a=""', False)])
def test_a_value_cut_short(line, cut):
    from lenet_gui.ui.settings import _cut_short

    assert _cut_short(line) is cut


def test_a_sound_settings_file_gives_no_message(make_window, settings_dir, draw):
    first = make_window()
    draw(first.canvas, [(140, 40), (140, 240)])
    first.close()
    second = make_window()
    assert second.message_bar.message() == "" and len(second.canvas.drawing().strokes) == 1


# --- two windows at once ------------------------------------------------------------------


def test_two_windows_at_once_keep_their_own_drawings(make_window, settings_dir, draw):
    from lenet_gui.ui.settings import AppSettings

    one, two = make_window(settings=AppSettings()), make_window(settings=AppSettings())
    draw(one.canvas, [(140, 40), (140, 240)])
    draw(two.canvas, [(60, 60), (220, 60), (120, 240)])
    draw(one.canvas, [(100, 140), (180, 140)])
    strokes_one, strokes_two = one.canvas.drawing().strokes, two.canvas.drawing().strokes
    assert len(strokes_one) == 2 and len(strokes_two) == 1
    one.close()
    two.close()
    # Both come back: the first window opened gets the first slot, a second the other.
    again_one = make_window(settings=AppSettings())
    again_two = make_window(settings=AppSettings())
    assert again_one.canvas.drawing().strokes == strokes_one
    assert again_two.canvas.drawing().strokes == strokes_two


# --- SIGKILL ------------------------------------------------------------------------------

DRIVER = textwrap.dedent("""
    import json, sys, time
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication
    from lenet_gui.ui.app import create_application
    from lenet_gui.ui.main_window import MainWindow

    def draw_stroke(canvas, points, release=True):  # as tests/conftest.py, which would move the settings
        at = [canvas.to_widget(p).toPoint() for p in points]
        QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at[0])
        for p in at[1:]:
            QTest.mouseMove(canvas, p)
        if release:
            QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at[-1])

    create_application()
    window = MainWindow()
    window.show()
    QApplication.processEvents()
    strokes = json.loads(sys.argv[1])
    for points in strokes:
        draw_stroke(window.canvas, points)
        QApplication.processEvents()
    draw_stroke(window.canvas, [(20, 20), (260, 260)], release=False)  # pen still down when killed
    QApplication.processEvents()
    print(json.dumps(window.canvas.drawing().strokes[: len(strokes)]), flush=True)
    while True:
        QApplication.processEvents()
        time.sleep(0.05)
""")
READER = textwrap.dedent("""
    import json
    from lenet_gui.ui.app import create_application
    from lenet_gui.ui.main_window import MainWindow

    create_application()
    window = MainWindow()
    print(json.dumps(window.canvas.drawing().strokes), flush=True)
    window.close()
""")


def test_the_drawing_survives_sigkill(tmp_path):
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO),
           "LENET_GUI_SETTINGS_DIR": str(tmp_path / "settings")}
    wanted = [[(140, 40), (140, 240)], [(60, 60), (220, 60), (120, 240)], [(40, 150), (240, 150)]]
    app = subprocess.Popen([sys.executable, "-c", DRIVER, json.dumps(wanted)], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    guard = threading.Timer(90, app.kill)  # a driver that hangs must not hang the suite
    guard.start()
    try:
        line = app.stdout.readline()
        assert line, app.stderr.read()
        drawn = json.loads(line)
    finally:
        guard.cancel()
        os.kill(app.pid, signal.SIGKILL)
        app.wait(30)
        app.stdout.close()
        app.stderr.close()
    assert app.returncode == -signal.SIGKILL and len(drawn) == 3
    reader = subprocess.run([sys.executable, "-c", READER], capture_output=True, text=True, env=env, cwd=REPO,
                            timeout=120)
    restored = json.loads(reader.stdout.splitlines()[-1])
    # Every stroke up to the last pen-up, exactly; the stroke still being drawn is not half-saved.
    assert restored == drawn


def test_a_second_app_running_at_once_does_not_take_the_first_ones_drawing(make_window, settings_dir, draw):
    """Two processes on one settings file: each keeps its own autosaved drawing."""
    from lenet_gui.ui.settings import AppSettings

    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO),
           "LENET_GUI_SETTINGS_DIR": str(settings_dir)}
    theirs = [[(140, 40), (140, 240)]]
    other = subprocess.Popen([sys.executable, "-c", DRIVER, json.dumps(theirs)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    guard = threading.Timer(90, other.kill)
    guard.start()
    try:
        drawn = json.loads(other.stdout.readline())
        mine = make_window(settings=AppSettings())
        assert mine.canvas.drawing().is_empty()  # not the other app's drawing
        draw(mine.canvas, [(60, 60), (220, 60), (120, 240)])
        my_strokes = mine.canvas.drawing().strokes
        mine.close()
    finally:
        guard.cancel()
        os.kill(other.pid, signal.SIGKILL)
        other.wait(30)
        other.stdout.close()
        other.stderr.close()
    first, second = AppSettings(), AppSettings()
    assert (first.claim_session(), second.claim_session()) == (0, 1)
    as_lists = lambda strokes: json.loads(json.dumps(strokes))  # noqa: E731 - tuples and lists alike
    assert as_lists(Drawing.from_json(first.drawing_json).strokes) == drawn
    assert as_lists(Drawing.from_json(second.drawing_json).strokes) == as_lists(my_strokes)
    first.release_session()
    second.release_session()


def test_the_memory_limit_setting_is_the_windows_limit(make_window, settings_dir, tmp_path):
    from lenet_gui.ui.settings import AppSettings
    from tests.helpers import tiny_classifier

    model = str(tiny_classifier(tmp_path / "big.onnx", size=768))  # ~20 MiB for one run
    settings = AppSettings()
    settings.memory_limit = "16MiB"
    window = make_window(settings=settings)
    assert window.open_model(model) is False
    assert "more than the memory limit of 16.0 MiB" in window.message_bar.message()
    settings.memory_limit = "64MiB"
    assert window.open_model(model) is True


@pytest.mark.parametrize("stored, expected", [("2GiB", 2 * 1024**3), ("nonsense", 1024**3), ("", 1024**3)])
def test_memory_limit_setting_values(stored, expected, settings_dir):
    from lenet_gui.ui.settings import AppSettings

    settings = AppSettings()
    settings.memory_limit = stored
    assert settings.memory_limit == expected


@pytest.mark.parametrize("stored, expected", [(2.5, 2.5), ("nan", 10.0), (-1, 10.0), ("soon", 10.0)])
def test_timeout_setting_values(stored, expected, settings_dir):
    from lenet_gui.ui.settings import AppSettings

    settings = AppSettings()
    settings._set("model/timeout", stored)
    assert settings.inference_timeout == expected


def test_the_window_takes_its_limits_from_the_command_line(tmp_path):
    """``lenet-gui --memory-limit`` applies to that run of the window, ahead of the setting."""
    from tests.helpers import tiny_classifier

    model = tiny_classifier(tmp_path / "big.onnx", size=768)  # ~20 MiB for one run
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(REPO),
           "LENET_GUI_SETTINGS_DIR": str(tmp_path / "settings")}
    base = [sys.executable, "-m", "lenet_gui", "--model", str(model), "--screenshot", str(tmp_path / "w.png")]
    refused = subprocess.run(base + ["--memory-limit", "16M"], capture_output=True, text=True, env=env, timeout=120)
    assert refused.returncode == 2 and "more than the memory limit of 16.0 MiB" in refused.stderr
    assert "Traceback" not in refused.stderr
    opened = subprocess.run(base + ["--memory-limit", "64M"], capture_output=True, text=True, env=env, timeout=120)
    assert opened.returncode == 0 and (tmp_path / "w.png").stat().st_size > 0, opened.stderr


def test_limits_from_the_environment_come_first(settings_dir, monkeypatch):
    from lenet_gui.ui.settings import MEMORY_LIMIT_ENV, TIMEOUT_ENV, AppSettings

    settings = AppSettings()
    settings.memory_limit = "2GiB"
    settings.inference_timeout = 3.0
    monkeypatch.setenv(MEMORY_LIMIT_ENV, str(64 * 1024**2))
    monkeypatch.setenv(TIMEOUT_ENV, "1.5")
    assert (settings.memory_limit, settings.inference_timeout) == (64 * 1024**2, 1.5)
    monkeypatch.delenv(MEMORY_LIMIT_ENV)
    monkeypatch.delenv(TIMEOUT_ENV)
    assert (settings.memory_limit, settings.inference_timeout) == (2 * 1024**3, 3.0)
