"""Explanations and evidence as plain text, laid out as a student would write them (``lenet-gui explain``)."""

from __future__ import annotations

import numpy as np

from lenet_gui.core.explain_context import num, shape_text, unit_text
from lenet_gui.core.explanation import Evidence, Explanation, Grid

AGREE = "✓"
DISAGREE = "✗"
# Ink ramp of the heat map, from no evidence to the most.
RAMP = " .:-=+*#%@"
AGAINST = "~"  # blanking here raises the probability: evidence against the class
GRID_GAP = "   "
MAX_WIDTH = 120  # characters; wider rows of grids are stacked


def _cell(value: float, padding: bool, highlight: bool) -> str:
    text = "pad" if padding else f"{0.0 if abs(value) < 5e-4 else value:.3f}"
    return f"[{text}]" if highlight else f" {text} "


def _grid_lines(grid: Grid) -> list[str]:
    values = np.asarray(grid.values, dtype=float)
    if values.ndim == 1:
        values = values[None, :]
    pad = np.zeros(values.shape, dtype=bool) if grid.padding is None else np.asarray(grid.padding, dtype=bool)
    cells = [[_cell(values[r, c], bool(pad[r, c]), grid.highlight == (r, c)) for c in range(values.shape[1])]
             for r in range(values.shape[0])]
    width = max(len(c) for row in cells for c in row)
    body = ["".join(c.rjust(width) for c in row) for row in cells]
    span = max(len(grid.title), len(body[0]))
    return [grid.title.ljust(span)] + [line.ljust(span) for line in body]


def format_grids(rows: list[list[Grid]]) -> list[str]:
    """Each row of grids side by side (patch, kernel, products), rows one under another."""
    lines: list[str] = []
    for row in rows:
        blocks = [_grid_lines(g) for g in row]
        if sum(len(b[0]) for b in blocks) + len(GRID_GAP) * (len(blocks) - 1) > MAX_WIDTH:
            for b in blocks:  # too wide side by side: one under another
                lines.extend(line.rstrip() for line in b)
                lines.append("")
            continue
        height = max(len(b) for b in blocks)
        for i in range(height):
            parts = [b[i] if i < len(b) else " " * len(b[0]) for b in blocks]
            lines.append(GRID_GAP.join(parts).rstrip())
        lines.append("")
    return lines


def _terms_table(e: Explanation) -> list[str]:
    rows = [("#", "weight", "", "input", "", "product", "from")]
    for i, t in enumerate(e.terms, start=1):
        source = (t.source_layer or "input") + unit_text(t.source_unit) + (" (padding)" if t.padding else "")
        rows.append((str(i), num(t.weight), "×", num(t.value), "=", num(t.product), source))
    widths = [max(len(r[k]) for r in rows) for k in range(7)]
    out = []
    for r in rows:
        cells = [r[k].rjust(widths[k]) for k in range(6)] + [r[6]]
        out.append("  ".join(cells).rstrip())
    return out


def format_explanation(e: Explanation, unit_axes: str = "") -> str:
    """The whole working for one unit, ending with onnxruntime's value and ✓ or ✗."""
    lines = [f"{e.layer} ({e.op}), unit {unit_text(e.unit)}" + (f"  ({unit_axes})" if unit_axes else "")]
    if not e.explained:
        lines.append(f"not explained: {e.reason}")
        if e.runtime_value is not None:
            lines.append(f"onnxruntime's value: {num(e.runtime_value)}")
        return "\n".join(lines)
    w = e.window
    if e.kind in ("conv", "pool") and "start" in w:
        parts = [f"{axis} from {start}" for axis, start in zip(_axis_names(len(w["start"])), w["start"])]
        lines.append(f"window: {', '.join(parts)}; kernel {shape_text(w['kernel'])}, stride "
                     f"{'×'.join(map(str, w['stride']))}, dilation {'×'.join(map(str, w['dilation']))}"
                     + ("; cells outside the input are padding" if any(w.get("pads", [])) else ""))
    if e.input_box is not None:
        top, left, h, wd = e.input_box
        lines.append(f"sees the network input's rows {top}–{top + h - 1}, columns {left}–{left + wd - 1}")
    lines.append("")
    if e.rows:
        lines.extend(format_grids(e.rows))
    if e.terms and e.kind in ("dense",):
        lines.append(f"the {len(e.terms)} largest products w · x, by size:")
        lines.extend(_terms_table(e))
        if e.rest is not None:
            lines.append(e.rest.text)
        lines.append("")
    for step in e.steps:
        lines.append(step.text)
    lines.append("")
    source = "the probability shown" if e.layer == "probabilities" else "onnxruntime"
    if e.runtime_value is None:
        lines.append(f"{source}'s value for this unit is not known")
    elif e.agrees:
        lines.append(f"{source}: {num(e.runtime_value)}  {AGREE} agrees (within {e.tolerance:g} relative)")
    else:
        lines.append(f"{source}: {num(e.runtime_value)}  {DISAGREE} the working gives {num(e.value)}: they "
                     f"disagree (beyond {e.tolerance:g} relative)")
    return "\n".join(lines)


def _axis_names(count: int) -> list[str]:
    return {1: ["position"], 2: ["row", "column"], 3: ["depth", "row", "column"]}.get(count, [f"axis {i}" for i in
                                                                                          range(count)])


def heat_map(values: np.ndarray) -> list[str]:
    """One character per input pixel (doubled across, so the picture keeps its shape)."""
    top = float(np.max(np.abs(values))) or 1.0
    lines = []
    for row in np.asarray(values, dtype=float):
        chars = []
        for v in row:
            if v < -0.1 * top:
                ch = AGAINST
            else:
                ch = RAMP[min(len(RAMP) - 1, max(0, int(round(v / top * (len(RAMP) - 1)))))]
            chars.append(ch * 2)
        lines.append("|" + "".join(chars) + "|")
    border = "+" + "-" * (2 * values.shape[1]) + "+"
    return [border] + lines + [border]


def format_evidence(ev: Evidence, block: int | None = None) -> str:
    """The heat map, then the numbers (mean drop in percentage points) over coarse blocks."""
    block = block or max(ev.stride, 4)
    h, w = ev.map.shape
    lines = [
        f"evidence for class {ev.class_index} (label {ev.label}), probability {ev.probability * 100:.1f} %:",
        f"how much blanking a {ev.patch}×{ev.patch} square (every {ev.stride} pixels) lowers that probability,",
        f"per pixel of the {h}×{w} network input ('{RAMP[-1]}' most, '{AGAINST}' blanking raises it)",
        *heat_map(ev.map),
        "",
        f"mean drop in percentage points per {block}×{block} block (rows and columns counted from 0):",
    ]
    starts_y, starts_x = list(range(0, h, block)), list(range(0, w, block))
    header = "      " + "".join(f"{x:>7}" for x in starts_x)
    lines.append(header)
    for y in starts_y:
        cells = [ev.map[y:y + block, x:x + block].mean() * 100 for x in starts_x]
        lines.append(f"{y:>5} " + "".join(f"{c:7.2f}" for c in cells))
    peak = np.unravel_index(int(np.argmax(ev.map)), ev.map.shape)
    lines.append("")
    lines.append(f"strongest evidence at row {peak[0]}, column {peak[1]}: blanking there lowers the probability by "
                 f"{ev.map[peak] * 100:.1f} points on average")
    return "\n".join(lines)
