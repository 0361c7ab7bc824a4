"""Pooling: windowed (max, average, Lp) and global."""

from lenet_gui.core.ops._rule import RF_SLIDING, SIGN_KEEPS, SIGN_NON_NEGATIVE, OpRule
from lenet_gui.core.ops.pool import shape


def _pool(op: str, title: str, sign: str, monotonic: bool, rule) -> OpRule:
    return OpRule(op, "pool", title, rule, main=True, receptive_field=RF_SLIDING, sign=sign, monotonic=monotonic)


RULES = [
    _pool("MaxPool", "Max pooling", SIGN_KEEPS, True, shape.pool),
    _pool("AveragePool", "Average pooling", SIGN_KEEPS, True, shape.pool),
    # ‖window‖_p: never negative, and not monotonic (|x| falls as x rises to 0).
    _pool("LpPool", "Lp pooling", SIGN_NON_NEGATIVE, False, shape.pool),
    _pool("GlobalAveragePool", "Global average pooling", SIGN_KEEPS, True, shape.global_pool),
    _pool("GlobalMaxPool", "Global max pooling", SIGN_KEEPS, True, shape.global_pool),
    _pool("GlobalLpPool", "Global Lp pooling", SIGN_NON_NEGATIVE, False, shape.global_pool),
]
