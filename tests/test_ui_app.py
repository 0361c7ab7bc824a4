"""Starting the app: no display, screenshots, providers."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PySide6.QtGui import QImage

from lenet_gui.core import session as session_module
from lenet_gui.core.session import ProviderInfo, provider_info
from lenet_gui.ui.app import display_problem, run_app

ROOT = Path(__file__).resolve().parents[1]
SEVEN = ROOT / "docs" / "seven.strokes.json"


def _without_display() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return env


def test_without_a_display_the_app_explains_instead_of_aborting():
    code = "import sys; from lenet_gui.cli import main; rc = main([]); print('qt loaded' if 'PySide6.QtWidgets' in sys.modules else 'no qt'); sys.exit(rc)"
    done = subprocess.run([sys.executable, "-c", code], env=_without_display(), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 1, done.stderr
    assert "no display" in done.stderr
    assert "xvfb-run lenet-gui" in done.stderr and "--screenshot" in done.stderr
    assert done.stdout.strip() == "no qt"  # it never came near creating a QApplication


def test_display_detection():
    assert display_problem({}) is not None
    assert display_problem({"DISPLAY": ":0"}) is None
    assert display_problem({"WAYLAND_DISPLAY": "wayland-0"}) is None
    assert display_problem({"QT_QPA_PLATFORM": "offscreen"}) is None
    assert display_problem({"QT_QPA_PLATFORM": "xcb"}) is not None


def _grey(path) -> np.ndarray:
    image = QImage(str(path)).convertToFormat(QImage.Format.Format_Grayscale8)
    width, height = image.width(), image.height()
    raw = np.frombuffer(image.constBits(), np.uint8, image.bytesPerLine() * height).reshape(height, -1)
    return raw[:, :width].astype(np.float32)


def test_a_screenshot_shows_the_window_with_its_layer_panel(qapp, tmp_path, settings_dir):
    out = tmp_path / "shot.png"
    assert run_app(open_file=str(SEVEN), screenshot=str(out)) == 0
    grey = _grey(out)
    height, width = grey.shape
    assert width >= 1200 and height >= 800
    assert grey.std() > 20  # not blank
    panel = grey[int(height * 0.1): int(height * 0.9), int(width * 0.45): width - 20]
    assert panel.std() > 25  # heatmaps and text, not an empty area
    assert len(np.unique(panel)) > 60
    canvas = grey[80: int(height * 0.5), 60: int(width * 0.35)]
    assert (canvas < 60).mean() > 0.02  # the seven's ink
    assert not (settings_dir / "lenet-gui.ini").exists()  # screenshots leave the user's settings alone


def test_a_screenshot_of_a_bad_file_fails_cleanly(qapp, tmp_path, capsys):
    bad = tmp_path / "bad.strokes.json"
    bad.write_text("[1, 2")
    assert run_app(open_file=str(bad), screenshot=str(tmp_path / "x.png")) == 2
    assert "bad.strokes.json" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_unavailable_providers_are_greyed_with_the_reason(window, draw, qtbot):
    info = provider_info()
    cuda = window.actions.providers["cuda"]
    assert cuda.isEnabled() == info["cuda"].available
    if not info["cuda"].available:
        assert info["cuda"].reason in cuda.toolTip()
        assert "not available" in cuda.text()
    assert window.actions.providers["cpu"].isEnabled() and window.actions.providers["auto"].isEnabled()
    assert window.provider_label.text() == f"Provider: {window.session.provider}"
    # No drawing, no timing; the first reading shows how long it took.
    assert window.last_result is None and window.timing_label.text() == ""
    draw(window.canvas, [(140, 40), (140, 240)])
    window.flush()
    qtbot.waitUntil(lambda: window.last_result is not None)
    assert window.timing_label.text().startswith("Inference ") and window.timing_label.text().endswith(" ms")


def test_choosing_cuda_without_it_falls_back_to_the_cpu_with_a_message(window, draw, qtbot, monkeypatch):
    draw(window.canvas, [(140, 40), (140, 240)])
    seen = []
    window.errorShown.connect(seen.append)
    # Whether or not this machine has CUDA, pretend it has none.
    monkeypatch.setattr(session_module, "provider_info", lambda: {
        "cpu": ProviderInfo("cpu", True), "cuda": ProviderInfo("cuda", False, "no GPU in this test")})
    assert window.set_provider("cuda")
    assert window.session.provider == "CPU"
    assert seen and "CUDA is not available" in seen[-1] and "CPU" in seen[-1]
    assert "CPU" in window.provider_label.text() and "fallback" in window.provider_label.text()
    assert window.canvas.drawing().strokes  # still drawn, still read
    window.flush()
    qtbot.waitUntil(lambda: window.prediction_label.text() == "1")
    assert window.set_provider("cpu")
    assert window.provider_label.text() == "Provider: CPU"


def test_starting_with_a_provider_that_is_missing(make_window, monkeypatch):
    monkeypatch.setattr(session_module, "provider_info", lambda: {
        "cpu": ProviderInfo("cpu", True), "cuda": ProviderInfo("cuda", False, "no GPU in this test")})
    window = make_window(provider="cuda")
    assert window.session.provider == "CPU"
    assert "CUDA is not available" in window.last_message
