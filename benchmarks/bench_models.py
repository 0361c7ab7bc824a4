"""Real architectures in the window: first window, memory, and whether the pen stutters.

``python -m benchmarks --only models``. The models are the ``.onnx`` files in the
folder ``LENET_GUI_BENCH_MODELS`` names; without it, seven torchvision
architectures are exported there (opset 17, 10 classes, 224×224) when torch and
torchvision import, and the group is skipped, saying so, when they do not (the
``train`` extra has torch but not torchvision). Each model is measured in a new
window process, LeNet-5 first as the yardstick:

- first window: from before the fork until the model is open, the layer panel
  filled and a pen digit read;
- memory: VmRSS of that process then, against LeNet-5's window plus 2.5× the
  model's weights plus one full set of its activations;
- the pen: one pen digit drawn as mouse moves 8 ms apart (a 125 Hz mouse) while the
  model runs; for each move, the GUI thread's time handling it and whatever else
  was waiting (results arriving, repaints). A stutter is a move held up for more
  than a 60 Hz frame; then the pen rests and the full run's result is shown.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import textwrap
from pathlib import Path

import numpy as np

from benchmarks import workload
from benchmarks.bench_ui import _children
from benchmarks.timing import Row, judge

FIRST_WINDOW_RATIO_TARGET = 1.5  # × LeNet-5's first window
WEIGHTS_FACTOR = 2.5  # memory: LeNet-5's window + 2.5 × weights + one set of activations
FRAME_MS = 1000 / 60
MOVE_INTERVAL_S = 0.008
ARCHS = ("resnet18", "mobilenet_v2", "efficientnet_b0", "densenet121", "googlenet", "squeezenet1_1", "shufflenet_v2_x1_0")

CHILD = textwrap.dedent(
    """
    import json, sys, time
    from lenet_gui.ui.app import create_application
    app = create_application()
    from PySide6.QtCore import QEvent, QEventLoop, QPointF, Qt
    from PySide6.QtGui import QMouseEvent
    from PySide6.QtWidgets import QApplication
    from lenet_gui.ui.main_window import MainWindow
    from lenet_gui.train import pendigits

    model, digits = sys.argv[1], sys.argv[2]
    window = MainWindow(model if model != "-" else None, provider="cpu", restore=False, interactive=False)
    window.resize(1360, 860)
    window.show()
    want = None if model == "-" else model
    while window.session is None or (want and str(window.session.path) != want) or not window.layer_panel.made_rows():
        app.processEvents()
        time.sleep(0.001)
    first = [d for d in pendigits.load(digits)[:2]]
    window.canvas.set_drawing(first[0].drawing())
    window.flush()
    t_ready = time.monotonic()
    def status(key):
        with open("/proc/self/status") as fh:
            return next(int(l.split()[1]) / 1024 for l in fh if l.startswith(key))
    rss = status("VmRSS")
    result = window.last_result
    activations = sum(v.nbytes for v in result.activations.values()) / 2**20

    # The pen: the second digit as mouse moves, 8 ms apart, while the model runs.
    canvas = window.canvas
    window.clear_drawing()
    app.processEvents()
    d = first[1].drawing()
    drawing = canvas.drawing()
    sx, sy = drawing.width / d.width, drawing.height / d.height
    left, none, mods = Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier
    def send(kind, pos, button, buttons):
        QApplication.sendEvent(canvas, QMouseEvent(kind, pos, canvas.mapToGlobal(pos), button, buttons, mods))
    handled, results = [], []
    window.controller.resultReady.connect(lambda r: results.append(r is not None and r.partial))
    from benchmarks import workload
    for stroke in d.strokes:
        widget = [canvas.to_widget((x * sx, y * sy)) for x, y in stroke]
        points = [QPointF(x, y) for x, y in workload.resample([(p.x(), p.y()) for p in widget], 3.0)]
        send(QEvent.Type.MouseButtonPress, points[0], left, left)
        for p in points[1:]:
            t0 = time.perf_counter()
            send(QEvent.Type.MouseMove, p, none, left)
            app.processEvents()
            handled.append(time.perf_counter() - t0)
            time.sleep(max(0.0, {interval} - (time.perf_counter() - t0)))
        send(QEvent.Type.MouseButtonRelease, points[-1], left, none)
        app.processEvents()
    light = sum(results)
    # The pen rests: the full run follows; its result costs the GUI thread once.
    t0 = time.perf_counter()
    window.flush()
    rest = time.perf_counter() - t0
    print(json.dumps({{"ready": t_ready, "rss": rss, "hwm": status("VmHWM"), "activations_mb": activations,
                      "handled": handled, "results": len(results), "light": light, "rest": rest,
                      "full_ms": result.seconds * 1e3, "rows": len(window.layer_panel.rows()),
                      "layers": len(window.layers)}}))
    window.close()
    """
).format(interval=MOVE_INTERVAL_S)


def _weights_mb(path: Path) -> float:
    import onnx

    model = onnx.load(str(path), load_external_data=False)
    return sum(int(np.prod(t.dims)) * 4 for t in model.graph.initializer) / 2**20


def _export(folder: Path) -> list[Path]:
    import torch
    import torchvision

    paths = []
    for name in ARCHS:
        path = folder / f"{name}.onnx"
        if not path.exists():
            kwargs = {"num_classes": 10}
            if name == "googlenet":
                kwargs.update(aux_logits=False, init_weights=True)
            model = getattr(torchvision.models, name)(**kwargs).eval()
            torch.onnx.export(model, torch.randn(1, 3, 224, 224), str(path), opset_version=17,
                              input_names=["input"], output_names=["logits"], dynamo=False)
        paths.append(path)
    return paths


def model_files() -> tuple[list[Path], str]:
    folder = os.environ.get("LENET_GUI_BENCH_MODELS")
    if folder and sorted(Path(folder).glob("*.onnx")):
        return sorted(Path(folder).glob("*.onnx")), "the models in LENET_GUI_BENCH_MODELS"
    try:
        import torch  # noqa: F401
        import torchvision  # noqa: F401
    except Exception as exc:  # noqa: BLE001 - any failure to import means: skip, saying why
        return [], f"torch and torchvision do not import here ({type(exc).__name__}: {str(exc)[:80]})"
    target = Path(folder or tempfile.mkdtemp(prefix="lenet-bench-models-"))
    target.mkdir(parents=True, exist_ok=True)
    return _export(target), "torchvision architectures exported here"


def _child(model: str, runs: int) -> list[tuple[float, dict]]:
    lines = _children(CHILD, runs, [model, str(workload.PENDIGITS)])
    return [(t0, json.loads(line)) for t0, line in lines]


def _summary(runs: list[tuple[float, dict]]) -> dict:
    handled = np.concatenate([r["handled"] for _, r in runs]) * 1e3
    return {
        "first": float(np.median([r["ready"] - t0 for t0, r in runs])),
        "rss": float(np.median([r["rss"] for _, r in runs])),
        "activations": runs[0][1]["activations_mb"],
        "handled": handled,
        "stutters": int((handled > FRAME_MS).sum()),
        "rest_ms": float(np.median([r["rest"] for _, r in runs])) * 1e3,
        "full_ms": float(np.median([r["full_ms"] for _, r in runs])),
        "light": sum(r["light"] for _, r in runs),
        "results": sum(r["results"] for _, r in runs),
        "rows": runs[0][1]["rows"],
        "layers": runs[0][1]["layers"],
    }


def run(quick: bool) -> list[Row]:
    paths, source = model_files()
    if not paths:
        print(f"Big-model benchmarks skipped: {source}", file=sys.stderr)
        return [Row("big models: skipped", "", [], note=source)]
    runs = 1 if quick else 3
    lenet = _summary(_child("-", runs))
    rows = [Row("LeNet-5 window: first window, model open, a digit read", "ms",
                [lenet["first"] * 1e3], note=f"the yardstick; resident {lenet['rss']:.0f} MB")]
    for path in paths:
        got = _summary(_child(str(path), runs))
        weights = _weights_mb(path)
        budget_mb = lenet["rss"] + WEIGHTS_FACTOR * weights + got["activations"]
        ratio = got["first"] / lenet["first"]
        name = path.stem
        p99 = float(np.percentile(got["handled"], 99))
        rows += [
            Row(f"{name}: first window", "ms", [got["first"] * 1e3],
                target=f"≤ {FIRST_WINDOW_RATIO_TARGET:g}× LeNet-5's", status=judge(ratio <= FIRST_WINDOW_RATIO_TARGET),
                note=f"{ratio:.2f}× LeNet-5; {got['layers']} nodes shown as {got['rows']} rows; {source}"),
            Row(f"{name}: window memory", "MB", [got["rss"]],
                target=f"≤ LeNet-5 + {WEIGHTS_FACTOR:g}× weights + activations = {budget_mb:.0f} MB",
                status=judge(got["rss"] <= budget_mb),
                note=f"VmRSS after a digit is read; weights {weights:.0f} MB, one set of activations "
                f"{got['activations']:.0f} MB, LeNet-5's window {lenet['rss']:.0f} MB"),
            Row(f"{name}: pen move handled (GUI thread)", "ms", list(got["handled"]),
                target=f"p99 ≤ one 60 Hz frame ({FRAME_MS:.1f} ms)", status=judge(p99 <= FRAME_MS),
                note=f"{len(got['handled'])} moves 8 ms apart; {got['stutters']} held up more than a frame; "
                f"{got['results']} results while drawing, {got['light']} of them class scores only; full run "
                f"{got['full_ms']:.0f} ms (worker thread); at rest the full result took {got['rest_ms']:.0f} ms to show"),
        ]
    return rows
