"""Errors the app shows to a person: each carries one clear, complete sentence.

Anything raised from the core that a user can cause (a bad file, a model that is
not an image classifier, an impossible layer) is one of these, so the CLI and the
window can print ``str(error)`` instead of a traceback.
"""


class LenetGuiError(Exception):
    """Base class: ``str(error)`` is a message fit for the user."""


class ModelError(LenetGuiError):
    """The model file is missing, corrupt, not ONNX, or not an image classifier."""


class ImageError(LenetGuiError):
    """An image file cannot be read or used as a digit."""


class DrawingError(LenetGuiError):
    """A ``.strokes.json`` drawing file is malformed."""


class ShapeError(LenetGuiError):
    """A layer's configuration cannot work (e.g. kernel larger than padded input)."""


class ProviderError(LenetGuiError):
    """An execution provider was asked for but cannot be used."""
