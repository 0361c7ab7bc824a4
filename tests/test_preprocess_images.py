"""Image files and arrays into the network's input, checked by pixel values.

test_preprocess.py checks that images come out looking like digits; here each
step is pinned down: which pixels count as ink and which as background, where
the digit lands (its centre of mass), what the normalisation and the inversion
for dark-on-light models make of each pixel, and every size and file check on
both sides of its limit.
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from lenet_gui.core import preprocess as P
from lenet_gui.core.errors import ImageError


def centre_of_mass(img):
    ys, xs = np.mgrid[0: img.shape[0], 0: img.shape[1]]
    return (img * (ys + 0.5)).sum() / img.sum(), (img * (xs + 0.5)).sum() / img.sum()


def ink_extent(img, threshold=0.2):
    rows = np.flatnonzero(img.max(axis=1) > threshold)
    cols = np.flatnonzero(img.max(axis=0) > threshold)
    return rows[-1] - rows[0] + 1, cols[-1] - cols[0] + 1


def bilevel_png(path: Path, width: int, height: int) -> Path:
    """A valid all-black 1-bit PNG, written without holding its pixels in memory."""
    row = b"\x00" * (1 + (width + 7) // 8)
    packer = zlib.compressobj(9)
    data = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b""))
    return path


def lopsided_digit() -> np.ndarray:
    """White-on-black ink whose centre of mass is far from the middle of its box: a 'P'-like mark."""
    ink = np.zeros((60, 40), np.float32)
    ink[5:55, 5:9] = 1.0  # the stem
    ink[5:20, 5:25] = 1.0  # a heavy bowl at the top right
    return ink


# ---------------------------------------------------------------------------
# image_to_field: the MNIST recipe on an array


def test_the_centre_of_mass_lands_in_the_middle_of_the_field():
    field = P.image_to_field(lopsided_digit())
    cy, cx = centre_of_mass(field)
    assert abs(cy - 14) < 0.05 and abs(cx - 14) < 0.05
    # ... which is not where the box's centre is: the mass sits high and left in the
    # box, so the box moves down and right by about three pixels and one.
    rows, cols = np.flatnonzero(field.max(axis=1) > 0.2), np.flatnonzero(field.max(axis=0) > 0.2)
    assert (rows[0] + rows[-1] + 1) / 2 > 16.5 and (cols[0] + cols[-1] + 1) / 2 > 14.5


def test_the_long_side_is_scaled_to_the_box_and_the_aspect_kept():
    h, w = ink_extent(P.image_to_field(lopsided_digit()))
    assert 20 <= h <= 21  # 50 rows → 20 (a sub-pixel shift can touch one more)
    assert 8 <= w <= 9  # 20 columns → 8
    wide = np.zeros((30, 90), np.float32)
    wide[10:20, 5:85] = 1.0  # 80 × 10 → 20 × 2.5
    h, w = ink_extent(P.image_to_field(wide))
    assert 20 <= w <= 21 and 2 <= h <= 4
    h, w = ink_extent(P.image_to_field(lopsided_digit(), field=40, box=30), 0.5)
    assert 29 <= h <= 31 and 11 <= w <= 13


def test_only_ink_above_the_threshold_sets_the_box():
    clean = lopsided_digit()
    speck = clean.copy()
    speck[58, 38] = 0.2  # faint dirt far from the digit: not ink
    assert np.array_equal(P.image_to_field(speck), P.image_to_field(clean))
    speck[58, 38] = 0.25  # strong enough to count: the box grows to reach it
    assert not np.allclose(P.image_to_field(speck), P.image_to_field(clean), atol=0.05)


def test_no_ink_is_no_digit_and_a_faint_mark_is_one():
    assert P.image_to_field(np.zeros((20, 20), np.float32)) is None
    assert P.image_to_field(np.full((20, 20), 0.2, np.float32)) is None  # 0.2 is the background's edge
    faint = np.zeros((20, 20), np.float32)
    faint[5:15, 9:11] = 0.21
    field = P.image_to_field(faint)
    assert field is not None and field.shape == (28, 28) and field.dtype == np.float32


def test_a_hairline_still_becomes_a_line():
    hair = np.zeros((40, 100), np.float32)
    hair[20, 10:90] = 1.0  # 80 × 1: scaled to 20 × 0.25, kept at one pixel
    field = P.image_to_field(hair)
    h, w = ink_extent(field, 0.1)
    assert 20 <= w <= 21 and h <= 3
    assert field[:, 14].sum() == pytest.approx(1.0, abs=0.05)  # one pixel of ink per column
    upright = P.image_to_field(hair.T.copy())
    assert upright[14, :].sum() == pytest.approx(1.0, abs=0.05)
    dot = np.zeros((9, 9), np.float32)
    dot[4, 4] = 1.0  # a single pixel fills the 20-pixel box
    h, w = ink_extent(P.image_to_field(dot))
    assert 19 <= h <= 21 and 19 <= w <= 21


@pytest.mark.parametrize("corner", ["top left", "bottom right"])
def test_the_clip_holds_on_both_sides(corner):
    ink = np.zeros((50, 50), np.float32)
    ink[0:50, 0] = ink[0, 0:50] = 1.0  # an L along the top and left edges, heavy at its corner
    ink[0:8, 0:8] = 1.0
    if corner == "bottom right":
        ink = ink[::-1, ::-1].copy()
    field = P.image_to_field(ink)
    rows, cols = np.flatnonzero(field.max(axis=1) > 0.05), np.flatnonzero(field.max(axis=0) > 0.05)
    assert rows[-1] - rows[0] + 1 >= 20 and cols[-1] - cols[0] + 1 >= 20  # nothing cut off
    if corner == "top left":  # pushed as far as it may go, and no further
        assert rows[-1] == 27 and cols[-1] == 27
    else:
        assert rows[0] == 0 and cols[0] == 0
    assert field.sum() == pytest.approx(P.image_to_field(ink[::-1, ::-1].copy()).sum(), rel=0.02)


# ---------------------------------------------------------------------------
# image_to_grey: polarity, alpha, luminance, normalisation


def grey(array, mode=None):
    return P.image_to_grey(Image.fromarray(np.asarray(array, dtype=np.uint8), mode=mode))


def test_dark_on_light_is_inverted_and_light_on_dark_is_not():
    page = np.full((10, 10), 255, np.uint8)
    page[3:7, 4:6] = 0  # black ink on white paper
    out = grey(page)
    assert out.dtype == np.float32
    assert np.array_equal(out, np.where(page == 0, 1.0, 0.0).astype(np.float32))
    assert np.array_equal(grey(255 - page), out)  # white ink on black: the same digit


def test_background_and_ink_levels_are_normalised():
    page = np.full((10, 10), 200, np.uint8)  # grey paper
    page[3:7, 4:6] = 50  # dark grey ink
    page[5, 5] = 125  # half-way
    out = grey(page)
    assert out[0, 0] == 0.0 and out[3, 4] == pytest.approx(1.0)
    assert out[5, 5] == pytest.approx(0.5, abs=1e-6)


def test_luminance_weights_of_the_three_channels():
    rgb = np.zeros((10, 12, 3), np.uint8)
    rgb[2:8, 1:3, 1] = 255  # green
    rgb[2:8, 5:7, 0] = 255  # red
    rgb[2:8, 9:11, 2] = 255  # blue
    out = grey(rgb)
    assert out[4, 1] == pytest.approx(1.0)
    assert out[4, 5] == pytest.approx(0.299 / 0.587, abs=1e-3)
    assert out[4, 9] == pytest.approx(0.114 / 0.587, abs=1e-3)


def test_a_blank_page_and_faint_noise_are_no_ink():
    assert not grey(np.full((10, 10), 255, np.uint8)).any()
    noise = np.full((10, 10), 255, np.uint8)
    noise[5, 5] = 236  # 19/255 darker than the paper: under 0.08
    assert not grey(noise).any()
    noise[5, 5] = 230  # 25/255 = 0.098: a mark
    out = grey(noise)
    assert out[5, 5] == pytest.approx(1.0) and out.sum() == pytest.approx(1.0)


def test_black_ink_on_a_transparent_page():
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[2:8, 4:6, 3] = 255
    rgba[2:8, 6, 3] = 102  # anti-aliased edge
    out = grey(rgba, "RGBA")
    assert out[4, 4] == pytest.approx(1.0) and out[4, 6] == pytest.approx(0.4) and out[0, 0] == 0.0


def test_white_ink_on_a_transparent_page():
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[..., :3] = 255
    rgba[2:8, 4:6, 3] = 255
    rgba[2:8, 6, 3] = 102
    out = grey(rgba, "RGBA")
    assert out[4, 4] == pytest.approx(1.0) and out[4, 6] == pytest.approx(0.4) and out[0, 0] == 0.0


def test_half_transparent_ink_counts_as_ink_just_above_half():
    # Light ink at alpha 128/255 is the opaque part of the picture, hence the digit;
    # at 127/255 there is nothing opaque, the page is laid over white, and white on
    # white is blank.
    for alpha, has_ink in ((128, True), (127, False)):
        rgba = np.zeros((10, 10, 4), np.uint8)
        rgba[..., :3] = 255
        rgba[2:8, 4:6, 3] = alpha
        out = grey(rgba, "RGBA")
        assert bool(out.any()) == has_ink, alpha
        if has_ink:
            assert out[4, 4] == pytest.approx(1.0) and out[0, 0] == 0.0


@pytest.mark.parametrize(("transparent", "ink_rows"), [(30, True), (31, False)])
def test_a_mostly_opaque_page_is_laid_over_white(transparent, ink_rows):
    # Black opaque pixels with the top three rows (30 of 100 pixels) transparent: no
    # more than 30 % transparent is a page with holes, laid over white, so the holes
    # are the light part; more is ink on a transparent page, and the ink here covers
    # the border, so it is the background: no digit.
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[..., 3] = 255
    rgba[:3, :, 3] = 0
    if transparent == 31:
        rgba[5, 5, 3] = 0
    out = grey(rgba, "RGBA")
    if ink_rows:
        assert np.array_equal(out[:3], np.ones((3, 10), np.float32)) and not out[3:].any()
    else:
        assert not out.any()


@pytest.mark.parametrize(("alpha", "corner"), [(253, 0.0), (252, 3 / 255)])
def test_alpha_below_99_percent_is_laid_over_white(alpha, corner):
    # White ink on a black page whose corner pixel is not quite opaque. At 253/255
    # (0.992) the alpha is ignored; at 252/255 (0.988) the page is laid over white,
    # which lightens that pixel by 3/255.
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[3:7, 4:6, :3] = 255
    rgba[..., 3] = 255
    rgba[0, 0, 3] = alpha
    out = grey(rgba, "RGBA")
    assert out[0, 0] == pytest.approx(corner, abs=1e-5)
    without_alpha = P.image_to_grey(Image.fromarray(rgba[..., :3]))
    assert np.array_equal(out[1:, 1:], without_alpha[1:, 1:]) and out[4, 4] == pytest.approx(1.0)


@pytest.mark.parametrize("mode", ["LA", "PA", "P"])
def test_other_modes_with_transparency(mode):
    ink = np.zeros((10, 10), np.uint8)
    ink[2:8, 4:6] = 1  # black ink on a see-through black page: without the alpha, all black
    if mode == "P":
        im = Image.fromarray(ink, "P")
        im.putpalette([0, 0, 0, 0, 0, 0] + [0] * 762)  # page and ink both black...
        im.info["transparency"] = 0  # ... but palette entry 0, the page, is see-through
    else:
        rgba = np.zeros((10, 10, 4), np.uint8)
        rgba[..., 3] = ink * 255
        im = Image.fromarray(rgba, "RGBA").convert(mode)
    assert im.mode == mode
    out = P.image_to_grey(im)
    assert out[4, 4] == pytest.approx(1.0) and out[0, 0] == 0.0 and out.sum() == pytest.approx(12.0)


def test_a_palette_image_without_transparency_is_opaque():
    im = Image.fromarray(np.where(np.arange(100).reshape(10, 10) % 10 == 5, 1, 0).astype(np.uint8), "P")
    im.putpalette([255, 255, 255, 0, 0, 0] + [0] * 762)  # black ink on white paper
    out = P.image_to_grey(im)
    assert out[4, 5] == pytest.approx(1.0) and out[4, 4] == 0.0


@pytest.mark.parametrize(("size", "expected"), [((512, 100), (100, 512)), ((513, 100), (100, 512)),
                                                 ((1024, 300), (150, 512)), ((300, 1024), (512, 150))])
def test_images_larger_than_512_are_reduced_and_the_original_kept(size, expected):
    im = Image.new("L", size, 255)
    im.paste(0, (size[0] // 3, size[1] // 3, size[0] // 2, size[1] // 2))
    out = P.image_to_grey(im)
    assert out.shape == expected
    assert im.size == size  # the caller's image is not shrunk in place
    assert out.max() == pytest.approx(1.0)


def test_opaque_ink_of_mean_grey_one_half_is_light_ink():
    # Opaque pixels half black, half white (mean luminance exactly 0.5) on a
    # transparent page: not dark ink, so the white pixels are the ink.
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[2:8, 4:6, 3] = 255
    rgba[2:8, 5, :3] = 255
    out = grey(rgba, "RGBA")
    assert np.array_equal(out[2:8, 4:6], np.tile([0.0, 1.0], (6, 1)).astype(np.float32))


def test_dark_ink_on_transparency_keeps_its_shades():
    # Black and dark grey (luminance 0.4) opaque ink: darker is stronger, 1 − luminance.
    rgba = np.zeros((10, 10, 4), np.uint8)
    rgba[2:8, 4:6, 3] = 255
    rgba[2:8, 5, :3] = 102
    out = grey(rgba, "RGBA")
    assert out[4, 4] == pytest.approx(1.0) and out[4, 5] == pytest.approx(0.6, abs=1e-3)


def test_the_border_is_exactly_the_outermost_ring():
    # 17 of the page's 32 border values are light, one more than half: the page is
    # read as dark ink on light paper and inverted. The ring just inside has a
    # different count on every side, so reading any edge one pixel further in
    # would flip that decision or move the background level.
    page = np.array([
        [1, 1, 1, 0, 0, 1, 1, 0],
        [1, 0, 1, 1, 0, 0, 0, 1],
        [0, 0, 0, 1, 1, 0, 1, 0],
        [0, 0, 1, 0, 0, 1, 0, 1],
        [0, 0, 0, 0, 0, 0, 0, 1],
        [0, 0, 1, 0, 1, 0, 0, 1],
        [0, 0, 0, 0, 0, 0, 1, 1],
        [1, 0, 0, 0, 0, 1, 0, 1],
    ], dtype=np.float64)
    page[3:5, 3:5] = 0.5  # mid-grey in the middle
    out = grey((page * 255).round().astype(np.uint8))
    assert np.allclose(out, 1.0 - page, atol=0.01)  # inverted, background 0, light paper 1


def test_a_border_half_light_half_dark_is_read_as_light_ink():
    # 16 of the 32 border values light, 16 dark: the median is exactly 0.5, which is
    # not "light paper", so nothing is inverted and the light pixels are the ink.
    page = np.zeros((8, 8))
    page[0, :] = 1.0  # top row light, bottom row dark
    page[1:4, 0] = page[1:4, -1] = 1.0  # three light, three dark down each side
    page[3:5, 3:5] = 1.0  # and a light mark in the middle
    out = grey((page * 255).astype(np.uint8))
    assert np.array_equal(out, page.astype(np.float32))


def test_normalisation_boundaries():
    ink = np.zeros((5, 5))
    ink[2, 2] = 0.08  # exactly the weakest mark that counts
    assert P._normalise_ink(ink)[2, 2] == 1.0
    ink[2, 2] = 0.0799
    blank = P._normalise_ink(ink)
    assert not blank.any() and blank.dtype == np.float32
    darker = np.zeros((5, 5))
    darker[2, 2], darker[2, 3] = 0.5, -0.3  # a pixel below the background level stays at 0
    out = P._normalise_ink(darker)
    assert out[2, 2] == 1.0 and out[2, 3] == 0.0 and out.dtype == np.float32


def test_large_images_are_reduced_by_averaging_whole_pixels():
    # A 2-pixel bar at columns 500–501 of a 1024-wide page, halved: exactly one
    # full-strength column, no blur into its neighbours.
    im = Image.new("L", (1024, 300), 255)
    im.paste(0, (500, 100, 502, 200))
    out = P.image_to_grey(im)
    assert out.shape == (150, 512)
    assert out[75, 250] == 1.0 and out[75, 249] == 0.0 and out[75, 251] == 0.0


# ---------------------------------------------------------------------------
# load_image: files


def test_missing_files_folders_and_empty_files(tmp_path):
    with pytest.raises(ImageError) as caught:
        P.load_image(tmp_path / "missing.png")
    assert str(caught.value) == f"Image file not found: {tmp_path / 'missing.png'}"
    with pytest.raises(ImageError) as caught:
        P.load_image(tmp_path)
    assert str(caught.value) == f"{tmp_path} is a folder, not an image"
    (tmp_path / "empty.png").write_bytes(b"")
    with pytest.raises(ImageError) as caught:
        P.load_image(tmp_path / "empty.png")
    assert str(caught.value) == "empty.png: the image file is empty"


def test_unreadable_and_damaged_files(tmp_path):
    (tmp_path / "notes.png").write_text("not a picture")
    with pytest.raises(ImageError) as caught:
        P.load_image(tmp_path / "notes.png")
    assert str(caught.value).startswith("notes.png: not a readable image (cannot identify image file")
    assert str(caught.value).endswith(")") and "\n" not in str(caught.value)
    good = tmp_path / "good.png"
    Image.fromarray((np.random.default_rng(0).random((200, 200)) * 255).astype(np.uint8)).save(good)
    (tmp_path / "cut.png").write_bytes(good.read_bytes()[:400])
    with pytest.raises(ImageError) as caught:
        P.load_image(tmp_path / "cut.png")
    cause = str(caught.value.__cause__).strip().split("\n")[0][:120]
    assert cause and str(caught.value) == f"cut.png: the image is damaged or truncated ({cause})"


def test_a_file_path_as_text_works_like_a_path(tmp_path):
    page = np.full((20, 20), 255, np.uint8)
    page[5:15, 9:11] = 0
    Image.fromarray(page).save(tmp_path / "one.png")
    assert np.array_equal(P.load_image(str(tmp_path / "one.png")), P.load_image(tmp_path / "one.png"))
    assert P.load_image(tmp_path / "one.png")[10, 9] == pytest.approx(1.0)


def test_a_warning_while_decoding_is_not_an_error(tmp_path, monkeypatch):
    import warnings

    page = np.full((20, 20), 255, np.uint8)
    page[5:15, 9:11] = 0
    Image.fromarray(page).save(tmp_path / "one.png")
    original = Image.Image.load

    def chatty_load(self):
        warnings.warn("a decoder remark", UserWarning)
        return original(self)

    monkeypatch.setattr(Image.Image, "load", chatty_load)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert P.load_image(tmp_path / "one.png")[10, 9] == pytest.approx(1.0)


def test_the_apps_own_size_limit_on_both_sides(tmp_path, monkeypatch):
    monkeypatch.setattr(P, "IMAGE_MAX_PIXELS", 2_000_000)
    at_limit = P.load_image(bilevel_png(tmp_path / "at.png", 1000, 2000))
    assert at_limit.shape == (512, 256)
    with pytest.raises(ImageError) as caught:
        P.load_image(bilevel_png(tmp_path / "over.png", 1000, 2001))
    assert str(caught.value) == "over.png: the image is too large (1000×2001 pixels; at most 2 megapixels)"


def test_images_too_large_are_refused_in_the_apps_words(tmp_path, monkeypatch):
    # 64 megapixels: below Pillow's own limit, so only the app's check stands in the way.
    with pytest.raises(ImageError) as caught:
        P.load_image(bilevel_png(tmp_path / "big.png", 8000, 8000))
    assert str(caught.value) == "big.png: the image is too large (8000×8000 pixels; at most 60 megapixels)"
    # 100 and 400 megapixels: Pillow's decompression-bomb warning and error, worded by the app.
    for name, side in (("warned.png", 10_000), ("refused.png", 20_000)):
        with pytest.raises(ImageError) as caught:
            P.load_image(bilevel_png(tmp_path / name, side, side))
        assert str(caught.value) == f"{name}: the image is too large (at most 60 megapixels)"
    # With Pillow's guard lifted, the app still refuses, naming the size.
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    with pytest.raises(ImageError) as caught:
        P.load_image(tmp_path / "refused.png")
    assert str(caught.value) == "refused.png: the image is too large (20000×20000 pixels; at most 60 megapixels)"


def test_jpeg_is_decoded_at_reduced_size(tmp_path, monkeypatch):
    page = np.full((2048, 1536), 255, np.uint8)
    page[600:1400, 700:800] = 0
    Image.fromarray(page).save(tmp_path / "photo.jpg", quality=90)
    asked = []
    from PIL import JpegImagePlugin

    original = JpegImagePlugin.JpegImageFile.draft

    def spy(self, mode, size):
        asked.append((mode, size))
        return original(self, mode, size)

    monkeypatch.setattr(JpegImagePlugin.JpegImageFile, "draft", spy)
    out = P.load_image(tmp_path / "photo.jpg")
    assert asked[0] == ("RGB", (512, 512))
    assert out.shape == (512, 384) and out[250, 187] == pytest.approx(1.0, abs=0.05) and out[20, 20] < 0.05


# ---------------------------------------------------------------------------
# the network's input: placement, normalisation and inversion by pixel values


def test_field_is_placed_in_the_middle_of_a_larger_input():
    field = np.arange(28 * 28, dtype=np.float32).reshape(28, 28) / (28 * 28)
    view = P.field_to_view(field, P.InputSpec(height=33, width=30))
    assert view.shape == (33, 30) and view.dtype == np.float32
    assert np.array_equal(view[2:30, 1:29], field)  # top (33 − 28) // 2 = 2, left (30 − 28) // 2 = 1
    assert view[:2].max() == 0 and view[30:].max() == 0 and view[:, :1].max() == 0 and view[:, 29:].max() == 0
    same = P.field_to_view(field, P.InputSpec(height=28, width=28))
    assert np.array_equal(same, field)
    tall = P.field_to_view(field, P.InputSpec(height=32, width=28))  # as high or wide as the field: padded
    assert tall.shape == (32, 28) and np.array_equal(tall[2:30], field)
    wide = P.field_to_view(field, P.InputSpec(height=28, width=32))
    assert wide.shape == (28, 32) and np.array_equal(wide[:, 2:30], field)


def test_field_is_resized_for_a_smaller_input():
    field = np.zeros((28, 28), np.float32)
    field[:, 14:] = 1.0  # right half white
    view = P.field_to_view(field, P.InputSpec(height=14, width=14))
    assert view.shape == (14, 14)
    assert np.allclose(view[:, :6], 0.0) and np.allclose(view[:, 8:], 1.0)
    wide = P.field_to_view(field, P.InputSpec(height=28, width=14))  # too narrow: resized, not cropped
    assert wide.shape == (28, 14) and np.allclose(wide[:, 8:], 1.0) and np.allclose(wide[:, :6], 0.0)
    line = np.zeros((28, 28), np.float32)
    line[:, 13] = 1.0  # halved by a triangle filter two input pixels wide each side
    halved = P.field_to_view(line, P.InputSpec(height=14, width=14))
    assert np.allclose(halved[:, 6], 0.375) and np.allclose(halved[:, 7], 0.125) and halved[:, 8:].max() == 0
    overshoot = P.field_to_view(np.eye(28, dtype=np.float32) * 1.0, P.InputSpec(height=10, width=10))
    assert overshoot.min() >= 0.0 and overshoot.max() <= 1.0


def test_normalisation_by_pixel_value():
    view = np.array([[0.0, 0.25], [0.5, 1.0]], np.float32)
    spec = P.InputSpec(height=2, width=2, pixel_max=255.0, mean=33.3, std=78.6)
    tensor = P.view_to_tensor(view, spec)
    assert tensor.shape == (1, 1, 2, 2) and tensor.dtype == np.float32 and tensor.flags["C_CONTIGUOUS"]
    assert np.allclose(tensor[0, 0], (view * 255.0 - 33.3) / 78.6)


def test_inversion_for_dark_on_light_models_by_pixel_value():
    view = np.array([[0.0, 0.25], [0.5, 1.0]], np.float32)
    spec = P.InputSpec(height=2, width=2, mean=0.5, std=0.25, invert=True)
    tensor = P.view_to_tensor(view, spec)
    assert np.allclose(tensor[0, 0], ((1.0 - view) - 0.5) / 0.25)  # background 0 → 1 → +2, ink 1 → 0 → −2
    assert tensor[0, 0, 0, 0] == pytest.approx(2.0) and tensor[0, 0, 1, 1] == pytest.approx(-2.0)
    plain = P.view_to_tensor(view, P.InputSpec(height=2, width=2, mean=0.5, std=0.25))
    assert plain[0, 0, 0, 0] == pytest.approx(-2.0) and plain[0, 0, 1, 1] == pytest.approx(2.0)


def test_channels_first_and_last_repeat_the_grey_image():
    view = np.array([[0.0, 0.5], [1.0, 0.25]], np.float32)
    first = P.view_to_tensor(view, P.InputSpec(height=2, width=2, channels=3, mean=0.0, std=1.0))
    last = P.view_to_tensor(view, P.InputSpec(height=2, width=2, channels=3, channels_last=True, mean=0.0, std=1.0))
    assert first.shape == (1, 3, 2, 2) and last.shape == (1, 2, 2, 3)
    for c in range(3):
        assert np.array_equal(first[0, c], view) and np.array_equal(last[0, :, :, c], view)
    assert last.flags["C_CONTIGUOUS"] and last.dtype == np.float32


def test_input_spec_shapes_and_overrides():
    spec = P.InputSpec()
    assert (spec.height, spec.width, spec.channels, spec.field, spec.box) == (32, 32, 1, 28, 20)
    assert (spec.mean, spec.std, spec.pixel_max, spec.invert, spec.channels_last) == (0.1307, 0.3081, 1.0, False, False)
    assert spec.tensor_shape() == (1, 1, 32, 32) and spec.tensor_shape(4) == (4, 1, 32, 32)
    last = P.InputSpec(height=28, width=20, channels=3, channels_last=True)
    assert last.tensor_shape(2) == (2, 28, 20, 3)
    changed = spec.with_overrides(mean=0.0, std=None, invert=True)
    assert (changed.mean, changed.std, changed.invert) == (0.0, 0.3081, True)
    assert spec.mean == 0.1307  # the original is unchanged
    assert P.LENET5_SPEC == P.InputSpec()


def test_prepare_field_and_prepare_image(tmp_path):
    assert P.prepare_field(None) is None
    field = np.zeros((28, 28), np.float32)
    field[10:18, 13:15] = 1.0
    prepared = P.prepare_field(field)
    assert prepared.field is field
    assert np.array_equal(prepared.network_view[2:30, 2:30], field)
    assert np.allclose(prepared.tensor[0, 0], (prepared.network_view - 0.1307) / 0.3081)
    Image.new("L", (40, 40), 255).save(tmp_path / "blank.png")
    assert P.prepare_image(tmp_path / "blank.png") is None
    page = np.full((40, 40), 255, np.uint8)
    page[5:35, 18:22] = 0
    Image.fromarray(page).save(tmp_path / "one.png")
    spec = P.InputSpec(height=28, width=28, invert=True, mean=0.0, std=1.0)
    one = P.prepare_image(tmp_path / "one.png", spec)
    assert one.tensor.shape == (1, 1, 28, 28)
    assert np.array_equal(one.network_view, one.field)  # a 28×28 input is the field itself
    assert one.tensor[0, 0, 0, 0] == pytest.approx(1.0) and one.tensor[0, 0, 14, 14] == pytest.approx(0.0, abs=0.05)
    cy, cx = centre_of_mass(one.field)
    assert abs(cy - 14) < 0.05 and abs(cx - 14) < 0.05
    small_box = P.prepare_image(tmp_path / "one.png", P.InputSpec(box=12))
    assert 12 <= ink_extent(small_box.field)[0] <= 13


def test_prepare_drawing_uses_the_specs_field_and_box():
    from lenet_gui.core.drawing import Drawing

    drawing = Drawing(280, 280, [[(140, 40), (140, 240)]])
    spec = P.InputSpec(height=40, width=40, field=36, box=30)
    prepared = P.prepare_drawing(drawing, spec)
    assert prepared.field.shape == (36, 36) and prepared.tensor.shape == (1, 1, 40, 40)
    assert 29 <= ink_extent(prepared.field, 0.5)[0] <= 31
    assert P.prepare_drawing(Drawing(280, 280, []), spec) is None


def test_first_line_of_an_error():
    assert P._first_line(ValueError("first\nsecond")) == "first"
    assert P._first_line(ValueError("  spaced  ")) == "spaced"
    assert P._first_line(ValueError("x" * 300)) == "x" * 120
    assert P._first_line(ValueError("")) == "ValueError"
