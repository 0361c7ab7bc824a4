"""Readers for the public digit sets, with numpy alone: pendigits and MNIST idx files.

Pendigits (UCI "Pen-Based Recognition of Handwritten Digits") comes in two forms:

- ``pendigits-orig.tra``/``.tes``: UNIPEN-like text. ``.SEGMENT DIGIT ... "8"``
  opens a sample, ``.COMMENT label writer number`` names its writer, and each
  ``.PEN_DOWN`` … ``.PEN_UP`` block is one stroke of ``x y`` lines in a 500×500
  tablet box with y pointing up.
- ``pendigits.tra``/``.tes``: one digit per line, 16 comma-separated integers
  (8 resampled points x1,y1 … x8,y8 in 0..100, y up) and the class.

MNIST idx files hold a magic number, the dimensions, then unsigned bytes; they
may be gzip-compressed.
"""

from __future__ import annotations

import gzip
import os
import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lenet_gui.core.drawing import Drawing
from lenet_gui.core.errors import LenetGuiError

TABLET_SIZE = 500
RESAMPLED_SIZE = 100  # the 16-feature pendigits files scale every digit into 0..100


class DatasetError(LenetGuiError):
    """A data set file is missing, damaged or not in a format this app reads."""


@dataclass
class PenDigit:
    label: int
    writer: int  # -1 when the file does not name one
    strokes: list[list[tuple[float, float]]]  # screen coordinates: y down
    size: float = TABLET_SIZE

    def drawing(self) -> Drawing:
        return Drawing(self.size, self.size, self.strokes)


def parse_pendigits(text: str) -> list[PenDigit]:
    """The original UNIPEN-like text → digits (strokes, label, writer)."""
    digits: list[PenDigit] = []
    label = writer = None
    strokes: list[list[tuple[float, float]]] = []
    stroke: list[tuple[float, float]] | None = None

    def finish():
        if label is not None and strokes:
            digits.append(PenDigit(label, writer if writer is not None else -1, strokes))

    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith(".SEGMENT"):
            finish()
            match = re.search(r'"(\d)"', line)
            label = int(match.group(1)) if match else None
            writer, strokes, stroke = None, [], None
        elif line.startswith(".COMMENT"):
            parts = line.split()
            if len(parts) >= 3 and parts[2].isdigit():
                writer = int(parts[2])
        elif line.startswith(".PEN_DOWN"):
            stroke = []
        elif line.startswith(".PEN_UP"):
            if stroke:
                strokes.append(stroke)
            stroke = None
        elif line.startswith("."):
            continue
        elif stroke is not None:
            parts = line.split()
            if len(parts) >= 2:
                x, y = float(parts[0]), float(parts[1])
                stroke.append((x, TABLET_SIZE - y))  # tablet y points up
    finish()
    return digits


def parse_resampled_pendigits(text: str, source: str = "pendigits") -> list[PenDigit]:
    """The 16-feature CSV form: each line is one stroke through 8 points, then the class."""
    digits = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split(",")
        try:
            values = [int(v) for v in parts]
        except ValueError:
            values = []
        if len(values) != 17 or not 0 <= values[16] <= 9:
            raise DatasetError(
                f"{source} line {number}: expected 16 coordinates and a class 0–9, found {line.strip()[:60]!r}")
        points = [(float(values[i]), float(RESAMPLED_SIZE - values[i + 1])) for i in range(0, 16, 2)]
        digits.append(PenDigit(values[16], -1, [points], RESAMPLED_SIZE))
    return digits


def _read_text(path: Path) -> str:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="ascii", errors="replace") as fh:
            return fh.read()
    except FileNotFoundError as exc:
        raise DatasetError(f"{path}: file not found") from exc
    except (OSError, EOFError) as exc:
        raise DatasetError(f"{path.name}: cannot be read ({getattr(exc, 'strerror', None) or exc})") from exc


def load_pendigits(path: str | os.PathLike) -> list[PenDigit]:
    """Either pendigits form, plain or gzip-compressed, told apart by its content."""
    path = Path(path)
    text = _read_text(path)
    if ".SEGMENT" in text[:20000] or ".PEN_DOWN" in text[:20000]:
        digits = parse_pendigits(text)
    else:
        digits = parse_resampled_pendigits(text, path.name)
    if not digits:
        raise DatasetError(f"{path.name}: no pendigits samples found")
    return digits


def is_pendigits_name(path: str | os.PathLike) -> bool:
    name = str(path).lower()
    name = name[:-3] if name.endswith(".gz") else name
    return name.endswith((".tra", ".tes"))


# --- MNIST idx ---------------------------------------------------------------------------


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an idx file (gzip or plain): magic, dimensions, then unsigned bytes."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read()
    except (OSError, EOFError) as exc:
        raise DatasetError(f"{path.name}: cannot read ({exc})") from exc
    if len(raw) < 4:
        raise DatasetError(f"{path.name}: too short to be an idx file")
    zero, dtype_code, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype_code != 0x08:
        raise DatasetError(f"{path.name}: not an idx file of unsigned bytes (magic {raw[:4].hex()})")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DatasetError(f"{path.name}: truncated header")
    dims = struct.unpack(">" + "I" * ndim, raw[4:header])
    count = int(np.prod(dims)) if dims else 0
    if len(raw) - header != count:
        raise DatasetError(f"{path.name}: expected {count} bytes of data for shape {dims}, found {len(raw) - header}")
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(dims)


def is_idx_name(path: str | os.PathLike) -> bool:
    return "-idx" in Path(path).name.lower() or Path(path).name.lower().endswith((".idx", ".idx.gz"))


def mnist_pair(path: str | os.PathLike) -> tuple[Path, Path]:
    """The images and labels files for an MNIST path: either file of the pair, or a folder.

    A folder gives its test set (``t10k-*``) when it has one, else its training set.
    """
    path = Path(path)
    if path.is_dir():
        for prefix in ("t10k", "train"):
            for suffix in (".gz", ""):
                images = path / f"{prefix}-images-idx3-ubyte{suffix}"
                labels = path / f"{prefix}-labels-idx1-ubyte{suffix}"
                if images.is_file() and labels.is_file():
                    return images, labels
        raise DatasetError(f"{path}: no MNIST image and label idx files in this folder")
    name = path.name
    if "images-idx3" in name:
        other = path.with_name(name.replace("images-idx3", "labels-idx1"))
        images, labels = path, other
    elif "labels-idx1" in name:
        other = path.with_name(name.replace("labels-idx1", "images-idx3"))
        images, labels = other, path
    else:
        raise DatasetError(f"{name}: not an MNIST file name (expected …-images-idx3-ubyte or …-labels-idx1-ubyte)")
    for p in (images, labels):
        if not p.is_file():
            raise DatasetError(f"{p}: file not found (MNIST needs both the images and the labels file)")
    return images, labels


def load_mnist(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, str]:
    """(images N×28×28 uint8, labels N uint8, the images file's name) for an MNIST path."""
    images_path, labels_path = mnist_pair(path)
    images, labels = read_idx(images_path), read_idx(labels_path)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise DatasetError(
            f"{images_path.name}: {images.shape} images do not match {labels.shape} labels in {labels_path.name}"
        )
    return images, labels, images_path.name
