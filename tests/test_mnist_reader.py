"""The MNIST idx reader, offline, on small idx files made here."""

import gzip
import hashlib
import struct

import numpy as np
import pytest

from lenet_gui.train import mnist

NAMES = list(mnist.FILES.values())


def write_idx(path, array, compress=True):
    raw = struct.pack(">HBB", 0, 8, array.ndim) + struct.pack(">" + "I" * array.ndim, *array.shape) + array.tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)


def make_set(folder, n_train=12, n_test=5):
    rng = np.random.default_rng(1)
    arrays = {
        "train-images-idx3-ubyte.gz": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train-labels-idx1-ubyte.gz": rng.integers(0, 10, n_train, dtype=np.uint8),
        "t10k-images-idx3-ubyte.gz": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "t10k-labels-idx1-ubyte.gz": rng.integers(0, 10, n_test, dtype=np.uint8),
    }
    for name, array in arrays.items():
        write_idx(folder / name, array)
    sums = {n: (None, hashlib.sha256((folder / n).read_bytes()).hexdigest()) for n in arrays}
    return arrays, sums


def test_reads_idx_files_and_checks_given_checksums(tmp_path):
    arrays, sums = make_set(tmp_path)
    data = mnist.load(tmp_path, checksums=sums)
    assert np.array_equal(data.train_images, arrays["train-images-idx3-ubyte.gz"])
    assert np.array_equal(data.test_labels, arrays["t10k-labels-idx1-ubyte.gz"])
    assert len(data.sha256) == 64


def test_official_checksums_are_required_by_default(tmp_path):
    make_set(tmp_path)
    with pytest.raises(mnist.MnistError, match="checksum mismatch"):
        mnist.load(tmp_path)


def test_a_changed_byte_is_caught(tmp_path):
    _, sums = make_set(tmp_path)
    path = tmp_path / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(path.read_bytes())
    raw[-9] ^= 1
    path.write_bytes(bytes(raw))
    with pytest.raises(mnist.MnistError, match="t10k-labels"):
        mnist.load(tmp_path, checksums=sums)


def test_missing_files_without_download(tmp_path):
    with pytest.raises(mnist.MnistError, match="missing"):
        mnist.load(tmp_path)


def test_malformed_idx(tmp_path):
    bad = tmp_path / "x.idx"
    bad.write_bytes(b"\x00\x00\x0d\x01" + b"\x00" * 8)
    with pytest.raises(mnist.MnistError, match="unsigned bytes"):
        mnist.read_idx(bad)
    short = tmp_path / "y.idx"
    short.write_bytes(struct.pack(">HBBI", 0, 8, 1, 10) + b"\x01\x02")
    with pytest.raises(mnist.MnistError, match="expected 10 bytes"):
        mnist.read_idx(short)
    plain = tmp_path / "z.idx"
    write_idx(plain, np.arange(6, dtype=np.uint8).reshape(2, 3), compress=False)
    assert mnist.read_idx(plain).tolist() == [[0, 1, 2], [3, 4, 5]]


def test_download_verifies_and_keeps_only_good_files(tmp_path):
    """A local folder stands in for the mirror: the download code path runs offline."""
    source = tmp_path / "mirror"
    source.mkdir()
    make_set(source)
    target = tmp_path / "data"
    # The files are not the official ones, so every mirror is rejected by checksum
    # and nothing half-verified is left behind.
    with pytest.raises(mnist.MnistError, match="checksum mismatch"):
        mnist.download(target, mirrors=(source.as_uri() + "/",))
    assert not list(target.iterdir())


def test_sample_files_shipped_with_the_tests(data_dir):
    folder = data_dir / "mnist-mini"
    data = mnist.load(folder, checksums=mnist.read_sha256sums(folder / "SHA256SUMS"))
    assert data.train_images.shape == (2000, 28, 28)
    assert data.test_images.shape == (1000, 28, 28)
    # The first official test labels (7 2 1 0 4 1 4 9 5 9), as the MNIST README gives them.
    assert data.test_labels[:10].tolist() == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]
