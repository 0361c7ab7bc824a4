"""The package as a user installs it: the model inside, the bad Qt release excluded."""

import os
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]


def pyside_requirements():
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return [Requirement(d) for d in deps if d.lower().startswith("pyside6")]


@pytest.mark.parametrize("python, version, allowed", [
    ("3.11", "6.12.0", False),
    ("3.10", "6.12.0", False),
    ("3.11", "6.11.3", True),
    ("3.12", "6.12.0", True),
    ("3.13", "6.12.0", True),
])
def test_pyside_6_12_0_excluded_on_python_before_3_12(python, version, allowed):
    env = {"python_version": python, "python_full_version": python + ".0"}
    applicable = [r for r in pyside_requirements() if r.marker is None or r.marker.evaluate(env)]
    assert applicable, "no PySide6 requirement applies"
    assert all(r.specifier.contains(Version(version)) for r in applicable) is allowed


def test_qt_calls_do_not_leak_references_to_none():
    """PySide6 6.12.0 on CPython 3.11 dropped a reference to None on each call of a
    method returning nothing; after some thousands the interpreter aborted."""
    from PySide6.QtGui import QImage, QPen

    image, pen = QImage(8, 8, QImage.Format.Format_RGB32), QPen()
    before = sys.getrefcount(None)
    for _ in range(4000):
        image.fill(0)
        pen.setWidthF(2.5)
    lost = before - sys.getrefcount(None)
    assert lost < 100, f"{lost} references to None lost"  # the bad release loses about 4,000


def test_wheel_ships_the_model_and_runs_from_another_folder(tmp_path):
    dist = tmp_path / "dist"
    build = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", str(dist), str(ROOT)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path,
    )
    assert build.returncode == 0, build.stderr
    wheel = next(dist.glob("lenet_gui-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "lenet_gui/models/lenet5.onnx" in names
    assert "lenet_gui/resources/icon.svg" in names
    assert any(n.endswith("entry_points.txt") for n in names)
    entry = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    assert "lenet-gui = lenet_gui.cli:main" in entry

    site = tmp_path / "site"
    install = subprocess.run(
        [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site), str(wheel)],
        capture_output=True, text=True, timeout=300,
    )
    assert install.returncode == 0, install.stderr
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    code = (
        "import lenet_gui, sys; from lenet_gui.core.onnx_io import default_model_path; "
        f"assert lenet_gui.__file__.startswith({str(site)!r}), lenet_gui.__file__; "
        "p = default_model_path(); assert p.exists(), p; "
        "from lenet_gui import cli; sys.exit(cli.main(['shapes']))"
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=elsewhere, env=env)
    assert run.returncode == 0, run.stderr
    assert "28" in run.stdout
    assert "lenet_gui/core/ops/conv/explain.py" in names  # the explain rules of every op family ship too
    explain = f"from lenet_gui import cli; import sys; sys.exit(cli.main(['explain', {str(ROOT / 'docs' / 'seven.strokes.json')!r}, '--layer', 'c3.conv']))"
    run = subprocess.run([sys.executable, "-c", explain], capture_output=True, text=True, timeout=120, cwd=elsewhere,
                         env=env)
    assert run.returncode == 0 and "✓ agrees" in run.stdout, run.stderr
