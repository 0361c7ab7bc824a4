"""Compute → Input Convention…: how the open model is fed, and the person's choice.

For a model whose metadata states its input convention, the dialog says so and
offers nothing to choose. For one without, it lists every convention that
calibration tried with the share of reference digits each read, the chosen one
first, and lets the person pick another (or go back to calibration's choice).
"""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
)

from lenet_gui.core.calibrate import Calibration


class ConventionDialog(QDialog):
    """Emits ``conventionChosen(overrides)`` when the person applies a convention."""

    conventionChosen = Signal(dict)

    def __init__(self, calibration: Calibration | None, current: dict | None, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("conventionDialog")
        self.setWindowTitle("Input convention")
        self.calibration = calibration
        layout = QVBoxLayout(self)
        self.summary = QLabel(self)
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.summary)
        self.table = QTreeWidget(self)
        self.table.setObjectName("conventionTable")
        self.table.setHeaderLabels(["Convention", "Reference digits read"])
        self.table.setRootIsDecorated(False)
        self.table.setAlternatingRowColors(True)
        layout.addWidget(self.table, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Apply | QDialogButtonBox.StandardButton.Close, self)
        self.apply_button = buttons.button(QDialogButtonBox.StandardButton.Apply)
        self.apply_button.setText("Use this convention")
        self.apply_button.clicked.connect(self.apply)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self._fill(current or {})
        self.resize(640, 420)

    def _fill(self, current: dict) -> None:
        cal = self.calibration
        if cal is None:
            self.summary.setText(
                "This model states how its input is prepared (pixel scale, normalisation, polarity and "
                "digit size) in its metadata, so that is what it gets. Nothing to calibrate.")
            self.table.hide()
            self.apply_button.setEnabled(False)
            return
        text = html.escape(cal.message())
        text += f"<br><small>Measured on {cal.digits} MNIST test digits shipped with lenet-gui"
        text += " (remembered for this model file)." if cal.cached else "."
        text += " Choose another convention below to override it.</small>"
        self.summary.setText(text)
        ranked = sorted(cal.tried, key=lambda t: -t["accuracy"])
        for entry in ranked:
            item = QTreeWidgetItem([entry["description"], f"{100 * entry['accuracy']:.0f} %"])
            item.setData(0, Qt.ItemDataRole.UserRole, entry["overrides"])
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if entry["overrides"] == cal.overrides:
                item.setText(0, entry["description"] + "  (calibration's choice)")
            self.table.addTopLevelItem(item)
            if entry["overrides"] == current:
                self.table.setCurrentItem(item)
        if self.table.currentItem() is None and self.table.topLevelItemCount():
            self.table.setCurrentItem(self.table.topLevelItem(0))
        header = self.table.header()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        self.table.itemDoubleClicked.connect(lambda *_: self.apply())

    def apply(self) -> None:
        item = self.table.currentItem()
        if item is not None:
            self.conventionChosen.emit(dict(item.data(0, Qt.ItemDataRole.UserRole)))
