"""Starting the desktop app: display check, QApplication set-up, screenshots.

Qt is imported only after the display check: on a Linux machine without a
display, creating a QApplication aborts the whole process with a core dump,
so ``run_app`` explains what to do instead and returns 1.

``LENET_GUI_COLOR_SCHEME=light|dark`` forces a colour scheme for one run
(screenshots of both schemes); otherwise the View menu's choice applies.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

NO_DISPLAY_HELP = """\
lenet-gui: no display found, so the window cannot open.
  Neither DISPLAY nor WAYLAND_DISPLAY is set: this looks like a server, an SSH
  session or a container.
  To use the app:
    - start it from a desktop session (or over SSH with X forwarding: ssh -X),
    - or give it a virtual display:   xvfb-run lenet-gui
  To render the window into a PNG without any display:
    lenet-gui --screenshot window.png [--open digit.strokes.json]
  These need no display at all:
    lenet-gui predict FILE...     lenet-gui shapes
"""

XCB_CURSOR_HELP = (
    "lenet-gui: the window needs the X11 library libxcb-cursor, which is not installed: "
    "install it (Debian/Ubuntu: sudo apt install libxcb-cursor0; Fedora: sudo dnf install xcb-util-cursor) "
    "and start lenet-gui again.\n"
)

SCREENSHOT_SIZE = (1360, 860)
SCHEME_ENV = "LENET_GUI_COLOR_SCHEME"


def display_problem(environ=None) -> str | None:
    """Why no window can be shown here, or None when a display is available."""
    env = os.environ if environ is None else environ
    if not sys.platform.startswith("linux") and "bsd" not in sys.platform:
        return None  # Windows and macOS always have their window system
    platform = env.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    has_x11 = bool(env.get("DISPLAY"))
    has_wayland = bool(env.get("WAYLAND_DISPLAY"))
    if platform == "xcb":
        return None if has_x11 else NO_DISPLAY_HELP
    if platform.startswith("wayland"):
        return None if has_wayland else NO_DISPLAY_HELP
    if platform:
        return None  # offscreen, vnc, eglfs, ...: the user chose a platform that needs no desktop
    return None if has_x11 or has_wayland else NO_DISPLAY_HELP


def library_available(soname: str) -> bool:
    """Can the dynamic loader find ``soname`` (e.g. 'libxcb-cursor.so.0')? Tests replace this."""
    import ctypes
    import ctypes.util

    try:
        ctypes.CDLL(soname)
        return True
    except OSError:
        stem = soname.removeprefix("lib").split(".so")[0]
        return ctypes.util.find_library(stem) is not None


def xcb_platform_check(environ=None) -> tuple[str | None, str | None]:
    """(platform to ask Qt for, or None to leave its choice; a message when no window can open).

    Qt 6.5+ loads its X11 plugin only with libxcb-cursor, which minimal Linux
    installs lack; without it QApplication aborts the process (exit 134) with a
    message about plugins. Checked before the QApplication is made: on Wayland
    the Wayland plugin is used instead, on X11 alone the user is told what to install.
    """
    env = os.environ if environ is None else environ
    if not sys.platform.startswith("linux"):
        return None, None
    chosen = env.get("QT_QPA_PLATFORM", "").split(":")[0].strip().lower()
    if chosen and chosen != "xcb":
        return None, None  # wayland, offscreen, …: no xcb plugin involved
    if env.get("DISPLAY") and library_available("libxcb-cursor.so.0"):
        return None, None
    if env.get("WAYLAND_DISPLAY") and not chosen:
        return "wayland", None
    if not env.get("DISPLAY"):
        return None, None  # no display at all: display_problem has said so
    return None, XCB_CURSOR_HELP


def create_application(argv: list[str] | None = None):
    """The QApplication (the existing one when there is one), named so QSettings works."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    from lenet_gui.ui import theme

    app = QApplication.instance()
    if app is None:
        # Fractional scale factors (125 %, 150 %) as they are, not rounded: crisp on high-DPI screens.
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = QApplication(argv if argv is not None else sys.argv[:1])
        if QGuiApplication.platformName() == "offscreen":
            _quiet_offscreen_warnings()
    app.setOrganizationName("lenet-gui")
    app.setApplicationName("lenet-gui")
    app.setApplicationDisplayName("lenet-gui")
    app.setDesktopFileName("lenet-gui")
    from lenet_gui import __version__

    app.setApplicationVersion(__version__)
    app.setWindowIcon(theme.app_icon())
    manager = theme.scheme_manager(app)  # remember the system palette before anything overrides it
    forced = os.environ.get(SCHEME_ENV, "").strip().lower()
    if forced in theme.SCHEMES:
        manager.apply(forced)
    return app


_previous_handler = None


def _quiet_offscreen_warnings() -> None:
    """Drop the offscreen platform's "This plugin does not support …" notes; keep every other message."""
    from PySide6.QtCore import qInstallMessageHandler

    global _previous_handler

    def handler(kind, context, message):
        if message.startswith("This plugin does not support"):
            return
        if _previous_handler is not None:
            _previous_handler(kind, context, message)
        else:
            sys.stderr.write(message + "\n")

    _previous_handler = qInstallMessageHandler(handler)


def render_screenshot(window, path: str) -> bool:
    """Show ``window`` (offscreen or not), wait for its first result, save it as a PNG."""
    from PySide6.QtWidgets import QApplication

    window.show()
    for _ in range(5):  # layout settles over a few event-loop passes
        QApplication.processEvents()
        window.flush()
    return window.grab().save(path, "PNG")


def run_app(model: str | None = None, provider: str | None = None, open_file: str | None = None,
            screenshot: str | None = None) -> int:
    """Open the window; with ``screenshot``, render it into that PNG instead and exit. Returns the exit code."""
    problem = display_problem()
    if problem and not screenshot:
        sys.stderr.write(problem)
        return 1
    if problem:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    else:
        platform, missing = xcb_platform_check()
        if missing and not screenshot:
            sys.stderr.write(missing)
            return 2
        if missing or platform:
            os.environ["QT_QPA_PLATFORM"] = "offscreen" if missing else platform

    app = create_application()
    from lenet_gui.ui.main_window import MainWindow
    from lenet_gui.ui.settings import AppSettings

    if screenshot:
        # A screenshot depends on the arguments only: not on, nor changing, the user's session.
        window = MainWindow(model, provider, settings=AppSettings(persistent=False), restore=False,
                            interactive=False)
        window.resize(*SCREENSHOT_SIZE)
        if model and (window.session is None or window.session.path.resolve() != Path(model).resolve()):
            window.close()
            return 2  # the reason is already on stderr
        if open_file and not window.open_path(open_file):
            window.close()
            return 2
        ok = render_screenshot(window, screenshot)
        window.close()
        if not ok:
            sys.stderr.write(f"lenet-gui: cannot write the screenshot to {screenshot}\n")
            return 2
        return 0

    window = MainWindow(model, provider, defer_model=True)  # paints first, then opens the model
    if open_file:
        window.open_path(open_file)
    window.show()
    return app.exec()
