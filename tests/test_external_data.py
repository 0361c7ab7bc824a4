"""external_data's checks one by one, on tensors made by hand: where an external weight
file may be, and how much of it a tensor may ask for. Every message in full, every bound
on both sides. load_model with real files is tests/test_onnx_io.py and test_hostile_models.py."""

from __future__ import annotations

import os

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from lenet_gui.core.errors import ModelError
from lenet_gui.core.external_data import check_external_data, check_location, external_tensors

WHERE = "m.onnx: the weights of 'w' are to be read from"


def refusal(location, folder) -> str:
    with pytest.raises(ModelError) as caught:
        check_location(location, folder, "m.onnx", "w")
    return str(caught.value)


def external(name: str, **info) -> TensorProto:
    """A float tensor whose data is in an external file, with these external_data entries."""
    tensor = TensorProto(name=name, data_type=TensorProto.FLOAT, dims=[1])
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in info.items():
        tensor.external_data.add(key=key, value=str(value))
    return tensor


def model_of(*initializers, nodes=()) -> onnx.ModelProto:
    graph = helper.make_graph(list(nodes), "g", [], [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
                              list(initializers))
    return helper.make_model(graph)


@pytest.fixture
def folder(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    (models / "w.bin").write_bytes(bytes(1000))
    return models


# --- check_location ------------------------------------------------------------------------------


def test_a_plain_file_in_the_folder_or_below_is_accepted(folder):
    assert check_location("w.bin", folder, "m.onnx", "w") == folder / "w.bin"
    assert check_location("./w.bin", folder, "m.onnx", "w") == folder / "w.bin"
    (folder / "sub").mkdir()
    (folder / "sub" / "v.bin").write_bytes(b"1234")
    assert check_location("sub/v.bin", folder, "m.onnx", "w") == folder / "sub" / "v.bin"
    assert check_location("sub\\v.bin", folder, "m.onnx", "w") == folder / "sub" / "v.bin"  # written on Windows


def test_a_folder_reached_through_a_link_is_still_the_folder(folder, tmp_path):
    (tmp_path / "shortcut").symlink_to(folder)
    assert check_location("w.bin", tmp_path / "shortcut", "m.onnx", "w") == tmp_path / "shortcut" / "w.bin"


@pytest.mark.parametrize("location", ["", "w\x00.bin"])
def test_no_usable_name(location, folder):
    assert refusal(location, folder) == "m.onnx: the weights of 'w' have no usable external file name"


@pytest.mark.parametrize("location", ["/etc/passwd", "C:\\weights\\w.bin", "C:w.bin", "\\\\server\\share\\w.bin"])
def test_absolute_paths_are_refused(location, folder):
    assert refusal(location, folder) == \
        f"{WHERE} {location!r}, an absolute path; external weights must be in the model's folder"


@pytest.mark.parametrize("location", ["../w.bin", "sub/../w.bin", "..\\w.bin", ".."])
def test_parent_steps_are_refused_even_when_they_come_back(location, folder):
    (folder / "sub").mkdir()
    assert refusal(location, folder) == f"{WHERE} {location!r}, outside the model's folder; refused"


def test_a_link_out_of_the_folder_is_refused(folder, tmp_path):
    (tmp_path / "secret.bin").write_bytes(b"secret")
    (folder / "link.bin").symlink_to(tmp_path / "secret.bin")
    # A sibling folder whose name starts with the folder's: outside all the same.
    (tmp_path / "models2").mkdir()
    (tmp_path / "models2" / "w.bin").write_bytes(b"x")
    (folder / "near.bin").symlink_to(tmp_path / "models2" / "w.bin")
    for name in ("link.bin", "near.bin"):
        assert refusal(name, folder) == (
            f"{WHERE} {name!r}, which leads outside the model's folder (a symbolic link); refused. "
            "If you trust it, copy the file itself next to the model")


def test_a_missing_file_is_named(folder):
    assert refusal("gone.bin", folder) == "Model m.onnx refers to an external weight file that is missing: gone.bin"


def test_links_folders_and_hard_links_in_the_folder_are_refused(folder):
    (folder / "inner-link.bin").symlink_to(folder / "w.bin")
    (folder / "dangling.bin").symlink_to(folder / "nothing.bin")
    (folder / "sub").mkdir()
    for name in ("inner-link.bin", "dangling.bin", "sub", "."):
        assert refusal(name, folder) == f"{WHERE} {name!r}, which is not a plain file; refused"
    os.link(folder / "w.bin", folder / "twin.bin")
    assert refusal("w.bin", folder) == \
        f"{WHERE} 'w.bin', a file with several hard links (it may be a file from elsewhere); refused"


# --- external_tensors: every place a tensor can be ------------------------------------------------


def test_external_tensors_are_found_everywhere_in_the_graph():
    inner = helper.make_graph([], "body", [], [], [external("in_subgraph", location="a")])
    sparse = onnx.SparseTensorProto(values=external("sparse_values", location="a"),
                                    indices=external("sparse_indices", location="a"), dims=[4])
    nodes = [
        helper.make_node("Constant", [], ["c"], value=external("attr_t", location="a")),
        helper.make_node("If", ["c"], ["y"], then_branch=inner, else_branch=helper.make_graph(
            [], "other", [], [], [external("in_else", location="b")])),
        helper.make_node("Custom", [], ["z"], domain="x", tensors=[external("attr_tensors", location="a")],
                         graphs=[helper.make_graph([], "many", [], [], [external("in_graphs", location="a")])]),
    ]
    model = model_of(external("init", location="a", offset=4, length=8), numpy_helper.from_array(
        np.zeros(2, np.float32), "inline"), nodes=nodes)
    model.graph.sparse_initializer.append(sparse)
    found = {t.name: info for t, info in external_tensors(model)}
    assert set(found) == {"init", "sparse_values", "sparse_indices", "attr_t", "in_subgraph", "in_else",
                          "attr_tensors", "in_graphs"}
    assert found["init"] == {"location": "a", "offset": "4", "length": "8"}


# --- check_external_data: offsets, lengths, the memory limit -------------------------------------------


def check(folder, *tensors, max_bytes=None) -> bool:
    return check_external_data(model_of(*tensors), folder / "m.onnx", max_bytes)


def check_refusal(folder, *tensors, max_bytes=None) -> str:
    with pytest.raises(ModelError) as caught:
        check(folder, *tensors, max_bytes=max_bytes)
    return str(caught.value)


def test_no_external_tensor_is_nothing_to_load(folder):
    assert check(folder, numpy_helper.from_array(np.zeros(3, np.float32), "w")) is False
    assert check(folder) is False


def test_offsets_and_lengths_up_to_the_end_of_the_file(folder):
    assert check(folder, external("w", location="w.bin")) is True  # the whole file
    assert check(folder, external("w", location="w.bin", offset=1000)) is True  # nothing left: length 0
    assert check(folder, external("w", location="w.bin", offset=600, length=400)) is True
    assert check(folder, external("w", location="w.bin", offset=0, length=1000)) is True
    beyond = "m.onnx: the weights of 'w' lie beyond the end of w.bin (1,000 bytes)"
    for info in (dict(offset=600, length=401), dict(offset=1001), dict(length=1001), dict(offset=-1, length=1),
                 dict(offset=0, length=-1)):
        assert check_refusal(folder, external("w", location="w.bin", **info)) == beyond, info


@pytest.mark.parametrize("info", [dict(offset="four"), dict(length="1.5"), dict(offset="")])
def test_an_unreadable_offset_or_length(folder, info):
    assert check_refusal(folder, external("w", location="w.bin", **info)) == \
        "m.onnx: the weights of 'w' have an unreadable offset or length"


def test_a_tensor_without_a_location_has_no_usable_name(folder):
    assert check_refusal(folder, external("w")) == "m.onnx: the weights of 'w' have no usable external file name"


def test_every_location_is_checked(folder, tmp_path):
    (folder / "v.bin").write_bytes(bytes(10))
    assert check(folder, external("w", location="w.bin"), external("v", location="v.bin")) is True
    assert check_refusal(folder, external("w", location="w.bin"), external("v", location="../w.bin")) == \
        "m.onnx: the weights of 'v' are to be read from '../w.bin', outside the model's folder; refused"
    # The second tensor in a file is measured against that file's size, not the first one's.
    assert check_refusal(folder, external("w", location="w.bin"), external("v", location="v.bin", length=11)) == \
        "m.onnx: the weights of 'v' lie beyond the end of v.bin (10 bytes)"
    assert check(folder, external("w", location="v.bin"), external("v", location="v.bin", offset=2, length=8))


def test_the_memory_limit_counts_every_tensor(folder):
    halves = (external("w", location="w.bin", length=500), external("v", location="w.bin", offset=500, length=500))
    assert check(folder, *halves, max_bytes=1000) is True
    assert check_refusal(folder, *halves, max_bytes=999) == \
        "m.onnx: its external weights are more than the memory limit of 999 bytes (--memory-limit sets the limit)"
    assert check(folder, external("w", location="w.bin"), max_bytes=1000) is True
    assert "more than the memory limit of 999 bytes" in check_refusal(folder, external("w", location="w.bin"),
                                                                       max_bytes=999)
