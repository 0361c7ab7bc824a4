"""What survives a restart: the drawing, window layout, tools and choices (QSettings).

``LENET_GUI_SETTINGS_DIR`` points the app at a folder of its own (an INI file
there) instead of the user's settings; the tests use it so that they never read
or overwrite a real user's drawing. ``AppSettings(persistent=False)`` keeps
everything in memory (the ``--screenshot`` mode: a rendered PNG must not depend
on, or change, what the user had open).

Two windows open at once (two app instances) each autosave into a session slot
of their own: a window claims the first slot no other running window holds (a
QLockFile per slot, freed when its process dies, even by SIGKILL), so neither
overwrites the other's drawing. A settings file that cannot be read (binary
garbage, a format error) is moved aside and the app starts with defaults;
``problem`` then says so.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from PySide6.QtCore import QByteArray, QLockFile, QSettings, QStandardPaths

ORGANIZATION = "lenet-gui"
APPLICATION = "lenet-gui"
SETTINGS_DIR_ENV = "LENET_GUI_SETTINGS_DIR"
MAX_RECENT = 10
# `lenet-gui --memory-limit/--timeout` set these for one run, ahead of the stored settings.
MEMORY_LIMIT_ENV = "LENET_GUI_MEMORY_LIMIT"
TIMEOUT_ENV = "LENET_GUI_TIMEOUT"
MAX_SESSION_SLOTS = 16


def _lock_folder() -> Path:
    """Where the session slots' lock files live: the settings folder, or the app's data folder."""
    folder = os.environ.get(SETTINGS_DIR_ENV)
    if folder:
        return Path(folder)
    return Path(QStandardPaths.writableLocation(QStandardPaths.StandardLocation.AppLocalDataLocation))


def _damage(path: Path, qsettings: QSettings) -> str:
    """Why a settings file cannot be trusted, or "" when it reads fine."""
    if qsettings.status() == QSettings.Status.FormatError:
        return "it is not in the settings format"
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    if not data.strip():
        return ""
    if b"\x00" in data:
        return "it holds binary data"
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return "it is not text"
    if not qsettings.allKeys():
        return "none of it could be read"
    if any(_cut_short(line) for line in text.splitlines()):
        return "it ends in the middle of a value, as a file cut short does"
    return ""


def _cut_short(line: str) -> bool:
    """A ``key="…`` line whose quoted value never closes (QSettings writes each on one line)."""
    if line.startswith(("[", ";", "#")) or "=" not in line:
        return False
    value = line.split("=", 1)[1].strip()
    if not value.startswith('"'):
        return False
    body = value[1:]
    if not body.endswith('"'):
        return True
    backslashes = len(body[:-1]) - len(body[:-1].rstrip("\\"))
    return backslashes % 2 == 1  # the last quote is escaped: still open


def _open_checked() -> tuple[QSettings, str]:
    """The settings, and a sentence when a damaged file had to be set aside."""
    qsettings = open_qsettings()
    path = Path(qsettings.fileName())
    if qsettings.format() != QSettings.Format.IniFormat and sys.platform in ("win32", "darwin"):
        return qsettings, ""  # the registry or a binary plist: Qt's own format, not INI text
    if not path.is_file():
        return qsettings, ""
    why = _damage(path, qsettings)
    if not why:
        return qsettings, ""
    aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    del qsettings
    try:
        os.replace(path, aside)
        kept = f"; the damaged file is kept as {aside.name}"
    except OSError:
        kept = ""
    return open_qsettings(), f"The settings file could not be read ({why}), so lenet-gui started with default settings{kept}."


def open_qsettings() -> QSettings:
    folder = os.environ.get(SETTINGS_DIR_ENV)
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        return QSettings(str(Path(folder) / "lenet-gui.ini"), QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.NativeFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)


class AppSettings:
    """Typed keys over QSettings (or over a dict when not persistent)."""

    def __init__(self, persistent: bool = True) -> None:
        self._qsettings, self.problem = _open_checked() if persistent else (None, "")
        self._memory: dict[str, object] = {}
        self._slot = 0
        self._slot_lock: QLockFile | None = None

    # --- one session slot per running window ------------------------------------------------
    def claim_session(self) -> int:
        """Take the first session slot no other running window holds; returns its number."""
        if self._qsettings is None or self._slot_lock is not None:
            return self._slot
        folder = _lock_folder()
        folder.mkdir(parents=True, exist_ok=True)
        for slot in range(MAX_SESSION_SLOTS):
            lock = QLockFile(str(folder / f"lenet-gui-session-{slot}.lock"))
            lock.setStaleLockTime(0)  # only a live process holds a slot
            if lock.tryLock(0):
                self._slot, self._slot_lock = slot, lock
                self._qsettings.sync()  # read what that slot's last window wrote
                return slot
        return self._slot  # more windows than slots: share the last one

    def release_session(self) -> None:
        if self._slot_lock is not None:
            self._slot_lock.unlock()
            self._slot_lock = None

    def _session_key(self, name: str) -> str:
        return f"session/{name}" if self._slot == 0 else f"session{self._slot}/{name}"

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
        return self._text(self._session_key("drawing"))

    @drawing_json.setter
    def drawing_json(self, text: str) -> None:
        self._set(self._session_key("drawing"), text)

    @property
    def backdrop_path(self) -> str:
        """The image shown under the strokes, if one was opened."""
        return self._text(self._session_key("image"))

    @backdrop_path.setter
    def backdrop_path(self, path: str) -> None:
        self._set(self._session_key("image"), path or "")

    @property
    def document_path(self) -> str:
        return self._text(self._session_key("document"))

    @document_path.setter
    def document_path(self, path: str) -> None:
        self._set(self._session_key("document"), path or "")

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

    @property
    def memory_limit(self) -> int:
        """Bytes a model may use (``model/memory_limit``, e.g. "2GiB"); larger models are refused."""
        from lenet_gui.core.budget import DEFAULT_LIMIT, parse_size

        try:
            return parse_size(os.environ.get(MEMORY_LIMIT_ENV) or self._text("model/memory_limit", "") or DEFAULT_LIMIT)
        except ValueError:
            return DEFAULT_LIMIT

    @memory_limit.setter
    def memory_limit(self, value: int | str) -> None:
        self._set("model/memory_limit", str(value))

    @property
    def inference_timeout(self) -> float:
        """Seconds one inference may take before it is stopped (``model/timeout``)."""
        from lenet_gui.core.safe_run import DEFAULT_TIMEOUT_S

        try:
            value = float(os.environ.get(TIMEOUT_ENV) or self._number("model/timeout", DEFAULT_TIMEOUT_S))
        except ValueError:
            value = DEFAULT_TIMEOUT_S
        return value if 0 < value < 1e6 else DEFAULT_TIMEOUT_S

    @inference_timeout.setter
    def inference_timeout(self, seconds: float) -> None:
        self._set("model/timeout", float(seconds))

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
