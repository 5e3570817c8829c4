"""Built-in datasets usable as `builtin:<name>`."""
