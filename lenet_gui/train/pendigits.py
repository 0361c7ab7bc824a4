"""The UCI pen-based digits (Alpaydin and Alimoglu, 1998) as stroke drawings.

``pendigits-orig.tra`` is UNIPEN-like text: ``.SEGMENT DIGIT ... "8"`` opens a
sample, ``.COMMENT label writer number`` names its writer, and each
``.PEN_DOWN`` … ``.PEN_UP`` block is one stroke of ``x y`` lines in a 500×500
tablet box with y pointing up.
"""

from __future__ import annotations

import gzip
import os

# The reader lives in the core (evaluation reads pendigits without the train extra).
from lenet_gui.core.datasets import TABLET_SIZE, PenDigit  # noqa: F401
from lenet_gui.core.datasets import parse_pendigits as parse


def load(path: str | os.PathLike) -> list[PenDigit]:
    """Read the original ``.tra`` text, plain or gzip-compressed."""
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", encoding="ascii", errors="replace") as fh:
        return parse(fh.read())


def split_by_writer(digits: list[PenDigit], held_out: set[int]) -> tuple[list[PenDigit], list[PenDigit]]:
    train = [d for d in digits if d.writer not in held_out]
    test = [d for d in digits if d.writer in held_out]
    return train, test
