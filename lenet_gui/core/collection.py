"""A class's own digits on disk: numbered ``.strokes.json`` drawings and ``labels.csv``.

The folder format (documented in the README, so other tools can read it)::

    my-class/
      labels.csv             file,label,writer   (a header, then one row per drawing)
      00001.strokes.json     a drawing (the format of lenet_gui.core.drawing)
      00002.strokes.json
      ...

``file`` is relative to the folder, ``label`` the digit the writer meant, and
``writer`` the name the person gave (may be empty; the column may be absent).
The file is UTF-8 CSV (RFC 4180 quoting), so a name may hold commas or quotes.

Saving never overwrites a file: a new drawing takes the number after the highest
one in the folder or in labels.csv (gaps stay gaps), and the name is claimed with
a hard link, which fails rather than replace what is there. Both the drawing and
its row are fsync'ed before ``save`` returns, so a crash loses at most the
drawing that was still on the canvas.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from lenet_gui.core.drawing import SUFFIX, Drawing, load_drawing
from lenet_gui.core.errors import LenetGuiError

LABELS_FILE = "labels.csv"
COLUMNS = ("file", "label", "writer")
NAME_WIDTH = 5
NUMBERED = re.compile(r"^(\d+)" + re.escape(SUFFIX) + "$", re.IGNORECASE)


class CollectionError(LenetGuiError):
    """A collection folder cannot be used at all (no folder, no labels.csv, no header)."""


@dataclass
class Entry:
    """One row of labels.csv that names a drawing."""

    file: str  # relative to the folder, with forward slashes
    label: str
    writer: str | None  # None when labels.csv has no writer column
    line: int


@dataclass
class Problem:
    """Something skipped, with the file it is about; ``str()`` is the message for the user."""

    file: str
    message: str

    def __str__(self) -> str:
        return self.message


@dataclass
class Collection:
    folder: Path
    entries: list[Entry]
    problems: list[Problem] = field(default_factory=list)
    has_writer: bool = True

    def path(self, entry: Entry) -> Path:
        return self.folder / entry.file


# --- reading ---------------------------------------------------------------------------------


def _read_rows(path: Path) -> list[list[str]]:
    try:
        text = path.read_bytes().decode("utf-8-sig")  # a BOM from a spreadsheet is fine
    except UnicodeDecodeError as exc:
        raise CollectionError(f"{path}: labels.csv is not UTF-8 text (byte {exc.start}); save it as UTF-8 CSV") from exc
    except OSError as exc:
        raise CollectionError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    try:
        return list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise CollectionError(f"{path}: not valid CSV ({exc})") from exc


def _clean_name(raw: str) -> str | None:
    """A relative path inside the folder, or None for one that points elsewhere."""
    name = raw.strip().replace("\\", "/")
    if not name or name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return None
    parts = PurePosixPath(name).parts
    if ".." in parts:
        return None
    return str(PurePosixPath(*parts))


def read_collection(folder: str | os.PathLike, classes: list[str] | None = None) -> Collection:
    """Read and check a collection folder.

    Raises CollectionError when the folder cannot be used at all. Otherwise every
    bad row or file becomes one Problem that names the file; the rest is returned.
    ``classes``, when given, are the labels a model knows: other labels are problems.
    """
    folder = Path(folder)
    if not folder.exists():
        raise CollectionError(f"{folder}: folder not found")
    if not folder.is_dir():
        raise CollectionError(f"{folder}: not a folder")
    labels_path = folder / LABELS_FILE
    if not labels_path.is_file():
        raise CollectionError(f"{folder}: there is no {LABELS_FILE}, so its drawings have no labels")
    rows = _read_rows(labels_path)
    while rows and not any(cell.strip() for cell in rows[0]):
        rows.pop(0)
    if not rows:
        raise CollectionError(f"{labels_path}: labels.csv is empty (expected the header file,label,writer)")
    header = [cell.strip().lower() for cell in rows[0]]
    if "file" not in header or "label" not in header:
        raise CollectionError(
            f"{labels_path}: the first line must be the header file,label,writer, found {','.join(rows[0])[:60]!r}"
        )
    col_file, col_label = header.index("file"), header.index("label")
    col_writer = header.index("writer") if "writer" in header else None
    known = None if classes is None else {str(c): c for c in classes}

    collection = Collection(folder, [], [], col_writer is not None)
    problems = collection.problems

    def problem(name: str, text: str) -> Problem:
        """Named as the folder was given, so several folders' messages stay apart."""
        shown = str(folder / name)
        return Problem(shown, f"{shown}: {text}")

    first_seen: dict[str, Entry] = {}
    conflicting: set[str] = set()
    mentioned: set[str] = set()  # every name a row gives, good or bad: one message per file
    needed = max(col_file, col_label, col_writer or 0) + 1
    for line, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        where = f"{LABELS_FILE} line {line}"
        if len(row) < needed:
            shown = row[col_file].strip() if len(row) > col_file and row[col_file].strip() else LABELS_FILE
            mentioned.add(_clean_name(shown) or shown)
            columns = f"{len(row)} column{'' if len(row) == 1 else 's'}"
            problems.append(problem(shown, f"{where} has {columns}, the header has {len(header)}; skipped"))
            continue
        raw_name, label = row[col_file], row[col_label].strip()
        name = _clean_name(raw_name)
        if name is not None:
            mentioned.add(name)
        if name is None:
            shown = raw_name.strip() or LABELS_FILE
            problems.append(problem(shown, f"{where} names no file inside the folder; skipped"))
            continue
        if not label:
            problems.append(problem(name, f"{where} gives no label; skipped"))
            continue
        if known is not None and label not in known:
            classes_text = _classes_text(classes)
            problems.append(problem(name, f"label {label!r} ({where}) is not one of the model's classes "
                                          f"{classes_text}; skipped"))
            continue
        writer = row[col_writer].strip() if col_writer is not None else None
        entry = Entry(name, label, writer, line)
        earlier = first_seen.get(name)
        if earlier is not None:
            if earlier.label == label:
                problems.append(problem(name, f"listed twice in {LABELS_FILE} (lines {earlier.line} and {line}); "
                                              "the second row is skipped"))
            elif name not in conflicting:
                conflicting.add(name)
                problems.append(problem(name, f"labelled {earlier.label} on {LABELS_FILE} line {earlier.line} "
                                              f"and {label} on line {line}; skipped"))
            continue
        first_seen[name] = entry

    for name, entry in first_seen.items():
        if name in conflicting:
            continue
        path = folder / name
        if not path.is_file():
            problems.append(problem(name, f"listed in {LABELS_FILE} (line {entry.line}) but not in the folder; "
                                          "skipped"))
            continue
        collection.entries.append(entry)

    for path in sorted(folder.glob("*" + SUFFIX)):
        if path.name not in mentioned:
            problems.append(problem(path.name, f"has no row in {LABELS_FILE}, so no label; skipped"))
    return collection


def _classes_text(classes) -> str:
    classes = [str(c) for c in classes]
    if classes == [str(i) for i in range(len(classes))] and len(classes) > 2:
        return f"0–{len(classes) - 1}"
    return ", ".join(classes)


# --- writing ---------------------------------------------------------------------------------


def _fsync_folder(folder: Path) -> None:
    """Make a new name in ``folder`` durable (POSIX; Windows has no folder handles to sync)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class CollectionWriter:
    """Appends drawings to a collection folder, creating it (and labels.csv) when needed."""

    def __init__(self, folder: str | os.PathLike) -> None:
        self.folder = Path(folder)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CollectionError(f"{self.folder}: cannot create the folder ({exc.strerror or exc})") from exc
        if not self.folder.is_dir():
            raise CollectionError(f"{self.folder}: not a folder")
        self.labels_path = self.folder / LABELS_FILE
        self.columns = list(COLUMNS)
        self.counts: Counter[str] = Counter()  # label → drawings in the folder
        self.writer_counts: dict[str, Counter[str]] = {}
        self._highest = 0
        self._load_existing()

    def _load_existing(self) -> None:
        names = []
        if self.labels_path.is_file() and self.labels_path.stat().st_size > 0:
            rows = _read_rows(self.labels_path)
            header = [c.strip().lower() for c in rows[0]] if rows else []
            if "file" not in header or "label" not in header:
                raise CollectionError(f"{self.labels_path}: the first line is not the header file,label,writer; "
                                      "choose another folder or fix the file")
            self.columns = header
            col_writer = header.index("writer") if "writer" in header else None
            for row in rows[1:]:
                if len(row) <= max(header.index("file"), header.index("label")):
                    continue
                name, label = row[header.index("file")].strip(), row[header.index("label")].strip()
                writer = row[col_writer].strip() if col_writer is not None and len(row) > col_writer else ""
                names.append(name)
                if label:
                    self.counts[label] += 1
                    self.writer_counts.setdefault(writer, Counter())[label] += 1
        names += [p.name for p in self.folder.iterdir()]
        for name in names:
            match = NUMBERED.match(PurePosixPath(name).name)
            if match:
                self._highest = max(self._highest, int(match.group(1)))

    def count_for(self, writer: str) -> Counter[str]:
        return self.writer_counts.get(writer, Counter())

    def save(self, drawing: Drawing, label: str, writer: str) -> Path:
        """Write the drawing under a new number and append its row; both are on disk on return."""
        label, writer = str(label).strip(), str(writer).strip()
        data = drawing.to_json().encode("utf-8")
        number = self._highest + 1
        tmp = self.folder / f".saving-{os.getpid()}{SUFFIX}.tmp"
        try:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            while True:
                path = self.folder / f"{number:0{NAME_WIDTH}d}{SUFFIX}"
                try:
                    os.link(tmp, path)  # fails when the name exists: never overwrites
                    break
                except FileExistsError:
                    number += 1
                except OSError:  # a file system without hard links
                    try:
                        with open(path, "xb") as fh:
                            fh.write(data)
                            fh.flush()
                            os.fsync(fh.fileno())
                        break
                    except FileExistsError:
                        number += 1
        except OSError as exc:
            raise CollectionError(f"{self.folder}: cannot save the drawing ({exc.strerror or exc})") from exc
        finally:
            tmp.unlink(missing_ok=True)
        self._highest = number
        try:
            self._append_row({"file": path.name, "label": label, "writer": writer})
            _fsync_folder(self.folder)
        except OSError as exc:
            raise CollectionError(
                f"{self.labels_path}: cannot add the row for {path.name} ({exc.strerror or exc})") from exc
        self.counts[label] += 1
        self.writer_counts.setdefault(writer, Counter())[label] += 1
        return path

    def take_back(self, path: str | os.PathLike) -> Drawing:
        """Undo the save of ``path``: its row must be the last one in labels.csv.

        The row is cut off the end of labels.csv (nothing else in the file is
        rewritten) and the drawing is deleted; its strokes are returned so that
        the person can label it again.
        """
        path = Path(path)
        try:
            data = self.labels_path.read_bytes()
            body = data.rstrip(b"\r\n")
            start = body.rfind(b"\n") + 1
            last = next(csv.reader([body[start:].decode("utf-8-sig")]), [])
            column = self.columns.index("file")
            if start == 0 or len(last) <= column or last[column].strip() != path.name:
                raise CollectionError(
                    f"{path.name} is no longer the last row of {self.labels_path}; it was left as it is")
            label = last[self.columns.index("label")].strip() if "label" in self.columns else ""
            writer = last[self.columns.index("writer")].strip() if "writer" in self.columns and \
                len(last) > self.columns.index("writer") else ""
            drawing = load_drawing(path)
            with open(self.labels_path, "r+b") as fh:
                fh.truncate(start)
                fh.flush()
                os.fsync(fh.fileno())
            path.unlink()
            _fsync_folder(self.folder)
        except OSError as exc:
            raise CollectionError(f"{path.name}: cannot take the save back ({exc.strerror or exc})") from exc
        self.counts[label] -= 1
        self.writer_counts.setdefault(writer, Counter())[label] -= 1
        return drawing

    def _append_row(self, values: dict[str, str]) -> None:
        new = not self.labels_path.exists() or self.labels_path.stat().st_size == 0
        prefix = ""
        if not new:
            with open(self.labels_path, "rb") as fh:
                fh.seek(-1, os.SEEK_END)
                if fh.read(1) not in (b"\n", b"\r"):
                    prefix = "\n"  # a file another tool left without a final newline
        buffer = io.StringIO()
        out = csv.writer(buffer, lineterminator="\n")
        if new:
            out.writerow(self.columns)
        out.writerow([values.get(column, "") for column in self.columns])
        with open(self.labels_path, "a", encoding="utf-8", newline="") as fh:
            fh.write(prefix + buffer.getvalue())
            fh.flush()
            os.fsync(fh.fileno())


def next_prompt(writer_counts: Counter, folder_counts: Counter, classes: list[str], rng,
                avoid: str | None = None) -> str:
    """The label to ask for next: the one this writer has drawn least, then the folder.

    Ties are broken at random (``rng``: a ``random.Random``) so that the order
    is not always 0, 1, 2 …, and ``avoid`` (the label just asked) is not asked twice
    in a row while another is as rare.
    """
    def rank(label: str) -> tuple[int, int]:
        return writer_counts.get(label, 0), folder_counts.get(label, 0)

    best = min(rank(c) for c in classes)
    candidates = [c for c in classes if rank(c) == best]
    if avoid in candidates and len(candidates) > 1:
        candidates.remove(avoid)
    return rng.choice(candidates)
