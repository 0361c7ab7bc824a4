"""Drawings and images into exactly what the network sees, the way MNIST was made.

MNIST digits were made by scaling each digit's ink bounding box to fit 20×20
(aspect ratio kept, anti-aliased), then placing it in a 28×28 field so that its
centre of mass sits in the middle. LeNet-5 takes that field padded by 2 pixels on
each side: 32×32.

Strokes are vectors, so they are not drawn on a screen bitmap and shrunk: each
stroke is rendered directly at the target scale with one stroke thickness,
whatever pen and canvas size the person used. That keeps a "1" a thin line, keeps
small and large drawings alike, and matches the stroke width of MNIST digits.

Strokes are drawn with OpenCV; images go through Pillow and numpy; no Qt.
"""

from __future__ import annotations

import functools
import math
import os
import warnings
from dataclasses import dataclass, replace
from itertools import chain
from pathlib import Path

import numpy as np

from lenet_gui.core.drawing import Drawing
from lenet_gui.core.errors import ImageError

MNIST_FIELD = 28  # the MNIST image
MNIST_BOX = 20  # the box the ink is scaled into
# Stroke thickness in pixels of the 28×28 field, and how soft its edge is. Chosen
# on pen-written digits (see models/MODEL_CARD.md); MNIST strokes are 2–3 px wide.
STROKE_THICKNESS = 2.4
STROKE_SOFTNESS = 1.2
# Coordinates beyond this are treated as garbage (they would overflow the scale).
MAX_COORDINATE = 1e9
MIN_EXTENT = 1e-6  # canvas pixels
# Long segments are cut to this length (field pixels) so that the smoothing
# spline bends them; short ones are merged so a 100,000-point stroke stays cheap.
SEGMENT_MAX = 0.75
SEGMENT_MIN = 0.4
COM_STEP = 0.7  # point spacing of the rendering that finds the centre of mass (<= SEGMENT_MAX)
# Beyond this many short pieces a scribble is rendered the slow, simple way.
MAX_PIECES = 60_000
# A path longer than this is thinned before drawing (a scribble that covers its box many times).
MAX_PATH_POINTS = 50_000
SUPERSAMPLE = 3  # OpenCV measures distances on a grid this many times finer than the field (odd)
DISTANCE_MASK = 5  # cv2.distanceTransform's 5×5 mask: within about 2 % of the exact distance
IMAGE_MAX_SIDE = 512  # images are reduced to this before finding the ink
IMAGE_MAX_PIXELS = 60_000_000


def default_geometry(height: int, width: int) -> tuple[int, int]:
    """(field, box) for a model that does not say: MNIST's 28 and 20 up to LeNet-5's 32×32 input, and for a
    larger input the same proportions of its side, 28/32 and 20/32 (224: field 196, box 140), so that the
    digit fills the picture as it fills LeNet-5's rather than sitting small in a black field."""
    side = min(height, width)
    if side <= 32:
        return MNIST_FIELD, MNIST_BOX
    return round(side * MNIST_FIELD / 32), round(side * MNIST_BOX / 32)


@dataclass(frozen=True)
class InputSpec:
    """What a model's input wants: size, layout, pixel scale, normalisation, polarity.

    The digit is prepared as a white-on-black image with values 0..1; then
    ``value = (pixel · pixel_max − mean) / std`` (after inverting if the model was
    trained on dark digits on a light background).
    """

    height: int = 32
    width: int = 32
    channels: int = 1
    channels_last: bool = False
    batch: int | None = None  # a fixed batch size, None when dynamic
    pixel_max: float = 1.0
    mean: float = 0.1307
    std: float = 0.3081
    invert: bool = False
    field: int = MNIST_FIELD
    box: int = MNIST_BOX

    def with_overrides(self, **changes) -> "InputSpec":
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    def tensor_shape(self, n: int = 1) -> tuple[int, ...]:
        if self.channels_last:
            return (n, self.height, self.width, self.channels)
        return (n, self.channels, self.height, self.width)


LENET5_SPEC = InputSpec()


@dataclass
class Prepared:
    """One digit ready for the network."""

    field: np.ndarray  # MNIST-style field (28×28), white ink on black, 0..1
    network_view: np.ndarray  # H×W image the network receives, before normalisation, 0..1
    tensor: np.ndarray  # 1×C×H×W (or 1×H×W×C) float32, normalised


# --- strokes ---------------------------------------------------------------------


def _points(strokes) -> tuple[np.ndarray, np.ndarray]:
    """Every usable point as one (n, 2) float64 array, with the index of its stroke.

    One array for the whole drawing, so that each later step is a handful of numpy
    calls however many strokes there are: for a digit, numpy's per-call overhead,
    not arithmetic, is what costs.
    """
    strokes = strokes if type(strokes) is list else list(strokes)
    lengths = [len(s) for s in strokes]
    total = sum(lengths)
    try:
        if set(map(len, chain.from_iterable(strokes))) - {2}:
            raise ValueError
        flat = np.fromiter(chain.from_iterable(chain.from_iterable(strokes)), np.float64, 2 * total).reshape(-1, 2)
    except (ValueError, TypeError, OverflowError):  # arrays or odd rows: one stroke at a time
        arrays = [np.asarray(s, dtype=np.float64).reshape(-1, 2) for s in strokes]
        lengths = [len(a) for a in arrays]
        flat = np.concatenate(arrays) if arrays else np.zeros((0, 2))
    if len(lengths) == 1:
        stroke_ids = np.zeros(len(flat), dtype=np.int64)
    else:
        stroke_ids = np.repeat(np.arange(len(lengths)), lengths)
    ok = np.abs(flat) < MAX_COORDINATE  # False for NaN too
    if ok.all():
        return flat, stroke_ids
    ok = ok.all(axis=1)
    return flat[ok], stroke_ids[ok]


def _stroke_ends(stroke_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Masks of the first and the last point of each stroke."""
    n = len(stroke_ids)
    first = np.ones(n, dtype=bool)
    first[1:] = stroke_ids[1:] != stroke_ids[:-1]
    last = np.ones(n, dtype=bool)
    last[:-1] = first[1:]
    return first, last


def _decimate(points: np.ndarray, stroke_ids: np.ndarray, min_step: float) -> tuple[np.ndarray, np.ndarray]:
    """Keep one point per ``min_step`` of path length, and every stroke's ends.

    A mouse reports far more points than matter at 28×28; fewer points keep a
    100,000-point stroke cheap.
    """
    if len(points) < 3:
        return points, stroke_ids
    first, last = _stroke_ends(stroke_ids)
    step = points[1:] - points[:-1]
    travel = np.sqrt(step[:, 0] ** 2 + step[:, 1] ** 2)
    travel[first[1:]] = 0.0  # no travel from one stroke to the next
    bucket = np.floor(np.concatenate(([0.0], np.cumsum(travel))) / min_step)
    keep = first | last
    keep[1:] |= bucket[1:] > bucket[:-1]
    return points[keep], stroke_ids[keep]


def _pieces(points: np.ndarray, stroke_ids: np.ndarray, max_step: float, smooth: bool) -> np.ndarray:
    """The strokes as short line pieces, (m, 2, 2), none longer than about ``max_step``.

    With ``smooth``, each segment follows a Catmull-Rom spline through its
    neighbours: pen tablets and slow mice give sparse points, and straight lines
    between them make corners that a pen never drew. A one-point stroke is a
    zero-length piece (a dot).
    """
    n = len(points)
    first, last = _stroke_ends(stroke_ids)
    dots = points[first & last]
    seg = np.flatnonzero(~last)  # segment from point i to i + 1, within one stroke
    a, b = points[seg], points[seg + 1]
    chord = b - a
    counts = np.maximum(1, np.ceil(np.sqrt(chord[:, 0] ** 2 + chord[:, 1] ** 2) / max_step)).astype(np.int64)
    total = int(counts.sum())
    if total > MAX_PIECES:
        # A scribble this long covers its box many times over: every k-th segment
        # draws the same picture, in bounded time and memory.
        keep = slice(None, None, int(math.ceil(total / MAX_PIECES)))
        seg, a, b, chord, counts = seg[keep], a[keep], b[keep], chord[keep], counts[keep]
        total = int(counts.sum())
    which = np.repeat(np.arange(len(seg)), counts)
    k = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    t = ((k + 1) / counts[which])[:, None]  # where each piece ends along its segment
    p1, p2 = a[which], b[which]
    if smooth:
        # Neighbours, repeating a stroke's end point where there is none.
        before = np.where(first[seg], seg, seg - 1)
        after = np.where(last[np.minimum(seg + 1, n - 1)], seg + 1, np.minimum(seg + 2, n - 1))
        p0, p3 = points[before][which], points[after][which]
        ends = 0.5 * (
            2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t * t + (3 * p1 - p0 - 3 * p2 + p3) * t * t * t
        )
    else:
        ends = p1 + (p2 - p1) * t
    starts = np.empty_like(ends)
    starts[1:] = ends[:-1]
    starts[k == 0] = p1[k == 0]
    pieces = np.stack([starts, ends], axis=1)
    if len(dots):
        pieces = np.concatenate([pieces, np.stack([dots, dots], axis=1)])
    return pieces


def rasterize_segments(
    segments: np.ndarray, height: int, width: int, thickness: float, softness: float = STROKE_SOFTNESS
) -> np.ndarray:
    """Anti-aliased rendering of line segments (pixel coordinates, pixel centres at +0.5).

    Each pixel's value comes from its distance to the nearest segment: 1 inside
    the stroke, a linear ramp ``softness`` pixels wide across its edge, 0 outside.
    """
    segments = np.asarray(segments, dtype=np.float64).reshape(-1, 2, 2)
    first_points = segments[:, 0]
    ids = np.arange(len(segments))
    # Each segment as a two-point stroke, cut into short pieces.
    points = np.stack([first_points, segments[:, 1]], axis=1).reshape(-1, 2)
    pieces = _pieces(points, np.repeat(ids, 2), SEGMENT_MAX, smooth=False)
    return _rasterize_pieces(pieces, height, width, thickness, softness)


def _rasterize_pieces(pieces: np.ndarray, height: int, width: int, thickness: float, softness: float) -> np.ndarray:
    out = np.zeros((height, width), dtype=np.float32)
    for start in range(0, len(pieces), 20_000):  # bounded memory
        np.maximum(out, _rasterize_windows(pieces[start : start + 20_000], height, width, thickness, softness), out=out)
    return out


def _rasterize_windows(seg: np.ndarray, height: int, width: int, thickness: float, softness: float) -> np.ndarray:
    """Each short piece touches only a small window of pixels around it.

    Written as few whole-array numpy operations as possible: for the few hundred
    pieces of a digit, each operation's fixed cost outweighs its arithmetic.
    """
    if len(seg) == 0:
        return np.zeros((height, width), dtype=np.float32)
    seg = seg.astype(np.float32)
    a = seg[:, 0, :]
    ab = seg[:, 1, :] - a
    len2 = (ab * ab).sum(axis=1)
    # A pixel centre within reach of a piece is at most reach + L/2 from its
    # midpoint, so offsets −half..half around the midpoint's pixel cover them all.
    reach = thickness / 2 + softness / 2
    half = int(math.ceil(reach + math.sqrt(float(len2.max())) / 2 - 0.5))
    steps = np.arange(2 * half + 1)
    corner = np.floor(a + ab / 2) - half  # (S, 2): the window's first pixel
    # Pixel centres relative to the piece's start, per axis: (S, K).
    centres = (steps + 0.5).astype(np.float32)
    gx = corner[:, 0:1] + centres - a[:, 0:1]
    gy = corner[:, 1:2] + centres - a[:, 1:2]
    inv = np.where(len2 > 0, 1.0 / np.maximum(len2, 1e-12), 0.0).astype(np.float32)
    abx, aby = ab[:, 0], ab[:, 1]
    # Position of the nearest point along the piece, clamped to its ends: (S, K, K).
    t = (gy * (aby * inv)[:, None])[:, :, None] + (gx * (abx * inv)[:, None])[:, None, :]
    np.clip(t, 0.0, 1.0, out=t)
    dx = gx[:, None, :] - t * abx[:, None, None]
    dy = gy[:, :, None] - t * aby[:, None, None]
    value = (reach - np.sqrt(dx * dx + dy * dy)) * (1.0 / softness)
    np.clip(value, 0.0, 1.0, out=value)
    # Flat pixel index; pixels outside the image go to one spare slot at the end.
    ix = corner[:, 0:1].astype(np.int64) + steps  # (S, K)
    iy = corner[:, 1:2].astype(np.int64) + steps
    outside = height * width
    col = np.where((ix >= 0) & (ix < width), ix, -outside - 1)
    row = np.where((iy >= 0) & (iy < height), iy * width, -outside - 1)
    flat = row[:, :, None] + col[:, None, :]
    flat = np.where(flat >= 0, flat, outside)
    out = np.zeros(outside + 1, dtype=np.float32)
    np.maximum.at(out, flat.ravel(), value.ravel())
    return out[:outside].reshape(height, width)


def render_strokes(
    strokes,
    field: int = MNIST_FIELD,
    box: int = MNIST_BOX,
    thickness: float = STROKE_THICKNESS,
    softness: float = STROKE_SOFTNESS,
    smooth: bool = True,
    draw=None,
) -> np.ndarray | None:
    """Strokes (canvas pixels, y down) → MNIST-style field, or None if there is no ink.

    The ink box (stroke centre lines plus the rendered thickness) is scaled to fit
    ``box`` with the aspect ratio kept, then shifted so that the centre of mass of
    the rendered ink lands in the middle of the ``field``. The pixels are OpenCV's
    (``_render_opencv``); ``draw`` renders with another function instead, e.g.
    ``draw_distance_ramp``, the numpy renderer the shipped model was trained with.
    """
    points, stroke_ids = _points(strokes)
    if not len(points):
        return None
    lo, hi = points.min(axis=0), points.max(axis=0)
    (x0, y0), (x1, y1) = lo.tolist(), hi.tolist()  # plain floats: a handful of numbers
    extent = max(x1 - x0, y1 - y0)
    inner = max(box - thickness, 1.0)  # the centre lines' box, so the ink box is `box`
    mid = field / 2.0
    if extent <= MIN_EXTENT:  # a dot, however many points it was drawn with (and no overflow)
        placed, stroke_ids, scale = np.full((1, 2), mid), stroke_ids[:1], 0.0
    else:
        scale = inner / extent
        placed = (points - np.array([(x0 + x1) / 2, (y0 + y1) / 2])) * scale + mid
    placed, stroke_ids, curved = _path(placed, stroke_ids, smooth)
    if curved:  # a spline may bulge beyond the points' box
        bounds = placed.min(axis=0).tolist() + placed.max(axis=0).tolist()
    else:
        hx, hy = (x1 - x0) * scale / 2, (y1 - y0) * scale / 2
        bounds = [mid - hx, mid - hy, mid + hx, mid + hy]
    if stroke_ids[-1] == stroke_ids[0]:
        starts = _NO_STARTS
    else:
        starts = np.flatnonzero(stroke_ids[1:] != stroke_ids[:-1]) + 1
    # Keep the whole ink box inside the field: a lopsided digit is never clipped.
    half = ((x1 - x0) * scale / 2 + thickness / 2, (y1 - y0) * scale / 2 + thickness / 2)
    limit = ((half[0] - mid, mid - half[0]), (half[1] - mid, mid - half[1])) if max(half) <= mid else None
    if draw is None:
        return _render_opencv(placed, starts, field, thickness, softness, limit, bounds)
    # Another renderer (for comparisons): draw, find the centre of mass, draw again moved by it.
    img = draw(placed, starts, field, thickness, softness)
    total = float(img.sum())
    if total <= 0:
        return None
    xs, ys = _pixel_centres(field)
    shift = np.array([mid - float((img * xs).sum()) / total, mid - float((img * ys).sum()) / total])
    if limit is not None:
        shift = np.array([min(max(v, lo_), hi_) for v, (lo_, hi_) in zip(shift.tolist(), limit)])
    return draw(placed + shift, starts, field, thickness, softness)


_NO_STARTS = np.zeros(0, dtype=np.int64)


def _render_opencv(placed, starts, field, thickness, softness, limit, bounds) -> np.ndarray | None:
    """The field with OpenCV in one drawing: the distance map of the centre lines
    placed by their box, its ink's centre of mass, then the map resampled
    (bilinear: distances vary smoothly) so that this centre lands in the middle."""
    import cv2

    s = SUPERSAMPLE
    reach = thickness / 2 + softness / 2
    # The map covers the centre lines and a margin beyond the ink's reach: further out
    # every pixel is background, which the border replication below gives.
    margin = reach + 1.0
    ox, oy = bounds[0] - margin, bounds[1] - margin
    width = math.ceil((bounds[2] - bounds[0] + 2 * margin) * s)
    height = math.ceil((bounds[3] - bounds[1] + 2 * margin) * s)
    distance = _distance_map(placed - np.array([ox, oy]), starts, width, height)
    # The ramp, 1 inside the stroke and 0 beyond its reach, as cv2.threshold's truncations.
    ramp = distance * (-1.0 / (s * softness))
    ramp += reach / softness
    m = cv2.moments(cv2.threshold(cv2.threshold(ramp, 1.0, 1.0, cv2.THRESH_TRUNC)[1], 0.0, 0.0, cv2.THRESH_TOZERO)[1])
    if m["m00"] <= 0:
        return None
    # Fine pixel j is at field coordinate origin + (j + 0.5) / s.
    mid = field / 2.0
    sx = mid - ox - (m["m10"] / m["m00"] + 0.5) / s
    sy = mid - oy - (m["m01"] / m["m00"] + 0.5) / s
    if limit is not None:
        (x_lo, x_hi), (y_lo, y_hi) = limit
        sx, sy = min(max(sx, x_lo), x_hi), min(max(sy, y_lo), y_hi)
    # Field pixel i samples the map at fine pixel s·(i + 0.5 − shift − origin) − 0.5.
    warp = np.array([[s, 0.0, s * (0.5 - sx - ox) - 0.5], [0.0, s, s * (0.5 - sy - oy) - 0.5]])
    value = cv2.warpAffine(ramp, warp, (field, field), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_REPLICATE)
    np.minimum(value, 1.0, out=value)
    return np.maximum(value, 0.0, out=value)


def _path(points: np.ndarray, stroke_ids: np.ndarray, smooth: bool) -> tuple[np.ndarray, np.ndarray, bool]:
    """The centre lines as points close enough together to be drawn straight.

    With ``smooth``, segments longer than ``SEGMENT_MAX`` (pen tablets and slow
    mice give sparse points) follow a Catmull-Rom spline through their
    neighbours; a mouse's dense points are kept as they are. A scribble of more
    than ``MAX_PATH_POINTS`` is thinned first (every k-th point of a path that
    covers its box many times over draws the same picture). The flag says whether
    the spline added points (which may lie outside the points' box).
    """
    if len(points) > MAX_PATH_POINTS:
        points, stroke_ids = _decimate(points, stroke_ids, SEGMENT_MIN)
        if len(points) > MAX_PATH_POINTS:
            first, last = _stroke_ends(stroke_ids)
            keep = first | last
            keep[:: int(math.ceil(len(points) / MAX_PATH_POINTS))] = True
            points, stroke_ids = points[keep], stroke_ids[keep]
    if len(points) < 2:
        return points, stroke_ids, False
    step = points[1:] - points[:-1]
    step2 = np.einsum("ij,ij->i", step, step)
    one_stroke = stroke_ids[-1] == stroke_ids[0]
    same = None if one_stroke else stroke_ids[1:] == stroke_ids[:-1]
    resting = step2 == 0 if one_stroke else (step2 == 0) & same
    if resting.any():  # a pen resting on one spot: a stroke of one point is a dot
        keep = np.concatenate(([True], ~resting))
        points, stroke_ids = points[keep], stroke_ids[keep]
        return _path(points, stroke_ids, smooth)
    if not smooth:
        return points, stroke_ids, False
    long = step2 > SEGMENT_MAX * SEGMENT_MAX
    if not one_stroke:
        long &= same
    if not long.any():
        return points, stroke_ids, False
    if float(np.ceil(np.sqrt(step2[long]) / SEGMENT_MAX).sum()) > MAX_PIECES:
        return points, stroke_ids, False  # a huge sparse scribble: straight segments, in bounded time
    ends, ids = _spline_points(points, stroke_ids, SEGMENT_MAX)
    first = np.ones(len(stroke_ids), dtype=bool)
    first[1:] = stroke_ids[1:] != stroke_ids[:-1]
    merged = np.concatenate([points[first], ends])
    ids = np.concatenate([stroke_ids[first], ids])
    order = np.argsort(ids, kind="stable")  # each stroke's first point, then the ends of its pieces
    return merged[order], ids[order], True


def _spline_points(points: np.ndarray, stroke_ids: np.ndarray, max_step: float) -> tuple[np.ndarray, np.ndarray]:
    """Where each piece of each segment ends, on the Catmull-Rom spline (as ``_pieces``), with its stroke."""
    n = len(points)
    first, last = _stroke_ends(stroke_ids)
    seg = np.flatnonzero(~last)
    a, b = points[seg], points[seg + 1]
    chord = b - a
    counts = np.maximum(1, np.ceil(np.sqrt(chord[:, 0] ** 2 + chord[:, 1] ** 2) / max_step)).astype(np.int64)
    which = np.repeat(np.arange(len(seg)), counts)
    k = np.arange(len(which)) - np.repeat(np.cumsum(counts) - counts, counts)
    t = ((k + 1) / counts[which])[:, None]
    p1, p2 = a[which], b[which]
    before = np.where(first[seg], seg, seg - 1)
    after = np.where(last[np.minimum(seg + 1, n - 1)], seg + 1, np.minimum(seg + 2, n - 1))
    p0, p3 = points[before][which], points[after][which]
    ends = 0.5 * (
        2 * p1 + (p2 - p0) * t + (2 * p0 - 5 * p1 + 4 * p2 - p3) * t * t + (3 * p1 - p0 - 3 * p2 + p3) * t * t * t
    )
    return ends, stroke_ids[seg][which]


def draw_distance_ramp(points, starts, field, thickness=STROKE_THICKNESS, softness=STROKE_SOFTNESS) -> np.ndarray:
    """The numpy renderer the shipped model was trained with: a ramp of each pixel
    centre's distance to the nearest short piece of centre line (exact, slower)."""
    ids = np.zeros(len(points), dtype=np.int64)
    ids[starts] = 1
    ids = np.cumsum(ids)
    pieces = _pieces(*_decimate(points, ids, SEGMENT_MIN), SEGMENT_MAX, smooth=False)
    return _rasterize_pieces(pieces, field, field, thickness, softness)


def _distance_map(points, starts, width: int, height: int) -> np.ndarray:
    """Every fine pixel's distance (in fine pixels) to the nearest centre line;
    ``points`` in field pixels from the map's corner.

    The centre lines are drawn one pixel wide (``cv2.polylines``, sub-pixel
    coordinates) on a grid ``SUPERSAMPLE`` times finer than the field, and
    ``cv2.distanceTransform`` measures from them. Crossings and near misses come
    out as the nearest line says (not summed), as in the numpy renderer the model
    was trained with; rounding the lines to the fine grid is the difference.
    """
    import cv2

    s = SUPERSAMPLE
    img = np.full((height, width), 255, dtype=np.uint8)
    fixed = (points * (s * 16) - 8).astype(np.int32)  # 4 fraction bits; fine pixel centres at +0.5
    chains = np.split(fixed, starts) if len(starts) else [fixed]
    cv2.polylines(img, chains, False, 0, 1, cv2.LINE_8, 4)
    if any(len(c) == 1 for c in chains):
        _stamp_dots(img, chains, 0)  # OpenCV draws nothing for a one-point polyline
    return cv2.distanceTransform(img, cv2.DIST_L2, DISTANCE_MASK)


def draw_opencv(points, starts, field, thickness=STROKE_THICKNESS, softness=STROKE_SOFTNESS) -> np.ndarray:
    """The shipped renderer's pixels for strokes already in place (no centring)."""
    s = SUPERSAMPLE
    distance = _distance_map(points, starts, field * s, field * s)[s // 2 :: s, s // 2 :: s]
    value = (thickness / 2 + softness / 2 - distance * (1.0 / s)) * (1.0 / softness)
    return np.clip(value, 0.0, 1.0, out=value)


def _stamp_dots(img: np.ndarray, chains, value: int) -> None:
    height, width = img.shape
    for c in chains:
        if len(c) == 1:
            x, y = ((c[0] + 8) >> 4).tolist()
            if 0 <= x < width and 0 <= y < height:
                img[y, x] = value


@functools.lru_cache(maxsize=8)
def _pixel_centres(size: int) -> tuple[np.ndarray, np.ndarray]:
    ys, xs = np.mgrid[0:size, 0:size].astype(np.float32) + 0.5
    return xs, ys


# --- images ----------------------------------------------------------------------


def load_image(path: str | os.PathLike) -> np.ndarray:
    """An image file → float32 grey image, white ink on black, 0..1.

    PNG, JPEG, BMP and whatever else Pillow reads; any size; alpha handled;
    dark-on-light or light-on-dark detected from the border.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    name = path.name
    if not path.exists():
        raise ImageError(f"Image file not found: {path}")
    if path.is_dir():
        raise ImageError(f"{path} is a folder, not an image")
    if path.stat().st_size == 0:
        raise ImageError(f"{name}: the image file is empty")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                if im.width * im.height > IMAGE_MAX_PIXELS:
                    raise ImageError(
                        f"{name}: the image is too large ({im.width}×{im.height} pixels; at most "
                        f"{IMAGE_MAX_PIXELS // 1_000_000} megapixels)"
                    )
                im.draft("RGB", (IMAGE_MAX_SIDE, IMAGE_MAX_SIDE))  # JPEG decodes at reduced size
                im.load()
                return image_to_grey(im)
    except ImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Pillow refuses to open images far beyond its pixel limit; say it our way.
        raise ImageError(
            f"{name}: the image is too large (at most {IMAGE_MAX_PIXELS // 1_000_000} megapixels)"
        ) from exc
    except UnidentifiedImageError as exc:
        raise ImageError(f"{name}: not a readable image ({_first_line(exc)})") from exc
    except (OSError, ValueError, SyntaxError, MemoryError) as exc:
        raise ImageError(f"{name}: the image is damaged or truncated ({_first_line(exc)})") from exc


def image_to_grey(im) -> np.ndarray:
    """A Pillow image → white-on-black grey float32 in 0..1 (alpha and polarity handled)."""
    from PIL import Image

    if max(im.size) > IMAGE_MAX_SIDE:
        im = im.copy()
        im.thumbnail((IMAGE_MAX_SIDE, IMAGE_MAX_SIDE), Image.Resampling.BOX)
    has_alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
    rgba = np.asarray(im.convert("RGBA"), dtype=np.float32) / 255.0
    lum = rgba[..., :3] @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    if has_alpha:
        alpha = rgba[..., 3]
        if alpha.min() < 0.99:
            opaque = alpha > 0.5
            # Ink on a transparent background: the opaque pixels are the ink, so the
            # alpha channel is the digit (dark or light ink alike).
            if opaque.any() and (~opaque).mean() > 0.3:
                ink_is_dark = float(lum[opaque].mean()) < 0.5
                ink = alpha * ((1.0 - lum) if ink_is_dark else lum)
                return _normalise_ink(ink)
            lum = lum * alpha + (1.0 - alpha) * 1.0  # otherwise composite over white
    return _normalise_ink(_to_white_on_black(lum))


def _to_white_on_black(lum: np.ndarray) -> np.ndarray:
    border = np.concatenate([lum[0, :], lum[-1, :], lum[:, 0], lum[:, -1]])
    return 1.0 - lum if float(np.median(border)) > 0.5 else lum


def _normalise_ink(ink: np.ndarray) -> np.ndarray:
    """Background to 0, strongest ink to 1."""
    border = np.concatenate([ink[0, :], ink[-1, :], ink[:, 0], ink[:, -1]])
    background = float(np.median(border))
    ink = ink - background
    peak = float(ink.max())
    if peak < 0.08:  # a blank page, or noise: no digit
        return np.zeros_like(ink, dtype=np.float32)
    return np.clip(ink / peak, 0.0, 1.0).astype(np.float32)


def image_to_field(ink: np.ndarray, field: int = MNIST_FIELD, box: int = MNIST_BOX) -> np.ndarray | None:
    """White-on-black 0..1 image → MNIST-style field, or None when it holds no ink."""
    from PIL import Image

    ink = np.asarray(ink, dtype=np.float32)
    mask = ink > 0.2
    if not mask.any():
        return None
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    crop = ink[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    h, w = crop.shape
    scale = box / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    resized = np.asarray(Image.fromarray(crop, mode="F").resize((nw, nh), Image.Resampling.LANCZOS))
    resized = np.clip(resized, 0.0, 1.0)
    # Place at the centre, then move by the centre of mass with a sub-pixel shift.
    canvas = np.zeros((field, field), dtype=np.float32)
    top, left = (field - nh) // 2, (field - nw) // 2
    canvas[top : top + nh, left : left + nw] = resized
    total = float(canvas.sum())
    if total <= 0:
        return None
    ys, xs = np.mgrid[0:field, 0:field]
    cy = (canvas * (ys + 0.5)).sum() / total
    cx = (canvas * (xs + 0.5)).sum() / total
    dy = np.clip(field / 2 - cy, -top, field - (top + nh))
    dx = np.clip(field / 2 - cx, -left, field - (left + nw))
    shifted = Image.fromarray(canvas, mode="F").transform(
        (field, field), Image.Transform.AFFINE, (1, 0, -dx, 0, 1, -dy), resample=Image.Resampling.BILINEAR
    )
    return np.clip(np.asarray(shifted, dtype=np.float32), 0.0, 1.0)


# --- the network's input ---------------------------------------------------------------


def field_to_view(field_img: np.ndarray, spec: InputSpec) -> np.ndarray:
    """Place the MNIST field in the model's input size (LeNet-5: pad 28 → 32)."""
    h, w = spec.height, spec.width
    f = field_img.shape[0]
    if h >= f and w >= f:
        view = np.zeros((h, w), dtype=np.float32)
        top, left = (h - f) // 2, (w - f) // 2
        view[top : top + f, left : left + f] = field_img
        return view
    from PIL import Image

    small = Image.fromarray(field_img.astype(np.float32), mode="F").resize((w, h), Image.Resampling.BILINEAR)
    return np.clip(np.asarray(small, dtype=np.float32), 0.0, 1.0)


def view_to_tensor(view: np.ndarray, spec: InputSpec) -> np.ndarray:
    """Normalise and lay out one H×W view as the model's 1-item batch."""
    x = 1.0 - view if spec.invert else view
    x = (x.astype(np.float32) * spec.pixel_max - spec.mean) / spec.std
    if spec.channels_last:
        t = np.repeat(x[None, :, :, None], spec.channels, axis=3)
    else:
        t = np.repeat(x[None, None, :, :], spec.channels, axis=1)
    return np.ascontiguousarray(t, dtype=np.float32)


def prepare_field(field_img: np.ndarray | None, spec: InputSpec = LENET5_SPEC) -> Prepared | None:
    if field_img is None:
        return None
    view = field_to_view(field_img, spec)
    return Prepared(field_img, view, view_to_tensor(view, spec))


def prepare_drawing(drawing: Drawing, spec: InputSpec = LENET5_SPEC) -> Prepared | None:
    """A drawing → the network's input; None for an empty drawing (nothing to predict)."""
    return prepare_field(render_strokes(drawing.strokes, spec.field, spec.box), spec)


def prepare_image(path: str | os.PathLike, spec: InputSpec = LENET5_SPEC) -> Prepared | None:
    """An image file → the network's input; None when the image holds no ink."""
    return prepare_field(image_to_field(load_image(path), spec.field, spec.box), spec)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().split("\n")[0]
    return text[:120] if text else type(exc).__name__
