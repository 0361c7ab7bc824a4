"""Collect mode: a class's own digits, saved one drawing at a time with their labels.

The panel asks for a digit ("Draw a 4"), in the order that keeps the set even;
a digit key saves what is on the canvas with that label, Enter saves it with the
label the network reads, and the canvas clears for the next one. The folder is
the documented format of ``lenet_gui.core.collection`` (every save is on disk
before the canvas clears). The writer's name is asked once per session.

The window owns the panel; it reads the canvas and the last prediction through
the ``window`` it is given and talks back through ``window.show_status`` and
``window.show_error``.
"""

from __future__ import annotations

import os
import random
from pathlib import Path

from PySide6.QtCore import QStandardPaths, Qt, Signal
from PySide6.QtGui import QFont, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from lenet_gui.core.collection import CollectionError, CollectionWriter, next_prompt
from lenet_gui.core.errors import LenetGuiError

DIGITS = [str(d) for d in range(10)]
DEFAULT_FOLDER_NAME = "lenet-gui digits"


def a_digit(label: str) -> str:
    """ "a 4", "an 8": the article as it is said."""
    return f"an {label}" if label[:1] == "8" or label in ("11", "18") else f"a {label}"


def shown_path(folder: str) -> str:
    """A folder as a person reads it: ~ for the home folder."""
    home = str(Path.home())
    if folder == home or folder.startswith(home.rstrip("/\\") + os.sep):
        return "~" + folder[len(home.rstrip("/\\")):]
    return folder


def default_folder() -> str:
    documents = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    return str(Path(documents or Path.home()) / DEFAULT_FOLDER_NAME)


class CollectPanel(QWidget):
    """objectName ``collectPanel``. Active only while ``set_active(True)``."""

    #: The path of a drawing just saved, and its label.
    saved = Signal(str, str)
    #: The person asked to evaluate the collection folder (its path).
    evaluateRequested = Signal(str)

    def __init__(self, window, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("collectPanel")
        self.window_ = window
        self.settings = window.settings
        self.rng = random.Random()
        self.writer: str | None = None  # asked once per session
        self.folder = self.settings.collect_folder or default_folder()
        self.prompt: str | None = None
        self.last_saved: Path | None = None
        self._saves: list[tuple[Path, str]] = []  # this session's saves (path, prompt then), newest last
        self.writer_dialog: QInputDialog | None = None
        self._collection: CollectionWriter | None = None
        self._active = False
        self._build()
        self._shortcuts = self._make_shortcuts(window)
        self._refresh()

    # --- construction -----------------------------------------------------------------
    def _build(self) -> None:
        self.prompt_label = QLabel("")
        self.prompt_label.setObjectName("collectPrompt")
        font = QFont(self.prompt_label.font())
        font.setPointSizeF(font.pointSizeF() * 1.9)
        font.setBold(True)
        self.prompt_label.setFont(font)
        self.prompt_label.setAccessibleName("Digit to draw next")
        self.hint = QLabel("")
        self.hint.setWordWrap(True)
        self.hint.setObjectName("collectHint")

        self.writer_label = QLabel("")
        self.writer_label.setObjectName("collectWriter")
        change = QPushButton("Change…")
        change.setToolTip("Give the name of the person drawing now")
        change.clicked.connect(self.ask_writer)
        self.folder_label = QLabel("")
        self.folder_label.setObjectName("collectFolder")
        self.folder_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.folder_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.folder_label.setWordWrap(True)  # a long path wraps instead of widening the dock
        choose = QPushButton("Choose…")
        choose.setToolTip("Save the drawings into another folder")
        choose.clicked.connect(self.choose_folder)

        grid = QGridLayout()
        grid.setHorizontalSpacing(4)
        grid.setVerticalSpacing(2)
        grid.addWidget(QLabel("Digit"), 0, 0)
        self.writer_row_label = QLabel("You")
        grid.addWidget(self.writer_row_label, 1, 0)
        grid.addWidget(QLabel("Folder"), 2, 0)
        self.digit_cells, self.writer_cells, self.folder_cells = {}, {}, {}
        for i, d in enumerate(DIGITS, start=1):
            head = QLabel(d)
            head.setAlignment(Qt.AlignmentFlag.AlignCenter)
            head.setFrameShape(QFrame.Shape.StyledPanel)
            head.setMinimumWidth(22)
            mine, total = QLabel("0"), QLabel("0")
            for cell in (mine, total):
                cell.setAlignment(Qt.AlignmentFlag.AlignCenter)
            grid.addWidget(head, 0, i)
            grid.addWidget(mine, 1, i)
            grid.addWidget(total, 2, i)
            self.digit_cells[d], self.writer_cells[d], self.folder_cells[d] = head, mine, total

        self.status = QLabel("")
        self.status.setObjectName("collectStatus")
        self.status.setWordWrap(True)
        self.take_back_button = QPushButton("Take Back the Last Save")
        self.take_back_button.setObjectName("collectTakeBack")
        self.take_back_button.setToolTip("Remove the drawing just saved (and its row) and put it back on the canvas "
                                         "to label it again (Backspace)")
        self.take_back_button.clicked.connect(self.take_back)
        self.take_back_button.setEnabled(False)
        evaluate = QPushButton("Evaluate This Folder")
        evaluate.setToolTip("Accuracy, confusion matrix and the worst mistakes on the drawings collected so far")
        evaluate.clicked.connect(lambda: self.evaluateRequested.emit(self.folder))

        writer_row = QHBoxLayout()
        writer_row.addWidget(self.writer_label, 1)
        writer_row.addWidget(change)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_label, 1)
        folder_row.addWidget(choose)
        box = QVBoxLayout(self)
        box.setContentsMargins(8, 6, 8, 6)
        box.addWidget(self.prompt_label)
        box.addWidget(self.hint)
        box.addLayout(grid)
        box.addLayout(writer_row)
        box.addLayout(folder_row)
        box.addWidget(self.status)
        box.addWidget(self.take_back_button)
        box.addWidget(evaluate)
        box.addStretch(1)

    def _make_shortcuts(self, window) -> list[QShortcut]:
        shortcuts = []
        keys = [(d, d) for d in DIGITS] + [(f"Num+{d}", d) for d in DIGITS]
        for key, label in keys:
            s = QShortcut(QKeySequence(key), window)
            s.activated.connect(lambda label=label: self.save_as(label))
            shortcuts.append(s)
        for key in ("Return", "Enter"):
            s = QShortcut(QKeySequence(key), window)
            s.activated.connect(self.accept_prediction)
            shortcuts.append(s)
        s = QShortcut(QKeySequence("Backspace"), window)
        s.activated.connect(self.take_back)
        shortcuts.append(s)
        for s in shortcuts:
            s.setContext(Qt.ShortcutContext.WindowShortcut)
            s.setEnabled(False)
        return shortcuts

    # --- mode --------------------------------------------------------------------------
    def is_active(self) -> bool:
        return self._active

    def set_active(self, active: bool) -> None:
        self._active = bool(active)
        for s in self._shortcuts:
            s.setEnabled(self._active)
        if self._active:
            self._open_folder(self.folder, report=True)
            if self.writer is None and self.window_.interactive:
                self.ask_writer()
            self._refresh()
            self.window_.canvas.setFocus()

    def ask_writer(self) -> QInputDialog:
        """Ask for the writer's name (a window-modal dialog; never blocks)."""
        dialog = QInputDialog(self.window_)
        dialog.setWindowTitle("Who Is Drawing?")
        dialog.setLabelText("Name of the person drawing (saved with each drawing in labels.csv):")
        dialog.setTextValue(self.writer if self.writer is not None else self.settings.collect_writer)
        dialog.setTextEchoMode(QLineEdit.EchoMode.Normal)
        dialog.setWindowModality(Qt.WindowModality.WindowModal)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.textValueSelected.connect(self.set_writer)
        dialog.destroyed.connect(self._writer_dialog_gone)
        self.writer_dialog = dialog
        dialog.open()
        return dialog

    def _writer_dialog_gone(self, _=None) -> None:
        self.writer_dialog = None

    def set_writer(self, name: str) -> None:
        name = " ".join(str(name).split())  # one line: it is a CSV cell
        self.writer = name
        self.settings.collect_writer = name
        self.prompt = None
        self._refresh()
        self.window_.show_status(f"Drawings are now saved as {name or 'an unnamed writer'}'s")
        self.window_.activateWindow()  # back to the canvas: the next key press labels a drawing
        self.window_.canvas.setFocus()

    def choose_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window_, "Folder for the Class's Drawings", self.folder)
        if folder:
            self.set_folder(folder)

    def set_folder(self, folder: str) -> bool:
        if not self._open_folder(folder, report=True):
            return False
        if str(folder) != self.folder:
            self._saves.clear()  # they belong to the other folder
            self.take_back_button.setEnabled(False)
        self.folder = str(folder)
        self.settings.collect_folder = self.folder
        self.prompt = None
        self._refresh()
        return True

    def _open_folder(self, folder: str, report: bool) -> bool:
        if self._collection is not None and Path(self._collection.folder) == Path(folder):
            return True
        try:
            collection = CollectionWriter(folder)
        except CollectionError as exc:
            if report:
                self.window_.show_error("Cannot use this folder", str(exc))
            return False
        self._collection = collection
        return True

    # --- saving -------------------------------------------------------------------------
    def accept_prediction(self) -> Path | None:
        """Enter: save with the label the network reads now."""
        window = self.window_
        window.controller.flush()
        result = window.last_result
        if window.canvas.drawing().is_empty() or result is None:
            self._say("Draw a digit first, then press its key (or Enter to accept what the network reads).")
            return None
        return self.save_as(result.label)

    def save_as(self, label: str) -> Path | None:
        """Save the canvas as ``label``, then clear it for the next digit."""
        window = self.window_
        drawing = window.canvas.drawing()
        if drawing.is_empty():
            self._say(f"Draw {a_digit(self.prompt or label)} first: the canvas is empty.")
            return None
        if window.document_path:  # an opened file (e.g. a mistake from the evaluation) is already saved
            self._say(f"{Path(window.document_path).name} was opened, not drawn now, so it is not collected again. "
                      "Clear the canvas (Esc) and draw the next digit.")
            return None
        if window.canvas.backdrop() is not None:
            self._say("An opened image cannot be collected: only drawn strokes are saved. Clear the canvas first.")
            return None
        if self.writer is None:
            if window.interactive:
                self.ask_writer()
                self._say("Who is drawing? Give a name, then press the digit key again.")
                return None
            self.writer = self.settings.collect_writer
        if not self._open_folder(self.folder, report=True):
            return None
        try:
            path = self._collection.save(drawing, label, self.writer)
        except CollectionError as exc:
            window.show_error("Cannot save the drawing", f"{exc}\n\nThe drawing stays on the canvas.")
            return None
        self.last_saved = path
        asked = self.prompt
        self._saves.append((path, asked))
        self.take_back_button.setEnabled(True)
        self.prompt = None
        window.canvas.clear()
        window.document_path = None
        self._refresh(avoid=asked)
        note = "" if asked in (None, label) else f" (the prompt was {asked})"
        self._say(f"Saved {path.name} as {label}{note}. Now draw {a_digit(self.prompt)}.")
        window.show_status(f"Saved {path.name} as {label} in {path.parent.name}")
        self.saved.emit(str(path), label)
        return path

    def take_back(self) -> bool:
        """Backspace: remove the last save of this session and put its drawing back on the canvas."""
        window = self.window_
        if not self._saves or self._collection is None:
            self._say("Nothing saved in this session to take back.")
            return False
        if not window.canvas.drawing().is_empty():
            self._say("Clear the canvas first (Esc): taking back a save puts that drawing on it.")
            return False
        path, asked = self._saves[-1]
        try:
            drawing = self._collection.take_back(path)
        except LenetGuiError as exc:
            self._saves.clear()
            self.take_back_button.setEnabled(False)
            window.show_error("Cannot take the save back", str(exc))
            return False
        self._saves.pop()
        self.take_back_button.setEnabled(bool(self._saves))
        window.canvas.set_drawing(drawing, f"Take Back {path.name}")
        window.document_path = None
        self.prompt = asked
        self._refresh()
        self._say(f"Took back {path.name}: it is on the canvas again. Press its digit key to save it anew.")
        window.show_status(f"Removed {path.name} and its row in labels.csv")
        return True

    def _say(self, text: str) -> None:
        self.status.setText(text)

    # --- view -----------------------------------------------------------------------------
    def _refresh(self, avoid: str | None = None) -> None:
        collection = self._collection
        folder_counts = collection.counts if collection else {}
        writer_counts = collection.count_for(self.writer or "") if collection and self.writer is not None else {}
        if self.prompt is None:
            self.prompt = next_prompt(writer_counts, folder_counts, DIGITS, self.rng, avoid)
        self.prompt_label.setText(f"Draw {a_digit(self.prompt)}")
        self.hint.setText(f"Then press {self.prompt} to save it (another digit key saves it as that digit), "
                          "or Enter to save it as what the network reads.")
        name = self.writer if self.writer else ("(no name)" if self.writer == "" else "not given yet")
        self.writer_label.setText(f"Writer: {name}")
        self.writer_row_label.setText("You" if not self.writer else self.writer[:10])
        self.writer_row_label.setToolTip(f"Drawings by {name} in this folder")
        self.folder_label.setText(f"Folder: {shown_path(self.folder)}")
        self.folder_label.setToolTip(self.folder)
        for d in DIGITS:
            self.writer_cells[d].setText(str(writer_counts.get(d, 0)))
            self.folder_cells[d].setText(str(folder_counts.get(d, 0)))
            head = self.digit_cells[d]
            font = head.font()
            font.setBold(d == self.prompt)
            head.setFont(font)
            head.setStyleSheet("background: palette(highlight); color: palette(highlighted-text);"
                               if d == self.prompt else "")
