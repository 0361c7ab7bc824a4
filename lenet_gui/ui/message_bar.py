"""A message bar across the top of the window: says what went wrong without blocking.

A refused model, a failed inference or a damaged settings file is one sentence
here, next to a close button; the drawing and everything else stay usable (a
modal box would take the keyboard and the pen away). Messages of a ``kind``
can be withdrawn when their cause goes away (``clear("inference")`` after the
next good result).
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QSizePolicy, QStyle, QToolButton


class MessageBar(QFrame):
    """One line of text with an icon and a close button; hidden when there is nothing to say."""

    closed = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("messageBar")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Fixed)
        # A warm tint that reads as "attention" in the light and the dark scheme alike.
        self.setStyleSheet("#messageBar { background: rgba(230, 160, 40, 60); border: 1px solid rgba(200, 130, 20, 160);"
                           " border-radius: 4px; }")
        self.icon = QLabel(self)
        self.icon.setPixmap(self.style().standardIcon(QStyle.StandardPixmap.SP_MessageBoxWarning).pixmap(18, 18))
        self.text = QLabel(self)
        self.text.setObjectName("messageText")
        self.text.setWordWrap(True)
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.close_button = QToolButton(self)
        self.close_button.setAutoRaise(True)
        self.close_button.setText("✕")
        self.close_button.setToolTip("Dismiss")
        self.close_button.setAccessibleName("Dismiss message")
        self.close_button.clicked.connect(self.dismiss)
        row = QHBoxLayout(self)
        row.setContentsMargins(8, 4, 4, 4)
        row.addWidget(self.icon)
        row.addWidget(self.text, 1)
        row.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)
        self.kind = ""
        self.hide()

    def show_message(self, message: str, kind: str = "") -> None:
        self.kind = kind
        self.text.setText(message)
        self.setAccessibleDescription(message)
        self.show()

    def message(self) -> str:
        return "" if self.isHidden() else self.text.text()

    def clear(self, kind: str | None = None) -> None:
        """Hide the message; with ``kind``, only a message of that kind."""
        if kind is None or self.kind == kind:
            self.hide()
            self.text.clear()
            self.kind = ""

    def dismiss(self) -> None:
        self.clear()
        self.closed.emit()
