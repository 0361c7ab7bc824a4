"""Fully connected layers: Gemm and MatMul."""

from lenet_gui.core.ops._rule import RF_DENSE, OpRule
from lenet_gui.core.ops.dense import shape

RULES = [
    OpRule("Gemm", "dense", "Fully connected", shape.gemm, main=True, receptive_field=RF_DENSE,
           param_inputs=(1, 2)),
    OpRule("MatMul", "dense", "Matrix product", shape.matmul, main=True, receptive_field=RF_DENSE,
           params_per_node=True),
]
