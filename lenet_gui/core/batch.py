"""Predicting many files at once: images and ``.strokes.json`` drawings.

Files are read and prepared in chunks and each chunk goes through the model as
one batch. With many files the work is split across processes: this one does
the first share while forked workers each read, prepare *and* predict a share
of their own with their own onnxruntime session, so only file names go out and
only probabilities come back. A bad file yields an error for that file and the
others go on.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import numpy as np

from lenet_gui.core import preprocess
from lenet_gui.core.drawing import is_drawing_file, load_drawing
from lenet_gui.core.errors import LenetGuiError
from lenet_gui.core.preprocess import InputSpec
from lenet_gui.core.safe_run import nonfinite_message

CHUNK = 256
# Below this many files a worker process costs more to start than it saves.
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


def _predict_chunk(session, paths: list[str]) -> list[FilePrediction]:
    prepared = [prepare_file(p, session.spec) for p in paths]
    ok = [i for i, (tensor, _) in enumerate(prepared) if tensor is not None]
    probs = session.predict_batch(np.stack([prepared[i][0] for i in ok])) if ok else None
    rows = dict(zip(ok, probs)) if ok else {}
    out = []
    for i, path in enumerate(paths):
        tensor, err = prepared[i]
        if err:
            out.append(FilePrediction(path, error=err))
        elif i in rows and nonfinite_message(rows[i]):
            out.append(FilePrediction(path, error=f"{path}: {nonfinite_message(rows[i])}"))
        elif i in rows:
            out.append(FilePrediction(path, int(np.argmax(rows[i])), rows[i]))
        else:
            out.append(FilePrediction(path))
    return out


def _serial(session, files: list[str]) -> Iterator[FilePrediction]:
    for i in range(0, len(files), CHUNK):
        yield from _predict_chunk(session, files[i : i + CHUNK])


# --- worker processes -----------------------------------------------------------------------------------

_worker_session = None


def _start_worker(path: str, provider: str, spec: InputSpec, limits: tuple | None) -> None:
    global _worker_session
    if limits is None:  # the parent trusts this model (the shipped one): onnxruntime alone
        from lenet_gui.core.runtime import LightSession

        _worker_session = LightSession(path, provider=provider, threads=1)
    else:  # an untrusted model: the same memory and time limits as in the parent
        from lenet_gui.core.session import ModelSession

        memory_limit, timeout = limits
        _worker_session = ModelSession(path, provider=provider, threads=1, memory_limit=memory_limit,
                                       timeout=timeout)
    _worker_session.spec = spec  # exactly what the parent prepares for (overrides, calibration)


def _worker_share(paths: list[str]) -> list[FilePrediction]:
    out = []
    for i in range(0, len(paths), CHUNK):
        out += _predict_chunk(_worker_session, paths[i : i + CHUNK])
    return out


def _pool_context():
    # fork: a worker starts in milliseconds with everything already imported; elsewhere spawn.
    return multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")


def _parallel(session, files: list[str], workers: int) -> Iterator[FilePrediction]:
    shares = np.array_split(np.arange(len(files)), workers)
    provider = "cpu" if getattr(session, "provider", "CPU") == "CPU" else "auto"
    limits = (session.memory_limit, session.timeout) if hasattr(session, "memory_limit") else None
    with ProcessPoolExecutor(max_workers=workers - 1, mp_context=_pool_context(), initializer=_start_worker,
                             initargs=(str(session.path), provider, session.spec, limits)) as pool:
        parts = [[files[i] for i in share] for share in shares]
        pending = [pool.submit(_worker_share, part) for part in parts[1:]]
        yield from _serial(session, parts[0])
        for part, future in zip(parts[1:], pending):
            try:
                results = future.result()
            except Exception:  # a worker that died (killed, out of memory): do its share here
                results = _serial(session, part)
            yield from results


def predict_files(session, files: Iterable[str], workers: int | None = None) -> Iterator[FilePrediction]:
    """Predictions for ``files`` in their order.

    ``session`` is a ``runtime.LightSession`` or a ``ModelSession``: anything with
    ``spec``, ``path`` and ``predict_batch``.
    """
    files = [os.fspath(f) for f in files]
    if workers is None:
        workers = min(len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1, 4)
    # A model that runs in a memory-limited worker process of its own stays in that one process.
    runtime_sized = getattr(getattr(session, "footprint", None), "runtime_sized", False)
    if len(files) >= POOL_THRESHOLD and workers > 1 and not runtime_sized:
        yield from _parallel(session, files, workers)
    else:
        yield from _serial(session, files)
