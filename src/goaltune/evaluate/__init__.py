"""Evaluation: benchmarks, metrics and before/after comparison for goaltune runs."""
