"""The UCI pen-based digits (Alpaydin and Alimoglu, 1998) as stroke drawings.

``pendigits-orig.tra`` is UNIPEN-like text: ``.SEGMENT DIGIT ... "8"`` opens a
sample, ``.COMMENT label writer number`` names its writer, and each
``.PEN_DOWN`` … ``.PEN_UP`` block is one stroke of ``x y`` lines in a 500×500
tablet box with y pointing up.
"""

from __future__ import annotations

import gzip
import os
import re
from dataclasses import dataclass

from lenet_gui.core.drawing import Drawing

TABLET_SIZE = 500


@dataclass
class PenDigit:
    label: int
    writer: int
    strokes: list[list[tuple[float, float]]]  # screen coordinates: y down

    def drawing(self) -> Drawing:
        return Drawing(TABLET_SIZE, TABLET_SIZE, self.strokes)


def parse(text: str) -> list[PenDigit]:
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


def load(path: str | os.PathLike) -> list[PenDigit]:
    """Read the original ``.tra`` text, plain or gzip-compressed."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="ascii", errors="replace") as fh:
        return parse(fh.read())


def split_by_writer(digits: list[PenDigit], held_out: set[int]) -> tuple[list[PenDigit], list[PenDigit]]:
    train = [d for d in digits if d.writer not in held_out]
    test = [d for d in digits if d.writer in held_out]
    return train, test
