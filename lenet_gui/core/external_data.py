"""Where a model's external weight files may be: inside the model's own folder.

An ONNX tensor can keep its data in another file, named by a ``location`` in
the model. A downloaded model could name ``../../.ssh/id_rsa``, an absolute
path, or a symlink placed next to it that points elsewhere, and so have the app
read (and show, as "weights") any file the user can read. Every location is
checked here before any external file is opened; onnx and onnxruntime check
too (the versions pinned in pyproject.toml), this is the app's own guard.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path, PurePosixPath, PureWindowsPath

import onnx

from lenet_gui.core.errors import ModelError


def _tensors(graph: onnx.GraphProto) -> Iterator[onnx.TensorProto]:
    """Every tensor of a graph and its subgraphs (If, Loop and Scan bodies)."""
    yield from graph.initializer
    for sparse in graph.sparse_initializer:
        yield sparse.values
        yield sparse.indices
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.HasField("t"):
                yield attribute.t
            yield from attribute.tensors
            if attribute.HasField("g"):
                yield from _tensors(attribute.g)
            for subgraph in attribute.graphs:
                yield from _tensors(subgraph)


def external_tensors(model: onnx.ModelProto) -> Iterator[tuple[onnx.TensorProto, dict[str, str]]]:
    for tensor in _tensors(model.graph):
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            yield tensor, {entry.key: entry.value for entry in tensor.external_data}


def _is_inside(path: str, folder: str) -> bool:
    return os.path.commonpath([path, folder]) == folder


def check_location(location: str, folder: Path, model_name: str, tensor: str) -> Path:
    """The file a location names, refused when it leaves ``folder``. Reads nothing."""
    where = f"{model_name}: the weights of '{tensor}' are to be read from {location!r}"
    if not location or "\x00" in location:
        raise ModelError(f"{model_name}: the weights of '{tensor}' have no usable external file name")
    if (PurePosixPath(location).is_absolute() or PureWindowsPath(location).is_absolute()
            or PureWindowsPath(location).drive):
        raise ModelError(f"{where}, an absolute path; external weights must be in the model's folder")
    parts = PurePosixPath(location.replace("\\", "/")).parts
    if ".." in parts:
        raise ModelError(f"{where}, outside the model's folder; refused")
    base = os.path.realpath(folder)
    target = os.path.join(folder, *parts)
    if not _is_inside(os.path.realpath(target), base):
        raise ModelError(f"{where}, which leads outside the model's folder (a symbolic link); refused. "
                         "If you trust it, copy the file itself next to the model")
    if not os.path.lexists(target):
        raise ModelError(f"Model {model_name} refers to an external weight file that is missing: {location}")
    if os.path.islink(target) or not os.path.isfile(target):
        raise ModelError(f"{where}, which is not a plain file; refused")
    if os.stat(target).st_nlink > 1:
        raise ModelError(f"{where}, a file with several hard links (it may be a file from elsewhere); refused")
    return Path(target)


def check_external_data(model: onnx.ModelProto, model_path: Path, max_bytes: int | None = None) -> bool:
    """Check every external location of ``model``; True when there is external data to load.

    Offsets and lengths are checked against the file's size, so a tensor cannot
    ask for more bytes than are there.
    """
    folder = Path(model_path).parent
    checked: dict[str, int] = {}
    any_external = False
    total = 0
    for tensor, info in external_tensors(model):
        any_external = True
        location = info.get("location", "")
        if location not in checked:
            checked[location] = check_location(location, folder, Path(model_path).name, tensor.name).stat().st_size
        size = checked[location]
        try:
            offset = int(info.get("offset", 0))
            length = int(info["length"]) if "length" in info else size - offset
        except ValueError:
            raise ModelError(f"{Path(model_path).name}: the weights of '{tensor.name}' have an unreadable offset or "
                             "length") from None
        if offset < 0 or length < 0 or offset + length > size:
            raise ModelError(f"{Path(model_path).name}: the weights of '{tensor.name}' lie beyond the end of "
                             f"{location} ({size:,} bytes)")
        total += length
        if max_bytes is not None and total > max_bytes:
            raise ModelError(f"{Path(model_path).name}: its external weights are more than the memory limit of "
                             f"{max_bytes:,} bytes (--memory-limit sets the limit)")
    return any_external
