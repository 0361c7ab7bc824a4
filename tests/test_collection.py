"""The collection folder: numbered drawings plus labels.csv, written safely, read with clear messages."""

import csv
import os
import random
from collections import Counter

import pytest

from lenet_gui.core import collection as col
from lenet_gui.core.collection import CollectionError, CollectionWriter, next_prompt, read_collection
from lenet_gui.core.drawing import Drawing, load_drawing, save_drawing

ONE = Drawing(280, 280, [[(140.0, 40.0), (140.0, 240.0)]], 15.5)
DIGITS = [str(d) for d in range(10)]


def rows(folder):
    with open(folder / "labels.csv", newline="", encoding="utf-8") as fh:
        return list(csv.reader(fh))


def test_saves_are_numbered_with_their_row_on_disk_at_once(tmp_path):
    writer = CollectionWriter(tmp_path / "class")
    first = writer.save(ONE, "1", "Ana")
    assert first.name == "00001.strokes.json"
    # Right after save: the drawing is complete and its row is in labels.csv.
    assert load_drawing(first).strokes == ONE.strokes
    assert rows(tmp_path / "class") == [["file", "label", "writer"], ["00001.strokes.json", "1", "Ana"]]
    second = writer.save(ONE, "7", "Bo")
    assert second.name == "00002.strokes.json"
    assert rows(tmp_path / "class")[-1] == ["00002.strokes.json", "7", "Bo"]
    assert writer.counts == Counter({"1": 1, "7": 1})
    assert writer.count_for("Ana") == Counter({"1": 1}) and writer.count_for("nobody") == Counter()
    assert sorted(p.name for p in (tmp_path / "class").iterdir()) == ["00001.strokes.json", "00002.strokes.json", "labels.csv"]


def test_never_overwrites_and_continues_after_the_highest_number(tmp_path):
    folder = tmp_path / "class"
    folder.mkdir()
    save_drawing(Drawing(280, 280, [[(1, 1), (2, 2)]]), folder / "00003.strokes.json")  # a gap before it
    (folder / "labels.csv").write_text("file,label,writer\n00003.strokes.json,4,Cy\n00009.strokes.json,5,Cy\n")
    before = (folder / "00003.strokes.json").read_bytes()
    writer = CollectionWriter(folder)
    assert writer.counts == Counter({"4": 1, "5": 1})
    path = writer.save(ONE, "1", "Ana")
    assert path.name == "00010.strokes.json"  # after 9, named in labels.csv though the file is gone
    assert (folder / "00003.strokes.json").read_bytes() == before


def test_a_name_taken_meanwhile_is_skipped_not_replaced(tmp_path):
    writer = CollectionWriter(tmp_path)
    save_drawing(Drawing(280, 280, [[(5, 5), (6, 6)]]), tmp_path / "00001.strokes.json")  # another program, after open
    theirs = (tmp_path / "00001.strokes.json").read_bytes()
    path = writer.save(ONE, "1", "Ana")
    assert path.name == "00002.strokes.json"
    assert (tmp_path / "00001.strokes.json").read_bytes() == theirs
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="names open files through /proc (Linux)")
def test_every_save_is_fsynced(tmp_path, monkeypatch):
    synced = []
    real = os.fsync

    def spy(fd):
        synced.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(col.os, "fsync", spy)
    CollectionWriter(tmp_path).save(ONE, "1", "Ana")
    names = [os.path.basename(str(s)) for s in synced]
    assert any(n.endswith(".strokes.json.tmp") for n in names), names  # the drawing's bytes before its name
    assert "labels.csv" in names
    if os.name == "posix":
        assert str(tmp_path) in [str(s) for s in synced]  # the folder: the new name survives a crash


def test_names_with_commas_quotes_and_accents_round_trip(tmp_path):
    writer = CollectionWriter(tmp_path)
    writer.save(ONE, "1", 'Zoë "Z" Müller, 4b')
    assert rows(tmp_path)[-1] == ["00001.strokes.json", "1", 'Zoë "Z" Müller, 4b']
    read = read_collection(tmp_path, DIGITS)
    assert [e.writer for e in read.entries] == ['Zoë "Z" Müller, 4b'] and read.problems == []


def test_appends_to_a_file_without_a_final_newline_and_keeps_its_columns(tmp_path):
    save_drawing(ONE, tmp_path / "a.strokes.json")
    (tmp_path / "labels.csv").write_text("writer,label,file\nAna,1,a.strokes.json", encoding="utf-8")
    CollectionWriter(tmp_path).save(ONE, "7", "Bo")
    assert rows(tmp_path) == [["writer", "label", "file"], ["Ana", "1", "a.strokes.json"], ["Bo", "7", "00001.strokes.json"]]
    read = read_collection(tmp_path, DIGITS)
    assert [(e.file, e.label, e.writer) for e in read.entries] == [("a.strokes.json", "1", "Ana"), ("00001.strokes.json", "7", "Bo")]


def test_a_folder_whose_labels_csv_is_not_ours_is_refused(tmp_path):
    (tmp_path / "labels.csv").write_text("name,digit\nx,1\n")
    with pytest.raises(CollectionError, match="header"):
        CollectionWriter(tmp_path)


def test_a_file_where_the_folder_should_be(tmp_path):
    (tmp_path / "taken").write_text("x")
    with pytest.raises(CollectionError, match="taken"):
        CollectionWriter(tmp_path / "taken")


# --- reading ---------------------------------------------------------------------------------


@pytest.fixture
def messy(tmp_path):
    """A folder with one of each problem, and three good drawings."""
    folder = tmp_path / "messy"
    folder.mkdir()
    for name in ("good1", "good2", "good3", "twice", "conflict", "badlabel", "unlisted", "nolabel"):
        save_drawing(ONE, folder / f"{name}.strokes.json")
    (folder / "broken.strokes.json").write_text('{"version": 1, "width": 10')
    (folder / "labels.csv").write_text(
        "file,label,writer\n"
        "good1.strokes.json,1,Ana\n"
        "good2.strokes.json,7,Bo\n"
        "twice.strokes.json,3,Ana\n"
        "twice.strokes.json,3,Ana\n"
        "conflict.strokes.json,3,Ana\n"
        "conflict.strokes.json,5,Ana\n"
        "badlabel.strokes.json,12,Ana\n"
        "gone.strokes.json,2,Ana\n"
        "nolabel.strokes.json,,Ana\n"
        "short.strokes.json\n"
        "../outside.strokes.json,1,Ana\n"
        "broken.strokes.json,4,Ana\n"
        "\n"
        "good3.strokes.json,0,\n",
        encoding="utf-8",
    )
    return folder


def test_each_bad_row_or_file_is_one_message_naming_the_file(messy):
    read = read_collection(messy, DIGITS)
    assert [e.file for e in read.entries] == ["good1.strokes.json", "good2.strokes.json", "twice.strokes.json",
                                              "broken.strokes.json", "good3.strokes.json"]
    by_file = {}
    for p in read.problems:
        assert p.file.startswith(str(messy) + "/")  # named as the folder was given
        by_file.setdefault(p.file[len(str(messy)) + 1:], []).append(p.message)
    assert all(len(m) == 1 for m in by_file.values()), by_file
    expected = {
        "twice.strokes.json": "listed twice",
        "conflict.strokes.json": "labelled 3 on labels.csv line 6 and 5 on line 7",
        "badlabel.strokes.json": "label '12' (labels.csv line 8) is not one of the model's classes 0–9",
        "gone.strokes.json": "not in the folder",
        "nolabel.strokes.json": "gives no label",
        "short.strokes.json": "labels.csv line 11 has 1 column, the header has 3",
        "../outside.strokes.json": "names no file inside the folder",
        "unlisted.strokes.json": "has no row in labels.csv",
    }
    assert set(by_file) == set(expected)
    for name, words in expected.items():
        (message,) = by_file[name]
        assert message.startswith(str(messy / name)) and words in message and message.endswith("skipped"), message
    assert read.entries[4].writer == ""  # an empty cell is a writer without a name


def test_labels_are_checked_only_against_given_classes(messy):
    read = read_collection(messy)  # no model: any label goes
    assert "badlabel.strokes.json" in [e.file for e in read.entries]


@pytest.mark.parametrize(
    "setup, words",
    [
        (lambda f: None, "there is no labels.csv"),
        (lambda f: (f / "labels.csv").write_text(""), "empty"),
        (lambda f: (f / "labels.csv").write_text("a,b\n1,2\n"), "header"),
        (lambda f: (f / "labels.csv").write_bytes(b"file,label\n\xff\xfe,1\n"), "not UTF-8"),
    ],
    ids=["missing", "empty", "no-header", "not-utf8"],
)
def test_unusable_folders_raise_one_message(tmp_path, setup, words):
    folder = tmp_path / "f"
    folder.mkdir()
    setup(folder)
    with pytest.raises(CollectionError, match=words) as info:
        read_collection(folder, DIGITS)
    assert str(folder) in str(info.value) and "\n" not in str(info.value)


def test_missing_folder_and_bom_and_no_writer_column(tmp_path):
    with pytest.raises(CollectionError, match="folder not found"):
        read_collection(tmp_path / "nope")
    save_drawing(ONE, tmp_path / "a.strokes.json")
    (tmp_path / "labels.csv").write_bytes("\ufefffile,label\r\na.strokes.json,1\r\n".encode("utf-8"))
    read = read_collection(tmp_path, DIGITS)
    assert [(e.file, e.label, e.writer) for e in read.entries] == [("a.strokes.json", "1", None)]
    assert read.has_writer is False and read.problems == []


# --- the balanced prompt ------------------------------------------------------------------------


def test_prompts_keep_each_writer_and_the_folder_even(tmp_path):
    rng = random.Random(3)
    writer = CollectionWriter(tmp_path)
    asked = []
    for who in ["Ana"] * 23 + ["Bo"] * 17:
        label = next_prompt(writer.count_for(who), writer.counts, DIGITS, rng, asked[-1] if asked else None)
        asked.append(label)
        writer.save(ONE, label, who)
    for who in ("Ana", "Bo"):
        counts = [writer.count_for(who)[d] for d in DIGITS]
        assert max(counts) - min(counts) <= 1, (who, counts)
    totals = [writer.counts[d] for d in DIGITS]
    assert max(totals) - min(totals) <= 1, totals
    assert asked[:10] != DIGITS and sorted(asked[:10]) == DIGITS  # every digit once, not in plain order
    assert all(a != b for a, b in zip(asked, asked[1:]))  # never the same digit twice in a row


def test_take_back_cuts_only_the_last_row_and_deletes_its_drawing(tmp_path):
    writer = CollectionWriter(tmp_path)
    first = writer.save(ONE, "1", "Ana")
    before = (tmp_path / "labels.csv").read_bytes()
    other = Drawing(280, 280, [[(10.0, 10.0), (200.0, 200.0)]], 15.5)
    second = writer.save(other, "7", "Bo")
    with pytest.raises(CollectionError, match="no longer the last row"):
        writer.take_back(first)
    assert first.exists()
    drawing = writer.take_back(second)
    assert drawing.strokes == other.strokes
    assert (tmp_path / "labels.csv").read_bytes() == before and not second.exists()
    assert writer.counts["7"] == 0 and writer.count_for("Bo")["7"] == 0 and writer.counts["1"] == 1
    assert writer.save(other, "2", "Bo").name == "00003.strokes.json"  # the taken-back number is not reused
