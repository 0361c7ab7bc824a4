"""What survives a restart: the drawing, window layout, tools and choices (QSettings).

``LENET_GUI_SETTINGS_DIR`` points the app at a folder of its own (an INI file
there) instead of the user's settings; the tests use it so that they never read
or overwrite a real user's drawing. ``AppSettings(persistent=False)`` keeps
everything in memory (the ``--screenshot`` mode: a rendered PNG must not depend
on, or change, what the user had open).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings

ORGANIZATION = "lenet-gui"
APPLICATION = "lenet-gui"
SETTINGS_DIR_ENV = "LENET_GUI_SETTINGS_DIR"
MAX_RECENT = 10


def open_qsettings() -> QSettings:
    folder = os.environ.get(SETTINGS_DIR_ENV)
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        return QSettings(str(Path(folder) / "lenet-gui.ini"), QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


class AppSettings:
    """Typed keys over QSettings (or over a dict when not persistent)."""

    def __init__(self, persistent: bool = True) -> None:
        self._qsettings = open_qsettings() if persistent else None
        self._memory: dict[str, object] = {}

    # --- raw access ---------------------------------------------------------------
    def _get(self, key: str, default=None):
        if self._qsettings is None:
            return self._memory.get(key, default)
        value = self._qsettings.value(key, default)
        return default if value is None else value

    def _set(self, key: str, value) -> None:
        if self._qsettings is None:
            self._memory[key] = value
        else:
            self._qsettings.setValue(key, value)

    def _remove(self, key: str) -> None:
        if self._qsettings is None:
            self._memory.pop(key, None)
        else:
            self._qsettings.remove(key)

    def sync(self) -> None:
        """Write to disk now: an autosaved drawing must survive a crash right after."""
        if self._qsettings is not None:
            self._qsettings.sync()

    def _text(self, key: str, default: str = "") -> str:
        value = self._get(key, default)
        return value if isinstance(value, str) else default

    def _number(self, key: str, default: float) -> float:
        try:
            return float(self._get(key, default))
        except (TypeError, ValueError):
            return default

    def _flag(self, key: str, default: bool) -> bool:
        value = self._get(key, default)
        if isinstance(value, str):  # INI files store booleans as text
            return value.lower() in ("true", "1", "yes")
        return bool(value)

    def _bytes(self, key: str) -> QByteArray | None:
        value = self._get(key)
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    # --- the current drawing ------------------------------------------------------------
    @property
    def drawing_json(self) -> str:
        return self._text("session/drawing")

    @drawing_json.setter
    def drawing_json(self, text: str) -> None:
        self._set("session/drawing", text)

    @property
    def backdrop_path(self) -> str:
        """The image shown under the strokes, if one was opened."""
        return self._text("session/image")

    @backdrop_path.setter
    def backdrop_path(self, path: str) -> None:
        self._set("session/image", path or "")

    @property
    def document_path(self) -> str:
        return self._text("session/document")

    @document_path.setter
    def document_path(self, path: str) -> None:
        self._set("session/document", path or "")

    # --- model and compute ----------------------------------------------------------------
    @property
    def model_path(self) -> str:
        return self._text("model/path")

    @model_path.setter
    def model_path(self, path: str) -> None:
        self._set("model/path", path or "")

    @property
    def provider(self) -> str:
        value = self._text("model/provider", "auto")
        return value if value in ("auto", "cpu", "cuda") else "auto"

    @provider.setter
    def provider(self, value: str) -> None:
        self._set("model/provider", value)

    # --- tools and view ---------------------------------------------------------------------
    @property
    def tool(self) -> str:
        value = self._text("draw/tool", "pen")
        return value if value in ("pen", "eraser") else "pen"

    @tool.setter
    def tool(self, value: str) -> None:
        self._set("draw/tool", value)

    @property
    def pen_width(self) -> float:
        return self._number("draw/pen_width", 0.0)  # 0: the default for the canvas

    @pen_width.setter
    def pen_width(self, value: float) -> None:
        self._set("draw/pen_width", float(value))

    @property
    def map_size(self) -> int:
        return int(self._number("view/map_size", 0))

    @map_size.setter
    def map_size(self, value: int) -> None:
        self._set("view/map_size", int(value))

    @property
    def show_grid(self) -> bool:
        return self._flag("view/show_grid", True)

    @show_grid.setter
    def show_grid(self, value: bool) -> None:
        self._set("view/show_grid", bool(value))

    @property
    def color_scheme(self) -> str:
        value = self._text("view/color_scheme", "system")
        return value if value in ("system", "light", "dark") else "system"

    @color_scheme.setter
    def color_scheme(self, value: str) -> None:
        self._set("view/color_scheme", value)

    # --- window layout -----------------------------------------------------------------------
    @property
    def geometry(self) -> QByteArray | None:
        return self._bytes("window/geometry")

    @geometry.setter
    def geometry(self, value: QByteArray) -> None:
        self._set("window/geometry", value)

    @property
    def window_state(self) -> QByteArray | None:
        return self._bytes("window/state")

    @window_state.setter
    def window_state(self, value: QByteArray) -> None:
        self._set("window/state", value)

    @property
    def splitter_state(self) -> QByteArray | None:
        return self._bytes("window/splitter")

    @splitter_state.setter
    def splitter_state(self, value: QByteArray) -> None:
        self._set("window/splitter", value)

    # --- recent files ----------------------------------------------------------------------------
    @property
    def recent_files(self) -> list[str]:
        try:
            items = json.loads(self._text("files/recent", "[]"))
        except ValueError:
            return []
        return [p for p in items if isinstance(p, str)][:MAX_RECENT] if isinstance(items, list) else []

    def add_recent(self, path: str) -> list[str]:
        path = str(Path(path).resolve())
        items = [path] + [p for p in self.recent_files if p != path]
        self._set("files/recent", json.dumps(items[:MAX_RECENT]))
        return items[:MAX_RECENT]

    def remove_recent(self, path: str) -> list[str]:
        items = [p for p in self.recent_files if p != path]
        self._set("files/recent", json.dumps(items))
        return items

    def clear_recent(self) -> None:
        self._remove("files/recent")

    @property
    def last_folder(self) -> str:
        return self._text("files/last_folder")

    @last_folder.setter
    def last_folder(self, folder: str) -> None:
        self._set("files/last_folder", folder)

    # --- collecting a class's digits ----------------------------------------------------------
    @property
    def collect_folder(self) -> str:
        return self._text("collect/folder")

    @collect_folder.setter
    def collect_folder(self, folder: str) -> None:
        self._set("collect/folder", folder or "")

    @property
    def collect_writer(self) -> str:
        """The last writer's name, offered when the next session asks."""
        return self._text("collect/writer")

    @collect_writer.setter
    def collect_writer(self, name: str) -> None:
        self._set("collect/writer", name or "")
