"""Where the strokes land on the network input, so its regions can be shown on the canvas.

Preprocessing scales the ink box into 20×20 and moves the centre of mass to the
middle of the 28×28 field (see preprocess.render_strokes). That is an affine map
``view = canvas · scale + offset``; this module works it out the same way, so a
receptive field or an evidence map on the 32×32 input can be drawn back over
the person's own strokes. No Qt.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from lenet_gui.core import preprocess
from lenet_gui.core.preprocess import InputSpec


@dataclass(frozen=True)
class Placement:
    """Canvas pixel (x, y) → network-input pixel: ``x · scale + dx``, ``y · scale + dy``."""

    scale: float
    dx: float
    dy: float

    def to_view(self, x: float, y: float) -> tuple[float, float]:
        return x * self.scale + self.dx, y * self.scale + self.dy

    def to_canvas(self, x: float, y: float) -> tuple[float, float]:
        return (x - self.dx) / self.scale, (y - self.dy) / self.scale

    def box_to_canvas(self, box: tuple[int, int, int, int]) -> tuple[float, float, float, float]:
        """An input box (y0, x0, y1, x1) as a canvas rectangle (left, top, width, height)."""
        y0, x0, y1, x1 = box
        left, top = self.to_canvas(x0, y0)
        right, bottom = self.to_canvas(x1, y1)
        return left, top, right - left, bottom - top


def stroke_placement(strokes, spec: InputSpec = preprocess.LENET5_SPEC) -> Placement | None:
    """The map render_strokes applies to these strokes, or None for no ink or a single dot."""
    points, stroke_ids = preprocess._points(strokes)
    if not len(points):
        return None
    field, box, thickness = spec.field, spec.box, preprocess.STROKE_THICKNESS
    lo, hi = points.min(axis=0), points.max(axis=0)
    extent = float((hi - lo).max())
    if extent <= preprocess.MIN_EXTENT:
        return None
    mid = field / 2.0
    scale = max(box - thickness, 1.0) / extent
    placed = (points - (lo + hi) / 2) * scale + mid
    # The same centre-of-mass shift as render_strokes, on the same coarse rendering.
    coarse = preprocess._pieces(*preprocess._decimate(placed, stroke_ids, preprocess.COM_STEP),
                                preprocess.SEGMENT_MAX, smooth=False)
    img = preprocess._rasterize_pieces(coarse, field, field, thickness, preprocess.STROKE_SOFTNESS)
    total = float(img.sum())
    if total <= 0:
        return None
    xs, ys = preprocess._pixel_centres(field)
    shift = np.array([mid - (img * xs).sum() / total, mid - (img * ys).sum() / total])
    half = (hi - lo) * scale / 2 + thickness / 2
    if np.all(half <= mid):
        shift = np.clip(shift, half - mid, mid - half)
    offset = mid - (lo + hi) / 2 * scale + shift  # field pixel = canvas · scale + offset
    if spec.height >= field and spec.width >= field:  # padded into the input (LeNet-5: 28 → 32)
        pad_x, pad_y, factor = (spec.width - field) // 2, (spec.height - field) // 2, 1.0
    else:  # shrunk to a smaller input
        pad_x = pad_y = 0
        factor = spec.width / field
    return Placement(float(scale * factor), float(offset[0] * factor + pad_x), float(offset[1] * factor + pad_y))
