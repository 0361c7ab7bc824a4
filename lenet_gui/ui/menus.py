"""The window's actions, menus and toolbar, with standard shortcuts.

Kept apart from main_window.py so that the window itself reads as layout and
behaviour. Every action calls a public method of MainWindow.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QLabel, QMenu, QSlider, QToolBar

from lenet_gui.core.runtime import provider_info  # no onnx import before the first paint
from lenet_gui.ui import examples_menu
from lenet_gui.ui.canvas import ERASER, MAX_PEN_SIZE, MIN_PEN_SIZE, PEN

StandardKey = QKeySequence.StandardKey


def _keys(*keys) -> list[QKeySequence]:
    """Shortcuts, each a StandardKey (all its platform bindings) or a portable string; no duplicates."""
    sequences: list[QKeySequence] = []
    for key in keys:
        found = QKeySequence.keyBindings(key) if isinstance(key, StandardKey) else [QKeySequence(key)]
        for sequence in found:
            if not sequence.isEmpty() and sequence not in sequences:
                sequences.append(sequence)
    return sequences


class HistoryAction(QAction):
    """Undo or Redo with a fixed label (the toolbar stays put); the command goes in the tooltip."""

    def __init__(self, text: str, verb: str, parent) -> None:
        super().__init__(text, parent)
        self.verb = verb

    def show_command(self, command: str) -> None:
        tip = f"{self.verb} {command}".strip()
        self.setToolTip(tip)
        self.setStatusTip(tip)


@dataclass
class Actions:
    open_file: QAction
    open_model: QAction
    recent_menu: QMenu
    save: QAction
    save_as: QAction
    export_png: QAction
    export_panel: QAction
    quit: QAction
    undo: QAction
    redo: QAction
    clear: QAction
    pen: QAction
    eraser: QAction
    thicker: QAction
    thinner: QAction
    providers: dict[str, QAction]
    provider_group: QActionGroup
    input_convention: QAction
    larger_maps: QAction
    smaller_maps: QAction
    show_grid: QAction
    schemes: dict[str, QAction]
    how_to_read: QAction
    about: QAction
    pen_slider: QSlider


def build(window) -> Actions:
    """Create the actions, menus and toolbar of ``window`` (a MainWindow)."""

    def action(text: str, slot, keys=(), tip: str = "", checkable: bool = False) -> QAction:
        act = QAction(text, window)
        if keys:
            act.setShortcuts(_keys(*keys))
        if tip:
            act.setStatusTip(tip)
            act.setToolTip(tip)
        act.setCheckable(checkable)
        if slot is not None:
            act.triggered.connect(slot)
        return act

    canvas = window.canvas
    recent_menu = QMenu("Open &Recent", window)
    recent_menu.aboutToShow.connect(lambda: window.fill_recent_menu(recent_menu))

    stack = canvas.undo_stack
    undo = HistoryAction("&Undo", "Undo", window)
    undo.setShortcuts(_keys(StandardKey.Undo))
    undo.triggered.connect(stack.undo)
    redo = HistoryAction("&Redo", "Redo", window)
    redo.setShortcuts(_keys(StandardKey.Redo, "Ctrl+Shift+Z", "Ctrl+Y"))
    redo.triggered.connect(stack.redo)
    undo.setEnabled(stack.canUndo())
    redo.setEnabled(stack.canRedo())
    stack.canUndoChanged.connect(undo.setEnabled)
    stack.canRedoChanged.connect(redo.setEnabled)
    stack.undoTextChanged.connect(undo.show_command)
    stack.redoTextChanged.connect(redo.show_command)

    tool_group = QActionGroup(window)
    pen = action("&Pen", lambda: canvas.set_tool(PEN), ["P"], "Draw strokes", True)
    eraser = action("&Eraser", lambda: canvas.set_tool(ERASER), ["E"],
                    "Erase the parts of strokes you drag over (the pen's other end erases too)", True)
    for act in (pen, eraser):
        tool_group.addAction(act)
    (eraser if canvas.tool() == ERASER else pen).setChecked(True)

    provider_group = QActionGroup(window)
    providers = {}
    info = provider_info()
    for key, text in (("auto", "&Auto (CUDA when available)"), ("cpu", "&CPU"), ("cuda", "C&UDA")):
        act = action(text, lambda checked=False, key=key: window.set_provider(key), checkable=True)
        available = key == "auto" or info[key].available
        if not available:
            act.setEnabled(False)
            act.setText(f"{text} — not available")
            act.setToolTip(f"CUDA is not available: {info[key].reason}")
            act.setStatusTip(act.toolTip())
        provider_group.addAction(act)
        providers[key] = act

    scheme_group = QActionGroup(window)
    schemes = {}
    for key, text in (("system", "Follow the &System"), ("light", "&Light"), ("dark", "&Dark")):
        act = action(text, lambda checked=False, key=key: window.set_color_scheme(key), checkable=True)
        scheme_group.addAction(act)
        schemes[key] = act

    slider = QSlider(Qt.Orientation.Horizontal)
    slider.setObjectName("penWidth")
    slider.setRange(int(MIN_PEN_SIZE), int(MAX_PEN_SIZE))
    slider.setValue(round(canvas.pen_size()))
    slider.setFixedWidth(120)
    slider.setAccessibleName("Pen width")
    slider.setToolTip("Pen width ([ and ] change it)")
    slider.valueChanged.connect(lambda value: canvas.set_pen_size(float(value)))
    canvas.penSizeChanged.connect(lambda size: slider.setValue(round(size)) if slider.value() != round(size) else None)

    actions = Actions(
        open_file=action("&Open…", window.open_dialog, [StandardKey.Open],
                         "Open an image or a .strokes.json drawing"),
        open_model=action("Open &Model…", window.open_model_dialog, ["Ctrl+Shift+O"], "Open another ONNX model"),
        recent_menu=recent_menu,
        save=action("&Save Drawing", window.save, [StandardKey.Save], "Save the drawing as .strokes.json"),
        save_as=action("Save Drawing &As…", window.save_as, [StandardKey.SaveAs],
                       "Save the drawing as a new .strokes.json file"),
        export_png=action("Export Drawing as &PNG…", window.export_png_dialog, ["Ctrl+Shift+E"],
                          "Save the drawing as a PNG image"),
        export_panel=action("Export &Layer Panel as PNG…", window.export_panel_dialog, ["Ctrl+Shift+L"],
                            "Save every layer of the panel, with its heatmaps, as one PNG image"),
        quit=action("&Quit", window.close, [StandardKey.Quit, "Ctrl+Q"]),
        undo=undo,
        redo=redo,
        clear=action("&Clear", window.clear_drawing, ["Esc", StandardKey.Delete, "Delete"], "Clear the drawing"),
        pen=pen,
        eraser=eraser,
        thicker=action("&Thicker Pen", lambda: canvas.set_pen_size(canvas.pen_size() + 2), ["]"]),
        thinner=action("T&hinner Pen", lambda: canvas.set_pen_size(canvas.pen_size() - 2), ["["]),
        providers=providers,
        provider_group=provider_group,
        input_convention=action("&Input Convention…", window.show_convention_dialog,
                                tip="How the model's input is prepared; for models without metadata, "
                                "what calibration on reference digits chose"),
        larger_maps=action("&Larger Heatmaps", lambda: window.step_tile_size(1), [StandardKey.ZoomIn, "Ctrl+="]),
        smaller_maps=action("&Smaller Heatmaps", lambda: window.step_tile_size(-1), [StandardKey.ZoomOut]),
        show_grid=action("Pixel &Grid on the Network Input", window.set_show_grid, checkable=True),
        schemes=schemes,
        how_to_read=action("&How to Read the Panel", window.show_help, [StandardKey.HelpContents]),
        about=action("&About lenet-gui", window.show_about),
        pen_slider=slider,
    )
    _menus(window, actions)
    _toolbar(window, actions)
    return actions


def _menus(window, a: Actions) -> None:
    bar = window.menuBar()
    file_menu = bar.addMenu("&File")
    file_menu.addActions([a.open_file])
    file_menu.addMenu(a.recent_menu)
    file_menu.addMenu(examples_menu.build(window))
    file_menu.addAction(a.open_model)
    file_menu.addSeparator()
    file_menu.addActions([a.save, a.save_as, a.export_png, a.export_panel])
    file_menu.addSeparator()
    file_menu.addAction(a.quit)

    edit = bar.addMenu("&Edit")
    edit.addActions([a.undo, a.redo])
    edit.addSeparator()
    edit.addAction(a.clear)

    draw = bar.addMenu("&Draw")
    draw.addActions([a.pen, a.eraser])
    draw.addSeparator()
    draw.addActions([a.thicker, a.thinner])

    compute = bar.addMenu("&Compute")
    compute.setToolTipsVisible(True)  # the reason CUDA is greyed out
    compute.addActions(list(a.providers.values()))
    compute.addSeparator()
    compute.addAction(a.input_convention)

    view = bar.addMenu("&View")
    view.addActions([a.larger_maps, a.smaller_maps, a.show_grid])
    schemes = view.addMenu("&Colour Scheme")
    schemes.addActions(list(a.schemes.values()))

    help_menu = bar.addMenu("&Help")
    help_menu.addActions([a.how_to_read, a.about])


def _toolbar(window, a: Actions) -> None:
    tools = QToolBar("Tools", window)
    tools.setObjectName("toolsToolbar")
    tools.setMovable(False)
    tools.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
    tools.addActions([a.pen, a.eraser])
    label = QLabel("  Width ")
    label.setBuddy(a.pen_slider)
    tools.addWidget(label)
    tools.addWidget(a.pen_slider)
    tools.addSeparator()
    tools.addActions([a.undo, a.redo, a.clear])
    tools.addSeparator()
    tools.addActions([a.open_file, a.save, a.open_model])
    window.addToolBar(Qt.ToolBarArea.TopToolBarArea, tools)


# --- collect mode and evaluation ----------------------------------------------------------------
@dataclass
class CollectActions:
    collect_mode: QAction
    change_writer: QAction
    choose_folder: QAction
    evaluate_collection: QAction
    evaluate_folder: QAction
    evaluate_file: QAction
    menu: QMenu


def build_collect(window, mode) -> CollectActions:
    """The Collect menu (before Help) for ``mode`` (a collect_mode.CollectMode)."""

    def action(text: str, slot, keys=(), tip: str = "", checkable: bool = False) -> QAction:
        act = QAction(text, window)
        if keys:
            act.setShortcuts(_keys(*keys))
        act.setStatusTip(tip)
        act.setToolTip(tip)
        act.setCheckable(checkable)
        act.triggered.connect(slot)
        return act

    actions = CollectActions(
        collect_mode=action("&Collect Mode", mode.set_active, ["Ctrl+K"],
                            "Save each drawing with its label into a folder: a digit key labels it, "
                            "Enter accepts the prediction", True),
        change_writer=action("Change &Writer…", mode.panel.ask_writer, (), "Give the name of the person drawing"),
        choose_folder=action("Choose the Folder to &Save Into…", mode.panel.choose_folder, (),
                             "The folder the drawings are saved into"),
        evaluate_collection=action("&Evaluate the Collection", lambda: mode.evaluate([mode.panel.folder]),
                                   ["Ctrl+Shift+K"], "Accuracy, confusion matrix and the worst mistakes on the folder"),
        evaluate_folder=action("Evaluate a &Folder…", mode.evaluate_folder_dialog, (),
                               "Evaluate another collection folder (or a folder of MNIST idx files)"),
        evaluate_file=action("Evaluate a &Data Set File…", mode.evaluate_file_dialog, (),
                             "Evaluate a pendigits .tra/.tes file or an MNIST idx file"),
        menu=QMenu("C&ollect", window),
    )
    menu = actions.menu
    menu.addAction(actions.collect_mode)
    menu.addActions([actions.change_writer, actions.choose_folder])
    menu.addSeparator()
    menu.addActions([actions.evaluate_collection, actions.evaluate_folder, actions.evaluate_file])
    bar = window.menuBar()
    menus = [a for a in bar.actions() if a.menu() is not None]
    help_action = next((a for a in menus if a.text().replace("&", "") == "Help"), None)
    if help_action is not None:
        bar.insertMenu(help_action, menu)
    else:
        bar.addMenu(menu)
    return actions
