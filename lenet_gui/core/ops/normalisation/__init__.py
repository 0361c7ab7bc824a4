"""Normalisations: batch, instance, layer, local response and mean-variance."""

from lenet_gui.core.ops._rule import RF_SAME, SIGN_KEEPS, OpRule
from lenet_gui.core.ops.normalisation import shape

RULES = [
    # Scale and bias are trained; the running mean and variance are not (params_note).
    OpRule("BatchNormalization", "normalisation", "Batch normalisation", shape.batch_norm, main=True,
           formula="γ·(x − mean)/√(var + ε) + β, per channel", receptive_field=RF_SAME, param_inputs=(1, 2),
           params_note=shape.running_statistics_note),
    OpRule("InstanceNormalization", "normalisation", "Instance normalisation", shape.instance_norm, main=True,
           formula="γ·(x − mean)/√(var + ε) + β, over each map", receptive_field=RF_SAME, param_inputs=(1, 2)),
    OpRule("LayerNormalization", "normalisation", "Layer normalisation", shape.layer_norm, main=True,
           formula="γ·(x − mean)/√(var + ε) + β, over the last axes", receptive_field=RF_SAME,
           param_inputs=(1, 2)),
    # Divides by a positive amount: signs stay, but a neighbour's value lowers it.
    OpRule("LRN", "normalisation", "Local response normalisation", shape.lrn,
           formula="x / (k + α·mean of x² over n channels)^β", receptive_field=RF_SAME, sign=SIGN_KEEPS),
    OpRule("MeanVarianceNormalization", "normalisation", "Mean-variance normalisation", shape.mean_variance,
           formula="(x − mean)/√var over the given axes", receptive_field=RF_SAME),
]


# Why the unit inspector has no working for these (shown in one line instead).
NOT_EXPLAINED = {
    "LRN": "divides each value by the squares of its neighbouring channels; not traced unit by unit yet",
    "MeanVarianceNormalization": "subtracts the mean and divides by the spread over whole axes; "
                                 "not traced unit by unit yet",
}
