"""Many small heatmaps: one pixel per value, enlarged on screen by QPainter.

A layout (tiles of h×w units, each unit ``zoom_x``×``zoom_y`` pixels, an
optional 1-pixel frame around each tile, gaps between tiles) keeps the values
in a small RGB32 image at their native resolution, in the order they come::

    levels = quantised activations          # colour indexes 0..253
    np.take(lut, levels, out=pixels)        # pixels backs a QImage (RGB32)

Feature maps are stacked one under the other (``count*h`` rows of ``w``
pixels); the cells of a strip fill ``rows`` lines of ``cols`` pixels. Each
*run* says which part of that image goes where on screen: a whole tile, or a
line of a strip. The widget draws every run with one scaled ``drawImage``
(nearest neighbour, exact for whole-number zooms), over a cached picture of
the frames and gaps, and covers the 1-pixel gaps between strip cells with
``gap_columns``. Per frame the numpy work is proportional to the number of
values, not to the number of screen pixels. No Qt here.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

GAP_INDEX = 255  # colour index of the background between tiles
FRAME_INDEX = 254  # colour index of the line around each tile
TOP_LEVEL = 253  # values use colour indexes 0..253
LEVELS = TOP_LEVEL + 1

Rect = tuple[int, int, int, int]  # x, y, width, height
# A picture with more values than this keeps only its pixels between frames, not the buffers
# that filling them takes (LeNet-5's largest layer has 4,704 values).
KEEP_WORK_BUFFERS_UP_TO = 1 << 16


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

    @property
    def is_strip(self) -> bool:
        """One value per unframed cell: drawn a line at a time, not a tile at a time."""
        return self.tile_h == 1 and self.tile_w == 1 and self.frame == 0


class Mosaic:
    """Native-resolution pixels for ``count`` tiles of ``tile_h``×``tile_w`` values in a grid."""

    def __init__(self, geometry: Geometry) -> None:
        self.geometry = g = geometry
        self.values = g.count * g.tile_h * g.tile_w
        if g.is_strip:
            shape = (g.rows, g.cols)  # value k at line k // cols, cell k % cols
        else:
            shape = (g.count * g.tile_h, g.tile_w)  # tile t at rows t*h .. t*h + h - 1
        self._shape = shape
        self.width, self.height = shape[1], shape[0]
        self.stride = self.width * 4  # bytes per scan line
        # The buffers (16 bytes a value: ResNet-18's panel would hold 86 MB) are made when first
        # needed and dropped by release(), so that only what is on screen holds memory.
        self._pixels: np.ndarray | None = None
        self._flat: np.ndarray | None = None
        self._levels: np.ndarray | None = None
        self._scratch_values: np.ndarray | None = None
        self.lut = np.full(256, 0xFF000000, dtype=np.uint32)  # set_colors replaces it
        self.low = math.nan  # the smallest value of the last fill that looked at its values
        self.gap_columns = self._gap_columns()

    @functools.cached_property
    def runs(self) -> list[tuple[Rect, Rect]]:
        """(screen rect, image rect) pairs; worked out when first drawn (a row in a closed block never is)."""
        return self._runs()

    # --- buffers ------------------------------------------------------------------------------------
    @property
    def pixels(self) -> np.ndarray:
        """0xAARRGGBB, one per value (made on first use; a QImage may wrap it)."""
        if self._pixels is None:
            self._pixels = np.full(self._shape, 0xFF000000, dtype=np.uint32)
            self._flat = self._pixels.reshape(-1)[: self.values]
        return self._pixels

    @property
    def levels(self) -> np.ndarray:
        if self._levels is None:
            # intp: np.take would otherwise convert the indexes on every frame.
            self._levels = np.zeros(self.values, dtype=np.intp)
        return self._levels

    @property
    def _scratch(self) -> np.ndarray:
        if self._scratch_values is None:
            self._scratch_values = np.empty(self.values, dtype=np.float32)
        return self._scratch_values

    @property
    def holds_buffers(self) -> bool:
        return self._pixels is not None or self._levels is not None or self._scratch_values is not None

    def drop_work_buffers(self) -> None:
        """Keep the pixels, drop what filling them takes (12 of the 16 bytes a value) until the next fill."""
        self._levels = self._scratch_values = None

    def release(self) -> None:
        """Drop the buffers (a QImage wrapping ``pixels`` must be dropped first); fill() makes them again."""
        self._pixels = self._flat = self._levels = self._scratch_values = None

    # --- layout -------------------------------------------------------------------------------------
    def _runs(self) -> list[tuple[Rect, Rect]]:
        """(screen rect, image rect) pairs; together they show every value."""
        g = self.geometry
        runs = []
        if g.is_strip:
            for line in range(g.rows):
                n = min(g.cols, g.count - line * g.cols)
                # Each cell takes its pitch (cell and gap): a whole-number zoom; the gaps are painted over.
                runs.append(((0, line * g.pitch_y, n * g.pitch_x, g.zoom_y), (0, line, n, 1)))
            return runs
        # tile_rect's arithmetic, with the geometry read once: a 512-map layer has 512 runs.
        px, py, frame, cols = g.pitch_x, g.pitch_y, g.frame, g.cols
        w, h, tile_w, tile_h = g.tile_w * g.zoom_x, g.tile_h * g.zoom_y, g.tile_w, g.tile_h
        for tile in range(g.count):
            row, col = divmod(tile, cols)
            runs.append(((col * px + frame, row * py + frame, w, h), (0, tile * tile_h, tile_w, tile_h)))
        return runs

    def _gap_columns(self) -> list[Rect]:
        """The 1-pixel gaps between strip cells, which the runs draw over."""
        g = self.geometry
        if not g.is_strip or g.gap_x == 0:
            return []
        columns = []
        for line in range(g.rows):
            n = min(g.cols, g.count - line * g.cols)
            for cell in range(n):
                columns.append((cell * g.pitch_x + g.zoom_x, line * g.pitch_y, g.gap_x, g.zoom_y))
        return columns

    def frame_rects(self) -> list[Rect]:
        """The outer rect of every tile's frame (empty when tiles have none)."""
        g = self.geometry
        if not g.frame:
            return []
        px, py, cols = g.pitch_x, g.pitch_y, g.cols
        w, h = g.framed_w, g.framed_h
        return [((tile % cols) * px, (tile // cols) * py, w, h) for tile in range(g.count)]

    # --- colours and values ------------------------------------------------------------------------------
    def set_colors(self, table) -> None:
        """256 ARGB colours: 0..253 the colour map, 254 the frame, 255 the gap."""
        self.lut[:] = np.asarray(table, dtype=np.uint32)
        if self._pixels is not None and self._levels is not None:  # else: coloured when next filled
            self._paint()

    @property
    def frame_rgba(self) -> int:
        return int(self.lut[FRAME_INDEX])

    @property
    def gap_rgba(self) -> int:
        return int(self.lut[GAP_INDEX])

    def _paint(self) -> None:
        self.pixels  # noqa: B018 - made if released
        np.take(self.lut, self.levels, out=self._flat, mode="clip")

    def paint_levels(self, levels: np.ndarray) -> None:
        """Colour levels worked out elsewhere (a LevelBatch); ``self.levels`` does not follow them."""
        self.pixels  # noqa: B018 - made if released
        np.take(self.lut, levels, out=self._flat, mode="clip")

    def fill(self, values: np.ndarray | None, signed: bool, scale: float | None = None) -> float:
        """Quantise ``values`` (any shape, ``self.values`` numbers) into the pixels.

        Signed data maps 0 to the middle colour and ±scale to the ends; other data
        maps 0..scale to the whole ramp. ``scale`` defaults to the largest magnitude
        present. Returns the scale used (0 for an empty or all-zero frame).
        """
        self.low = math.nan
        if values is None:
            self.levels.fill(TOP_LEVEL // 2 if signed else 0)
            self._paint()
            return 0.0
        flat = np.asarray(values, dtype=np.float32).reshape(-1)[: self.values]
        # A scale taken from the values keeps every level in 0..253; one given may not.
        given = scale is not None
        if not given:
            scale = self._magnitude(flat)
            if not math.isfinite(scale):
                flat = np.nan_to_num(flat, nan=0.0, posinf=0.0, neginf=0.0)
                scale = self._magnitude(flat)
        levels = self.levels[: flat.size]
        if scale <= 0:
            levels.fill(TOP_LEVEL // 2 if signed else 0)
            self._paint()
            return scale
        scratch = self._scratch[: flat.size]
        if signed:
            factor, offset = (TOP_LEVEL / 2) / scale, TOP_LEVEL / 2 + 0.5
        else:
            factor, offset = TOP_LEVEL / scale, 0.5
        np.multiply(flat, factor, out=scratch)
        if given:
            scratch += offset
            np.clip(scratch, 0, TOP_LEVEL, out=scratch)
            levels[:] = scratch  # float → integer truncates: the +0.5 rounds
        else:
            # Added in float32 and truncated into the levels in one pass.
            np.add(scratch, offset, out=levels, casting="unsafe")
        self._paint()
        return scale

    def _magnitude(self, flat: np.ndarray) -> float:
        """The largest |value| (NaN when there is one), without an array of absolute values; keeps the smallest."""
        if not flat.size:
            return 0.0
        high, low = float(flat.max()), float(flat.min())
        self.low = low
        if math.isnan(high) or math.isnan(low):
            return math.nan
        return max(high, -low, 0.0)

    # --- geometry ---------------------------------------------------------------------------------------
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

    def tile_rect(self, tile: int) -> Rect:
        """x, y, width, height of a tile's values in pixels (inside its frame)."""
        g = self.geometry
        row, col = divmod(tile, g.cols)
        return col * g.pitch_x + g.frame, row * g.pitch_y + g.frame, g.tile_w * g.zoom_x, g.tile_h * g.zoom_y

    def unit_rect(self, tile: int, row: int, col: int) -> Rect:
        g = self.geometry
        x, y, _, _ = self.tile_rect(tile)
        return x + col * g.zoom_x, y + row * g.zoom_y, g.zoom_x, g.zoom_y




class LevelBatch:
    """The levels of several layers at once, in a few numpy calls in all.

    With layers this small, numpy's cost per call, not per value, is what a
    frame pays: quantising twelve layers together costs about what two cost
    one by one. The arithmetic is that of ``Mosaic.fill`` with a scale taken
    from the values, so the levels are the same.
    """

    def __init__(self, sizes: tuple[int, ...]) -> None:
        self.key = tuple(sizes)
        self.sizes = np.asarray(sizes, dtype=np.intp)
        self.starts = np.concatenate([[0], np.cumsum(self.sizes)[:-1]]).astype(np.intp)
        total = int(self.sizes.sum())
        self._values = np.empty(total, dtype=np.float32)
        self.levels = np.empty(total, dtype=np.intp)
        # Each layer's levels, at a fixed place: valid until the next quantise().
        self.views = [self.levels[start:start + size] for start, size in zip(self.starts.tolist(), sizes)]

    def extents(self, arrays: list[np.ndarray]) -> tuple[list[float], list[float]] | None:
        """Takes in the layers' values (flat, in order).

        Returns their largest and smallest values, or None when one is not finite.
        """
        np.concatenate(arrays, out=self._values, casting="same_kind")
        high = np.maximum.reduceat(self._values, self.starts).tolist()
        low = np.minimum.reduceat(self._values, self.starts).tolist()
        if not all(map(math.isfinite, high + low)):
            return None  # Mosaic.fill knows what to do with NaN and infinity
        return high, low

    def quantise(self, high: list[float], low: list[float], signed: list[bool]) -> list[float]:
        """Levels for every layer into ``views``; returns each layer's scale."""
        # A dozen numbers: Python floats are cheaper than numpy calls on tiny arrays.
        scales, factors, offsets = [], [], []
        for top, bottom, two_sided in zip(high, low, signed):
            scale = max(top, -bottom, 0.0)
            scales.append(scale)
            if scale <= 0:  # all zero: the middle colour, or the lowest
                factors.append(0.0)
                offsets.append(TOP_LEVEL // 2 if two_sided else 0.0)
            elif two_sided:
                factors.append((TOP_LEVEL / 2) / scale)
                offsets.append(TOP_LEVEL / 2 + 0.5)
            else:
                factors.append(TOP_LEVEL / scale)
                offsets.append(0.5)
        values = self._values
        # float64 factors rounded to float32: as Mosaic.fill multiplies a float32 array by a Python float.
        np.multiply(values, np.repeat(np.array(factors, dtype=np.float32), self.sizes), out=values)
        # Added in float32 and truncated into the levels in one pass, as in Mosaic.fill.
        np.add(values, np.repeat(np.array(offsets, dtype=np.float32), self.sizes), out=self.levels, casting="unsafe")
        return scales
