"""Shared test set-up.

Qt must run offscreen in tests: without a display the default platform plugin
aborts the process before pytest can print anything.
"""

import os
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA
