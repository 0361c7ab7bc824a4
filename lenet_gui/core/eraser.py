"""A vector eraser: cut away the parts of strokes that an eraser path passes over.

The eraser is a disc of radius ``r`` dragged along a polyline, so the region it
covers is a union of capsules (a segment widened by ``r``). Every stroke segment
is intersected with those capsules exactly, and what lies inside is removed;
a stroke the eraser crosses falls apart into two strokes. The result is again a
plain list of strokes, so an erased drawing is still a valid ``.strokes.json``.

Pure Python on tuples: a drawing has a few thousand points at most, and the
eraser touches a handful of segments per mouse move.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

Point = tuple[float, float]
Stroke = list[Point]

# Pieces shorter than this (canvas pixels) left between two cuts are dropped:
# they would show as stray dots.
MIN_PIECE_LENGTH = 0.5
_EPS = 1e-12


def _line_disc(p: Point, d: Point, centre: Point, r: float) -> tuple[float, float] | None:
    """Parameters t where p + t·d lies inside the disc (centre, r), or None."""
    fx, fy = p[0] - centre[0], p[1] - centre[1]
    a = d[0] * d[0] + d[1] * d[1]
    c = fx * fx + fy * fy - r * r
    if a < _EPS:  # a point, not a line
        return (-math.inf, math.inf) if c <= 0 else None
    b = 2 * (fx * d[0] + fy * d[1])
    disc = b * b - 4 * a * c
    if disc < 0:
        return None
    root = math.sqrt(disc)
    return (-b - root) / (2 * a), (-b + root) / (2 * a)


def _line_slab(p: Point, d: Point, a: Point, b: Point, r: float) -> tuple[float, float] | None:
    """Parameters t where p + t·d lies in the rectangle around segment ab, half-width r."""
    ux, uy = b[0] - a[0], b[1] - a[1]
    length = math.hypot(ux, uy)
    if length < _EPS:
        return None
    ux, uy = ux / length, uy / length
    # In the segment's frame: along ∈ [0, length], across ∈ [−r, r].
    px, py = p[0] - a[0], p[1] - a[1]
    along0, along_d = px * ux + py * uy, d[0] * ux + d[1] * uy
    across0, across_d = -px * uy + py * ux, -d[0] * uy + d[1] * ux
    lo, hi = -math.inf, math.inf
    for start, rate, low, high in ((along0, along_d, 0.0, length), (across0, across_d, -r, r)):
        if abs(rate) < _EPS:
            if start < low or start > high:
                return None
            continue
        t0, t1 = (low - start) / rate, (high - start) / rate
        if t0 > t1:
            t0, t1 = t1, t0
        lo, hi = max(lo, t0), min(hi, t1)
        if lo > hi:
            return None
    return lo, hi


def segment_capsule_interval(p0: Point, p1: Point, a: Point, b: Point, r: float) -> tuple[float, float] | None:
    """The part of segment p0→p1 (as t ∈ [0, 1]) inside the capsule around a→b with radius r.

    The capsule is convex, so that part is a single interval; it is the hull of
    the line's intersections with the two end discs and the middle rectangle.
    """
    d = (p1[0] - p0[0], p1[1] - p0[1])
    pieces = [_line_disc(p0, d, a, r), _line_disc(p0, d, b, r), _line_slab(p0, d, a, b, r)]
    pieces = [x for x in pieces if x is not None]
    if not pieces:
        return None
    lo = max(0.0, min(x[0] for x in pieces))
    hi = min(1.0, max(x[1] for x in pieces))
    return (lo, hi) if lo < hi else None


def _subtract(intervals: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """[0, 1] minus the union of ``intervals``."""
    kept = []
    cursor = 0.0
    for lo, hi in sorted(intervals):
        if lo > cursor:
            kept.append((cursor, lo))
        cursor = max(cursor, hi)
        if cursor >= 1.0:
            break
    if cursor < 1.0:
        kept.append((cursor, 1.0))
    return kept


def _lerp(p: Point, q: Point, t: float) -> Point:
    if t <= 0.0:
        return p
    if t >= 1.0:
        return q
    return (p[0] + (q[0] - p[0]) * t, p[1] + (q[1] - p[1]) * t)


def _bounds(points: Iterable[Point]) -> tuple[float, float, float, float]:
    xs, ys = zip(*points)
    return min(xs), min(ys), max(xs), max(ys)


def _length(stroke: Sequence[Point]) -> float:
    return sum(math.dist(p, q) for p, q in zip(stroke, stroke[1:]))


def erase(strokes: Sequence[Sequence[Point]], path: Sequence[Point], radius: float,
          min_piece: float = MIN_PIECE_LENGTH) -> list[Stroke]:
    """The strokes with everything within ``radius`` of the eraser ``path`` removed.

    ``path`` is the eraser's centre line (one point for a single dab). A stroke
    the eraser does not touch comes back as the same object; a stroke it
    crosses is split into the pieces on either side, each ending exactly on the
    eraser's edge. A one-point stroke (a dot) goes when its point is covered.
    Empty strokes are dropped.
    """
    if not path or radius <= 0:
        return [s for s in strokes if len(s)]
    eraser = [(float(x), float(y)) for x, y in path]
    capsules = list(zip(eraser, eraser[1:])) or [(eraser[0], eraser[0])]
    ex0, ey0, ex1, ey1 = _bounds(eraser)
    ex0, ey0, ex1, ey1 = ex0 - radius, ey0 - radius, ex1 + radius, ey1 + radius

    result: list[Stroke] = []
    for original in strokes:
        stroke = list(original)
        if not stroke:
            continue
        sx0, sy0, sx1, sy1 = _bounds(stroke)
        # Untouched strokes come back as the very same objects: an undo history
        # that keeps the list before and after an erase then shares them.
        if sx1 < ex0 or sx0 > ex1 or sy1 < ey0 or sy0 > ey1:
            result.append(original)  # nowhere near the eraser
            continue
        if len(stroke) == 1:
            dot = stroke[0]
            if not any(segment_capsule_interval(dot, dot, a, b, radius) for a, b in capsules):
                result.append(original)
            continue
        pieces = _cut_stroke(stroke, capsules, radius)
        if pieces is None:
            result.append(original)
            continue
        result.extend(p for p in pieces if len(p) >= 2 and _length(p) >= min_piece)
    return result


def _cut_stroke(stroke: Stroke, capsules, radius: float) -> list[Stroke] | None:
    """The pieces of a polyline outside the capsules; None when nothing is cut."""
    pieces: list[Stroke] = []
    current: Stroke = [stroke[0]]
    touched = False
    for p, q in zip(stroke, stroke[1:]):
        cuts = []
        for a, b in capsules:
            hit = segment_capsule_interval(p, q, a, b, radius)
            if hit is not None:
                cuts.append(hit)
        if not cuts:
            if not current:  # the previous cut ended exactly on this point
                current = [p]
            current.append(q)
            continue
        touched = True
        kept = _subtract(cuts)
        starts_inside = not kept or kept[0][0] > 0.0
        if starts_inside and len(current) > 1:
            pieces.append(current)
        if starts_inside:
            current = []
        for i, (lo, hi) in enumerate(kept):
            if lo > 0.0:  # re-entering after a cut: a new piece begins on the eraser's edge
                if len(current) > 1:
                    pieces.append(current)
                current = [_lerp(p, q, lo)]
            elif not current:
                current = [p]
            current.append(_lerp(p, q, hi))
            if hi < 1.0:  # leaving into a cut
                pieces.append(current)
                current = []
    if not touched:
        return None
    if len(current) > 1:
        pieces.append(current)
    return pieces
