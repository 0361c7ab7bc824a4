"""A light onnxruntime session for predictions only: no ``onnx``, no graph analysis, no Qt.

``lenet-gui predict`` and batch work need the class output and nothing else, so
onnxruntime reads the model file itself and everything the input wants comes
from what onnxruntime reports: the input's and outputs' names, shapes and types
(``get_inputs()``/``get_outputs()``) and the metadata (``get_modelmeta()``).
Importing this module costs numpy and onnxruntime; ``import onnx`` (half a
second: protobuf, ml_dtypes) is what the window's ``ModelSession`` pays for its
layer panel.

The input spec is read by the same rules as ``session.spec_from_model``.
"""

from __future__ import annotations

import json
import math
import os
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from lenet_gui.core import preprocess
from lenet_gui.core.errors import ModelError, ProviderError
from lenet_gui.core.preprocess import InputSpec

PROVIDERS = ("auto", "cpu", "cuda")
ORT_NAMES = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider"}
FLOAT = "tensor(float)"



def _ort():
    """onnxruntime, imported on first use: the window paints before it needs it."""
    import onnxruntime as ort

    ort.set_default_logger_severity(3)  # onnxruntime's own warnings are not for end users
    return ort


def _cuda_offered() -> bool:
    """Whether this onnxruntime build has the CUDA provider, without importing it when it is
    not imported yet: the provider library ships only in the onnxruntime-gpu build."""
    import sys

    if "onnxruntime" in sys.modules:
        return ORT_NAMES["cuda"] in sys.modules["onnxruntime"].get_available_providers()
    from importlib.util import find_spec

    spec = find_spec("onnxruntime")
    if spec is None or not spec.submodule_search_locations:
        return False
    capi = Path(next(iter(spec.submodule_search_locations))) / "capi"
    return any(capi.glob("*onnxruntime_providers_cuda*"))


@dataclass
class ProviderInfo:
    key: str  # "cpu" | "cuda"
    available: bool
    reason: str = ""  # why not, when it is not


def provider_info() -> dict[str, ProviderInfo]:
    """Which providers this onnxruntime build offers, and why one is missing."""
    cuda = ProviderInfo("cuda", _cuda_offered())
    if not cuda.available:
        cuda.reason = (
            "this onnxruntime has no CUDA provider; install onnxruntime-gpu instead of "
            "onnxruntime (see the README) on a machine with an NVIDIA GPU"
        )
    return {"cpu": ProviderInfo("cpu", True), "cuda": cuda}


@dataclass
class Prediction:
    """One image's class scores, shaped like ``session.Result`` without the activations
    (the window shows the digit with it while the full session is still loading)."""

    digit: int
    label: str
    probabilities: np.ndarray
    logits: np.ndarray
    activations: dict
    seconds: float
    prepared: preprocess.Prepared | None = None
    partial: bool = False  # as in session.Result: this session has no activations to fetch at all

    @property
    def confidence(self) -> float:
        return float(self.probabilities[self.digit])


def default_model_path() -> Path:
    """The LeNet-5 shipped inside the installed package (``lenet_gui/models``)."""
    return Path(str(resources.files("lenet_gui.models") / "lenet5.onnx"))


def _dims(shape) -> list:
    return [d if isinstance(d, int) and d > 0 else None for d in shape]


def spec_from_meta(meta: dict[str, str], dims: list, name: str) -> InputSpec:
    """The input spec from the image input's dims (None where open) and the model's metadata.

    Defaults, for models without metadata: values 0..1 (ink 1, background 0), no
    normalisation (mean 0, std 1), white digit on black, and ``preprocess.default_geometry``:
    the MNIST 20/28 geometry up to 32×32, scaled with a larger input (224: box 140 in a field of 196).
    Channels-last is assumed when the last axis has 1, 3 or 4 entries and the
    second does not. Height and width that the graph leaves open default to
    ``input_size`` from the metadata, else 28×28. ``session.spec_from_model``
    reads the same from an onnx graph.
    """
    layout = meta.get("input_layout", "").upper()
    if layout not in ("NCHW", "NHWC"):
        second, last = dims[1], dims[3]
        layout = "NHWC" if (last in (1, 3, 4) and second not in (1, 3, 4)) else "NCHW"
    if layout == "NHWC":
        h, w, c = dims[1], dims[2], dims[3]
    else:
        c, h, w = dims[1], dims[2], dims[3]
    if (h is None or w is None) and "input_size" in meta:
        try:
            h, w = (int(v) for v in meta["input_size"].lower().split("x"))
        except ValueError:
            pass
    h, w, c = h or 28, w or 28, c or 1
    if c not in (1, 3, 4):
        raise ModelError(f"{name}: the input has {c} channels; an image model has 1, 3 or 4")

    def number(key, default):
        try:
            return float(meta[key]) if key in meta else default
        except ValueError:
            return default

    field, box = preprocess.default_geometry(int(h), int(w))
    if "digit_field" in meta:  # a field given without a box: the box in MNIST's proportion of it
        field = int(number("digit_field", field))
        box = max(1, round(field * preprocess.MNIST_BOX / preprocess.MNIST_FIELD))
    return InputSpec(
        height=int(h),
        width=int(w),
        channels=int(c),
        channels_last=layout == "NHWC",
        batch=dims[0],
        pixel_max=number("pixel_scale", 1.0),
        mean=number("normalize_mean", 0.0),
        std=number("normalize_std", 1.0) or 1.0,
        invert=meta.get("polarity", "white_on_black").lower() in ("black_on_white", "dark_on_light"),
        field=field,
        box=int(number("digit_box", box)),
    )


def check_model_file(path: Path) -> int:
    """The file's size; a ModelError for a model file that is missing, a folder, unreadable or empty.

    Here, not in onnx_io, so that the light session needs no onnx; ``onnx_io.load_model`` uses it too.
    """
    if not path.exists():
        raise ModelError(f"Model file not found: {path}")
    if path.is_dir():
        raise ModelError(f"Model path is a folder, not an ONNX file: {path}")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise ModelError(f"Cannot read model file {path}: {exc.strerror}") from exc
    if size == 0:
        raise ModelError(f"Model file is empty: {path}")
    if not os.access(path, os.R_OK):
        raise ModelError(f"Cannot read model file {path}: permission denied")
    return size


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().split("\n")[0]
    return text[:160] if text else type(exc).__name__


def softmax(x: np.ndarray) -> np.ndarray:
    x = x - np.max(x, axis=1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=1, keepdims=True)


class LightSession:
    """An image classifier's class output through onnxruntime alone.

    Offers what batch prediction needs: ``spec``, ``labels``, ``meta``,
    ``predict_batch`` (probabilities) and ``logits``; ``ModelSession`` is the
    window's session with every activation.
    """

    def __init__(
        self,
        path: str | os.PathLike | None = None,
        provider: str = "auto",
        spec_overrides: dict | None = None,
        threads: int | None = 1,
    ) -> None:
        self.path = Path(path) if path is not None else default_model_path()
        if provider not in PROVIDERS:
            raise ProviderError(f"Unknown provider {provider!r}; choose one of {', '.join(PROVIDERS)}")
        check_model_file(self.path)
        self.warning: str | None = None
        self.session = self._create(provider, threads)
        self.meta = dict(self.session.get_modelmeta().custom_metadata_map)
        self._find_io()
        name = self.session.get_modelmeta().graph_name or "the model"
        try:
            self.spec = spec_from_meta(self.meta, _dims(self._image.shape), name).with_overrides(**(spec_overrides or {}))
            self.labels = self._labels()
        except (ValueError, TypeError, OverflowError, RecursionError) as exc:  # odd metadata values
            raise ModelError(f"{self.path.name}: its metadata cannot be read ({_first_line(exc)})") from exc

    def _create(self, provider: str, threads: int | None):
        ort = _ort()
        offered = set(ort.get_available_providers())
        opts = ort.SessionOptions()
        if threads:
            opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        names = [ORT_NAMES["cpu"]]
        if provider in ("auto", "cuda") and ORT_NAMES["cuda"] in offered:
            names.insert(0, ORT_NAMES["cuda"])
        elif provider == "cuda":
            self.warning = "CUDA is not available (this onnxruntime has no CUDA provider); running on the CPU"
        try:
            return ort.InferenceSession(str(self.path), opts, providers=names)
        except Exception as exc:
            text = str(exc)
            if "INVALID_PROTOBUF" in text or "Protobuf parsing failed" in text or "No graph" in text:
                raise ModelError(
                    f"{self.path.name} is not a valid ONNX model (the file is corrupt or of another format)"
                ) from exc
            if len(names) > 1:  # a CUDA provider that fails to start: fall back to the CPU
                self.warning = f"CUDA could not start ({_first_line(exc)}); running on the CPU"
                try:
                    return ort.InferenceSession(str(self.path), opts, providers=[ORT_NAMES["cpu"]])
                except Exception as exc2:
                    exc = exc2
            raise ModelError(f"{self.path.name}: onnxruntime cannot run this model ({_first_line(exc)})") from exc

    def _find_io(self) -> None:
        name = self.path.name
        inputs = self.session.get_inputs()
        images = [i for i in inputs if len(i.shape) == 4]
        if len(inputs) != 1 or not images:
            shapes = ", ".join(f"{i.name} {_dims(i.shape)}" for i in inputs) or "none"
            raise ModelError(
                f"{name} is not an image classifier: it needs one image input of shape N×C×H×W or N×H×W×C "
                f"(its inputs: {shapes})"
            )
        self._image = images[0]
        if self._image.type != FLOAT:
            raise ModelError(f"{name}: the image input must be float32")
        outputs = self.session.get_outputs()
        classes = [o for o in outputs if o.type == FLOAT and len(o.shape) == 2]
        preferred = self.meta.get("logits_output")
        chosen = [o for o in classes if o.name == preferred] or classes
        if not chosen:
            raise ModelError(
                f"{name} is not an image classifier: it has no float output of shape N×classes "
                f"(its outputs: {', '.join(f'{o.name} {_dims(o.shape)}' for o in outputs)})"
            )
        self.class_output = chosen[0].name
        self._classes = chosen[0].shape[1]
        self._input_name = self._image.name

    def _labels(self) -> list[str]:
        classes = self._classes
        raw = self.meta.get("class_labels")
        labels = None
        if raw:
            try:
                labels = [str(v) for v in json.loads(raw)]
            except (ValueError, TypeError):
                labels = [v.strip() for v in raw.split(",")]
        if not isinstance(classes, int):
            classes = len(labels) if labels else 10
        if not labels or len(labels) != classes:
            labels = [str(i) for i in range(classes)]
        return labels

    @property
    def provider(self) -> str:
        first = self.session.get_providers()[0]
        return {"CPUExecutionProvider": "CPU", "CUDAExecutionProvider": "CUDA"}.get(first, first)

    def _fit_batch(self, x: np.ndarray) -> tuple[np.ndarray, int]:
        fixed = self.spec.batch
        n = len(x)
        if fixed is None or fixed == n:
            return x, n
        if n < fixed:
            return np.concatenate([x, np.repeat(x[-1:], fixed - n, axis=0)]), n
        raise ValueError("batch larger than the model's fixed batch size")

    def logits(self, tensors: np.ndarray, chunk: int = 1024) -> np.ndarray:
        """Many images → the class output (N × classes), in runs of ``chunk``."""
        step = self.spec.batch or chunk
        parts = []
        for i in range(0, len(tensors), step):
            x, n = self._fit_batch(np.ascontiguousarray(tensors[i : i + step], dtype=np.float32))
            try:
                parts.append(self.session.run([self.class_output], {self._input_name: x})[0][:n])
            except Exception as exc:  # onnxruntime failing on this model at run time
                raise ModelError(f"{self.path.name}: onnxruntime failed running the model ({_first_line(exc)})") from exc
        return np.concatenate(parts) if parts else np.zeros((0, len(self.labels)), np.float32)

    def run(self, tensor: np.ndarray, prepared: preprocess.Prepared | None = None, run_options=None,
            outputs=None) -> Prediction:
        """One image → its digit and probabilities (no activations, whatever ``outputs`` asks for)."""
        x, _ = self._fit_batch(np.asarray(tensor, dtype=np.float32))
        started = time.perf_counter()
        logits = self.session.run([self.class_output], {self._input_name: x}, run_options)[0][0]
        seconds = time.perf_counter() - started
        values = logits.tolist()
        if min(values) >= 0.0 and abs(sum(values) - 1.0) < 1e-4:
            weights = values  # already probabilities (see predict_batch)
        else:
            top = max(values)
            weights = [math.exp(v - top) for v in values]
        total = sum(weights) or 1.0
        probs = [w / total for w in weights]
        digit = probs.index(max(probs))
        return Prediction(digit, self.labels[digit], np.array(probs, dtype=np.float32), logits, {}, seconds, prepared)

    def predict_batch(self, tensors: np.ndarray, chunk: int = 1024) -> np.ndarray:
        """Many images → probabilities (N × classes).

        Without the graph the last op is unknown, so an output that already is a
        probability distribution on every row (non-negative, summing to 1) is
        taken as it is; anything else goes through a softmax.
        """
        out = self.logits(tensors, chunk)
        if len(out) and float(out.min()) >= 0.0 and np.allclose(out.sum(axis=1), 1.0, atol=1e-4):
            return out / out.sum(axis=1, keepdims=True)
        return softmax(out)
