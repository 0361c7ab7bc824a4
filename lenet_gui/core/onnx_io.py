"""Reading ONNX files with one clear message for every way they can be bad."""

from __future__ import annotations

import os
from pathlib import Path

import onnx

from lenet_gui.core.budget import format_size
from lenet_gui.core.errors import ModelError
from lenet_gui.core.external_data import check_external_data
from lenet_gui.core.runtime import check_model_file, default_model_path  # noqa: F401 (re-exported)

DEFAULT_MODEL_NAME = "lenet5.onnx"  # in lenet_gui/models; see runtime.default_model_path


def load_model(path: str | os.PathLike, max_bytes: int | None = None, external: dict | None = None) -> onnx.ModelProto:
    """Load an ONNX model, with weights from external data files next to it.

    Raises ModelError with a one-line message for a missing, unreadable, corrupt
    or non-ONNX file. ``external``, when given, receives where each external tensor's bytes
    are (``weight_file.external_spans``), for leaving them there later.
    """
    path = Path(path)
    size = check_model_file(path)
    if max_bytes is not None and size > max_bytes:
        raise ModelError(f"Model file {path.name} is {format_size(size)}, more than the memory limit of "
                         f"{format_size(max_bytes)} (--memory-limit sets the limit)")
    try:
        # External data is read only after every location is checked (external_data.py).
        model = onnx.load(str(path), load_external_data=False)
        if check_external_data(model, path, max_bytes):
            if external is not None:
                from lenet_gui.core.weight_file import external_spans

                external.update(external_spans(model, path.parent))
            onnx.load_external_data_for_model(model, str(path.parent))
    except ModelError:
        raise
    except FileNotFoundError as exc:
        raise ModelError(
            f"Model {path.name} refers to an external weight file that is missing: {exc.filename or exc}"
        ) from exc
    except onnx.checker.ValidationError as exc:
        # onnx reports a missing external weight file as a validation error.
        if "should be stored in" in str(exc):
            where = str(exc).split("should be stored in", 1)[1].split(",")[0].strip()
            raise ModelError(f"Model {path.name} keeps its weights in an external file that is missing: {where}") from exc
        raise ModelError(f"{path.name} is not a valid ONNX model ({_first_line(exc)})") from exc
    except PermissionError as exc:
        raise ModelError(f"Cannot read model file {path}: permission denied") from exc
    except Exception as exc:  # protobuf's DecodeError and friends
        raise ModelError(f"{path.name} is not a valid ONNX model (the file is corrupt or of another format)") from exc
    if not model.graph.node and not model.graph.output:
        raise ModelError(f"{path.name} is not a valid ONNX model (it holds no graph)")
    return model


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().split("\n")[0]
    return text[:160] if text else type(exc).__name__
