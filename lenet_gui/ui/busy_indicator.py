"""The status bar's sign that a slow model is running, with a button to stop it."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QPushButton, QSizePolicy, QStatusBar, QWidget

CANCELLED_MS = 4000


class BusyIndicator(QWidget):
    """"Running the model…", a moving bar and Cancel; in ``status_bar`` only while a slow run
    is going on (so it never changes the window's layout otherwise)."""

    def __init__(self, controller, status_bar: QStatusBar) -> None:
        super().__init__(status_bar)
        self._status_bar = status_bar
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
        controller.busyChanged.connect(self._busy_changed)
        controller.cancelled.connect(self._say_cancelled)
        self.hide()

    def _busy_changed(self, busy: bool) -> None:
        if busy:
            self._status_bar.insertPermanentWidget(0, self)
            self.show()
        else:
            self._status_bar.removeWidget(self)
            self.hide()

    def _say_cancelled(self) -> None:
        self._status_bar.showMessage("Inference cancelled — your drawing is kept.", CANCELLED_MS)
