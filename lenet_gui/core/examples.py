"""The example drawings shipped with the package (resources/examples): every digit and classic confusions.

Names are the file names without ``.strokes.json``: ``"0"`` … ``"9"`` and
``"A-or-B"`` (a digit A that LeNet-5 finds close to B). No Qt here: the CLI's
``--example`` and the window's File → Examples both use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from lenet_gui.core.drawing import SUFFIX
from lenet_gui.core.errors import DrawingError


@dataclass(frozen=True)
class Example:
    name: str  # "7", "4-or-9"
    path: Path

    @property
    def title(self) -> str:
        """Words for a menu: "7" → "Digit 7", "4-or-9" → "4 or 9 (a 4 that looks like a 9)"."""
        if "-or-" in self.name:
            meant, rival = self.name.split("-or-", 1)
            return f"{meant} or {rival} (a {meant} that looks like a {rival})".replace("a 8", "an 8")
        return f"Digit {self.name}"

    @property
    def is_confusion(self) -> bool:
        return "-or-" in self.name


def examples_dir() -> Path | None:
    try:
        folder = Path(str(resources.files("lenet_gui.resources") / "examples"))
    except ModuleNotFoundError:
        return None
    return folder if folder.is_dir() else None


def list_examples() -> list[Example]:
    """The digits 0–9 first, then the confusions, in a stable order."""
    folder = examples_dir()
    if folder is None:
        return []
    found = [Example(p.name[: -len(SUFFIX)], p) for p in folder.glob(f"*{SUFFIX}")]
    return sorted(found, key=lambda e: (e.is_confusion, e.name))


def example_path(name: str) -> Path:
    """The file of example ``name``; a DrawingError naming the examples there are otherwise."""
    name = name.strip().removesuffix(SUFFIX)
    for example in list_examples():
        if example.name == name:
            return example.path
    names = ", ".join(e.name for e in list_examples()) or "none are installed"
    raise DrawingError(f"There is no example called {name!r}; the examples are: {names}")
