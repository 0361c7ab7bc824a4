"""Shared test set-up.

Qt must run offscreen in tests: without a display the default platform plugin
aborts the process before pytest can print anything.
"""

import atexit
import os
import shutil
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402
from hypothesis import settings as _hypothesis_settings  # noqa: E402

# Mutation testing (scripts/mutation_report.py) sets HYPOTHESIS_PROFILE=mutation so
# that the property tests draw the same examples for every mutant: a score that
# moves between runs would make its CI floor flaky.
_hypothesis_settings.register_profile("mutation", derandomize=True, database=None)
_hypothesis_settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


# --- the desktop app -----------------------------------------------------------------
# Tests never read or write the real user's settings (the autosaved drawing, recent
# files): every run gets a settings folder of its own; `settings_dir` gives a test a
# fresh one.
_SESSION_SETTINGS = tempfile.mkdtemp(prefix="lenet-gui-test-settings-")
os.environ["LENET_GUI_SETTINGS_DIR"] = _SESSION_SETTINGS
os.environ["LENET_GUI_CACHE_DIR"] = os.path.join(_SESSION_SETTINGS, "cache")  # calibration results
atexit.register(shutil.rmtree, _SESSION_SETTINGS, ignore_errors=True)
os.environ.pop("LENET_GUI_COLOR_SCHEME", None)


@pytest.fixture
def settings_dir(tmp_path, monkeypatch) -> Path:
    from PySide6.QtCore import QStandardPaths

    folder = tmp_path / "settings"
    monkeypatch.setenv("LENET_GUI_SETTINGS_DIR", str(folder))
    QStandardPaths.setTestModeEnabled(True)
    return folder


@pytest.fixture
def make_window(qtbot, settings_dir):
    """Build MainWindows (shown offscreen, closed after the test); kwargs go to MainWindow."""
    from lenet_gui.ui.app import create_application
    from lenet_gui.ui.main_window import MainWindow

    create_application()

    def make(*args, show=True, **kwargs):
        window = MainWindow(*args, **kwargs)
        qtbot.addWidget(window)
        if show:
            window.show()
            qtbot.waitExposed(window)
        window.flush()
        return window

    return make


@pytest.fixture
def window(make_window):
    return make_window()


def draw_stroke(canvas, points, release=True, step=4.0):
    """Drag the mouse over ``canvas`` through ``points`` (drawing coordinates), as a person would."""
    import math

    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtTest import QTest

    dense = [points[0]]
    for (x0, y0), (x1, y1) in zip(points, points[1:]):
        n = max(1, int(math.hypot(x1 - x0, y1 - y0) / step))
        dense += [(x0 + (x1 - x0) * i / n, y0 + (y1 - y0) * i / n) for i in range(1, n + 1)]
    at = [canvas.to_widget(p).toPoint() for p in dense]
    QTest.mousePress(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at[0])
    for p in at[1:]:
        QTest.mouseMove(canvas, p)
    if release:
        QTest.mouseRelease(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at[-1])
    return dense


@pytest.fixture
def draw():
    return draw_stroke
