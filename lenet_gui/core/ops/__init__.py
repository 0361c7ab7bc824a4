"""The op registry: one OpRule per ONNX op type the app understands.

Each family of ops lives in its own subpackage (conv, pool, dense,
elementwise, normalisation, shape_ops): ``shape.py`` holds the shape and
folding rules, ``__init__.py`` lists the family's ``RULES``. The graph walk
(lenet_gui.core.graph) finds an op's rule with ``rule_for``; the layer panel
takes titles, formula texts and the main-row set from here, the session the
ops whose outputs are not activations.

Explain rules: a family may hold an ``explain.py`` exposing ``EXPLAIN_RULES``,
a dict from op type to the explain function; those are attached to the rules
the first time the registry is read. ``attach_explain_rules`` does the same
for a mapping from anywhere else.

Adding an op: see docs/ops.md.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
from typing import Any, Callable, Mapping

from lenet_gui.core.ops._rule import (
    FAMILIES, NOT_EXPLAINED_YET, RF_DENSE, RF_KINDS, RF_MERGE, RF_NONE, RF_REGROUP, RF_SAME, RF_SLIDING,
    SIGN_ANY, SIGN_KEEPS, SIGN_KINDS, SIGN_NON_NEGATIVE, OpRule,
)

__all__ = [
    "FAMILIES", "NOT_EXPLAINED_YET", "RF_DENSE", "RF_KINDS", "RF_MERGE", "RF_NONE", "RF_REGROUP", "RF_SAME",
    "RF_SLIDING", "SIGN_ANY", "SIGN_KEEPS", "SIGN_KINDS", "SIGN_NON_NEGATIVE", "OpRule", "all_rules",
    "attach_explain_rules", "by_family", "elementwise_formulas", "main_ops", "not_activations", "ops_with_sign",
    "register", "rule_for", "titles",
]

_RULES: dict[str, OpRule] = {}
_explain_loaded = False


def register(rule: OpRule) -> None:
    """Add one rule; an op type can have only one."""
    if rule.op_type in _RULES:
        raise ValueError(f"{rule.op_type} is registered twice ({_RULES[rule.op_type].family} and {rule.family})")
    _RULES[rule.op_type] = rule


def _register_families() -> None:
    for family in FAMILIES:
        module = importlib.import_module(f"{__name__}.{family}")
        for rule in module.RULES:
            if rule.family != family:
                raise ValueError(f"{rule.op_type} is listed in {family} but says it is in {rule.family}")
            register(rule)
        for op_type, reason in getattr(module, "NOT_EXPLAINED", {}).items():
            _RULES[op_type] = dataclasses.replace(_RULES[op_type], explain_reason=reason)


def attach_explain_rules(mapping: Mapping[str, Callable[..., Any]]) -> None:
    """Give the rules of the ops in ``mapping`` their explain function.

    Raises KeyError for an op type the registry does not know, so a typo in an
    explain module cannot go unnoticed.
    """
    unknown = sorted(set(mapping) - set(_RULES))
    if unknown:
        raise KeyError(f"explain rules for ops that have no OpRule: {', '.join(unknown)}")
    for op_type, explain in mapping.items():
        _RULES[op_type] = dataclasses.replace(_RULES[op_type], explain=explain, explain_reason="")


def _load_explain_modules() -> None:
    """Attach every family's explain.py EXPLAIN_RULES (once, on first lookup)."""
    global _explain_loaded
    if _explain_loaded:
        return
    _explain_loaded = True  # first: an explain module may itself look rules up
    for family in FAMILIES:
        name = f"{__name__}.{family}.explain"
        if importlib.util.find_spec(name) is not None:
            attach_explain_rules(importlib.import_module(name).EXPLAIN_RULES)


def rule_for(op_type: str) -> OpRule | None:
    """The rule for an op type of the default ONNX domain, or None for ops not known here."""
    _load_explain_modules()
    return _RULES.get(op_type)


def all_rules() -> list[OpRule]:
    """Every rule, sorted by family (in FAMILIES order) and op type."""
    _load_explain_modules()
    order = {family: i for i, family in enumerate(FAMILIES)}
    return sorted(_RULES.values(), key=lambda r: (order[r.family], r.op_type))


def titles() -> dict[str, str]:
    """Op type → the title the layer panel shows."""
    return {rule.op_type: rule.title for rule in _RULES.values()}


def elementwise_formulas() -> dict[str, str]:
    """Op type → what it does to every value, for ops that have such a line."""
    return {rule.op_type: rule.formula for rule in _RULES.values() if rule.formula}


def main_ops() -> set[str]:
    """Ops whose rows get hyper-parameters, formula and parameters."""
    return {rule.op_type for rule in _RULES.values() if rule.main}


def not_activations() -> set[str]:
    """Ops whose outputs are bookkeeping, not activations worth drawing."""
    return {rule.op_type for rule in _RULES.values() if not rule.activation}


def ops_with_sign(sign: str) -> set[str]:
    """Ops with the given sign behaviour (SIGN_NON_NEGATIVE, SIGN_KEEPS, SIGN_ANY)."""
    if sign not in SIGN_KINDS:
        raise ValueError(f"unknown sign behaviour {sign!r}")
    return {rule.op_type for rule in _RULES.values() if rule.sign == sign}


def by_family() -> dict[str, list[OpRule]]:
    rules: dict[str, list[OpRule]] = {family: [] for family in FAMILIES}
    for rule in all_rules():
        rules[rule.family].append(rule)
    return rules


_register_families()
