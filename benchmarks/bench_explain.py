"""Benchmarks of the explain core: occlusion evidence and one unit's working, without Qt."""

from __future__ import annotations

import numpy as np

from benchmarks import workload
from benchmarks.timing import INFO, Row, judge, measure_interleaved, ms

# Evidence is one batch through the logits-only path; what it adds on top of
# onnxruntime running that same batch (building it, the maps) stays below this.
EVIDENCE_RATIO_TARGET = 1.3


def bench_evidence(reps: int) -> list[Row]:
    """explain.evidence / evidence_all on LeNet-5 next to onnxruntime on the same batch, logits only."""
    import onnxruntime as ort

    from lenet_gui.core import evidence as explain
    from lenet_gui.core import preprocess
    from lenet_gui.core.session import ModelSession

    session = ModelSession(provider="cpu", threads=1)
    prepared = preprocess.prepare_drawing(workload.drawings(1)[0][1], session.spec)
    x = prepared.tensor
    positions, _ = explain.occlusion_grid(session.spec.height, session.spec.width, 4, 2)
    batch = explain.occluded_batch(x[0], explain.background_tensor(session.spec), positions, 4, False)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    opts.inter_op_num_threads = 1
    plain = ort.InferenceSession(str(session.path), opts, providers=["CPUExecutionProvider"])
    name = plain.get_inputs()[0].name
    got = measure_interleaved({
        "plain": lambda: plain.run(["logits"], {name: batch}),
        "one": lambda: explain.evidence(session, x),
        "all": lambda: explain.evidence_all(session, x),
    }, reps, warmup=5)
    floor = float(np.median(got["plain"]))
    one, every = float(np.median(got["one"])) / floor, float(np.median(got["all"])) / floor
    images = len(batch)
    return [
        Row(f"onnxruntime, {images} images, logits only (floor)", "ms", ms(got["plain"]),
            note="the occlusion batch of one evidence map, 1 thread"),
        Row("evidence map, one class (explain.evidence)", "ms", ms(got["one"]),
            target=f"≤ {EVIDENCE_RATIO_TARGET}× floor", status=judge(one <= EVIDENCE_RATIO_TARGET),
            note=f"4×4 squares every 2 px on 32×32 = {images - 1} squares + the unblanked input: {one:.2f}× floor",
            extra={"ratio_median": one}),
        Row("evidence maps, all 10 classes (explain.evidence_all)", "ms", ms(got["all"]),
            target=f"≤ {EVIDENCE_RATIO_TARGET}× floor", status=judge(every <= EVIDENCE_RATIO_TARGET),
            note=f"the same single batch: {every:.2f}× floor", extra={"ratio_median": every}),
    ]


def bench_explain_unit(reps: int) -> list[Row]:
    """Explainer.explain for a C3 unit (150 products) and an F6 unit (120 inputs)."""
    from lenet_gui.core import explain, graph, preprocess
    from lenet_gui.core.session import ModelSession

    session = ModelSession(provider="cpu", threads=1)
    result = session.run(preprocess.prepare_drawing(workload.drawings(1)[0][1], session.spec).tensor,
                         preprocess.prepare_drawing(workload.drawings(1)[0][1], session.spec))
    explainer = explain.Explainer(session.model, graph.analyze(session.model))
    got = measure_interleaved({
        "c3": lambda: explainer.explain(result, "c3.conv", (5, 3, 6)),
        "f6": lambda: explainer.explain(result, "f6.gemm", (10,)),
    }, reps, warmup=5)
    return [
        Row("explain one C3 unit (6×5×5 patch, kernel, products)", "ms", ms(got["c3"]), status=INFO),
        Row("explain one F6 unit (120 products, top 12)", "ms", ms(got["f6"]), status=INFO),
    ]


def run(quick: bool) -> list[Row]:
    return bench_evidence(30 if quick else 300) + bench_explain_unit(30 if quick else 300)


if __name__ == "__main__":  # python -m benchmarks.bench_explain [--quick]
    import sys

    from benchmarks.report import text_table

    print(text_table(run("--quick" in sys.argv)))
