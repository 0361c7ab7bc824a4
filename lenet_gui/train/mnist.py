"""The four standard MNIST gzip idx files: reading, checksum checks, download.

The official files are verified by MD5 (the sums every loader publishes) and
SHA-256. A folder that lacks them can be filled from the official mirrors when
the machine is online; nothing here needs the network otherwise.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lenet_gui.core import datasets

FILES = {
    "train_images": "train-images-idx3-ubyte.gz",
    "train_labels": "train-labels-idx1-ubyte.gz",
    "test_images": "t10k-images-idx3-ubyte.gz",
    "test_labels": "t10k-labels-idx1-ubyte.gz",
}
MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
SHA256 = {
    "train-images-idx3-ubyte.gz": "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    "train-labels-idx1-ubyte.gz": "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    "t10k-images-idx3-ubyte.gz": "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    "t10k-labels-idx1-ubyte.gz": "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
}
# Yann LeCun's page has been unreliable for years; the copy on the Torchvision
# mirror (the same bytes, same checksums) is tried after it.
MIRRORS = (
    "https://yann.lecun.com/exdb/mnist/",
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
)


class MnistError(Exception):
    """The MNIST files are missing, damaged, or not idx files."""


@dataclass
class Mnist:
    train_images: np.ndarray  # (60000, 28, 28) uint8
    train_labels: np.ndarray  # (60000,) uint8
    test_images: np.ndarray  # (10000, 28, 28) uint8
    test_labels: np.ndarray
    sha256: str  # one checksum over the four files' checksums, for the model's metadata


def file_digests(path: Path) -> tuple[str, str]:
    md5, sha = hashlib.md5(), hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            md5.update(block)
            sha.update(block)
    return md5.hexdigest(), sha.hexdigest()


def verify(path: Path, expected_md5: str | None = None, expected_sha256: str | None = None) -> str:
    """Check a file against the given checksums, else the official ones; returns its SHA-256."""
    name = path.name
    md5, sha = file_digests(path)
    if expected_md5 is None and expected_sha256 is None:
        expected_md5, expected_sha256 = MD5.get(name), SHA256.get(name)
    if expected_md5 and md5 != expected_md5:
        raise MnistError(f"{name}: checksum mismatch (md5 {md5}, expected {expected_md5}); the file is damaged or not the official one")
    if expected_sha256 and sha != expected_sha256:
        raise MnistError(f"{name}: checksum mismatch (sha256 {sha}, expected {expected_sha256})")
    return sha


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an idx file (gzip or plain): magic, dimensions, then unsigned bytes."""
    try:
        return datasets.read_idx(path)
    except datasets.DatasetError as exc:
        raise MnistError(str(exc)) from exc


def download(folder: str | os.PathLike, mirrors=MIRRORS, timeout: float = 60.0) -> None:
    """Fetch missing files from the official mirrors, verifying each before keeping it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for name in FILES.values():
        target = folder / name
        if target.exists():
            continue
        errors = []
        for base in mirrors:
            try:
                with urllib.request.urlopen(base + name, timeout=timeout) as response, tempfile.NamedTemporaryFile(
                    dir=folder, delete=False
                ) as tmp:
                    shutil.copyfileobj(response, tmp)
                tmp_path = Path(tmp.name)
                try:
                    verify(tmp_path, MD5[name], SHA256[name])
                except MnistError:
                    tmp_path.unlink(missing_ok=True)
                    raise
                os.replace(tmp_path, target)
                break
            except (OSError, MnistError) as exc:
                errors.append(f"{base}: {exc}")
        else:
            raise MnistError(f"could not download {name}: " + "; ".join(errors))


def load(folder: str | os.PathLike, allow_download: bool = False, checksums: dict | None = None) -> Mnist:
    """Load and verify the four files in ``folder``.

    ``checksums`` maps file name → (md5 or None, sha256) to check against instead
    of the official ones (the tests' small samples; see ``read_sha256sums``).
    """
    folder = Path(folder)
    missing = [n for n in FILES.values() if not (folder / n).exists()]
    if missing:
        if not allow_download:
            raise MnistError(f"MNIST files missing in {folder}: {', '.join(missing)} (pass --download to fetch them)")
        download(folder)
    arrays, shas = {}, []
    for key, name in FILES.items():
        if checksums is not None and name not in checksums:
            raise MnistError(f"no checksum given for {name}")
        md5, sha = (checksums or {}).get(name, (None, None))
        shas.append(verify(folder / name, md5, sha))
        arrays[key] = read_idx(folder / name)
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise MnistError(f"{split}: {images.shape} images do not match {labels.shape} labels")
    combined = hashlib.sha256("".join(shas).encode()).hexdigest()
    return Mnist(**arrays, sha256=combined)


def read_sha256sums(path: str | os.PathLike) -> dict[str, tuple[None, str]]:
    """A ``sha256sum``-style file → checksums for ``load``."""
    sums = {}
    for line in Path(path).read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            sums[name.lstrip("*").strip()] = (None, digest.lower())
    return sums
