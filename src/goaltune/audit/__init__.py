"""The data audit before training: test and validation items in the training data, repeats,
benchmark contamination, token lengths and answer statistics (audit.json, docs/TRAINING.md).
"""

from goaltune.audit.core import audit_config, audit_data, audit_run, summary_lines

__all__ = ["audit_config", "audit_data", "audit_run", "summary_lines"]
