"""goaltune: LoRA fine-tuning judged by the goal you set."""

import os

# OpenMP threads that spin while waiting make torch 10-40x slower whenever another process
# shares the cores (measured on a 2-core machine); passive waiting costs little when alone.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
