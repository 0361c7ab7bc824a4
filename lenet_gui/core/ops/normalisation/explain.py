"""Explain rules (filled in below)."""

EXPLAIN_RULES: dict = {}
