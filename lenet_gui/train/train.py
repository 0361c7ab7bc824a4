"""Train LeNet-5 on MNIST (plus, optionally, pen-written digits) and export it to ONNX.

    python -m lenet_gui.train --mnist DIR --out models/lenet5.onnx \
        [--pendigits FILE] [--epochs N] [--seed S]

Seeded and single-process, so a run is reproducible on the same machine; on
2 CPU cores the default run takes some minutes.

The augmentation aims at digits drawn with a mouse or a pen rather than scanned:
small rotations, scaling, shifts, shear and changes of stroke thickness on the
MNIST images; and, when ``--pendigits`` is given, real pen trajectories from
writers outside the held-out set, rendered through the app's own stroke
preprocessing with random pen geometry. Held-out writers are chosen with the
seed and never trained on; their accuracy is the figure reported.
"""

from __future__ import annotations

import argparse
import json
import math
import random
import sys
import time
from pathlib import Path

import numpy as np

from lenet_gui.core import preprocess
from lenet_gui.platform_info import describe_machine
from lenet_gui.train import mnist as mnist_data
from lenet_gui.train import pendigits as pen_data

PAD = 2  # MNIST 28×28 → LeNet-5 32×32, as in the paper
MEAN, STD = 0.1307, 0.3081


def parse_args(argv=None):
    p = argparse.ArgumentParser(prog="python -m lenet_gui.train", description=__doc__.split("\n\n")[0])
    p.add_argument("--mnist", required=True, help="folder with the four MNIST gzip idx files")
    p.add_argument("--download", action="store_true", help="download missing MNIST files (checksums verified)")
    p.add_argument("--checksums", help="a sha256sum file to verify against instead of the official checksums")
    p.add_argument("--out", default="models/lenet5.onnx", help="ONNX file to write")
    p.add_argument("--pendigits", help="pendigits-orig.tra: also train on pen-written digits (split by writer)")
    p.add_argument("--held-out-writers", type=int, default=10, help="pen writers never trained on (default 10 of 30)")
    p.add_argument("--epochs", type=int, default=16)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--seed", type=int, default=1998)
    p.add_argument("--limit", type=int, help="train on the first N MNIST images only (smoke tests)")
    p.add_argument("--pen-variants", type=int, default=6, help="renderings of each training pen digit")
    p.add_argument("--threads", type=int, default=2)
    return p.parse_args(argv)


def pad_images(images_u8: np.ndarray) -> np.ndarray:
    x = images_u8.astype(np.float32) / 255.0
    return np.pad(x, ((0, 0), (PAD, PAD), (PAD, PAD)))


def render_pen_variants(digits, variants: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Each pen digit drawn ``variants`` times with a random pen and a random slant."""
    images, labels = [], []
    for d in digits:
        pts = [np.asarray(s, dtype=np.float64) for s in d.strokes]
        for _ in range(variants):
            angle = math.radians(rng.uniform(-12, 12))
            shear = rng.uniform(-0.25, 0.25)
            sx, sy = rng.uniform(0.8, 1.2), rng.uniform(0.8, 1.2)
            m = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
            m = m @ np.array([[1.0, shear], [0.0, 1.0]]) @ np.diag([sx, sy])
            jitter = [s @ m.T + rng.normal(0, 1.2, size=s.shape) for s in pts]
            field = preprocess.render_strokes(
                jitter,
                thickness=rng.uniform(1.6, 3.4),
                softness=rng.uniform(0.8, 1.6),
            )
            if field is None:
                continue
            images.append(np.pad(field, PAD))
            labels.append(d.label)
    return np.asarray(images, dtype=np.float32), np.asarray(labels, dtype=np.int64)


def augment(torch, F, x, rng_t):
    """Random affine (rotation, scale, aspect, shear, shift) and stroke thickness, batched."""
    n = x.shape[0]
    g = rng_t
    angle = (torch.rand(n, generator=g) * 2 - 1) * math.radians(13)
    scale = 0.82 + torch.rand(n, generator=g) * 0.3
    aspect = 0.88 + torch.rand(n, generator=g) * 0.24
    shear = (torch.rand(n, generator=g) * 2 - 1) * 0.3
    tx, ty = [(torch.rand(n, generator=g) * 2 - 1) * (2.0 / 16) for _ in range(2)]
    cos, sin = torch.cos(angle), torch.sin(angle)
    # Inverse map (output → input sampling grid) of rotation·shear·scale.
    a = cos / (scale * aspect)
    b = (-sin + shear * cos) / (scale * aspect)
    c = sin * aspect / scale
    d = (cos + shear * sin) * aspect / scale
    theta = torch.stack([torch.stack([a, b, tx], 1), torch.stack([c, d, ty], 1)], 1)
    keep = torch.rand(n, generator=g) < 0.12  # some images stay as they are
    theta[keep] = torch.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    grid = F.affine_grid(theta, x.shape, align_corners=False)
    x = F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")
    # Stroke thickness: blend towards a dilated (thicker) or eroded (thinner) copy.
    dil = F.max_pool2d(x, 3, 1, 1)
    ero = -F.max_pool2d(-x, 3, 1, 1)
    w = torch.rand(n, 1, 1, 1, generator=g)
    choice = torch.rand(n, 1, 1, 1, generator=g)
    thick = choice < 0.3
    thin = (choice >= 0.3) & (choice < 0.45)
    x = torch.where(thick, x * (1 - 0.8 * w) + dil * 0.8 * w, x)
    x = torch.where(thin, x * (1 - 0.5 * w) + ero * 0.5 * w, x)
    return x.clamp(0, 1)


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        import torch
        import torch.nn.functional as F
    except ImportError:
        print("Training needs PyTorch: pip install 'lenet-gui[train]'", file=sys.stderr)
        return 2
    from lenet_gui.train.export import export_onnx
    from lenet_gui.train.model import LeNet5

    started = time.perf_counter()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    random.seed(args.seed)
    rng = np.random.default_rng(args.seed)
    gen = torch.Generator().manual_seed(args.seed)

    try:
        sums = mnist_data.read_sha256sums(args.checksums) if args.checksums else None
        data = mnist_data.load(args.mnist, allow_download=args.download, checksums=sums)
    except mnist_data.MnistError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    train_x = pad_images(data.train_images[: args.limit] if args.limit else data.train_images)
    train_y = data.train_labels[: len(train_x)].astype(np.int64)
    test_x = pad_images(data.test_images)
    test_y = data.test_labels.astype(np.int64)
    print(f"MNIST: {len(train_x)} training, {len(test_x)} test images (sha256 {data.sha256[:12]}…)", flush=True)

    held_out: list[int] = []
    pen_test = []
    pen_report = None
    if args.pendigits:
        digits = pen_data.load(args.pendigits)
        writers = sorted({d.writer for d in digits})
        held_out = sorted(rng.choice(writers, size=min(args.held_out_writers, len(writers)), replace=False).tolist())
        pen_train, pen_test = pen_data.split_by_writer(digits, set(held_out))
        t0 = time.perf_counter()
        pen_x, pen_y = render_pen_variants(pen_train, args.pen_variants, rng)
        print(
            f"pendigits: {len(pen_train)} digits from {len(writers) - len(held_out)} writers for training "
            f"({len(pen_x)} renderings, {time.perf_counter() - t0:.0f} s); held out writers {held_out} "
            f"({len(pen_test)} digits)",
            flush=True,
        )
        train_x = np.concatenate([train_x, pen_x])
        train_y = np.concatenate([train_y, pen_y])

    xs = torch.from_numpy(train_x).unsqueeze(1)
    ys = torch.from_numpy(train_y)
    net = LeNet5()
    steps_per_epoch = math.ceil(len(xs) / args.batch_size)
    opt = torch.optim.AdamW(net.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=args.lr, total_steps=args.epochs * steps_per_epoch, pct_start=0.15
    )
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.05)
    test_t = (torch.from_numpy(test_x).unsqueeze(1) - MEAN) / STD

    for epoch in range(1, args.epochs + 1):
        t0 = time.perf_counter()
        net.train()
        order = torch.randperm(len(xs), generator=gen)
        total_loss = 0.0
        for i in range(steps_per_epoch):
            idx = order[i * args.batch_size : (i + 1) * args.batch_size]
            xb = augment(torch, F, xs[idx], gen)
            xb = (xb - MEAN) / STD
            loss = loss_fn(net(xb), ys[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            total_loss += loss.item() * len(idx)
        acc = evaluate(torch, net, test_t, test_y)
        print(
            f"epoch {epoch:2d}/{args.epochs}  loss {total_loss / len(xs):.4f}  "
            f"MNIST test {acc * 100:.2f} %  ({time.perf_counter() - t0:.0f} s)",
            flush=True,
        )

    train_seconds = time.perf_counter() - started
    net.eval()
    mnist_acc = evaluate(torch, net, test_t, test_y)
    out = Path(args.out)
    report = {
        "mnist_test_accuracy": round(mnist_acc, 4),
        "train_seconds": round(train_seconds),
        "epochs": args.epochs,
        "seed": args.seed,
        "train_images": int(len(train_x)),
        "machine": f"{describe_machine()}; {args.threads} training threads",
        "torch": torch.__version__,
    }
    if pen_test:
        report["pendigits_held_out_writers"] = held_out
        report["pendigits_held_out_digits"] = len(pen_test)
    export_onnx(net, out, data_sha256=data.sha256, report=report)
    # The figures that go into the model card are measured on the exported file,
    # through onnxruntime and the app's own preprocessing.
    from lenet_gui.train.evaluate import onnx_accuracy, pendigits_accuracy

    ort_acc = onnx_accuracy(out, data.test_images, data.test_labels)
    print(f"exported {out}: onnxruntime MNIST test accuracy {ort_acc * 100:.2f} %", flush=True)
    report["mnist_test_accuracy"] = round(ort_acc, 4)
    if pen_test:
        pen_report = pendigits_accuracy(out, pen_test)
        report["pendigits_held_out_accuracy"] = round(pen_report["accuracy"], 4)
        print(
            f"pendigits, {len(held_out)} held-out writers: {pen_report['accuracy'] * 100:.2f} % "
            f"of {pen_report['count']} (worst writer {pen_report['worst_writer_accuracy'] * 100:.1f} %)",
            flush=True,
        )
    export_onnx(net, out, data_sha256=data.sha256, report=report)  # again, with the measured figures
    out.with_name(out.stem + ".training.json").write_text(json.dumps({**report, "pendigits": pen_report}, indent=2) + "\n")
    print(f"done in {time.perf_counter() - started:.0f} s", flush=True)
    return 0


def evaluate(torch, net, x, y) -> float:
    net.eval()
    with torch.no_grad():
        pred = torch.cat([net(x[i : i + 2000]).argmax(1) for i in range(0, len(x), 2000)])
    return float((pred.numpy() == y).mean())


if __name__ == "__main__":
    sys.exit(main())
