"""goaltune: LoRA fine-tuning judged by the goal you set."""

__version__ = "0.1.0"
