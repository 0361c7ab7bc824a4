"""Colours: light and dark palettes, heatmap colour maps, and the app icon.

The app follows the system's colour scheme. Where the platform cannot report
or switch it (the offscreen platform, X11 without a desktop theme), a chosen
scheme is applied as a hand-made palette instead, so "View → Colour Scheme"
works everywhere.
"""

from __future__ import annotations

import functools

from importlib import resources
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QIcon, QPalette

from lenet_gui.ui.mosaic import LEVELS

SCHEMES = ("system", "light", "dark")

# Heatmap colour tables: indexes 0..253 for values, 254 for the frame around
# each tile and 255 for the background between tiles (see mosaic.py).

# Anchors (position, RGB) of the colour maps; positions run 0..1.
# Non-negative activations: black through violet and orange to pale yellow, so
# that zero is dark and strong responses glow, in either scheme.
_SEQUENTIAL = [
    (0.00, (0, 0, 6)),
    (0.20, (46, 12, 92)),
    (0.42, (128, 30, 108)),
    (0.62, (204, 66, 72)),
    (0.80, (246, 140, 30)),
    (1.00, (252, 246, 170)),
]
# Signed values (convolution before ReLU, weights): blue below zero, red-orange
# above; the centre matches the scheme so that zero recedes into the page.
_DIVERGING_LIGHT = [
    (0.00, (24, 86, 166)),
    (0.25, (110, 166, 214)),
    (0.50, (246, 246, 246)),
    (0.75, (236, 150, 112)),
    (1.00, (170, 24, 40)),
]
_DIVERGING_DARK = [
    (0.00, (110, 176, 255)),
    (0.25, (42, 92, 150)),
    (0.50, (24, 24, 28)),
    (0.75, (150, 62, 40)),
    (1.00, (255, 150, 96)),
]


def _ramp(anchors, count: int) -> np.ndarray:
    """``count`` RGB colours interpolated linearly between the anchors."""
    pos = np.array([a[0] for a in anchors])
    rgb = np.array([a[1] for a in anchors], dtype=np.float64)
    t = np.linspace(0.0, 1.0, count)
    return np.stack([np.interp(t, pos, rgb[:, k]) for k in range(3)], axis=1).round().astype(np.uint32)


def ramp_colors(signed: bool, dark: bool, count: int = LEVELS) -> list[QColor]:
    """The colour map itself, ``count`` colours from the lowest value to the highest (legends)."""
    anchors = (_DIVERGING_DARK if dark else _DIVERGING_LIGHT) if signed else _SEQUENTIAL
    return [QColor(int(r), int(g), int(b)) for r, g, b in _ramp(anchors, count)]


def color_table(signed: bool, dark: bool, gap: QColor, frame: QColor) -> tuple[int, ...]:
    """A 256-entry ARGB table for the heatmaps: 254 levels, then the frame and gap colours."""
    return _color_table(signed, dark, int(gap.rgba()), int(frame.rgba()))


@functools.lru_cache(maxsize=16)
def _color_table(signed: bool, dark: bool, gap: int, frame: int) -> tuple[int, ...]:
    # The same few tables for every heatmap of a window (DenseNet-121: 1,037 of them).
    anchors = (_DIVERGING_DARK if dark else _DIVERGING_LIGHT) if signed else _SEQUENTIAL
    rgb = _ramp(anchors, LEVELS)
    argb = (0xFF000000 | (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]).tolist()
    return (*(int(v) for v in argb), frame, gap)


def is_dark(palette: QPalette) -> bool:
    """Dark when the window background is darker than its text."""
    return palette.color(QPalette.ColorRole.Window).lightness() < palette.color(QPalette.ColorRole.WindowText).lightness()


def ok_color(palette: QPalette) -> QColor:
    return QColor("#4cc76a") if is_dark(palette) else QColor("#1f8a3b")


def bad_color(palette: QPalette) -> QColor:
    return QColor("#ff6b6b") if is_dark(palette) else QColor("#c62828")


def accent_color(palette: QPalette) -> QColor:
    """The highlight colour, lifted a little on dark backgrounds so lines stay visible."""
    color = palette.color(QPalette.ColorRole.Highlight)
    return color.lighter(135) if is_dark(palette) else color


def highlight_outline(palette: QPalette) -> QColor:
    """A colour for outlines drawn over heatmaps and the network input (both dark and light)."""
    return QColor("#2fd3ff") if is_dark(palette) else QColor("#0078d4")


def _palette(colors: dict[str, str], disabled: dict[str, str]) -> QPalette:
    palette = QPalette()
    for role, value in colors.items():
        palette.setColor(getattr(QPalette.ColorRole, role), QColor(value))
    for role, value in disabled.items():
        palette.setColor(QPalette.ColorGroup.Disabled, getattr(QPalette.ColorRole, role), QColor(value))
    return palette


def dark_palette() -> QPalette:
    return _palette(
        {
            "Window": "#2b2d30", "WindowText": "#e6e6e6", "Base": "#1e1f22", "AlternateBase": "#26282b",
            "Text": "#e6e6e6", "Button": "#35373b", "ButtonText": "#e6e6e6", "BrightText": "#ffffff",
            "Highlight": "#3d7fd9", "HighlightedText": "#ffffff", "ToolTipBase": "#3a3c40",
            "ToolTipText": "#e6e6e6", "PlaceholderText": "#8c8f94", "Link": "#6cb0ff", "Light": "#4a4d52",
            "Midlight": "#3f4246", "Mid": "#55585d", "Dark": "#18191b", "Shadow": "#0e0e0f", "Accent": "#3d7fd9",
        },
        {"WindowText": "#7c7f84", "Text": "#7c7f84", "ButtonText": "#7c7f84", "Highlight": "#4a4d52"},
    )


def light_palette() -> QPalette:
    return _palette(
        {
            "Window": "#f0f0f2", "WindowText": "#1b1b1f", "Base": "#ffffff", "AlternateBase": "#f6f6f8",
            "Text": "#1b1b1f", "Button": "#e9e9ec", "ButtonText": "#1b1b1f", "BrightText": "#ffffff",
            "Highlight": "#2f7ed8", "HighlightedText": "#ffffff", "ToolTipBase": "#ffffe6",
            "ToolTipText": "#1b1b1f", "PlaceholderText": "#8a8a90", "Link": "#1a62c0", "Light": "#ffffff",
            "Midlight": "#e2e2e6", "Mid": "#b9b9bf", "Dark": "#8f8f96", "Shadow": "#6d6d73", "Accent": "#2f7ed8",
        },
        {"WindowText": "#a0a0a6", "Text": "#a0a0a6", "ButtonText": "#a0a0a6", "Highlight": "#c4c4c8"},
    )


class SchemeManager:
    """Applies "system", "light" or "dark" to the running application."""

    def __init__(self, app) -> None:
        self.app = app
        self.system_palette = QPalette(app.palette())
        self.overridden = False
        self.choice = "system"

    def apply(self, choice: str) -> None:
        if choice not in SCHEMES:
            choice = "system"
        self.choice = choice
        hints = QGuiApplication.styleHints()
        wanted = {"system": Qt.ColorScheme.Unknown, "light": Qt.ColorScheme.Light, "dark": Qt.ColorScheme.Dark}[choice]
        if hasattr(hints, "setColorScheme"):  # Qt 6.8+: the platform switches its own palette
            hints.setColorScheme(wanted)
        if choice == "system":
            if self.overridden:
                self.app.setPalette(self.system_palette)
                self.overridden = False
            return
        if is_dark(self.app.palette()) != (choice == "dark"):
            # The platform could not switch: use our own palette.
            self.app.setPalette(dark_palette() if choice == "dark" else light_palette())
            self.overridden = True


_managers: dict[int, SchemeManager] = {}


def scheme_manager(app) -> SchemeManager:
    """The one SchemeManager of ``app``: it must see the system palette before any override."""
    manager = _managers.get(id(app))
    if manager is None or manager.app is not app:
        manager = _managers[id(app)] = SchemeManager(app)
    return manager


def icon_path() -> Path | None:
    try:
        path = Path(str(resources.files("lenet_gui.resources") / "icon.svg"))
    except ModuleNotFoundError:
        return None
    return path if path.exists() else None


def app_icon() -> QIcon:
    path = icon_path()
    return QIcon(str(path)) if path else QIcon()
