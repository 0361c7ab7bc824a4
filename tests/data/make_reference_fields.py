"""Store the 28×28 fields that the numpy stroke renderer made, as the reference
the OpenCV renderer is held to.

    git show 73b0b86:lenet_gui/core/preprocess.py > /tmp/numpy_preprocess.py
    python tests/data/make_reference_fields.py /tmp/numpy_preprocess.py

73b0b86 is the last commit with the numpy renderer, the one the shipped model was
trained through. Writes ``reference-fields.npz`` (deterministic): every 10th
held-out pen digit as recorded (sparse tablet points, so the spline smoothing
matters) and every 25th resampled to a point every 2 tablet pixels (what a
mouse gives), each field stored as 8-bit grey (0..255), with the digit's index
and label.
"""

import importlib.util
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parents[1]))
from benchmarks.workload import resample  # noqa: E402
from lenet_gui.train import pendigits  # noqa: E402

RAW_EVERY, DENSE_EVERY = 10, 25


def main(old_preprocess: str) -> None:
    spec = importlib.util.spec_from_file_location("numpy_preprocess", old_preprocess)
    old = importlib.util.module_from_spec(spec)
    sys.modules["numpy_preprocess"] = old
    spec.loader.exec_module(old)
    digits = pendigits.load(HERE / "pendigits-heldout.tra.gz")
    fields, index, dense, labels = [], [], [], []
    for every, resampled in ((RAW_EVERY, False), (DENSE_EVERY, True)):
        for i in range(0, len(digits), every):
            strokes = digits[i].strokes
            if resampled:
                strokes = [resample(s) for s in strokes]
            fields.append(np.round(old.render_strokes(strokes) * 255).astype(np.uint8))
            index.append(i)
            dense.append(resampled)
            labels.append(digits[i].label)
    np.savez_compressed(HERE / "reference-fields.npz", fields=np.stack(fields), index=np.array(index),
                        resampled=np.array(dense), labels=np.array(labels))
    print(f"{len(fields)} fields written")


if __name__ == "__main__":
    main(sys.argv[1])
