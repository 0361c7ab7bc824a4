"""batch's chunks and per-file answers with a stand-in session: no model runs, no process starts.

The worker pool itself is exercised by tests/test_cli.py (it forks); here only which path a
call takes is checked, so these tests can be in mutmut's test selection.
"""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from lenet_gui.core import batch, preprocess
from lenet_gui.core.batch import FilePrediction
from lenet_gui.core.budget import Footprint
from lenet_gui.core.drawing import Drawing, save_drawing
from lenet_gui.core.preprocess import InputSpec

SPEC = InputSpec(height=28, width=28)
ONE = Drawing(280, 280, [[(140, 40), (140, 240)]])


class StandIn:
    """Answers class (sum of the image's first row index) with made-up scores; records batch sizes."""

    def __init__(self, scores=None):
        self.spec = SPEC
        self.batches = []
        self.scores = scores

    def predict_batch(self, tensors):
        self.batches.append(tensors.shape)
        if self.scores is not None:
            return np.array(self.scores[: len(tensors)], dtype=np.float32)
        out = np.zeros((len(tensors), 10), np.float32)
        out[:, 1] = 0.9
        out[:, 7] = 0.1
        return out


@pytest.fixture
def files(tmp_path):
    ink = tmp_path / "one.strokes.json"
    save_drawing(ONE, ink)
    blank = tmp_path / "blank.strokes.json"
    save_drawing(Drawing(280, 280, []), blank)
    bad = tmp_path / "bad.strokes.json"
    bad.write_text("{", encoding="utf-8")
    png = tmp_path / "one.png"
    image = Image.new("L", (100, 100), 255)
    image.paste(0, (45, 10, 55, 90))
    image.save(png)
    return str(ink), str(blank), str(bad), str(png)


def test_each_file_gets_its_own_answer_in_order(files):
    ink, blank, bad, png = files
    session = StandIn()
    out = list(batch.predict_files(session, [ink, blank, bad, png], workers=1))
    assert [p.file for p in out] == [ink, blank, bad, png]
    assert [p.digit for p in out] == [1, None, None, 1]
    assert out[0].probabilities.tolist() == pytest.approx([0, 0.9, 0, 0, 0, 0, 0, 0.1, 0, 0])
    assert out[1] == FilePrediction(blank)  # no ink: no digit, no error
    assert out[2].digit is None and out[2].probabilities is None and out[2].error.startswith("bad.strokes.json: not valid JSON")
    assert session.batches == [(2, 1, 28, 28)]  # only the two with ink go through the model


def test_a_prepared_file_is_the_tensor_the_model_gets(files):
    ink = files[0]
    tensor, err = batch.prepare_file(ink, SPEC)
    expected = preprocess.prepare_drawing(ONE, SPEC).tensor[0]
    assert err is None and tensor.shape == (1, 28, 28) and np.array_equal(tensor, expected)
    assert batch.prepare_file(files[1], SPEC) == (None, None)


def test_an_odd_failure_while_reading_is_a_message_for_that_file(files, monkeypatch):
    def fails(path, spec):
        raise OSError("disk on fire")

    monkeypatch.setattr(preprocess, "prepare_image", fails)
    assert batch.prepare_file(files[3], SPEC) == (None, f"{files[3]}: cannot be read (OSError: disk on fire)")


def test_scores_that_are_not_finite_are_an_error_for_that_file(files):
    ink, png = files[0], files[3]
    session = StandIn(scores=[[np.nan, 1.0], [0.2, 0.8]])
    out = list(batch.predict_files(session, [ink, png], workers=1))
    assert out[0] == FilePrediction(ink, error=f"{ink}: the model returned NaN for this input")
    assert out[1].digit == 1 and out[1].error is None


def test_files_go_through_the_model_in_chunks(files, monkeypatch):
    monkeypatch.setattr(batch, "CHUNK", 2)
    ink = files[0]
    session = StandIn()
    out = list(batch.predict_files(session, [ink] * 5, workers=1))
    assert len(out) == 5 and all(p.digit == 1 for p in out)
    assert [shape[0] for shape in session.batches] == [2, 2, 1]


def test_a_worker_share_is_chunked_the_same_way(files, monkeypatch):
    monkeypatch.setattr(batch, "CHUNK", 2)
    session = StandIn()
    monkeypatch.setattr(batch, "_worker_session", session)
    out = batch._worker_share([files[0]] * 3 + [files[1]])
    assert [p.digit for p in out] == [1, 1, 1, None]
    assert [shape[0] for shape in session.batches] == [2, 1]


def test_a_chunk_with_no_ink_does_not_run_the_model(files):
    session = StandIn()
    assert list(batch.predict_files(session, [files[1], files[2]], workers=1))[0] == FilePrediction(files[1])
    assert session.batches == []


@pytest.fixture
def route(monkeypatch):
    taken = []
    monkeypatch.setattr(batch, "_parallel",
                        lambda session, files, workers: taken.append(("parallel", workers, len(files), session.spec)) or [])
    monkeypatch.setattr(batch, "_serial", lambda session, files: taken.append(("serial", len(files))) or [])
    return taken


def test_many_files_are_shared_among_workers(route):
    list(batch.predict_files(StandIn(), ["f"] * batch.POOL_THRESHOLD, workers=2))
    list(batch.predict_files(StandIn(), ["f"] * (batch.POOL_THRESHOLD - 1), workers=2))
    list(batch.predict_files(StandIn(), ["f"] * batch.POOL_THRESHOLD, workers=1))
    assert route == [("parallel", 2, 400, SPEC), ("serial", 399), ("serial", 400)]


def test_a_model_sized_only_at_run_time_stays_in_one_process(route):
    session = StandIn()
    session.footprint = Footprint(1, 0, None, ["Tile 'grow'"])
    list(batch.predict_files(session, ["f"] * 500, workers=4))
    session.footprint = Footprint(1, 0, None, [])
    list(batch.predict_files(session, ["f"] * 500, workers=4))
    assert route == [("serial", 500), ("parallel", 4, 500, SPEC)]


def test_the_default_worker_count_is_the_cpus_this_process_may_use_up_to_four(route, monkeypatch):
    monkeypatch.setattr(batch.os, "sched_getaffinity", lambda pid: {0, 1, 2, 3, 4, 5}, raising=False)
    list(batch.predict_files(StandIn(), ["f"] * 500))
    monkeypatch.setattr(batch.os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    list(batch.predict_files(StandIn(), ["f"] * 500))
    monkeypatch.setattr(batch.os, "sched_getaffinity", lambda pid: {0}, raising=False)
    list(batch.predict_files(StandIn(), ["f"] * 500))
    assert route == [("parallel", 4, 500, SPEC), ("parallel", 3, 500, SPEC), ("serial", 500)]


def test_without_an_affinity_mask_the_cpu_count_is_used(route, monkeypatch):
    monkeypatch.delattr(batch.os, "sched_getaffinity", raising=False)
    monkeypatch.setattr(batch.os, "cpu_count", lambda: 8)
    list(batch.predict_files(StandIn(), ["f"] * 500))
    monkeypatch.setattr(batch.os, "cpu_count", lambda: None)  # unknown: one process
    list(batch.predict_files(StandIn(), ["f"] * 500))
    assert route == [("parallel", 4, 500, SPEC), ("serial", 500)]


def test_paths_may_be_path_objects(files, route):
    from pathlib import Path

    list(batch.predict_files(StandIn(), [Path(files[0])], workers=1))
    assert route == [("serial", 1)]


def test_workers_fork_on_linux_and_spawn_elsewhere(monkeypatch):
    assert batch._pool_context().get_start_method() == "fork"
    monkeypatch.setattr(batch.sys, "platform", "darwin")
    assert batch._pool_context().get_start_method() == "spawn"


# --- the worker pool, run in this process ---------------------------------------------------------


class InlinePool:
    """ProcessPoolExecutor's part that _parallel uses, run here: the initializer once, then each share."""

    made = []

    def __init__(self, max_workers, mp_context, initializer, initargs, dies=()):
        InlinePool.made.append({"max_workers": max_workers, "method": mp_context.get_start_method(),
                                "initargs": initargs})
        initializer(*initargs)
        self.dies = dies

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def submit(self, fn, part):
        pool = self

        class Done:
            def result(self):
                if any(p in pool.dies for p in part):
                    raise RuntimeError("worker killed")
                return fn(part)

        return Done()


class Opened:
    """Stands in for LightSession and ModelSession in a worker: scores that say it answered."""

    opened = []

    def __init__(self, path, **kwargs):
        Opened.opened.append((path, kwargs))
        self.spec = None

    def predict_batch(self, tensors):
        out = np.zeros((len(tensors), 10), np.float32)
        out[:, 4] = 1.0  # the worker answers 4, the parent (StandIn) 1
        return out


@pytest.fixture
def pool(monkeypatch):
    from lenet_gui.core import runtime, session

    InlinePool.made, Opened.opened = [], []
    monkeypatch.setattr(batch, "ProcessPoolExecutor", InlinePool)
    monkeypatch.setattr(batch, "_worker_session", None)
    monkeypatch.setattr(runtime, "LightSession", Opened)
    monkeypatch.setattr(session, "ModelSession", Opened)
    return InlinePool


def test_the_parent_does_the_first_share_and_workers_the_rest_in_order(files, pool):
    ink, blank = files[0], files[1]
    parent = StandIn()
    parent.path = "/models/m.onnx"
    names = [ink, ink, blank, ink, ink, ink, ink]  # shares of 3, 2 and 2
    out = list(batch._parallel(parent, names, 3))
    assert [p.file for p in out] == names
    assert [p.digit for p in out] == [1, 1, None, 4, 4, 4, 4]
    assert pool.made == [{"max_workers": 2, "method": "fork", "initargs": ("/models/m.onnx", "cpu", SPEC, None)}]
    # A trusted model (no memory limit on the session): onnxruntime alone, one thread.
    assert Opened.opened == [("/models/m.onnx", {"provider": "cpu", "threads": 1})]
    assert batch._worker_session.spec is SPEC  # the parent's spec, overrides and all


def test_an_untrusted_model_gets_the_parents_limits_in_the_worker(files, pool):
    parent = StandIn()
    parent.path, parent.provider, parent.memory_limit, parent.timeout = "m.onnx", "CUDA", 123 * 2**20, 7.5
    list(batch._parallel(parent, [files[0]] * 4, 2))
    assert pool.made[0]["initargs"] == ("m.onnx", "auto", SPEC, (123 * 2**20, 7.5))
    assert Opened.opened == [("m.onnx", {"provider": "auto", "threads": 1, "memory_limit": 123 * 2**20,
                                         "timeout": 7.5})]


def test_the_share_of_a_worker_that_died_is_done_by_the_parent(files, pool, monkeypatch):
    ink, png = files[0], files[3]
    monkeypatch.setattr(batch, "ProcessPoolExecutor",
                        lambda **kw: InlinePool(**kw, dies={png}))
    parent = StandIn()
    parent.path = "m.onnx"
    out = list(batch._parallel(parent, [ink, ink, png, ink, ink, ink], 3))
    assert [p.digit for p in out] == [1, 1, 1, 1, 4, 4]  # the second share, with png, fell back
