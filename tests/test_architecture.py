"""The layering: the core never imports Qt, the UI, the command line or torch; the
command line loads Qt only when it opens the window. Checked by import-linter
with the contracts in pyproject.toml, and by importing the command line."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT_IMPORTS), "--no-cache", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)


def test_import_contracts_are_kept():
    result = lint()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Contracts: 2 kept, 0 broken." in result.stdout


def test_the_linter_sees_a_broken_contract(tmp_path):
    # The same tool on a contract the code breaks on purpose (the UI uses Qt):
    # the check above passes because the layering holds, not because nothing is looked at.
    config = tmp_path / "broken.toml"
    config.write_text(
        '[tool.importlinter]\nroot_package = "lenet_gui"\ninclude_external_packages = true\n\n'
        '[[tool.importlinter.contracts]]\nname = "the UI without Qt"\ntype = "forbidden"\n'
        'source_modules = ["lenet_gui.ui"]\nforbidden_modules = ["PySide6"]\n')
    result = lint("--config", str(config))
    assert result.returncode == 1 and "BROKEN" in result.stdout, result.stdout + result.stderr


def test_importing_the_command_line_loads_no_qt_and_no_torch():
    code = ("import sys, lenet_gui.cli, lenet_gui.core.session, lenet_gui.core.graph; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'PySide6', 'torch', 'shiboken6'}))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
