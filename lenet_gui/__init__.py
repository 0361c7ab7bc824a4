"""lenet-gui: draw a digit and watch a LeNet-5 read it, layer by layer.

The core (``lenet_gui.core``) has no Qt in it; ``MainWindow`` is imported lazily so
that ``import lenet_gui`` from the command line or a test never loads Qt.
"""

__version__ = "0.1.0"

__all__ = ["MainWindow", "__version__"]


def __getattr__(name):
    if name == "MainWindow":
        from lenet_gui.ui.main_window import MainWindow

        return MainWindow
    raise AttributeError(f"module 'lenet_gui' has no attribute {name!r}")
