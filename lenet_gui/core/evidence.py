"""Occlusion evidence: which part of the input drove a class's probability. No Qt.

The input with a small square blanked (set to the value blank paper has for
this model) at each position of a grid, all in ONE batched run through a
logits-only copy of the model; a pixel's evidence is the mean drop in the
class's probability over the squares that cover it.
"""

from __future__ import annotations

import functools
import weakref

import numpy as np
import onnx

from lenet_gui.core import preprocess
from lenet_gui.core.explain_context import ExplainError
from lenet_gui.core.explanation import Evidence


def background_tensor(spec: preprocess.InputSpec) -> np.ndarray:
    """What blank paper is for this model: the normalised value of no ink, laid out like the input."""
    blank = np.zeros((spec.height, spec.width), dtype=np.float32)
    return preprocess.view_to_tensor(blank, spec)[0]


@functools.lru_cache(maxsize=16)
def occlusion_grid(height: int, width: int, patch: int, stride: int) -> tuple[tuple[tuple[int, int], ...], np.ndarray]:
    """(top-left corner of each square, averaging matrix H·W × squares): where the squares go, and how
    their drops become a map.

    Squares start every ``stride`` pixels and one more is added flush with the
    far edge, so every pixel is covered; a pixel's value is the mean drop over
    the squares covering it.
    """

    def starts(n: int) -> list[int]:
        s = list(range(0, n - patch + 1, stride))
        if s[-1] + patch < n:
            s.append(n - patch)
        return s

    positions = tuple((y, x) for y in starts(height) for x in starts(width))
    cover = np.zeros((height, width, len(positions)))
    for p, (y, x) in enumerate(positions):
        cover[y:y + patch, x:x + patch, p] = 1.0
    cover = cover.reshape(height * width, len(positions))
    cover /= cover.sum(axis=1, keepdims=True)
    cover.setflags(write=False)
    return positions, cover


def occluded_batch(image: np.ndarray, background: np.ndarray, positions, patch: int,
                   channels_last: bool) -> np.ndarray:
    """The image first, then one copy per position with a patch × patch square set to the background."""
    batch = np.empty((len(positions) + 1,) + image.shape, dtype=np.float32)
    batch[:] = image
    for p, (y, x) in enumerate(positions, start=1):
        if channels_last:
            batch[p, y:y + patch, x:x + patch, :] = background[y:y + patch, x:x + patch, :]
        else:
            batch[p, :, y:y + patch, x:x + patch] = background[:, y:y + patch, x:x + patch]
    return batch


def _occluded_probabilities(session, tensor: np.ndarray, patch: int, stride: int) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities with nothing blanked, probabilities per blanked square), from one batch."""
    spec = session.spec
    x = np.asarray(tensor, dtype=np.float32)
    if x.ndim == 3:
        x = x[None]
    h, w = spec.height, spec.width
    if isinstance(patch, bool) or isinstance(stride, bool) or not (isinstance(patch, int) and isinstance(stride, int)) \
            or patch < 1 or stride < 1:
        raise ExplainError(f"the evidence square and its step must be whole numbers of at least 1 pixel "
                           f"(got {patch} and {stride})")
    if patch > min(h, w):
        raise ExplainError(f"an evidence square of {patch} pixels does not fit the {h}×{w} input")
    positions, _ = occlusion_grid(h, w, patch, stride)
    batch = occluded_batch(x[0], background_tensor(spec), positions, patch, spec.channels_last)
    probabilities = logits_only(session).probabilities(batch)
    return probabilities[0], probabilities[1:]


class LogitsOnly:
    """The model with only its class output: one onnxruntime run per batch, fused as far as onnxruntime can.

    The app's session makes every activation a graph output, which stops
    onnxruntime fusing Conv with ReLU and costs about 1.8× on a 226-image
    batch; evidence needs the class scores only. Models with a fixed batch size
    use the session's own ``predict_batch``.
    """

    def __init__(self, session):
        import onnxruntime as ort

        self.app = session
        self.session = None
        if session.spec.batch is not None:
            return
        model = onnx.ModelProto()
        model.CopyFrom(session.model)
        keep = [o for o in model.graph.output if o.name == session.class_output.name]
        del model.graph.output[:]
        model.graph.output.extend(keep)
        options = ort.SessionOptions()
        options.intra_op_num_threads = session.session.get_session_options().intra_op_num_threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(model.SerializeToString(), options,
                                                providers=session.session.get_providers())
        except Exception:  # whatever stops this copy, the app's session still works
            self.session = None

    def probabilities(self, batch: np.ndarray) -> np.ndarray:
        if self.session is None:
            return self.app.predict_batch(batch)
        name = self.session.get_inputs()[0].name
        scores = self.session.run(None, {name: np.ascontiguousarray(batch, dtype=np.float32)})[0]
        scores = np.asarray(scores, dtype=np.float64)
        if self.app.outputs_are_probabilities:
            return scores / scores.sum(axis=1, keepdims=True)
        scores = scores - scores.max(axis=1, keepdims=True)
        e = np.exp(scores)
        return e / e.sum(axis=1, keepdims=True)


_LOGITS_ONLY: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def logits_only(session) -> LogitsOnly:
    """The logits-only runner for a ModelSession, made once per session."""
    runner = _LOGITS_ONLY.get(session)
    if runner is None or runner.app is not session:
        runner = _LOGITS_ONLY[session] = LogitsOnly(session)
    return runner


def _evidence_for(session, base, occluded, class_index: int, patch: int, stride: int) -> Evidence:
    h, w = session.spec.height, session.spec.width
    _, cover = occlusion_grid(h, w, patch, stride)
    drops = float(base[class_index]) - occluded[:, class_index].astype(np.float64)
    heat = (cover @ drops).reshape(h, w)
    return Evidence(class_index, session.labels[class_index], heat, float(base[class_index]), patch, stride)


def evidence(session, tensor: np.ndarray, class_index: int | None = None, patch: int = 4,
             stride: int = 2) -> Evidence:
    """Occlusion evidence for one class (default: the predicted one), from one batched run."""
    base, occluded = _occluded_probabilities(session, tensor, patch, stride)
    if class_index is None:
        class_index = int(np.argmax(base))
    if not 0 <= int(class_index) < len(base):
        raise ExplainError(f"class {class_index} does not exist: this model has classes 0–{len(base) - 1}")
    return _evidence_for(session, base, occluded, int(class_index), patch, stride)


def evidence_all(session, tensor: np.ndarray, patch: int = 4, stride: int = 2) -> list[Evidence]:
    """Evidence for every class, all from the same single batch."""
    base, occluded = _occluded_probabilities(session, tensor, patch, stride)
    return [_evidence_for(session, base, occluded, c, patch, stride) for c in range(len(base))]
