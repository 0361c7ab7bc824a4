"""Realistic input: pen-written digits from held-out writers, sampled like a mouse.

The UCI pen digits were recorded at a low rate (a point every ~11 tablet
pixels). A mouse on a 500-pixel canvas reports a point every couple of pixels,
so each stroke is resampled along its length to one point every ``STEP`` pixels:
that is the point density preprocessing sees in the app.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from lenet_gui.core.drawing import Drawing, save_drawing

ROOT = Path(__file__).resolve().parent.parent
PENDIGITS = ROOT / "tests" / "data" / "pendigits-heldout.tra.gz"
STEP = 2.0  # tablet pixels between resampled points


def resample(stroke, step: float = STEP) -> list[tuple[float, float]]:
    """Points every ``step`` pixels along the polyline (both ends kept)."""
    p = np.asarray(stroke, dtype=np.float64)
    if len(p) < 2:
        return [(float(x), float(y)) for x, y in p]
    along = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(p, axis=0), axis=1))])
    n = max(2, int(np.ceil(along[-1] / step)) + 1)
    t = np.linspace(0.0, along[-1], n)
    xs = np.round(np.interp(t, along, p[:, 0]), 1)
    ys = np.round(np.interp(t, along, p[:, 1]), 1)
    return list(zip(xs.tolist(), ys.tolist()))


@lru_cache(maxsize=1)
def pen_digits() -> tuple:
    from lenet_gui.train import pendigits

    return tuple(pendigits.load(PENDIGITS))


def drawings(n: int, step: float = STEP) -> list[tuple[int, Drawing]]:
    """``n`` (label, drawing) pairs, cycling through the held-out samples."""
    digits = pen_digits()
    out = []
    for i in range(n):
        d = digits[i % len(digits)]
        out.append((d.label, Drawing(d.drawing().width, d.drawing().height, [resample(s, step) for s in d.strokes])))
    return out


def write_drawing_files(folder: Path, n: int) -> list[Path]:
    """``n`` ``.strokes.json`` files named ``NNNN_LABEL.strokes.json``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i, (label, drawing) in enumerate(drawings(n)):
        path = folder / f"{i:04d}_{label}.strokes.json"
        save_drawing(drawing, path)
        paths.append(path)
    return paths
