"""Training LeNet-5 (needs the ``train`` extra: torch). The app never imports this.

``mnist`` and ``pendigits`` read the data sets with numpy alone, so tests and
evaluation work without torch; ``python -m lenet_gui.train`` trains and exports.
"""
