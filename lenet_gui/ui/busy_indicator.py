"""The status bar's sign that a slow model is running, with a button to stop it."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QSizePolicy, QStatusBar, QWidget

CANCELLED_MS = 4000


class BusyIndicator(QWidget):
    """"Running the model…", a moving bar and Cancel; hidden while nothing slow runs."""

    def __init__(self, controller, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("busyIndicator")
        self.setAccessibleName("Inference running")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.label = QLabel("Running the model…")
        self.bar = QProgressBar()
        self.bar.setRange(0, 0)  # no known end: the bar moves back and forth
        self.bar.setFixedWidth(90)
        self.bar.setMaximumHeight(12)
        self.bar.setTextVisible(False)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop this inference; the drawing is kept ")
        self.cancel_button.setAccessibleName("Cancel the running inference")
        layout.setSpacing(8)
        for w in (self.label, self.bar, self.cancel_button):
            w.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
            layout.addWidget(w)
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self.cancel_button.clicked.connect(controller.cancel)
        controller.busyChanged.connect(self.setVisible)
        controller.cancelled.connect(self._say_cancelled)
        self.hide()

    def _say_cancelled(self) -> None:
        bar = self.parentWidget()
        while bar is not None and not isinstance(bar, QStatusBar):
            bar = bar.parentWidget()
        if bar is not None:
            bar.showMessage("Inference cancelled — your drawing is kept.", CANCELLED_MS)
