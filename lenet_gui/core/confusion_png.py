"""The confusion matrix as a picture: a PNG written with Pillow (no Qt).

The look is shared with the window's painting (``lenet_gui.ui.evaluation_view``):
``cell_colours`` decides every cell's fill and text colour, ``LAYOUT`` the sizes.
Rows are the true label, columns the prediction; each cell shows its count. The
diagonal (right answers) is green, mistakes are red, both shaded by the share
of that row, so a weak class and its usual confusion stand out at a glance.
"""

from __future__ import annotations

import os

import numpy as np

RGB = tuple[int, int, int]
BACKGROUND: RGB = (255, 255, 255)
TEXT: RGB = (30, 30, 30)
GRID: RGB = (205, 205, 205)
EMPTY: RGB = (246, 246, 246)
RIGHT: RGB = (46, 139, 87)  # the diagonal
WRONG: RGB = (204, 51, 51)
DIAGONAL_FRAME: RGB = (20, 90, 50)
LAYOUT = {"cell": 44, "margin": 16, "header": 30, "axis": 22}


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return tuple(round(x + (y - x) * t) for x, y in zip(a, b))


def cell_colours(count: int, row_total: int, diagonal: bool) -> tuple[RGB, RGB]:
    """(fill, text) of one cell; the share of its row sets the strength of the colour."""
    if count == 0:
        return (EMPTY if not diagonal else _mix(EMPTY, RIGHT, 0.12)), (150, 150, 150)
    share = count / row_total if row_total else 0.0
    # Mistakes show from the first one: even a small share gets a visible tint.
    strength = 0.18 + 0.82 * share if not diagonal else 0.15 + 0.85 * share
    fill = _mix(BACKGROUND, RIGHT if diagonal else WRONG, strength)
    luminance = 0.299 * fill[0] + 0.587 * fill[1] + 0.114 * fill[2]
    return fill, ((255, 255, 255) if luminance < 150 else TEXT)


def geometry(classes: int) -> dict[str, int]:
    """Where the grid sits in the picture (pixels), for PNG and window alike."""
    cell, margin, header, axis = LAYOUT["cell"], LAYOUT["margin"], LAYOUT["header"], LAYOUT["axis"]
    left = margin + axis + header
    top = margin + axis + header
    return {"left": left, "top": top, "cell": cell, "width": left + classes * cell + margin,
            "height": top + classes * cell + margin}


def _font(size: int):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def render(confusion: np.ndarray, classes: list[str], title: str = ""):
    """A Pillow image of the matrix."""
    from PIL import Image, ImageDraw

    confusion = np.asarray(confusion, dtype=np.int64)
    k = len(classes)
    g = geometry(k)
    extra = 24 if title else 0
    image = Image.new("RGB", (g["width"], g["height"] + extra), BACKGROUND)
    draw = ImageDraw.Draw(image)
    left, top, cell = g["left"], g["top"] + extra, g["cell"]
    small, big, bold = _font(12), _font(15), _font(16)
    if title:
        draw.text((LAYOUT["margin"], LAYOUT["margin"] - 4), title, fill=TEXT, font=bold)
    right, bottom = left + k * cell, top + k * cell
    draw.text(((left + right) / 2, top - LAYOUT["header"] - LAYOUT["axis"] / 2), "predicted", fill=TEXT,
              font=small, anchor="mm")
    axis_label = Image.new("RGB", (k * cell, LAYOUT["axis"]), BACKGROUND)
    ImageDraw.Draw(axis_label).text((k * cell / 2, LAYOUT["axis"] / 2), "true label", fill=TEXT, font=small,
                                    anchor="mm")
    image.paste(axis_label.rotate(90, expand=True), (LAYOUT["margin"], top))
    totals = confusion.sum(axis=1)
    for i, name in enumerate(classes):
        draw.text((left + i * cell + cell / 2, top - LAYOUT["header"] / 2), name, fill=TEXT, font=big, anchor="mm")
        draw.text((left - LAYOUT["header"] / 2, top + i * cell + cell / 2), name, fill=TEXT, font=big, anchor="mm")
    for i in range(k):
        for j in range(k):
            fill, ink = cell_colours(int(confusion[i, j]), int(totals[i]), i == j)
            x, y = left + j * cell, top + i * cell
            draw.rectangle([x, y, x + cell, y + cell], fill=fill, outline=GRID)
            if i == j:
                draw.rectangle([x + 1, y + 1, x + cell - 1, y + cell - 1], outline=DIAGONAL_FRAME, width=2)
            count = int(confusion[i, j])
            text = str(count) if count else "·"
            draw.text((x + cell / 2, y + cell / 2), text, fill=ink, font=big if count else small, anchor="mm")
    draw.rectangle([left, top, right, bottom], outline=TEXT)
    return image


def write_png(confusion: np.ndarray, classes: list[str], path: str | os.PathLike, title: str = "") -> None:
    """Write the picture; OSError when the file cannot be written."""
    render(confusion, classes, title).save(os.fspath(path), "PNG")
