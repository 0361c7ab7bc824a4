"""Drawing an occlusion evidence map over an image: colours, the legend, the inspected patch.

Shared by the network input view and the canvas. Warm colours mark input that
supports the class (blanking it lowers the class's probability), blue marks
input that opposes it (blanking it raises the probability); the stronger, the
more opaque. The scale is the map's largest |drop|; the title says it in
percentage points of probability.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetrics, QImage, QLinearGradient, QPainter, QPalette, QPen

SUPPORTS = (255, 96, 32)  # orange-red: readable on white ink and on the black background
OPPOSES = (32, 144, 255)
MAX_ALPHA = 210
FAINT_ALPHA = 64  # over the person's canvas: the strokes must stay readable


def evidence_scale(values: np.ndarray) -> float:
    finite = np.abs(values[np.isfinite(values)])
    return float(finite.max()) if finite.size and finite.max() > 0 else 1.0


def evidence_image(values: np.ndarray, max_alpha: int = MAX_ALPHA, scale: float | None = None) -> QImage:
    """The map as a translucent ARGB image, one pixel per input pixel."""
    values = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    scale = scale or evidence_scale(values)
    t = np.clip(values / scale, -1.0, 1.0)
    alpha = (np.abs(t) ** 0.8 * max_alpha).astype(np.uint32)  # a little lift so weak evidence still shows
    supports = t >= 0
    rgb = np.where(supports[..., None], np.array(SUPPORTS, np.uint32), np.array(OPPOSES, np.uint32))
    # Premultiplied ARGB: QPainter composes it without a conversion.
    premultiplied = (rgb * alpha[..., None] // 255).astype(np.uint32)
    argb = (alpha << 24) | (premultiplied[..., 0] << 16) | (premultiplied[..., 1] << 8) | premultiplied[..., 2]
    argb = np.ascontiguousarray(argb, dtype=np.uint32)
    height, width = argb.shape
    image = QImage(argb.data, width, height, width * 4, QImage.Format.Format_ARGB32_Premultiplied)
    return image.copy()  # owns its pixels: the numpy buffer goes away


def paint_legend(painter: QPainter, area: QRectF, title: str) -> None:
    """"Evidence for 7" over the top of ``area`` and the colour key along its bottom."""
    painter.save()
    font = QFont(painter.font())
    font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
    painter.setFont(font)
    metrics = QFontMetrics(font)
    band = metrics.height() + 4
    shade = QColor(0, 0, 0, 165)
    text = QColor(240, 240, 240)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(shade)
    top = QRectF(area.left(), area.top(), area.width(), band)
    painter.drawRect(top)
    painter.setPen(text)
    painter.drawText(top.adjusted(4, 0, -4, 0), Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                     metrics.elidedText(title, Qt.TextElideMode.ElideRight, int(top.width() - 8)))
    bottom = QRectF(area.left(), area.bottom() - band, area.width(), band)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(shade)
    painter.drawRect(bottom)
    left_text, right_text = "opposes", "supports"
    if metrics.horizontalAdvance(left_text + right_text) + 60 > bottom.width():  # a small view: signs only
        left_text, right_text = "against −", "+ for"
    lw, rw = metrics.horizontalAdvance(left_text), metrics.horizontalAdvance(right_text)
    ramp = QRectF(bottom.left() + lw + 10, bottom.top() + band / 2 - 4, max(10.0, bottom.width() - lw - rw - 20), 8)
    gradient = QLinearGradient(ramp.topLeft(), ramp.topRight())
    gradient.setColorAt(0.0, QColor(*OPPOSES))
    gradient.setColorAt(0.5, QColor(0, 0, 0, 0))
    gradient.setColorAt(1.0, QColor(*SUPPORTS))
    painter.fillRect(ramp, gradient)
    painter.setPen(QPen(QColor(200, 200, 200), 1))
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.drawRect(ramp)
    painter.setPen(text)
    painter.drawText(QRectF(bottom.left() + 4, bottom.top(), lw + 4, band), Qt.AlignmentFlag.AlignVCenter, left_text)
    painter.drawText(QRectF(ramp.right() + 6, bottom.top(), rw + 4, band), Qt.AlignmentFlag.AlignVCenter, right_text)
    painter.restore()


def patch_color(palette: QPalette) -> QColor:
    """The inspected unit's patch: a colour apart from the hover outline (cyan/blue) and the evidence."""
    dark = palette.color(QPalette.ColorRole.Window).lightness() < palette.color(QPalette.ColorRole.WindowText).lightness()
    return QColor("#ffd23f") if dark else QColor("#f2b705")


def paint_patch(painter: QPainter, rect: QRectF, palette: QPalette) -> None:
    """A bold frame with a dark halo: visible on white ink and on black."""
    painter.save()
    painter.setBrush(Qt.BrushStyle.NoBrush)
    painter.setPen(QPen(QColor(0, 0, 0, 170), 4))
    painter.drawRect(rect)
    painter.setPen(QPen(patch_color(palette), 2))
    painter.drawRect(rect)
    painter.restore()
