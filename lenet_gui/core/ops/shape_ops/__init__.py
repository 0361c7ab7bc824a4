"""Ops that move, pick, reduce or make tensors rather than compute new values.

Moving data (reshape, transpose, slice, gather, pad…) keeps every value, so
such ops keep signs and are monotonic. Shape, Size, Constant, ConstantOfShape
and Range produce bookkeeping, not activations: their values are known
without the image.
"""

from lenet_gui.core.ops._rule import (
    RF_DENSE, RF_MERGE, RF_NONE, RF_REGROUP, RF_SAME, RF_SLIDING, SIGN_ANY, SIGN_KEEPS, SIGN_NON_NEGATIVE, OpRule,
)
from lenet_gui.core.ops.shape_ops import shape

_BOOKKEEPING = "bookkeeping: its value comes from shapes or constants, not from the image"


def _moving(op, title, rule, rf, fold=None, **extra) -> OpRule:
    """An op that only moves values: signs kept, monotonic."""
    return OpRule(op, "shape_ops", title, rule, fold=fold, receptive_field=rf, sign=SIGN_KEEPS, monotonic=True,
                  **extra)


def _bookkeeping(op, title, rule, fold, from_shapes=False) -> OpRule:
    return OpRule(op, "shape_ops", title, rule, fold=fold, fold_from_shapes=from_shapes, activation=False,
                  sign=SIGN_NON_NEGATIVE if op in ("Shape", "Size") else SIGN_ANY, explain_reason=_BOOKKEEPING)


def _reduce(op, title, sign, monotonic) -> OpRule:
    # Over the image's axes every output sees all of it; over channels the field stays.
    return OpRule(op, "shape_ops", title, shape.reduce, receptive_field=RF_DENSE, sign=sign, monotonic=monotonic)


RULES = [
    _moving("Flatten", "Flatten", shape.flatten, RF_REGROUP, shape.fold_reshape),
    _moving("Reshape", "Reshape", shape.reshape, RF_REGROUP, shape.fold_reshape),
    _moving("Squeeze", "Squeeze", shape.squeeze, RF_REGROUP, shape.fold_reshape),
    _moving("Unsqueeze", "Unsqueeze", shape.unsqueeze, RF_REGROUP, shape.fold_reshape),
    _moving("Transpose", "Transpose", shape.transpose, RF_REGROUP, shape.fold_transpose),
    _moving("Concat", "Concatenate", shape.concat, RF_MERGE, shape.fold_concat),
    _moving("Split", "Split", shape.split, RF_SAME),
    _moving("Slice", "Slice", shape.slice_op, RF_SAME, shape.fold_slice),
    _moving("Gather", "Gather", shape.gather, RF_NONE, shape.fold_gather),
    _moving("Expand", "Expand", shape.expand, RF_MERGE, shape.fold_expand),
    _moving("Tile", "Tile", shape.tile, RF_NONE, shape.fold_tile),
    _moving("DepthToSpace", "Depth to space", shape.depth_to_space, RF_NONE),
    _moving("SpaceToDepth", "Space to depth", shape.space_to_depth, RF_NONE),
    # A window of one pixel with padding before it: the field only shifts. The
    # pad value may be negative, so signs are not kept.
    OpRule("Pad", "shape_ops", "Pad", shape.pad, receptive_field=RF_SLIDING, monotonic=True),
    # Cubic interpolation overshoots, so not monotonic; it can dip below 0 as
    # well, but the colour maps have always treated resizing as sign-keeping.
    OpRule("Resize", "shape_ops", "Resize", shape.resize, sign=SIGN_KEEPS),
    OpRule("Upsample", "shape_ops", "Upsample", shape.resize, sign=SIGN_KEEPS),
    _reduce("ReduceMean", "Mean over axes", SIGN_KEEPS, True),
    _reduce("ReduceSum", "Sum over axes", SIGN_KEEPS, True),
    _reduce("ReduceMax", "Maximum over axes", SIGN_KEEPS, True),
    _reduce("ReduceMin", "Minimum over axes", SIGN_KEEPS, True),
    _reduce("ReduceProd", "Product over axes", SIGN_KEEPS, False),
    _reduce("ReduceL1", "L1 norm over axes", SIGN_NON_NEGATIVE, False),
    _reduce("ReduceL2", "L2 norm over axes", SIGN_NON_NEGATIVE, False),
    _reduce("ReduceSumSquare", "Sum of squares over axes", SIGN_NON_NEGATIVE, False),
    _reduce("ReduceLogSum", "Log of the sum over axes", SIGN_ANY, True),
    _reduce("ReduceLogSumExp", "Log-sum-exp over axes", SIGN_ANY, True),
    OpRule("ArgMax", "shape_ops", "Index of the largest value", shape.arg_extreme, receptive_field=RF_DENSE,
           sign=SIGN_NON_NEGATIVE),
    OpRule("ArgMin", "shape_ops", "Index of the smallest value", shape.arg_extreme, receptive_field=RF_DENSE,
           sign=SIGN_NON_NEGATIVE),
    _bookkeeping("Shape", "Shape", shape.shape_of, shape.fold_shape_of, from_shapes=True),
    _bookkeeping("Size", "Size", shape.size_of, shape.fold_size_of, from_shapes=True),
    _bookkeeping("Constant", "Constant", shape.constant_node, shape.fold_constant_node, from_shapes=True),
    _bookkeeping("ConstantOfShape", "Constant of shape", shape.constant_of_shape, shape.fold_constant_of_shape),
    _bookkeeping("Range", "Range", shape.range_op, shape.fold_range),
]


# Why the unit inspector has no working for these (shown in one line instead).
NOT_EXPLAINED = {
    **{op: "bookkeeping: its values come from shapes or constants, not from the drawing"
       for op in ("Constant", "ConstantOfShape", "Range", "Shape", "Size")},
    "ArgMax": "gives the position of the largest value, not a value computed from the drawing",
    "ArgMin": "gives the position of the smallest value, not a value computed from the drawing",
    **{op: "moves or copies values without changing them; which input unit lands where is not traced yet"
       for op in ("DepthToSpace", "SpaceToDepth", "Expand", "Gather", "Slice", "Split", "Tile")},
    **{op: "resamples the input (nearest or linear); the weights of each output unit are not traced yet"
       for op in ("Resize", "Upsample")},
}
