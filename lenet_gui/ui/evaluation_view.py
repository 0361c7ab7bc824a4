"""The evaluation view: how the model does on a class's folder (and the public sets beside it).

Evaluation runs in a QThread (``EvaluationWorker``) so the window never freezes;
a progress bar with Cancel shows it. Each source gets a row in the table at the
top; the selected one shows its confusion matrix, per-class and per-writer
accuracy, the skipped files with their reasons, and its most confident
mistakes as thumbnails: clicking one opens that drawing in the canvas, so the
layer panel shows the evidence for the mistake.
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

import numpy as np
from PySide6.QtCore import QSize, Qt, QThread, Signal
from PySide6.QtGui import QColor, QIcon, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from lenet_gui.core.confusion_png import write_png
from lenet_gui.core.errors import LenetGuiError
from lenet_gui.core.evaluate import evaluate, open_source
from lenet_gui.ui.canvas import paint_strokes
from lenet_gui.ui.confusion_view import ConfusionMatrixView

THUMB = 84
ROW_HEIGHT = 22
DATASET_FILTER = ("Digit sets (*.tra *.tes *.gz *-ubyte *.idx);;pendigits (*.tra *.tes *.tra.gz *.tes.gz);;"
                  "MNIST idx files (*-ubyte *-ubyte.gz);;All files (*)")


class EvaluationWorker(QThread):
    """Evaluates the sources one after another, off the GUI thread."""

    progress = Signal(int, int, str)  # done, total, source name
    reportReady = Signal(object)
    sourceFailed = Signal(str, str)  # path, message

    def __init__(self, session, paths: list[str], parent=None) -> None:
        super().__init__(parent)
        self.session = session
        self.paths = list(paths)
        self._stop = threading.Event()

    def cancel(self) -> None:
        self._stop.set()

    def cancelled(self) -> bool:
        return self._stop.is_set()

    def run(self) -> None:
        for path in self.paths:
            if self._stop.is_set():
                return
            try:
                source = open_source(path, list(self.session.labels))
                # workers=1: no process pool forked from a thread of a Qt app.
                report = evaluate(self.session, source, lambda d, t, n=source.name: self.progress.emit(d, t, n),
                                  self._stop.is_set, workers=1)
            except LenetGuiError as exc:
                self.sourceFailed.emit(path, str(exc))
                continue
            except Exception as exc:  # a reader bug: say so, keep the window
                self.sourceFailed.emit(path, f"{path}: cannot be evaluated ({type(exc).__name__}: {exc})")
                continue
            self.reportReady.emit(report)


def thumbnail(sample, size: int = THUMB) -> QPixmap:
    """A small picture of a sample: its strokes, its image, or (a file) its drawing."""
    image = QImage(size, size, QImage.Format.Format_RGB32)
    image.fill(QColor(255, 255, 255))
    drawing = sample.drawing
    if drawing is None and sample.path is not None:
        from lenet_gui.core.drawing import is_drawing_file, load_drawing

        try:
            drawing = load_drawing(sample.path) if is_drawing_file(sample.path) else None
        except LenetGuiError:
            drawing = None
    if sample.image is not None:
        ink = 255 - np.ascontiguousarray(sample.image, dtype=np.uint8)
        small = QImage(ink.data, ink.shape[1], ink.shape[0], ink.strides[0], QImage.Format.Format_Grayscale8).copy()
        image = small.scaled(size, size, Qt.AspectRatioMode.KeepAspectRatio,
                             Qt.TransformationMode.SmoothTransformation).convertToFormat(QImage.Format.Format_RGB32)
    elif drawing is not None:
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        scale = size / max(drawing.width, drawing.height)
        painter.translate((size - drawing.width * scale) / 2, (size - drawing.height * scale) / 2)
        painter.scale(scale, scale)
        paint_strokes(painter, drawing.strokes, QColor(20, 20, 20), max(drawing.effective_pen_width, 3 / scale))
        painter.end()
    return QPixmap.fromImage(image)


def _item(text: str, align_right: bool = True) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable)
    if align_right:
        item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    return item


def _percent(n: int, correct: int) -> str:
    return "–" if n == 0 else f"{100.0 * correct / n:.1f} %"


class EvaluationView(QDialog):
    """objectName ``evaluationView``; ``sampleActivated(sample)`` when a mistake is clicked."""

    sampleActivated = Signal(object)
    finished_all = Signal()

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("evaluationView")
        self.setWindowTitle("Evaluation — lenet-gui")
        self.resize(1120, 900)
        self.reports: list = []
        self.failures: list[str] = []
        self.worker: EvaluationWorker | None = None
        self.session = None
        self._running = False
        self._build()

    # --- construction ---------------------------------------------------------------------
    def _build(self) -> None:
        self.sources = QTableWidget(0, 5)
        self.sources.setObjectName("evaluationSources")
        self.sources.setHorizontalHeaderLabels(["Source", "Kind", "Digits", "Accuracy", "Skipped"])
        self.sources.verticalHeader().hide()
        self.sources.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.sources.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.sources.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.sources.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
        self._fit_sources()
        self.sources.itemSelectionChanged.connect(self._selection_changed)

        self.add_button = QPushButton("Add a Data Set…")
        self.add_button.setToolTip("Evaluate a pendigits .tra/.tes file or MNIST idx files beside this folder")
        self.add_button.clicked.connect(self._add_dialog)
        self.png_button = QPushButton("Export Matrix as PNG…")
        self.png_button.clicked.connect(self._png_dialog)
        self.png_button.setEnabled(False)

        self.progress = QProgressBar()
        self.progress.setObjectName("evaluationProgress")
        self.progress_label = QLabel("")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("evaluationCancel")
        self.cancel_button.clicked.connect(self.cancel)
        progress_row = QHBoxLayout()
        progress_row.addWidget(self.progress_label)
        progress_row.addWidget(self.progress, 1)
        progress_row.addWidget(self.cancel_button)
        self.progress_box = QWidget()
        self.progress_box.setLayout(progress_row)
        self.progress_box.hide()

        self.summary = QLabel("")
        self.summary.setObjectName("evaluationSummary")
        font = self.summary.font()
        font.setPointSizeF(font.pointSizeF() * 1.25)
        font.setBold(True)
        self.summary.setFont(font)
        self.summary.setWordWrap(True)

        self.matrix = ConfusionMatrixView()
        self.per_class = QTableWidget(0, 3)
        self.per_class.setObjectName("perClass")
        self.per_class.setHorizontalHeaderLabels(["Class", "Digits", "Accuracy"])
        self.per_writer = QTableWidget(0, 3)
        self.per_writer.setObjectName("perWriter")
        self.per_writer.setHorizontalHeaderLabels(["Writer", "Digits", "Accuracy"])
        for table in (self.per_class, self.per_writer):
            table.verticalHeader().hide()
            table.verticalHeader().setDefaultSectionSize(ROW_HEIGHT)
            table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
            table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.per_writer_caption = QLabel("<b>Per writer</b>")
        tables = QWidget()
        tables_box = QVBoxLayout(tables)
        tables_box.setContentsMargins(0, 0, 0, 0)
        tables_box.addWidget(QLabel("<b>Per class</b>"))
        tables_box.addWidget(self.per_class)
        tables_box.addWidget(self.per_writer_caption)
        tables_box.addWidget(self.per_writer, 1)
        middle = QSplitter(Qt.Orientation.Horizontal)
        middle.addWidget(self.matrix)
        middle.addWidget(tables)
        middle.setStretchFactor(0, 3)
        middle.setStretchFactor(1, 2)
        middle.setSizes([700, 400])

        self.worst = QListWidget()
        self.worst.setObjectName("worstMistakes")
        self.worst.setViewMode(QListWidget.ViewMode.IconMode)
        self.worst.setIconSize(QSize(THUMB, THUMB))
        self.worst.setGridSize(QSize(THUMB + 46, THUMB + 40))
        self.worst.setFlow(QListWidget.Flow.LeftToRight)
        self.worst.setWrapping(False)
        self.worst.setMovement(QListWidget.Movement.Static)
        self.worst.setFixedHeight(THUMB + 62)
        self.worst.setToolTip("Click a drawing to open it in the canvas and see how each layer read it")
        self.worst.itemClicked.connect(self._worst_clicked)
        self.worst.itemActivated.connect(self._worst_clicked)
        self.skipped = QPlainTextEdit()
        self.skipped.setObjectName("skippedFiles")
        self.skipped.setReadOnly(True)
        self.skipped.setMaximumHeight(90)
        self.skipped_caption = QLabel("")

        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addStretch(1)
        buttons.addWidget(self.png_button)
        close = QPushButton("Close")
        close.clicked.connect(self.close)
        buttons.addWidget(close)

        box = QVBoxLayout(self)
        box.addWidget(self.sources)
        box.addWidget(self.progress_box)
        box.addWidget(self.summary)
        box.addWidget(middle, 1)
        box.addWidget(QLabel("<b>Most confident mistakes</b> (label → what the network read; "
                             "click one to open it in the canvas)"))
        box.addWidget(self.worst)
        box.addWidget(self.skipped_caption)
        box.addWidget(self.skipped)
        box.addLayout(buttons)

    # --- running -------------------------------------------------------------------------------
    def is_running(self) -> bool:
        """True until every result of the last run has been shown (they arrive as queued signals)."""
        return self._running

    def evaluate(self, session, paths: list[str], keep: bool = False) -> None:
        """Evaluate ``paths`` with ``session``; ``keep`` adds them beside the reports shown."""
        self.cancel()
        self.wait()
        self.session = session
        if not keep:
            self.reports, self.failures = [], []
            self.sources.setRowCount(0)
            self._show(None)
        worker = EvaluationWorker(session, paths, self)
        worker.progress.connect(self._progress)
        worker.reportReady.connect(self._add_report)
        worker.sourceFailed.connect(self._failed)
        worker.finished.connect(self._worker_finished)
        self.worker = worker
        self.progress.setRange(0, 0)
        self.progress_label.setText("Reading…")
        self.progress_box.show()
        self.add_button.setEnabled(False)
        self._running = True
        worker.start()

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()

    def wait(self, ms: int = 30000) -> bool:
        """Block until the running evaluation ends (tests, closing)."""
        if self.worker is None:
            return True
        return self.worker.wait(ms)

    def _current(self) -> bool:
        """Whether a signal comes from the run in progress (not one cancelled and replaced)."""
        return self.sender() is None or self.sender() is self.worker

    def _progress(self, done: int, total: int, name: str) -> None:
        if not self._current():
            return
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress_label.setText(f"{name}: {done} of {total}")

    def _failed(self, path: str, message: str) -> None:
        if not self._current():
            return
        self.failures.append(message)
        self._show(self.current_report())

    def _worker_finished(self) -> None:
        if not self._current():
            return
        self._running = False
        self.progress_box.hide()
        self.add_button.setEnabled(True)
        self.finished_all.emit()

    def _add_report(self, report) -> None:
        if not self._current():
            return
        self.reports.append(report)
        row = self.sources.rowCount()
        self.sources.insertRow(row)
        name = report.source.name + (" (cancelled)" if report.cancelled else "")
        cells = [_item(name, False), _item(report.source.kind, False), _item(str(report.n)),
                 _item(_percent(report.n, report.correct)), _item(str(len(report.skipped)))]
        for col, cell in enumerate(cells):
            cell.setToolTip(report.source.path)
            self.sources.setItem(row, col, cell)
        self.sources.resizeColumnsToContents()
        self.sources.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self._fit_sources()
        self.sources.selectRow(row)

    def _fit_sources(self) -> None:
        rows = min(max(self.sources.rowCount(), 1), 6)
        self.sources.setFixedHeight(self.sources.horizontalHeader().sizeHint().height() + rows * ROW_HEIGHT + 4)

    # --- showing one report -----------------------------------------------------------------------
    def current_report(self):
        rows = self.sources.selectionModel().selectedRows()
        if not rows or rows[0].row() >= len(self.reports):
            return None
        return self.reports[rows[0].row()]

    def _selection_changed(self) -> None:
        self._show(self.current_report())

    def _show(self, report) -> None:
        self.png_button.setEnabled(report is not None)
        self.worst.clear()
        self.per_class.setRowCount(0)
        self.per_writer.setRowCount(0)
        if report is None:
            self.matrix.set_matrix(np.zeros((10, 10), np.int64), [str(i) for i in range(10)])
            self.summary.setText(self.failures[-1] if self.failures else "")
            self._show_problems(None)
            return
        self.matrix.set_matrix(report.confusion, report.classes)
        text = f"{report.source.name}: {_percent(report.n, report.correct)} of {report.n} digits read correctly"
        if report.skipped:
            text += f" · {len(report.skipped)} skipped"
        if report.cancelled:
            text += " · cancelled: the figures cover the digits done so far"
        self.summary.setText(text)
        for label, (n, k) in report.per_class().items():
            row = self.per_class.rowCount()
            self.per_class.insertRow(row)
            for col, cell in enumerate([_item(label, False), _item(str(n)), _item(_percent(n, k))]):
                self.per_class.setItem(row, col, cell)
        visible = min(self.per_class.rowCount(), 12)
        self.per_class.setFixedHeight(self.per_class.horizontalHeader().sizeHint().height() + visible * ROW_HEIGHT + 4)
        writers = report.per_writer()
        self.per_writer.setVisible(bool(writers))
        self.per_writer_caption.setVisible(bool(writers))
        for writer, (n, k) in writers.items():
            row = self.per_writer.rowCount()
            self.per_writer.insertRow(row)
            for col, cell in enumerate([_item(writer or "(no name)", False), _item(str(n)), _item(_percent(n, k))]):
                self.per_writer.setItem(row, col, cell)
        for mistake in report.worst:
            true, read = report.classes[mistake.sample.label], report.classes[mistake.predicted]
            caption = f"{true} → {read}\n{mistake.confidence * 100:.0f} %"
            item = QListWidgetItem(QIcon(thumbnail(mistake.sample)), caption)
            item.setToolTip(f"{mistake.sample.name}: a {true} read as {read} ({mistake.confidence * 100:.1f} %)"
                            + (f", by {mistake.sample.writer}" if mistake.sample.writer else ""))
            item.setData(Qt.ItemDataRole.UserRole, mistake)
            self.worst.addItem(item)
        self._show_problems(report)

    def _show_problems(self, report) -> None:
        """The selected source's skipped files, then the sources that could not be read at all."""
        skipped = [p.message for p in report.skipped] if report is not None else []
        parts = []
        if skipped:
            parts.append(f"<b>Skipped</b> ({len(skipped)})")
        if self.failures:
            parts.append(f"<b>Could not be evaluated</b> ({len(self.failures)})")
        self.skipped_caption.setText(" · ".join(parts) if parts else "Nothing skipped")
        self.skipped.setPlainText("\n".join(skipped + self.failures))
        self.skipped.setVisible(bool(skipped or self.failures))

    def _worst_clicked(self, item: QListWidgetItem) -> None:
        mistake = item.data(Qt.ItemDataRole.UserRole)
        if mistake is not None:
            self.sampleActivated.emit(mistake.sample)

    # --- files -----------------------------------------------------------------------------------------
    def _add_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Add a Data Set", "", DATASET_FILTER)
        if path and self.session is not None:
            self.evaluate(self.session, [path], keep=True)

    def _png_dialog(self) -> None:
        report = self.current_report()
        if report is None:
            return
        beside = Path(report.source.path).resolve().parent  # next to the folder or file evaluated
        path, _ = QFileDialog.getSaveFileName(self, "Export the Confusion Matrix",
                                              str(beside / f"{report.source.name}-confusion.png"),
                                              "PNG images (*.png)")
        if path:
            self.export_png(path)

    def export_png(self, path: str) -> bool:
        report = self.current_report()
        if report is None:
            return False
        try:
            write_png(report.confusion, report.classes, path,
                      title=f"{report.source.name} · {_percent(report.n, report.correct)} of {report.n}")
        except (OSError, ValueError) as exc:
            self.summary.setText(f"{path}: cannot write the PNG ({getattr(exc, 'strerror', None) or exc})")
            return False
        return True

    def closeEvent(self, event) -> None:
        self.cancel()
        self.wait()
        super().closeEvent(event)


_TEMP: tempfile.TemporaryDirectory | None = None


def open_sample(window, sample) -> bool:
    """Show a sample in the window's canvas, so the layer panel reads it."""
    global _TEMP
    if sample.path is not None:
        if sample.path.lower().endswith(".json"):
            return window.open_drawing(sample.path)
        return window.open_image(sample.path)
    if sample.drawing is not None:
        window.canvas.set_drawing(sample.drawing, f"Open {sample.name}")
        window.document_path = None
        window.show_status(f"Opened {sample.name}")
        return True
    if sample.image is not None:
        from PIL import Image

        if _TEMP is None:
            _TEMP = tempfile.TemporaryDirectory(prefix="lenet-gui-mnist-")
        safe = sample.name.replace("#", "-").replace("/", "_")
        path = Path(_TEMP.name) / f"{safe}.png"
        image = Image.fromarray(np.asarray(sample.image, dtype=np.uint8))
        image.resize((112, 112), Image.Resampling.LANCZOS).save(path)
        try:
            window.canvas.set_backdrop_image(str(path))  # not window.open_image: a temporary file is no document
        except LenetGuiError as exc:
            window.show_error("Cannot open the image", str(exc))
            return False
        window.document_path = None
        window.show_status(f"Opened {sample.name} (an MNIST image)")
        return True
    return False
