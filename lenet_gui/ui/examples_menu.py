"""File → Examples: the drawings shipped with the package, the digits first, then the confusions."""

from __future__ import annotations

from PySide6.QtWidgets import QMenu

from lenet_gui.core.examples import list_examples


def build(window) -> QMenu:
    """The Examples menu of ``window`` (a MainWindow); each entry calls ``window.open_example(path)``."""
    menu = QMenu("E&xamples", window)
    menu.setObjectName("examplesMenu")
    menu.setToolTipsVisible(True)
    examples = list_examples()
    confusions = [e for e in examples if e.is_confusion]
    for example in [e for e in examples if not e.is_confusion]:
        act = menu.addAction(f"&{example.title}" if len(example.name) == 1 else example.title)
        act.setStatusTip(f"Open the example drawing {example.name}: a real pen-written digit")
        act.triggered.connect(lambda checked=False, p=str(example.path): window.open_example(p))
    if confusions:
        menu.addSeparator()
        heading = menu.addAction("Classic confusions")
        heading.setEnabled(False)
        for example in confusions:
            act = menu.addAction(example.title)
            act.setStatusTip(f"Open the example drawing {example.name}")
            act.triggered.connect(lambda checked=False, p=str(example.path): window.open_example(p))
    if not examples:
        menu.addAction("No examples installed").setEnabled(False)
    return menu
