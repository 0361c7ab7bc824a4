"""Strokes and images into the network's 32×32 input, the MNIST way."""

import math

import numpy as np
import pytest
from PIL import Image

from lenet_gui.core import preprocess as P
from lenet_gui.core.drawing import Drawing
from lenet_gui.core.errors import ImageError


def ink_box(img, threshold=0.05):
    rows = np.flatnonzero(img.max(axis=1) > threshold)
    cols = np.flatnonzero(img.max(axis=0) > threshold)
    return rows[0], rows[-1], cols[0], cols[-1]


def centre_of_mass(img):
    ys, xs = np.mgrid[0 : img.shape[0], 0 : img.shape[1]]
    return (img * (ys + 0.5)).sum() / img.sum(), (img * (xs + 0.5)).sum() / img.sum()


def circle(cx=140, cy=140, rx=70, ry=100, n=200):
    return [[(cx + rx * math.cos(2 * math.pi * i / n), cy + ry * math.sin(2 * math.pi * i / n)) for i in range(n + 1)]]


def test_ink_box_fits_20_and_centre_of_mass_is_centred():
    field = P.render_strokes(circle())
    top, bottom, left, right = ink_box(field, 0.5)  # the stroke's nominal edge
    assert 19 <= bottom - top + 1 <= 21  # the taller side fills the 20-pixel box
    assert 12 <= right - left + 1 <= 16  # aspect ratio kept (70/100 of the height)
    cy, cx = centre_of_mass(field)
    assert abs(cy - 14) < 0.05 and abs(cx - 14) < 0.05


def test_network_input_is_field_padded_to_32():
    prepared = P.prepare_drawing(Drawing(280, 280, circle()))
    assert prepared.tensor.shape == (1, 1, 32, 32) and prepared.tensor.dtype == np.float32
    assert np.array_equal(prepared.network_view[2:30, 2:30], prepared.field)
    assert prepared.network_view[:2].max() == 0 and prepared.network_view[:, 30:].max() == 0
    background = (0 - 0.1307) / 0.3081
    assert prepared.tensor[0, 0, 0, 0] == pytest.approx(background)


def test_vertical_line_stays_a_thin_line():
    field = P.render_strokes([[(140, 40), (140, 240)]])
    top, bottom, left, right = ink_box(field, 0.5)
    assert bottom - top + 1 >= 18
    assert right - left + 1 <= 4  # not stretched into a blob


def test_empty_and_degenerate_drawings():
    assert P.render_strokes([]) is None
    assert P.render_strokes([[]]) is None
    assert P.prepare_drawing(Drawing()) is None
    dot = P.render_strokes([[(10, 10)]])
    assert dot is not None and 2 <= (dot > 0.5).sum() <= 12
    cy, cx = centre_of_mass(dot)
    assert abs(cy - 14) < 0.1 and abs(cx - 14) < 0.1


def test_size_and_position_do_not_matter():
    small = P.render_strokes([[(x / 10 + 3, y / 10 + 2) for x, y in circle()[0]]])
    big = P.render_strokes([[(x * 40 - 900, y * 40 + 5000) for x, y in circle()[0]]])
    normal = P.render_strokes(circle())
    assert np.abs(small - normal).max() < 1e-3
    assert np.abs(big - normal).max() < 1e-3


def test_ink_touching_the_edge_and_thousands_of_points():
    edge = P.render_strokes([[(0, 0), (0, 280), (280, 280)]])
    assert edge is not None and edge.max() == pytest.approx(1.0)
    many = [[(140 + 100 * math.cos(t / 500), 140 + 100 * math.sin(t / 500)) for t in range(20000)]]
    field = P.render_strokes(many)
    assert field.max() == pytest.approx(1.0)
    assert (field > 0.5).sum() > 100


def test_bad_points_are_dropped_not_fatal():
    strokes = [[(float("nan"), 1), (140, 40), (float("inf"), 3), (140, 240), (1e300, -1e300)]]
    with_junk = P.render_strokes(strokes)
    clean = P.render_strokes([[(140, 40), (140, 240)]])
    assert np.allclose(with_junk, clean)


def _write(tmp_path, name, array, mode="L"):
    path = tmp_path / name
    Image.fromarray(array, mode=mode).save(path)
    return path


def test_images_dark_on_light_and_light_on_dark_give_the_same_digit(tmp_path):
    field = P.render_strokes(circle())
    big = np.kron(field, np.ones((8, 8)))  # 224×224
    light_on_dark = (big * 255).astype(np.uint8)
    dark_on_light = 255 - light_on_dark
    a = P.prepare_image(_write(tmp_path, "a.png", light_on_dark))
    b = P.prepare_image(_write(tmp_path, "b.bmp", dark_on_light))
    c = P.prepare_image(_write(tmp_path, "c.jpg", dark_on_light))
    assert np.abs(a.field - b.field).max() < 1e-4
    assert np.abs(a.field - c.field).max() < 0.15  # JPEG is lossy
    top, bottom, left, right = ink_box(a.field, 0.3)
    assert 18 <= bottom - top + 1 <= 21


def test_alpha_only_ink(tmp_path):
    field = P.render_strokes([[(140, 40), (140, 240)]])
    rgba = np.zeros((28, 28, 4), dtype=np.uint8)
    rgba[..., 3] = (field * 255).astype(np.uint8)  # black ink on a transparent page
    prepared = P.prepare_image(_write(tmp_path, "alpha.png", rgba, "RGBA"))
    assert prepared is not None
    top, bottom, left, right = ink_box(prepared.field, 0.5)
    assert bottom - top >= 15 and right - left <= 5


def test_blank_image_has_no_digit(tmp_path):
    assert P.prepare_image(_write(tmp_path, "white.png", np.full((50, 60), 255, np.uint8))) is None


@pytest.mark.parametrize("content", [b"", b"not an image at all", b"\x89PNG\r\n\x1a\n" + bytes(40)])
def test_unreadable_images(tmp_path, content):
    path = tmp_path / "bad.png"
    path.write_bytes(content)
    with pytest.raises(ImageError) as err:
        P.load_image(path)
    assert "bad.png" in str(err.value) and "\n" not in str(err.value)


def test_truncated_image(tmp_path):
    path = _write(tmp_path, "t.png", (np.random.default_rng(0).random((200, 200)) * 255).astype(np.uint8))
    path.write_bytes(path.read_bytes()[:300])
    with pytest.raises(ImageError, match="t.png"):
        P.load_image(path)


def test_other_input_sizes_and_layouts():
    spec = P.InputSpec(height=28, width=28, channels=3, channels_last=True, mean=0.0, std=1.0, invert=True)
    prepared = P.prepare_drawing(Drawing(280, 280, circle()), spec)
    assert prepared.tensor.shape == (1, 28, 28, 3)
    assert np.array_equal(prepared.tensor[..., 0], prepared.tensor[..., 2])
    assert prepared.tensor.max() == pytest.approx(1.0)  # inverted: background is 1
    tiny = P.prepare_drawing(Drawing(280, 280, circle()), P.InputSpec(height=16, width=16))
    assert tiny.tensor.shape == (1, 1, 16, 16)


def brute_force_raster(segments, size, thickness, softness):
    """Every pixel against every segment: slow, obviously right."""
    ys, xs = np.mgrid[0:size, 0:size] + 0.5
    best = np.full((size, size), np.inf)
    for (ax, ay), (bx, by) in segments:
        abx, aby = bx - ax, by - ay
        len2 = abx * abx + aby * aby or 1.0
        t = np.clip(((xs - ax) * abx + (ys - ay) * aby) / len2, 0, 1)
        best = np.minimum(best, np.hypot(xs - ax - t * abx, ys - ay - t * aby))
    return np.clip((thickness / 2 - best) / softness + 0.5, 0, 1)


@pytest.mark.parametrize("thickness, softness", [(2.4, 1.2), (1.6, 0.8), (3.4, 1.6)])
def test_fast_rasterizer_matches_brute_force(thickness, softness):
    segments = np.random.default_rng(0).random((200, 2, 2)) * 36 - 4  # some off the field
    fast = P.rasterize_segments(segments, 28, 28, thickness, softness)
    assert np.abs(fast - brute_force_raster(segments, 28, thickness, softness)).max() < 1e-5


def test_huge_scribbles_and_vanishing_marks():
    rng = np.random.default_rng(1)
    zigzag = [[(0.0, 0.0) if i % 2 else (280.0, 280.0 * rng.random()) for i in range(100_000)]]
    field = P.render_strokes(zigzag)
    assert field.shape == (28, 28) and np.isfinite(field).all() and field.max() == pytest.approx(1.0)
    same_point = P.render_strokes([[(5.0, 5.0)] * 100_000])
    assert np.allclose(same_point, P.render_strokes([[(5.0, 5.0)]]))
    tiny = P.render_strokes([[(1.0, 1.0), (1.0 + 1e-300, 1.0)]])  # would overflow the scale
    assert np.allclose(tiny, P.render_strokes([[(1.0, 1.0)]]))
