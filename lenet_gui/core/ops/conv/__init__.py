"""Convolutions: Conv and ConvTranspose."""

from lenet_gui.core.ops._rule import RF_NONE, RF_SLIDING, OpRule
from lenet_gui.core.ops.conv import shape

RULES = [
    OpRule("Conv", "conv", "Convolution", shape.conv, main=True, receptive_field=RF_SLIDING,
           param_inputs=(1, 2)),
    OpRule("ConvTranspose", "conv", "Transposed convolution", shape.conv_transpose, main=True,
           receptive_field=RF_NONE, param_inputs=(1, 2)),
]
