"""Make the small data samples the tests use, from the full data sets.

    python tests/data/make_samples.py ../shared/data

Writes (all deterministic):
- mnist-mini/: the four idx files with 2,000 training images (the first 2,000 of
  the official training set) and 1,000 test images (the first 1,000 of the
  official test set), gzip-compressed, plus SHA256SUMS.
- pendigits-heldout.tra.gz: every digit of the pen writers held out from
  training (the writers listed in models/MODEL_CARD.md), in the original format.
"""

import gzip
import hashlib
import re
import struct
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parents[1]))
from lenet_gui.train import mnist  # noqa: E402

HELD_OUT_WRITERS = {4, 7, 12, 20, 22, 25, 26, 27, 29, 30}


def write_idx(path: Path, array: np.ndarray) -> None:
    header = struct.pack(">HBB", 0, 8, array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape)
    # mtime=0 keeps the gzip bytes, and so the checksums, reproducible.
    with open(path, "wb") as raw, gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as fh:
        fh.write(header + array.astype(np.uint8).tobytes())


def main(shared: Path) -> None:
    data = mnist.load(shared / "mnist")
    out = HERE / "mnist-mini"
    out.mkdir(exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte.gz": data.train_images[:2000],
        "train-labels-idx1-ubyte.gz": data.train_labels[:2000],
        "t10k-images-idx3-ubyte.gz": data.test_images[:1000],
        "t10k-labels-idx1-ubyte.gz": data.test_labels[:1000],
    }
    sums = []
    for name, array in arrays.items():
        write_idx(out / name, array)
        sums.append(f"{hashlib.sha256((out / name).read_bytes()).hexdigest()}  {name}")
    (out / "SHA256SUMS").write_text("\n".join(sums) + "\n")

    text = (shared / "pendigits" / "pendigits-orig.tra").read_text(encoding="ascii")
    header, *samples = re.split(r"(?=^\.SEGMENT)", text, flags=re.M)
    kept = [s for s in samples if int(s.split("\n")[1].split()[2]) in HELD_OUT_WRITERS]
    with gzip.GzipFile(HERE / "pendigits-heldout.tra.gz", "wb", mtime=0) as fh:
        fh.write((header + "".join(kept)).encode("ascii"))
    print(f"mnist-mini written; {len(kept)} held-out pen digits written")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
