"""The stroke renderers compared for preprocessing, side by side.

Each candidate draws the same thing: the drawing's centre lines, already placed
in the 28×28 field (field pixels, pixel centres at +0.5), as a round-capped,
round-joined line of ``STROKE_THICKNESS`` pixels with anti-aliased edges, into
a float32 image in 0..1. The placement, the smoothing and everything else
around the drawing is the shipped code (``preprocess.render_strokes(draw=...)``:
draw, find the centre of mass, draw again moved by it), so the renderers differ
only in how the pixels are made. Each is used at its best here: sub-pixel
coordinates, and the supersampling factor that fits its line-width rules. The
shipped renderer (``draw=None``) draws once and moves its distance map instead.

Libraries that are not installed are skipped with the reason.
"""

from __future__ import annotations

import numpy as np

from lenet_gui.core import preprocess

THICKNESS = preprocess.STROKE_THICKNESS
FIELD = preprocess.MNIST_FIELD


def _chains(points, starts):
    return np.split(points, starts) if len(starts) else [points]


def opencv_polylines_aa(points, starts, field=FIELD, *_, supersample=4):
    """``cv2.polylines`` with LINE_AA on a 4× canvas (sub-pixel shift), then area-averaged."""
    import cv2

    n = field * supersample
    img = np.zeros((n, n), np.uint8)
    scale = supersample * 16
    pts = [np.round(c * scale - 8).astype(np.int32) for c in _chains(points, starts)]
    # OpenCV's thickness is an integer and draws about 1.7 px wider with LINE_AA.
    cv2.polylines(img, pts, False, 255, int(round(THICKNESS * supersample)) - 2, cv2.LINE_AA, 4)
    return cv2.resize(img, (field, field), interpolation=cv2.INTER_AREA).astype(np.float32) * (1 / 255)


def opencv_capsules(points, starts, field=FIELD, *_, supersample=4):
    """Each segment's capsule as ``cv2.fillConvexPoly`` + ``cv2.circle`` on a 4× canvas, area-averaged."""
    import cv2

    n = field * supersample
    img = np.zeros((n, n), np.uint8)
    r = THICKNESS * supersample / 2
    for c in _chains(points, starts):
        p = c * supersample - 0.5
        for (x0, y0), (x1, y1) in zip(p[:-1], p[1:]):
            dx, dy = x1 - x0, y1 - y0
            length = (dx * dx + dy * dy) ** 0.5
            if length > 1e-9:
                nx, ny = -dy / length * r, dx / length * r
                quad = np.array([[x0 + nx, y0 + ny], [x1 + nx, y1 + ny], [x1 - nx, y1 - ny], [x0 - nx, y0 - ny]])
                cv2.fillConvexPoly(img, np.round(quad * 16).astype(np.int32), 255, cv2.LINE_8, 4)
        for x, y in p:
            cv2.circle(img, (int(round(x * 16)), int(round(y * 16))), int(round(r * 16)), 255, -1, cv2.LINE_8, 4)
    return cv2.resize(img, (field, field), interpolation=cv2.INTER_AREA).astype(np.float32) * (1 / 255)


def skia_path(points, starts, field=FIELD, *_):
    """skia-python: one stroked path (round caps and joins, exact fractional width), AA, 8-bit alpha."""
    import skia

    img = np.zeros((field, field), np.uint8)
    surface = skia.Surface(img, colorType=skia.kAlpha_8_ColorType)
    canvas = surface.getCanvas()
    paint = skia.Paint(AntiAlias=True, Style=skia.Paint.kStroke_Style, StrokeWidth=THICKNESS,
                       StrokeCap=skia.Paint.kRound_Cap, StrokeJoin=skia.Paint.kRound_Join)
    path = skia.Path()
    for c in _chains(points, starts):
        pts = [skia.Point(x, y) for x, y in c.tolist()]
        if len(pts) == 1:
            pts = pts * 2
        path.addPoly(pts, False)
    canvas.drawPath(path, paint)
    return img.astype(np.float32) * (1 / 255)


def cairo_path(points, starts, field=FIELD, *_):
    """cairo (through cairocffi: pycairo has no Linux wheel): one stroked path, round caps and joins, AA."""
    import cairocffi as cairo

    surface = cairo.ImageSurface(cairo.FORMAT_A8, field, field)
    ctx = cairo.Context(surface)
    ctx.set_line_width(THICKNESS)
    ctx.set_line_cap(cairo.LINE_CAP_ROUND)
    ctx.set_line_join(cairo.LINE_JOIN_ROUND)
    for c in _chains(points, starts):
        pts = c.tolist()
        ctx.move_to(*pts[0])
        for x, y in pts[1:] or pts:
            ctx.line_to(x, y)
    ctx.stroke()
    surface.flush()
    stride = surface.get_stride()
    buf = np.frombuffer(surface.get_data(), np.uint8).reshape(field, stride)[:, :field]
    return buf.astype(np.float32) * (1 / 255)


def pillow_supersampled(points, starts, field=FIELD, *_, supersample=4):
    """Pillow ``ImageDraw.line`` (curved joints, round dots at the ends) on a 4× canvas, box-reduced."""
    from PIL import Image, ImageDraw

    n = field * supersample
    im = Image.new("L", (n, n))
    draw = ImageDraw.Draw(im)
    width = int(round(THICKNESS * supersample))
    r = width / 2
    for c in _chains(points, starts):
        pts = [(x, y) for x, y in (c * supersample).tolist()]
        if len(pts) > 1:
            draw.line(pts, fill=255, width=width, joint="curve")
        for x, y in (pts[0], pts[-1]):
            draw.ellipse((x - r, y - r, x + r, y + r), fill=255)
    im = im.reduce(supersample)
    return np.asarray(im, dtype=np.float32) * (1 / 255)


CANDIDATES = {
    "OpenCV distance transform (shipped)": ("cv2", None),
    "numpy distance ramp (shipped before)": ("numpy", preprocess.draw_distance_ramp),
    "OpenCV polylines LINE_AA, 4× supersampled": ("cv2", opencv_polylines_aa),
    "OpenCV fillConvexPoly capsules, 4×": ("cv2", opencv_capsules),
    "skia-python path": ("skia", skia_path),
    "cairo path (cairocffi)": ("cairocffi", cairo_path),
    "Pillow ImageDraw, 4× supersampled": ("PIL", pillow_supersampled),
}


def available() -> tuple[dict, dict]:
    """({name: renderer}, {name: why it is skipped})."""
    import importlib

    ok, skipped = {}, {}
    for name, (module, fn) in CANDIDATES.items():
        try:
            importlib.import_module(module)
        except ImportError as exc:
            skipped[name] = f"{module} not installed ({exc})"
            continue
        ok[name] = fn
    return ok, skipped


def render_with(renderer, strokes):
    """``preprocess.render_strokes`` with this pixel renderer (None: the shipped one)."""
    return preprocess.render_strokes(strokes, draw=renderer)


def reference_cases():
    """(strokes, field) of ``tests/data/reference-fields.npz``: the numpy renderer's fields
    as made by the commit before the OpenCV renderer."""
    from benchmarks.workload import ROOT, pen_digits, resample

    data = np.load(ROOT / "tests" / "data" / "reference-fields.npz")
    digits = pen_digits()
    cases = []
    for field, index, dense in zip(data["fields"], data["index"], data["resampled"]):
        strokes = digits[index].strokes
        cases.append(([resample(s) for s in strokes] if dense else strokes, field.astype(np.float32) / 255.0))
    return cases


def fidelity(renderer, cases) -> tuple[float, float, float]:
    """(mean, worst drawing's mean, worst pixel) absolute difference from the reference fields."""
    means, worst = [], []
    for strokes, old in cases:
        diff = np.abs(render_with(renderer, strokes) - old)
        means.append(float(diff.mean()))
        worst.append(float(diff.max()))
    return float(np.mean(means)), max(means), max(worst)
