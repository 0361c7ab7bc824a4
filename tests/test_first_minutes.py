"""A new user's first ten minutes: the README's commands, --help, the examples, saving, a missing X11 library."""

import argparse
import json
import re
import shlex
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from PySide6.QtGui import QKeySequence

from lenet_gui import cli
from lenet_gui.core.drawing import load_drawing
from lenet_gui.core.examples import example_path, list_examples
from lenet_gui.core.errors import DrawingError
from lenet_gui.ui import app

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


# --- the README's commands -------------------------------------------------------------------------------
def readme_commands() -> list[str]:
    """The command lines of the README's ```sh blocks that run the app (comments dropped), in order.

    ``make`` lines are left out: ``make run`` opens the window and waits, ``make test``
    is this test suite, ``make gpu`` changes the installed onnxruntime.
    """
    text = README.read_text(encoding="utf-8")
    commands = []
    for block in re.findall(r"```sh\n(.*?)```", text, flags=re.S):
        for line in block.splitlines():
            line = re.split(r"\s+#\s", " " + line, maxsplit=1)[0].strip()
            if re.match(r"(\.venv/bin/)?lenet-gui(\s|$)", line):
                commands.append(line)
    return commands


def _program() -> list[str]:
    script = Path(sys.executable).parent / "lenet-gui"
    return [str(script)] if script.exists() else [sys.executable, "-m", "lenet_gui"]


def test_the_readme_shows_how_to_run_the_installed_command():
    text = README.read_text(encoding="utf-8")
    assert ".venv/bin/lenet-gui" in text and "source .venv/bin/activate" in text
    commands = readme_commands()
    assert commands[0].startswith(".venv/bin/lenet-gui")  # right after `make run`, before any bare lenet-gui
    assert len(commands) >= 5
    assert any("--example" in c for c in commands) and any("--screenshot" in c for c in commands)


def test_every_readme_command_runs_in_order(tmp_path):
    # Run from a folder that looks like the clone (its docs/), so nothing is written into the repository.
    (tmp_path / "docs").symlink_to(ROOT / "docs", target_is_directory=True)
    (tmp_path / "resources").symlink_to(ROOT / "resources", target_is_directory=True)
    env = {k: v for k, v in __import__("os").environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["LENET_GUI_SETTINGS_DIR"] = str(tmp_path / "settings")
    for line in readme_commands():
        words = shlex.split(line)
        command = _program() + words[1:]
        run = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=180)
        assert run.returncode == 0, f"{line!r} failed: {run.stderr}"
        if "--screenshot" in words:
            out = tmp_path / words[words.index("--screenshot") + 1]
            assert out.stat().st_size > 10_000, line
        else:
            assert run.stdout.strip(), line
        if "--json" in words and words[1] == "predict":
            record = json.loads(run.stdout.splitlines()[0])
            assert record["digit"] == 7
        if words[1:3] == ["predict", "--example"]:
            assert run.stdout.splitlines()[0].startswith("example 7: 7 ")


def test_make_readme_and_pyproject_agree_on_python():
    required = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["requires-python"]
    version = re.fullmatch(r">=(\d+\.\d+)", required).group(1)
    assert f"Python {version} or newer" in README.read_text(encoding="utf-8")
    makefile = (ROOT / "Makefile").read_text()
    assert f"Python {version}+" in makefile
    major, minor = version.split(".")
    assert f"sys.version_info < ({major}, {minor})" in makefile
    assert not re.search(r"Python 3\.(?!%s)\d+\+" % minor, makefile)


def test_the_readme_tells_the_dark_scheme_and_the_linux_library():
    text = README.read_text(encoding="utf-8")
    assert "View → Colour Scheme" in text and "LENET_GUI_COLOR_SCHEME=dark" in text
    assert "libxcb-cursor0" in text and "xcb-util-cursor" in text
    assert "0-based" in text  # what JSON indexes count from


# --- --help --------------------------------------------------------------------------------------------------
def _parsers():
    parser = cli.build_parser()
    yield "", parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            yield from action.choices.items()


def test_there_are_subcommands_to_check():
    names = [name for name, _ in _parsers()]
    assert {"", "shapes", "predict"} <= set(names)


@pytest.mark.parametrize("name", [name for name, _ in _parsers()], ids=lambda n: n or "lenet-gui")
def test_help_explains_every_option_with_an_example(name, capsys):
    parser = dict(_parsers())[name]
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            continue
        assert action.help and action.help != argparse.SUPPRESS, f"{name}: {action.option_strings or action.dest}"
    with pytest.raises(SystemExit) as exit_info:
        cli.main(([name] if name else []) + ["--help"])
    assert exit_info.value.code == 0
    text = capsys.readouterr().out
    # No internal names: a metavar for every option that takes a value.
    internal = re.findall(r"\b[A-Z][A-Z0-9]*_[A-Z0-9_]+\b", text)
    assert not internal, f"{name}: {internal}"
    for action in parser._actions:
        if action.option_strings and action.nargs != 0 and action.choices is None:
            assert action.metavar, f"{name}: {action.option_strings} shows its dest"
    examples = text.split("examples:", 1)
    assert len(examples) == 2, f"{name} --help has no examples"
    lines = [line.strip() for line in examples[1].splitlines() if line.strip()]
    assert lines and all(line.startswith(f"lenet-gui {name}".strip()) for line in lines)


# --- the examples ----------------------------------------------------------------------------------------------
def test_every_digit_and_the_classic_confusions_are_shipped():
    names = {e.name for e in list_examples()}
    assert {str(d) for d in range(10)} <= names
    assert {"1-or-7", "7-or-1", "4-or-9", "9-or-4", "3-or-5", "5-or-3", "3-or-8", "8-or-3"} <= names
    for example in list_examples():
        drawing = load_drawing(example.path)
        assert (drawing.width, drawing.height) == (500, 500) and drawing.strokes  # pen digits, tablet size
    notes = (example_path("7").parent / "README.md").read_text(encoding="utf-8")
    assert "CC BY 4.0" in notes and "Alpaydin" in notes
    with pytest.raises(DrawingError, match="no example called 'eleven'.*1-or-7"):
        example_path("eleven")


def test_predict_reads_the_examples_as_their_digits(capsys):
    args = [a for d in range(10) for a in ("--example", str(d))]
    assert cli.main(["predict", "--json"] + args) == 0
    digits = [json.loads(line)["digit"] for line in capsys.readouterr().out.splitlines()]
    assert digits == list(range(10))
    assert cli.main(["predict", "--example", "nope"]) == 2
    assert "no example called 'nope'" in capsys.readouterr().err
    assert cli.main(["predict"]) == 2
    assert "FILE or an --example" in capsys.readouterr().err


def test_file_examples_opens_an_example_as_an_untitled_drawing(window, qtbot):
    file_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&File")
    examples = next(a.menu() for a in file_menu.actions() if a.menu() and a.menu().objectName() == "examplesMenu")
    titles = [a.text().replace("&", "") for a in examples.actions() if a.text()]
    assert [f"Digit {d}" for d in range(10)] == titles[:10]
    assert "4 or 9 (a 4 that looks like a 9)" in titles
    seven = next(a for a in examples.actions() if a.text().replace("&", "") == "Digit 7")
    seven.trigger()
    window.flush()
    qtbot.waitUntil(lambda: window.prediction_label.text() == "7")
    assert window.document_path is None and "Untitled drawing" in window.windowTitle()
    assert window.canvas.drawing().strokes == load_drawing(example_path("7")).strokes


# --- saving -----------------------------------------------------------------------------------------------------
def test_after_clear_and_undo_save_still_writes_the_opened_file(window, draw, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QFileDialog

    path = tmp_path / "mine.strokes.json"
    path.write_bytes((ROOT / "docs" / "seven.strokes.json").read_bytes())
    assert window.open_path(str(path))
    original = window.canvas.drawing().strokes
    assert "[*]" in window.windowTitle() and not window.isWindowModified()
    assert QKeySequence("Ctrl+S") in window.actions.save.shortcuts()

    def no_dialog(*args, **kwargs):
        raise AssertionError("Save asked for a file name")

    monkeypatch.setattr(QFileDialog, "getSaveFileName", no_dialog)
    window.clear_drawing()
    assert window.isWindowModified() and window.document_path == str(path.resolve())
    window.canvas.undo_stack.undo()
    assert window.canvas.drawing().strokes == original and not window.isWindowModified()
    draw(window.canvas, [(40, 40), (200, 220)])
    assert window.isWindowModified()
    window.actions.save.trigger()
    assert not window.isWindowModified()
    assert load_drawing(path).strokes == window.canvas.drawing().strokes
    assert len(load_drawing(path).strokes) == len(original) + 1
    # Clear and save: the file is emptied, as the person asked, and Undo still brings the strokes back.
    window.clear_drawing()
    window.actions.save.trigger()
    assert load_drawing(path).strokes == []
    window.canvas.undo_stack.undo()
    assert window.isWindowModified() and len(window.canvas.drawing().strokes) == len(original) + 1


# --- Linux without libxcb-cursor ------------------------------------------------------------------------------
@pytest.fixture
def linux_x11(monkeypatch):
    monkeypatch.setattr(app.sys, "platform", "linux")
    monkeypatch.setenv("DISPLAY", ":0")
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    monkeypatch.delenv("QT_QPA_PLATFORM", raising=False)
    looked_up = []
    monkeypatch.setattr(app, "library_available", lambda name: looked_up.append(name) or False)

    def no_qt(*args, **kwargs):
        raise AssertionError("a QApplication was made")

    monkeypatch.setattr(app, "create_application", no_qt)
    return looked_up


def test_without_libxcb_cursor_one_line_says_what_to_install_and_exit_2(linux_x11, capsys):
    assert app.run_app() == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "libxcb-cursor0" in err and "Debian/Ubuntu" in err and "xcb-util-cursor" in err and "Fedora" in err
    assert linux_x11 == ["libxcb-cursor.so.0"]


def test_without_libxcb_cursor_on_wayland_it_uses_wayland(linux_x11, monkeypatch):
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    assert app.xcb_platform_check() == ("wayland", None)
    with pytest.raises(AssertionError, match="QApplication"):
        app.run_app()
    assert app.os.environ["QT_QPA_PLATFORM"] == "wayland"


def test_the_xcb_check_leaves_other_cases_alone(linux_x11, monkeypatch):
    assert app.xcb_platform_check({"DISPLAY": ":0", "QT_QPA_PLATFORM": "offscreen"}) == (None, None)
    assert app.xcb_platform_check({"DISPLAY": ":0", "QT_QPA_PLATFORM": "xcb", "WAYLAND_DISPLAY": "w"})[1]
    assert app.xcb_platform_check({}) == (None, None)  # no display: display_problem's message
    monkeypatch.setattr(app, "library_available", lambda name: True)
    assert app.xcb_platform_check({"DISPLAY": ":0"}) == (None, None)
    # A screenshot needs no X11: it renders offscreen instead of failing.
    monkeypatch.setattr(app, "library_available", lambda name: False)
    assert app.xcb_platform_check({"DISPLAY": ":0"})[1] is not None


def test_the_library_lookup_finds_a_library_that_is_there_and_not_one_that_is_not():
    assert app.library_available("libc.so.6")
    assert not app.library_available("libno-such-library-here.so.0")


def test_make_refuses_a_python_older_than_pyproject_allows(tmp_path):
    import shutil

    if shutil.which("make") is None:
        pytest.skip("make is not installed")  # the README's commands need it; the rest of the suite does not
    fake = tmp_path / "python3.10"
    fake.write_text('#!/bin/sh\nif [ "$1" = "-V" ]; then echo "Python 3.10.12"; exit 0; fi\n'
                    'if [ "$1" = "-c" ]; then exec python3 -c "import sys; sys.exit(1)"; fi\nexit 0\n')
    fake.chmod(0o755)
    venv = tmp_path / "venv"
    run = subprocess.run(["make", "-C", str(ROOT), f"PYTHON={fake}", f"VENV={venv}", "run"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode != 0
    assert "needs Python 3.11 or newer" in run.stdout + run.stderr and "Python 3.10.12" in run.stdout + run.stderr
    assert not venv.exists()
