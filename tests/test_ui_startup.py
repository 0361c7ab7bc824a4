"""The app's start: the window paints before onnxruntime and onnx are imported, reads
digits through the light session, then fills the layer panel."""

import json
import subprocess
import sys

from lenet_gui.core.drawing import Drawing
from lenet_gui.core.runtime import LightSession
from lenet_gui.core.session import ModelSession

CHILD = """
import json, sys
from PySide6.QtCore import QEvent, QEventLoop, QObject
from lenet_gui.ui.app import create_application
app = create_application()
from lenet_gui.ui.main_window import MainWindow
from lenet_gui.ui.settings import AppSettings
seen = {}
class Filter(QObject):
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Paint and "paint" not in seen:
            seen["paint"] = sorted(m for m in ("onnx", "onnxruntime", "lenet_gui.core.graph") if m in sys.modules)
        return False
window = MainWindow(settings=AppSettings(persistent=False), restore=False, defer_model=True)
f = Filter()
window.canvas.installEventFilter(f)
window.show()
loop = QEventLoop()
window.deferred_model.stageReached.connect(lambda stage: loop.quit() if stage == "full" else None)
loop.exec()
seen["rows"] = len(window.layer_panel.rows())
print(json.dumps(seen))
"""


def test_first_paint_comes_before_onnxruntime_and_onnx(tmp_path):
    env = {"QT_QPA_PLATFORM": "offscreen", "LENET_GUI_SETTINGS_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=120, env=env)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["paint"] == [] and seen["rows"] == 12


def test_light_session_reads_digits_then_the_full_session_takes_over(qtbot):
    from lenet_gui.ui.main_window import MainWindow
    from lenet_gui.ui.settings import AppSettings

    window = MainWindow(settings=AppSettings(persistent=False), restore=False, interactive=False, defer_model=True)
    qtbot.addWidget(window)
    assert window.session is None and window.controller.session is None
    window.canvas.set_drawing(Drawing(280, 280, [[(140, 40), (140, 240)]]))
    window.show()
    stages = []
    window.deferred_model.stageReached.connect(stages.append)
    qtbot.waitUntil(lambda: stages[:1] == ["light"], timeout=10_000)
    if window.deferred_model.stage == "light":  # the layer panel may already be on its way
        assert isinstance(window.controller.session, LightSession)
    window.controller.flush()
    assert window.prediction_label.text() == "1"
    qtbot.waitUntil(lambda: window.deferred_model.stage == "full", timeout=30_000)
    assert isinstance(window.session, ModelSession) and window.controller.session is window.session
    assert len(window.layer_panel.rows()) == 12
    window.flush()
    assert window.prediction_label.text() == "1" and window.last_result.activations
    window.close()
