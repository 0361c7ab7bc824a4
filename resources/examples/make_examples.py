"""Make the shipped example drawings from real pen digits (run from the repository root).

    python resources/examples/make_examples.py

Reads the held-out pen digits in tests/data/pendigits-heldout.tra.gz (UCI
pen-based digits, Alpaydin and Alimoglu 1998, CC BY 4.0) with lenet_gui's
pendigits reader and writes, as ``.strokes.json``:

* ``0`` … ``9``: per digit, the writing the shipped LeNet-5 reads most surely;
* ``A-or-B``: a digit A that the model finds closest to B, for the classic
  confusions 1/7, 4/9 and 3/5/8 (the writing of A with the highest
  probability of B; the model may read it as B, which is the point).

It rewrites README.md beside the drawings with what the model says of each.
The choice depends only on the data and the shipped model, so running it
again gives the same files.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from lenet_gui.core import preprocess  # noqa: E402
from lenet_gui.core.drawing import save_drawing  # noqa: E402
from lenet_gui.core.session import ModelSession  # noqa: E402
from lenet_gui.train import pendigits  # noqa: E402

HERE = Path(__file__).resolve().parent
CONFUSIONS = [(1, 7), (7, 1), (4, 9), (9, 4), (3, 5), (5, 3), (3, 8), (8, 3), (5, 8), (8, 5)]


def _a(digit: int) -> str:
    return f"an {digit}" if digit == 8 else f"a {digit}"


def main() -> int:
    digits = pendigits.load(ROOT / "tests" / "data" / "pendigits-heldout.tra.gz")
    session = ModelSession(None, provider="cpu")
    tensors = np.stack([preprocess.prepare_drawing(d.drawing(), session.spec).tensor[0] for d in digits])
    probs = session.predict_batch(tensors)
    labels = np.array([d.label for d in digits])
    chosen: list[tuple[str, int, str]] = []
    for digit in range(10):
        mine = np.flatnonzero(labels == digit)
        best = int(mine[np.argmax(probs[mine, digit])])
        chosen.append((str(digit), best, f"{_a(digit)}, read most surely"))
    used = {index for _, index, _ in chosen}
    for meant, rival in CONFUSIONS:
        mine = [int(i) for i in np.flatnonzero(labels == meant) if int(i) not in used]
        top_two = [i for i in mine if set(np.argsort(-probs[i])[:2].tolist()) == {meant, rival}]
        if top_two:  # torn between the two: the closest call
            best = max(top_two, key=lambda i: min(probs[i, meant], probs[i, rival]))
        else:
            best = max(mine, key=lambda i: probs[i, rival])
        used.add(best)
        chosen.append((f"{meant}-or-{rival}", best, f"{_a(meant)} that looks like {_a(rival)}"))
    for old in HERE.glob("*.strokes.json"):
        old.unlink()
    rows = []
    for name, index, what in chosen:
        sample = digits[index]
        save_drawing(sample.drawing(), HERE / f"{name}.strokes.json")
        p = probs[index]
        top = np.argsort(-p)[:2]
        said = ", ".join(f"{int(k)}: {p[k] * 100:.1f} %" for k in top)
        rows.append(f"| `{name}` | {what} (pen writer {sample.writer}) | {said} |")
    (HERE / "README.md").write_text(README.format(rows="\n".join(rows)), encoding="utf-8")
    print(f"wrote {len(chosen)} drawings to {HERE}")
    return 0


README = """# Example drawings

Real pen-written digits to start from: File → Examples in the app, or
`lenet-gui predict --example NAME` on the command line (`--example 7`,
`--example 4-or-9`). Each is a `.strokes.json` drawing of one digit, strokes
as the writer's pen made them on a 500×500 tablet.

| name | what | the shipped LeNet-5 says (two most likely) |
| --- | --- | --- |
{rows}

`A-or-B` is a digit A, as its writer meant it, that the model finds closest
to B: the classic confusions 1/7, 4/9 and 3/5/8. Some of them the model reads
as B.

Made by `python resources/examples/make_examples.py` from
`tests/data/pendigits-heldout.tra.gz`, writers the model never saw in training.

**Source and licence**: UCI "Pen-Based Recognition of Handwritten Digits",
E. Alpaydin and F. Alimoglu, Boğaziçi University, 1998, shared under
**CC BY 4.0** (https://creativecommons.org/licenses/by/4.0/). These drawings are
those digits converted to `.strokes.json` and are shared under the same licence,
with this attribution.
"""

if __name__ == "__main__":
    sys.exit(main())
