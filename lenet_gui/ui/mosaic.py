"""Many small heatmaps as one image, rebuilt per frame with a few numpy calls.

A layout (tiles of h×w units, each unit ``zoom_x``×``zoom_y`` pixels, an
optional 1-pixel frame around each tile, gaps between tiles) is turned once
into a *gather* array: for every pixel, the index of the value it shows, or of
a "frame" or "gap" entry. A frame is then just::

    levels[:n] = quantised activations         # colour indexes 0..253
    colors = lut[levels]                        # one 32-bit colour per value
    np.take(colors, gather, out=pixels)        # pixels backs a QImage (RGB32)

RGB32 is the format QPainter draws fastest (an indexed image would be converted
on every paint). No Qt here: the widgets wrap ``pixels`` in a QImage and draw
it 1:1, without a single drawRect per tile.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

GAP_INDEX = 255  # colour index of the background between tiles
FRAME_INDEX = 254  # colour index of the line around each tile
TOP_LEVEL = 253  # values use colour indexes 0..253
LEVELS = TOP_LEVEL + 1


@dataclass(frozen=True)
class Geometry:
    count: int  # tiles
    tile_h: int  # units per tile, vertically
    tile_w: int
    cols: int
    zoom_y: int  # pixels per unit
    zoom_x: int
    gap_x: int = 1  # pixels between two framed tiles
    gap_y: int = 1
    frame: int = 0  # 1: a one-pixel line around every tile

    @property
    def rows(self) -> int:
        return max(1, math.ceil(self.count / self.cols))

    @property
    def framed_w(self) -> int:
        return self.tile_w * self.zoom_x + 2 * self.frame

    @property
    def framed_h(self) -> int:
        return self.tile_h * self.zoom_y + 2 * self.frame

    @property
    def pitch_x(self) -> int:
        return self.framed_w + self.gap_x

    @property
    def pitch_y(self) -> int:
        return self.framed_h + self.gap_y

    @property
    def width(self) -> int:
        return self.cols * self.pitch_x - self.gap_x

    @property
    def height(self) -> int:
        return self.rows * self.pitch_y - self.gap_y


def _axis(length: int, pitch: int, framed: int, frame: int, zoom: int):
    """Per pixel along one axis: tile number, unit inside the tile, inside?, on the frame?"""
    position = np.arange(length)
    tile, offset = np.divmod(position, pitch)
    inner = offset - frame
    inside = (inner >= 0) & (inner < framed - 2 * frame)
    on_frame = (offset < framed) & ~inside
    return tile, np.maximum(inner, 0) // zoom, inside, on_frame


class Mosaic:
    """Pixels for ``count`` tiles of ``tile_h``×``tile_w`` values in a grid."""

    def __init__(self, geometry: Geometry) -> None:
        self.geometry = g = geometry
        self.values = g.count * g.tile_h * g.tile_w
        tile_row, unit_y, inside_y, frame_y = _axis(g.height, g.pitch_y, g.framed_h, g.frame, g.zoom_y)
        tile_col, unit_x, inside_x, frame_x = _axis(g.width, g.pitch_x, g.framed_w, g.frame, g.zoom_x)
        tile = tile_row[:, None] * g.cols + tile_col[None, :]
        exists = (tile < g.count) & (tile_col[None, :] < g.cols)
        index = tile * (g.tile_h * g.tile_w) + unit_y[:, None] * g.tile_w + unit_x[None, :]
        shown = inside_y[:, None] & inside_x[None, :] & exists
        framed = (frame_y[:, None] & (inside_x | frame_x)[None, :] | frame_x[None, :] & inside_y[:, None]) & exists
        gather = np.where(shown, index, self.values)  # values: the gap entry
        gather[framed] = self.values + 1  # the frame entry
        self.gather = gather.astype(np.intp)
        self.pixels = np.zeros((g.height, g.width), dtype=np.uint32)  # 0xAARRGGBB
        self.stride = g.width * 4  # bytes per scan line
        self.levels = np.empty(self.values + 2, dtype=np.uint8)
        self.levels[self.values] = GAP_INDEX
        self.levels[self.values + 1] = FRAME_INDEX
        self.lut = np.full(256, 0xFF000000, dtype=np.uint32)  # set_colors replaces it
        self._colors = np.empty(self.values + 2, dtype=np.uint32)
        self._scratch = np.empty(self.values, dtype=np.float32)

    def set_colors(self, table) -> None:
        """256 ARGB colours: 0..253 the colour map, 254 the frame, 255 the gap."""
        self.lut[:] = np.asarray(table, dtype=np.uint32)
        self._paint()

    def _paint(self) -> None:
        np.take(self.lut, self.levels, out=self._colors)
        np.take(self._colors, self.gather, out=self.pixels, mode="clip")

    def fill(self, values: np.ndarray | None, signed: bool, scale: float | None = None) -> float:
        """Quantise ``values`` (any shape, ``self.values`` numbers) into the pixels.

        Signed data maps 0 to the middle colour and ±scale to the ends; other data
        maps 0..scale to the whole ramp. ``scale`` defaults to the largest magnitude
        present. Returns the scale used (0 for an empty or all-zero frame).
        """
        if values is None:
            self.levels[: self.values] = TOP_LEVEL // 2 if signed else 0
            self._paint()
            return 0.0
        flat = np.asarray(values, dtype=np.float32).reshape(-1)[: self.values]
        if scale is None:
            scale = float(np.max(np.abs(flat))) if flat.size else 0.0
            if not math.isfinite(scale):
                flat = np.nan_to_num(flat, nan=0.0, posinf=0.0, neginf=0.0)
                scale = float(np.max(np.abs(flat))) if flat.size else 0.0
        scratch = self._scratch[: flat.size]
        if scale <= 0:
            scratch.fill(TOP_LEVEL / 2 if signed else 0.0)
        elif signed:
            np.multiply(flat, (TOP_LEVEL / 2) / scale, out=scratch)
            scratch += TOP_LEVEL / 2 + 0.5
        else:
            np.multiply(flat, TOP_LEVEL / scale, out=scratch)
            scratch += 0.5
        np.clip(scratch, 0, TOP_LEVEL, out=scratch)
        self.levels[: flat.size] = scratch  # float → uint8 truncates: +0.5 above rounds
        self._paint()
        return scale

    def hit(self, x: float, y: float) -> tuple[int, int, int] | None:
        """(tile, row, column) of the unit at pixel (x, y), or None over a gap or frame."""
        g = self.geometry
        if x < 0 or y < 0 or x >= g.width or y >= g.height:
            return None
        tile_col, in_x = divmod(int(x), g.pitch_x)
        tile_row, in_y = divmod(int(y), g.pitch_y)
        in_x -= g.frame
        in_y -= g.frame
        if not (0 <= in_x < g.tile_w * g.zoom_x and 0 <= in_y < g.tile_h * g.zoom_y):
            return None
        tile = tile_row * g.cols + tile_col
        if tile >= g.count:
            return None
        return tile, in_y // g.zoom_y, in_x // g.zoom_x

    def tile_rect(self, tile: int) -> tuple[int, int, int, int]:
        """x, y, width, height of a tile's values in pixels (inside its frame)."""
        g = self.geometry
        row, col = divmod(tile, g.cols)
        return col * g.pitch_x + g.frame, row * g.pitch_y + g.frame, g.tile_w * g.zoom_x, g.tile_h * g.zoom_y

    def unit_rect(self, tile: int, row: int, col: int) -> tuple[int, int, int, int]:
        g = self.geometry
        x, y, _, _ = self.tile_rect(tile)
        return x + col * g.zoom_x, y + row * g.zoom_y, g.zoom_x, g.zoom_y
