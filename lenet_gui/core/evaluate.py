"""How a model does on a labelled set: accuracy, per class, confusion, per writer, worst mistakes.

A source is a collection folder (``lenet_gui.core.collection``), a pendigits file
(``.tra``/``.tes``, either form, plain or gzip) or MNIST idx files (a folder, or
either file of a pair). Collections go through ``batch.predict_files``, the path
``lenet-gui predict`` uses; the public sets are prepared in memory in chunks and
run as batches. Whatever cannot be used is skipped with one message naming it,
and counted.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lenet_gui.core import datasets, preprocess
from lenet_gui.core.batch import predict_files
from lenet_gui.core.collection import LABELS_FILE, CollectionError, Problem, read_collection
from lenet_gui.core.drawing import Drawing
from lenet_gui.core.errors import LenetGuiError

WORST_COUNT = 12
CHUNK = 512
COLLECTION, PENDIGITS, MNIST = "collection", "pendigits", "mnist"


class EvaluationError(LenetGuiError):
    """A source cannot be evaluated at all."""


@dataclass
class Sample:
    """One labelled digit. ``name`` is what a person sees: the file, or ``file#index``."""

    name: str
    label: int  # index into the model's classes
    writer: str | None = None
    path: str | None = None  # a file to predict (collections)
    drawing: Drawing | None = field(default=None, repr=False)  # strokes (pendigits)
    image: np.ndarray | None = field(default=None, repr=False)  # a 28×28 uint8 MNIST image, white on black


@dataclass
class Source:
    path: str
    name: str
    kind: str
    samples: list[Sample] = field(repr=False)
    problems: list[Problem] = field(default_factory=list)
    has_writer: bool = False


@dataclass
class Mistake:
    sample: Sample
    predicted: int
    confidence: float


@dataclass
class Report:
    source: Source
    classes: list[str]
    confusion: np.ndarray  # classes × classes, rows the true label, columns the prediction
    predicted: np.ndarray = field(repr=False)  # per sample: the class index, -1 when skipped or not reached
    confidence: np.ndarray = field(repr=False)  # per sample: the probability of the predicted class
    skipped: list[Problem] = field(repr=False)
    worst: list[Mistake] = field(repr=False)
    cancelled: bool = False

    @property
    def n(self) -> int:
        return int(self.confusion.sum())

    @property
    def correct(self) -> int:
        return int(np.trace(self.confusion))

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.n if self.n else None

    def per_class(self) -> dict[str, tuple[int, int]]:
        """class label → (drawings, correct), for every class of the model."""
        totals = self.confusion.sum(axis=1)
        return {c: (int(totals[i]), int(self.confusion[i, i])) for i, c in enumerate(self.classes)}

    def per_writer(self) -> dict[str, tuple[int, int]]:
        """writer → (drawings, correct); empty when the source names no writers."""
        if not self.source.has_writer:
            return {}
        out: dict[str, list[int]] = {}
        for sample, guess in zip(self.source.samples, self.predicted.tolist()):
            if guess < 0:
                continue
            counts = out.setdefault(sample.writer or "", [0, 0])
            counts[0] += 1
            counts[1] += int(guess == sample.label)
        return {w: (n, c) for w, (n, c) in sorted(out.items(), key=_writer_order)}

    def to_json(self) -> dict:
        def ratio(n, c):
            return None if n == 0 else round(c / n, 6)

        return {
            "source": self.source.path,
            "kind": self.source.kind,
            "classes": [_json_label(c) for c in self.classes],
            "accuracy": None if self.accuracy is None else round(self.accuracy, 6),
            "n": self.n,
            "correct": self.correct,
            "per_class": {c: {"n": n, "correct": k, "accuracy": ratio(n, k)} for c, (n, k) in self.per_class().items()},
            "confusion": self.confusion.astype(int).tolist(),
            "per_writer": {w: {"n": n, "correct": k, "accuracy": ratio(n, k)}
                           for w, (n, k) in self.per_writer().items()},
            "worst": [
                {
                    "file": m.sample.name,
                    "label": _json_label(self.classes[m.sample.label]),
                    "predicted": _json_label(self.classes[m.predicted]),
                    "confidence": round(m.confidence, 6),
                    "writer": m.sample.writer,
                }
                for m in self.worst
            ],
            "skipped": {"count": len(self.skipped),
                        "files": [{"file": p.file, "reason": p.message} for p in self.skipped]},
            "cancelled": self.cancelled,
        }


def _writer_order(item) -> tuple:
    name = item[0]
    return (0, int(name), "") if name.isdigit() else (1, 0, name.lower())


def _json_label(label: str):
    return int(label) if label.isdigit() else label


# --- opening sources ---------------------------------------------------------------------------


def class_index(label, classes: list[str]) -> int | None:
    """A label from a file → the index of the model's class of that name, or None."""
    text = str(label).strip()
    if text in classes:
        return classes.index(text)
    return None


def open_source(path: str | os.PathLike, classes: list[str], limit: int | None = None) -> Source:
    """Read a collection folder, a pendigits file or MNIST idx files; EvaluationError if unusable."""
    p = Path(path)
    try:
        if p.is_dir():
            if (p / LABELS_FILE).is_file():
                return _collection_source(p, str(path), classes, limit)
            if any(datasets.is_idx_name(child) for child in p.iterdir()):
                return _mnist_source(p, str(path), classes, limit)
            return _collection_source(p, str(path), classes, limit)  # says labels.csv is missing
        if p.name.lower() == LABELS_FILE:
            return _collection_source(p.parent, str(p.parent), classes, limit)
        if not p.exists():
            raise EvaluationError(f"{path}: file or folder not found")
        if datasets.is_pendigits_name(p):
            return _pendigits_source(p, str(path), classes, limit)
        if datasets.is_idx_name(p):
            return _mnist_source(p, str(path), classes, limit)
    except (CollectionError, datasets.DatasetError) as exc:
        raise EvaluationError(str(exc)) from exc
    except OSError as exc:
        raise EvaluationError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    raise EvaluationError(
        f"{path}: not a collection folder (with {LABELS_FILE}), a pendigits .tra/.tes file or an MNIST idx file"
    )


def _collection_source(folder: Path, shown: str, classes, limit) -> Source:
    collection = read_collection(folder, classes)
    entries = collection.entries[:limit] if limit else collection.entries
    samples = [
        Sample(str(Path(shown) / e.file), classes.index(e.label), e.writer, str(folder / e.file)) for e in entries
    ]
    name = folder.resolve().name or shown
    return Source(shown, name, COLLECTION, samples, list(collection.problems), collection.has_writer)


def _pendigits_source(path: Path, shown: str, classes, limit) -> Source:
    digits = datasets.load_pendigits(path)
    samples, problems = [], []
    has_writer = any(d.writer >= 0 for d in digits)
    for i, d in enumerate(digits):
        if limit and len(samples) >= limit:
            break
        index = class_index(d.label, classes)
        name = f"{path.name}#{i}"
        if index is None:
            problems.append(Problem(name, f"{name}: label {d.label} is not one of the model's classes; skipped"))
            continue
        samples.append(Sample(name, index, str(d.writer) if d.writer >= 0 else None, drawing=d.drawing()))
    return Source(shown, path.name, PENDIGITS, samples, problems, has_writer)


def _mnist_source(path: Path, shown: str, classes, limit) -> Source:
    images, labels, images_name = datasets.load_mnist(path)
    if limit:
        images, labels = images[:limit], labels[:limit]
    samples, problems = [], []
    for i, (image, label) in enumerate(zip(images, labels.tolist())):
        index = class_index(label, classes)
        name = f"{images_name}#{i}"
        if index is None:
            problems.append(Problem(name, f"{name}: label {label} is not one of the model's classes; skipped"))
            continue
        samples.append(Sample(name, index, image=image))
    return Source(shown, images_name, MNIST, samples, problems, False)


# --- evaluating ------------------------------------------------------------------------------------


def _prepare_in_memory(sample: Sample, spec) -> np.ndarray | None:
    if sample.drawing is not None:
        prepared = preprocess.prepare_drawing(sample.drawing, spec)
    else:  # an MNIST image is already the 28×28 field the preprocessing makes
        image = sample.image.astype(np.float32) / 255.0
        prepared = preprocess.prepare_field(image if image.max() > 0 else None, spec)
    return None if prepared is None else prepared.tensor[0]


def _predictions(session, source: Source, workers: int | None):
    """(index, probabilities or None, error or None) for every sample, in order."""
    samples = source.samples
    if source.kind == COLLECTION:
        for i, item in enumerate(predict_files(session, [s.path for s in samples], workers=workers)):
            yield i, item.probabilities, (item.error or (None if item.digit is not None else "no ink"))
        return
    for start in range(0, len(samples), CHUNK):
        part = samples[start : start + CHUNK]
        tensors, errors = [], []
        for s in part:
            try:
                tensors.append(_prepare_in_memory(s, session.spec))
                errors.append(None)
            except Exception as exc:  # one odd sample must not stop the set
                tensors.append(None)
                errors.append(f"cannot be prepared ({type(exc).__name__}: {exc})")
        ok = [k for k, t in enumerate(tensors) if t is not None]
        probs = session.predict_batch(np.stack([tensors[k] for k in ok])) if ok else None
        rows = {k: probs[j] for j, k in enumerate(ok)}
        for k in range(len(part)):
            yield start + k, rows.get(k), errors[k] or (None if k in rows else "no ink")


def evaluate(
    session,
    source: Source,
    progress: Callable[[int, int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    worst_count: int = WORST_COUNT,
    workers: int | None = None,
) -> Report:
    """Run ``session`` over every sample of ``source``.

    ``progress(done, total)`` is called now and then; when ``should_stop()`` turns
    true the report covers the samples done so far and says it was cancelled.
    """
    classes = list(session.labels)
    k = len(classes)
    total = len(source.samples)
    confusion = np.zeros((k, k), dtype=np.int64)
    predicted = np.full(total, -1, dtype=np.int64)
    confidence = np.zeros(total, dtype=np.float64)
    skipped = list(source.problems)
    cancelled = False
    step = max(1, min(256, total // 100 or 1))
    if progress:
        progress(0, total)
    predictions = _predictions(session, source, workers)
    try:
        for done, (i, probs, error) in enumerate(predictions, start=1):
            sample = source.samples[i]
            if error is not None:
                named = error.startswith(Path(sample.name).name) or sample.name in error
                message = error if named else f"{sample.name}: {error}"
                skipped.append(Problem(sample.name, f"{message}; skipped"))
            else:
                guess = int(np.argmax(probs))
                predicted[i] = guess
                confidence[i] = float(probs[guess])
                confusion[sample.label, guess] += 1
            if done % step == 0 or done == total:
                if progress:
                    progress(done, total)
                if should_stop is not None and should_stop() and done < total:
                    cancelled = True
                    break
    finally:
        predictions.close()
    wrong = [i for i in range(total) if predicted[i] >= 0 and predicted[i] != source.samples[i].label]
    wrong.sort(key=lambda i: -confidence[i])
    worst = [Mistake(source.samples[i], int(predicted[i]), float(confidence[i])) for i in wrong[:worst_count]]
    return Report(source, classes, confusion, predicted, confidence, skipped, worst, cancelled)
