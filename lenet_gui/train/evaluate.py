"""Accuracy of an exported model, measured the way the app feeds it.

    python -m lenet_gui.train.evaluate MODEL --mnist DIR [--pendigits FILE --writers 3,7,...]
"""

from __future__ import annotations

import argparse
import collections
import sys

import numpy as np
import onnxruntime as ort

from lenet_gui.core import preprocess


def _session(path):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


def _logits(sess, x: np.ndarray) -> np.ndarray:
    name = sess.get_inputs()[0].name
    out = sess.get_outputs()[0].name
    return np.concatenate([sess.run([out], {name: x[i : i + 1000]})[0] for i in range(0, len(x), 1000)])


def onnx_accuracy(path, images_u8: np.ndarray, labels: np.ndarray, spec=preprocess.LENET5_SPEC) -> float:
    """MNIST-format 28×28 images, padded and normalised as the app does."""
    views = np.stack([preprocess.field_to_view(img.astype(np.float32) / 255.0, spec) for img in images_u8])
    x = ((views * spec.pixel_max - spec.mean) / spec.std)[:, None].astype(np.float32)
    pred = _logits(_session(path), x).argmax(1)
    return float((pred == labels).mean())


def pendigits_accuracy(path, digits, spec=preprocess.LENET5_SPEC) -> dict:
    """Pen trajectories replayed through the app's stroke preprocessing."""
    tensors, labels, writers = [], [], []
    for d in digits:
        prepared = preprocess.prepare_drawing(d.drawing(), spec)
        if prepared is None:
            continue
        tensors.append(prepared.tensor[0])
        labels.append(d.label)
        writers.append(d.writer)
    pred = _logits(_session(path), np.stack(tensors)).argmax(1)
    labels, writers = np.array(labels), np.array(writers)
    correct = pred == labels
    per_writer = {int(w): float(correct[writers == w].mean()) for w in sorted(set(writers.tolist()))}
    confusions = collections.Counter(
        f"{t}→{p}" for t, p in zip(labels[~correct].tolist(), pred[~correct].tolist())
    ).most_common(8)
    return {
        "accuracy": float(correct.mean()),
        "count": int(len(labels)),
        "per_writer": per_writer,
        "worst_writer_accuracy": min(per_writer.values()),
        "top_confusions": confusions,
    }


def main(argv=None) -> int:
    from lenet_gui.train import mnist, pendigits

    p = argparse.ArgumentParser(prog="python -m lenet_gui.train.evaluate")
    p.add_argument("model")
    p.add_argument("--mnist", help="folder with the MNIST files (test set is used)")
    p.add_argument("--pendigits", help="pendigits-orig.tra")
    p.add_argument("--writers", help="comma-separated writer ids (default: all)")
    args = p.parse_args(argv)
    if args.mnist:
        data = mnist.load(args.mnist)
        acc = onnx_accuracy(args.model, data.test_images, data.test_labels)
        print(f"MNIST test: {acc * 100:.2f} % of {len(data.test_labels)}")
    if args.pendigits:
        digits = pendigits.load(args.pendigits)
        if args.writers:
            chosen = {int(w) for w in args.writers.split(",")}
            digits = [d for d in digits if d.writer in chosen]
        r = pendigits_accuracy(args.model, digits)
        print(f"pendigits: {r['accuracy'] * 100:.2f} % of {r['count']}; worst writer {r['worst_writer_accuracy'] * 100:.1f} %")
        print("  per writer:", {w: round(a * 100, 1) for w, a in r["per_writer"].items()})
        print("  confusions:", r["top_confusions"])
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # piped into `head`
        sys.exit(0)
