"""A convolution's learned kernels: one small diverging heatmap per (output map, input map).

Weights come from the model file's initializers (not from a run). All kernels
of a layer share one colour scale, ±(largest |weight|), so they can be compared.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QScrollArea, QVBoxLayout, QWidget

from lenet_gui.ui.feature_maps import ActivationMaps

KERNEL_TILE = 40
SMALL_KERNEL_TILE = 20  # for layers with hundreds of kernels


class KernelDialog(QDialog):
    """Rows: output maps; columns: the input maps each one reads."""

    def __init__(self, title: str, weights: np.ndarray, bias: np.ndarray | None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("kernelDialog")
        self.setWindowTitle(f"{title} kernels — lenet-gui")
        self.weights = np.asarray(weights, dtype=np.float32)
        self.bias = None if bias is None else np.asarray(bias, dtype=np.float32).reshape(-1)
        out_maps, in_maps, kh, kw = self.weights.shape
        self.in_maps = in_maps
        scale = float(np.max(np.abs(self.weights))) or 1.0

        heading = QLabel(
            f"<b>{title}</b>: {out_maps} kernels × {in_maps} input map{'s' if in_maps != 1 else ''}, "
            f"each {kh}×{kw}", self)
        explain = QLabel(
            "Each row is the kernel of one output map; each column the input map it is applied to. "
            f"Blue weights are negative, red positive; all share the scale ±{scale:.3g}.", self)
        explain.setWordWrap(True)
        explain.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.readout = QLabel("Point at a weight to read it.", self)
        self.readout.setObjectName("kernelReadout")
        self.readout.setAccessibleName("Weight under the pointer")

        count = out_maps * in_maps
        self.maps = ActivationMaps((count, kh, kw), signed=True,
                                   tile_size=KERNEL_TILE if count <= 200 else SMALL_KERNEL_TILE,
                                   columns=in_maps, background=QPalette.ColorRole.Base, max_tiles=count)
        self.maps.setAccessibleName(f"Kernels of {title}")
        self.maps.set_fixed_scale(scale)
        self.maps.set_values(self.weights.reshape(count, kh, kw))
        self.maps.unitHovered.connect(self._hovered)
        holder = QWidget()
        holder.setBackgroundRole(QPalette.ColorRole.Base)
        holder.setAutoFillBackground(True)
        column = QVBoxLayout(holder)
        column.addWidget(self.maps)
        column.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setWidget(holder)
        grid_width = self.maps.sizeHint().width()
        scroll.setMinimumWidth(min(900, grid_width + 40))
        scroll.setMinimumHeight(min(560, self.maps.sizeHint().height() + 24))

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(explain)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.readout)
        layout.addWidget(buttons)

    def _hovered(self, tile: int, row: int, col: int) -> None:
        out_map, in_map = divmod(tile, self.in_maps)
        weight = float(self.weights[out_map, in_map, row, col])
        text = (f"output map {out_map + 1} ← input map {in_map + 1}, kernel row {row + 1}, column {col + 1} "
                f"(weights[{out_map}, {in_map}, {row}, {col}]) = {weight:+.4f}")
        if self.bias is not None and out_map < self.bias.size:
            text += f" · bias of map {out_map + 1} = {float(self.bias[out_map]):+.4f}"
        self.readout.setText(text)
