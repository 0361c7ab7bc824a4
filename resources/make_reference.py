"""Make ``mnist-reference.npz``: the labelled digits that calibration runs models on.

    python resources/make_reference.py ../shared/data/mnist

Takes the last 30 digits of each class from the official MNIST test set (from the
end of the set, so they are disjoint from the test samples in tests/data, which
are the first 1,000). 300 digits, 28×28 uint8, white ink on black, with labels.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

from lenet_gui.train.mnist import read_idx

PER_CLASS = 30


def main(folder: str) -> None:
    images = read_idx(Path(folder) / "t10k-images-idx3-ubyte.gz")
    labels = read_idx(Path(folder) / "t10k-labels-idx1-ubyte.gz")
    chosen = []
    for digit in range(10):
        (where,) = np.nonzero(labels == digit)
        chosen.extend(where[-PER_CLASS:].tolist())
    chosen.sort()
    out = Path(__file__).with_name("mnist-reference.npz")
    np.savez_compressed(
        out, images=images[chosen].astype(np.uint8), labels=labels[chosen].astype(np.uint8),
        indices=np.array(chosen, dtype=np.int32),
    )
    print(f"{out.name}: {len(chosen)} digits, test-set indices {chosen[0]}..{chosen[-1]}")


if __name__ == "__main__":
    main(sys.argv[1])
