"""Predicting many files at once: images and ``.strokes.json`` drawings.

Files are prepared in chunks and run through the model as one batch per chunk,
so thousands of drawings take seconds. A bad file yields an error for that file
and the others go on.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from lenet_gui.core import preprocess
from lenet_gui.core.drawing import is_drawing_file, load_drawing
from lenet_gui.core.errors import LenetGuiError
from lenet_gui.core.preprocess import InputSpec
from lenet_gui.core.safe_run import nonfinite_message

CHUNK = 512
# Below this many files a worker pool costs more to start than it saves.
POOL_THRESHOLD = 400


@dataclass
class FilePrediction:
    file: str
    digit: int | None = None  # class index; None when the file holds no ink
    probabilities: np.ndarray | None = None
    error: str | None = None


def prepare_file(path: str, spec: InputSpec) -> tuple[np.ndarray | None, str | None]:
    """(tensor or None for no ink, error message or None)."""
    try:
        if is_drawing_file(path):
            prepared = preprocess.prepare_drawing(load_drawing(path), spec)
        else:
            prepared = preprocess.prepare_image(path, spec)
    except LenetGuiError as exc:
        return None, str(exc)
    except Exception as exc:  # never let one odd file stop a batch
        return None, f"{path}: cannot be read ({type(exc).__name__}: {exc})"
    return (None if prepared is None else prepared.tensor[0]), None


def _prepare_chunk(args: tuple[list[str], InputSpec]) -> list[tuple[np.ndarray | None, str | None]]:
    paths, spec = args
    return [prepare_file(p, spec) for p in paths]


def predict_files(session, files: Iterable[str], workers: int | None = None) -> Iterator[FilePrediction]:
    """Predictions for ``files`` in their order."""
    files = [os.fspath(f) for f in files]
    chunks = [files[i : i + CHUNK] for i in range(0, len(files), CHUNK)]
    workers = workers if workers is not None else min(os.cpu_count() or 1, 4)
    if len(files) >= POOL_THRESHOLD and workers > 1:
        small = [files[i : i + 64] for i in range(0, len(files), 64)]
        with ProcessPoolExecutor(max_workers=workers) as pool:
            prepared_small = pool.map(_prepare_chunk, [(c, session.spec) for c in small])
            flat = [item for part in prepared_small for item in part]
        prepared_chunks = [flat[i : i + CHUNK] for i in range(0, len(flat), CHUNK)]
    else:
        prepared_chunks = (_prepare_chunk((c, session.spec)) for c in chunks)
    for paths, prepared in zip(chunks, prepared_chunks):
        ok = [i for i, (tensor, err) in enumerate(prepared) if tensor is not None]
        probs = session.predict_batch(np.stack([prepared[i][0] for i in ok])) if ok else None
        by_index = {i: probs[k] for k, i in enumerate(ok)} if ok else {}
        for i, path in enumerate(paths):
            tensor, err = prepared[i]
            if err:
                yield FilePrediction(path, error=err)
            elif i in by_index and nonfinite_message(by_index[i]):
                yield FilePrediction(path, error=f"{path}: {nonfinite_message(by_index[i])}")
            elif i in by_index:
                yield FilePrediction(path, int(np.argmax(by_index[i])), by_index[i])
            else:
                yield FilePrediction(path)
