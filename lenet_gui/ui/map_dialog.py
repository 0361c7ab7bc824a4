"""A feature map enlarged, with the value under the pointer and the unit's receptive field.

The dialog is not modal and keeps following the drawing: every new result
updates the map it shows. A 1-D layer (a fully connected layer, the output)
fills the dialog as bars of its values, which can be sorted. Maps and units
are counted from 1, as the spin box does, with the numpy index beside them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtGui import QKeySequence, QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from lenet_gui.core import arithmetic
from lenet_gui.core.errors import ShapeError
from lenet_gui.ui.feature_maps import ActivationMaps, map_layout
from lenet_gui.ui.layer_text import box_text, counted, unit_text
from lenet_gui.ui.vector_bars import VectorBars
from lenet_gui.ui.network_input import NetworkInputView

if TYPE_CHECKING:  # graph imports onnx, which the window loads after its first paint
    from lenet_gui.core.graph import Layer

ENLARGED_SIZE = 336


def receptive_box_for(layer: Layer, kind: str, row: int, col: int):
    """The input region a unit sees, or None when the layer has none on the image."""
    try:
        return arithmetic.receptive_box(layer, row, col) if kind == "maps" else arithmetic.receptive_box(layer, 0, 0)
    except ShapeError:
        return None


class FeatureMapDialog(QDialog):
    """One map of one layer, large."""

    #: (layer, map, row, column) under the pointer, so the main window can outline it too.
    unitHovered = Signal(object, int, int, int)
    hoverLeft = Signal()
    #: (layer, map, row, column) clicked or chosen with Enter: the unit inspector explains it.
    unitActivated = Signal(object, int, int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("featureMapDialog")
        self.setModal(False)
        self.layer: Layer | None = None
        self.title_text = ""
        self.kind = "maps"
        self.channel = 0
        self.count = 1
        self._signed = False
        self._activation: np.ndarray | None = None
        self.maps: ActivationMaps | None = None
        self.bars: VectorBars | None = None  # a 1-D layer, instead of maps
        self._inspected = None  # (layer index, unit, input box) the unit inspector explains

        self.heading = QLabel(self)
        font = self.heading.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.15)
        self.heading.setFont(font)
        self.readout = QLabel("Point at a unit to read its value.", self)
        self.readout.setObjectName("mapReadout")
        self.readout.setAccessibleName("Value under the pointer")
        self.readout.setWordWrap(True)
        self.readout.setMinimumWidth(260)
        self.scale_label = QLabel("", self)
        self.scale_label.setForegroundRole(QPalette.ColorRole.PlaceholderText)
        self.scale_label.setWordWrap(True)
        self.scale_label.setMaximumWidth(300)
        self.readout.setMaximumWidth(300)
        self.input_view = NetworkInputView(self)
        self.input_view.setFixedSize(196, 196)

        self.previous = QPushButton("◀ Previous Map", self)
        self.previous.setShortcut(QKeySequence(QKeySequence.StandardKey.MoveToPreviousPage))
        self.previous.clicked.connect(lambda: self.set_channel(self.channel - 1))
        self.next = QPushButton("Next Map ▶", self)
        self.next.setShortcut(QKeySequence(QKeySequence.StandardKey.MoveToNextPage))
        self.next.clicked.connect(lambda: self.set_channel(self.channel + 1))
        self.spin = QSpinBox(self)
        self.spin.setAccessibleName("Map number, counted from 1")
        self.spin.valueChanged.connect(lambda value: self.set_channel(value - 1))
        self.sort_box = QCheckBox("&Sort by value", self)
        self.sort_box.setToolTip("Order the bars from the largest value to the smallest")
        self.sort_box.toggled.connect(self._sort_toggled)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)

        self._map_holder = QVBoxLayout()
        side = QVBoxLayout()
        self.field_caption = QLabel("Receptive field on the network input:", self)
        side.addWidget(self.field_caption)
        side.addWidget(self.input_view)
        side.addWidget(self.readout)
        side.addWidget(self.scale_label)
        side.addStretch(1)
        body = QHBoxLayout()
        body.addLayout(self._map_holder, 1)
        body.addLayout(side)
        navigation = QHBoxLayout()
        navigation.addWidget(self.previous)
        self.spin_label = QLabel("Map", self)
        self.spin_label.setBuddy(self.spin)
        navigation.addWidget(self.spin_label)
        navigation.addWidget(self.spin)
        navigation.addWidget(self.next)
        navigation.addWidget(self.sort_box)
        navigation.addStretch(1)
        navigation.addWidget(buttons)
        layout = QVBoxLayout(self)
        layout.addWidget(self.heading)
        layout.addLayout(body, 1)
        layout.addLayout(navigation)

    def show_map(self, layer: Layer, title: str, shape, signed: bool, channel: int,
                 activation: np.ndarray | None, input_view: np.ndarray | None, input_size,
                 labels: list[str] | None = None) -> None:
        """Show ``channel`` of ``layer`` (shape without batch) and keep it live."""
        self.layer = layer
        self.title_text = title
        self._signed = signed
        self.kind, count, tile_h, tile_w = map_layout(tuple(shape))
        self.count = count if self.kind == "maps" else 1
        while self._map_holder.count():  # the previous map and its stretch
            item = self._map_holder.takeAt(0)
            if item.widget() is not None:
                item.widget().setParent(None)
                item.widget().deleteLater()
        self.maps, self.bars = None, None
        if self.kind == "maps":
            self.maps = ActivationMaps((1, tile_h, tile_w), signed, ENLARGED_SIZE, parent=self)
            self.maps.setMinimumWidth(ENLARGED_SIZE)  # or the layout squeezes the map before it is shown
            self.maps.setAccessibleName(f"Enlarged map of {title}")
            self.maps.unitHovered.connect(self._hovered)
            self.maps.hoverLeft.connect(self._left)
            self.maps.unitActivated.connect(self._activated)
            self._map_holder.addWidget(self.maps)
            self._map_holder.addStretch(1)
        else:
            self.bars = VectorBars(count, labels, self)
            self.bars.setAccessibleName(f"Values of {title}, as bars")
            self.bars.set_sorted(self.sort_box.isChecked())
            self.bars.unitHovered.connect(lambda unit: self._hovered(unit, 0, 0))
            self.bars.hoverLeft.connect(self._left)
            self._map_holder.addWidget(self.bars, 1)
        self.sort_box.setVisible(self.bars is not None)
        # Every unit of a 1-D layer sees the whole input: the bars take the room of the input view.
        for widget in (self.field_caption, self.input_view):
            widget.setVisible(self.bars is None)
        for widget in (self.previous, self.next, self.spin, self.spin_label):
            widget.setVisible(self.bars is None)
        if self.bars is not None:
            self.resize(max(self.width(), 760), max(self.height(), 440))
        self.spin.blockSignals(True)
        self.spin.setRange(1, max(1, self.count))
        self.spin.blockSignals(False)
        for widget in (self.previous, self.next, self.spin):
            widget.setEnabled(self.count > 1)
        self.input_view.set_input_size(input_size[0], input_size[1], None)
        self.channel = -1
        self._activation = activation
        self.set_channel(channel)
        self.set_input(input_view)

    def set_channel(self, channel: int) -> None:
        channel = min(max(int(channel), 0), self.count - 1)
        if channel == self.channel:
            return
        self.channel = channel
        self.spin.blockSignals(True)
        self.spin.setValue(channel + 1)
        self.spin.blockSignals(False)
        self.spin.setToolTip(counted("map", channel, self.count))
        what = f"map {channel + 1} of {self.count}" if self.kind == "maps" else f"{self.bars.count} values"
        self.heading.setText(f"{self.title_text} — {what}")
        self.setWindowTitle(f"{self.title_text}, {what} — lenet-gui")
        self._refresh()

    def set_activation(self, activation: np.ndarray | None, input_view: np.ndarray | None) -> None:
        """A new result for the layer shown."""
        self._activation = activation
        self._refresh()
        self.set_input(input_view)

    def set_input(self, view: np.ndarray | None) -> None:
        self.input_view.set_view(view)

    def _current(self) -> np.ndarray | None:
        values = self._activation
        if values is None or (self.maps is None and self.bars is None):
            return None
        if self.kind == "maps":
            maps = values.reshape(-1, self.maps.tile_h, self.maps.tile_w)
            return maps[self.channel][None] if self.channel < len(maps) else None
        return values

    def _sort_toggled(self, on: bool) -> None:
        if self.bars is not None:
            self.bars.set_sorted(on)

    def set_inspected(self, layer: Layer | None, unit: tuple[int, ...] | None, box=None) -> None:
        """Mark the unit the inspector explains, when it lies on the map shown (and frame its field)."""
        self._inspected = None if layer is None or unit is None else (layer.index, tuple(unit), box)
        self._show_inspected()

    def _show_inspected(self) -> None:
        if self.maps is None:
            return
        cell, box = None, None
        if self._inspected is not None and self.layer is not None and self._inspected[0] == self.layer.index:
            _, unit, box = self._inspected
            if self.kind == "maps" and len(unit) == 3 and unit[0] == self.channel:
                cell = (0, unit[1], unit[2])
            elif self.kind == "maps" and len(unit) == 2:
                cell = (0, unit[0], unit[1])
            elif self.kind == "strip":
                cell = (int(np.ravel_multi_index(unit, self.maps.shape)), 0, 0)
            if cell is None:
                box = None
        self.maps.set_selected(cell)
        self.input_view.set_patch(box)

    def _refresh(self) -> None:
        if self.bars is not None:
            self.bars.set_values(self._current())
            if self.bars.values() is None:
                self.scale_label.setText("Nothing drawn: the values are idle.")
            else:
                under = "its class" if self.bars.labels else "the unit's number, counted from 1"
                self.scale_label.setText("One bar per unit, above the line for positive values, below for "
                                         f"negative ones; under a bar: {under}. Hover a bar to read it.")
            return
        if self.maps is None:
            return
        self._show_inspected()
        self.maps.set_values(self._current())
        scale = self.maps.scale
        if self.maps.values() is None:
            self.scale_label.setText("Nothing drawn: the map is idle.")
        elif self.maps.signed:
            self.scale_label.setText(f"Colours: blue −{scale:.3g} · zero in the middle · red +{scale:.3g}")
        else:
            self.scale_label.setText(f"Colours: dark 0 … bright {scale:.3g} (this map's largest value)")

    def _hovered(self, tile: int, row: int, col: int) -> None:
        if self.bars is not None:
            values = self.bars.values()
            value = None if values is None else float(values[tile])
            where = self.bars.name_of(tile)
        else:
            value = self.maps.value_at(tile, row, col)
            where = unit_text("maps", self.channel, self.count, row, col)
        text = f"{where}: {value:.4f}" if value is not None else f"{where}: no value yet"
        box = receptive_box_for(self.layer, self.kind, row, col)
        if box is not None:
            text += "\n" + box_text(box, *self.input_view.input_size())
        self.readout.setText(text)
        self.input_view.set_highlight(box)
        channel = self.channel if self.kind == "maps" else tile
        self.unitHovered.emit(self.layer, channel, row, col)

    def _activated(self, tile: int, row: int, col: int) -> None:
        channel = self.channel if self.kind == "maps" else tile
        self.unitActivated.emit(self.layer, channel, row, col)

    def _left(self) -> None:
        self.input_view.set_highlight(None)
        self.hoverLeft.emit()
