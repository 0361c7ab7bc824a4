"""Render the pictures in README.md and docs/ offscreen (run from the repository root).

    QT_QPA_PLATFORM=offscreen python docs/make_screenshots.py

docs/screenshot.png      the window at its default size, the seven of docs/seven.strokes.json
docs/overview-light.png  the network at a glance, light colour scheme
docs/overview-dark.png   the same, dark colour scheme
docs/overview-large-model.png  a 24-node model (tests/helpers.deep_classifier) in the overview
docs/layer-blocks.png    a ResNet-shaped export (tests/exporter_models.big_resnet): blocks and folded constants
"""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ["LENET_GUI_SETTINGS_DIR"] = tempfile.mkdtemp(prefix="lenet-gui-shots-")

from lenet_gui.ui.app import SCREENSHOT_SIZE, create_application  # noqa: E402
from lenet_gui.ui.main_window import MainWindow  # noqa: E402
from lenet_gui.ui.settings import AppSettings  # noqa: E402
from tests.helpers import deep_classifier  # noqa: E402

DOCS = ROOT / "docs"
SEVEN = DOCS / "seven.strokes.json"


def settle(app, window) -> None:
    for _ in range(6):
        app.processEvents()
        window.flush()


def window_for(app, model: str | None = None) -> MainWindow:
    window = MainWindow(model, settings=AppSettings(persistent=False), restore=False, interactive=False)
    window.resize(*SCREENSHOT_SIZE)
    window.show()
    window.open_path(str(SEVEN))
    window.statusBar().clearMessage()
    settle(app, window)
    return window


def layer_blocks(app, folder: str) -> None:
    """The window on a 79-node ResNet-shaped export, the panel at its first stage of residual blocks."""
    from tests.exporter_models import big_resnet

    path = Path(folder) / "resnet-shaped.onnx"
    big_resnet(path=path)
    window = window_for(app, str(path))
    window.set_color_scheme("light")
    panel = window.layer_panel
    settle(app, window)
    panel.scroll.verticalScrollBar().setValue(panel.blocks()["layer1"].y() - 8)  # as it opens, the stem scrolled by
    window.statusBar().clearMessage()
    settle(app, window)
    window.grab().save(str(DOCS / "layer-blocks.png"))
    window.close()


def main() -> int:
    app = create_application()
    window = window_for(app)
    window.set_color_scheme("light")
    settle(app, window)
    window.grab().save(str(DOCS / "screenshot.png"))
    window.overview.grab().save(str(DOCS / "overview-light.png"))
    window.set_color_scheme("dark")
    settle(app, window)
    window.overview.grab().save(str(DOCS / "overview-dark.png"))
    window.set_color_scheme("light")
    window.close()
    with tempfile.TemporaryDirectory() as folder:
        model = deep_classifier(Path(folder) / "deep-cnn.onnx", blocks=9)  # 24 nodes
        window = window_for(app, str(model))
        window.overview.grab().save(str(DOCS / "overview-large-model.png"))
        window.close()
    with tempfile.TemporaryDirectory() as folder:
        layer_blocks(app, folder)
    print("wrote", ", ".join(p.name for p in sorted(DOCS.glob("*.png"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
