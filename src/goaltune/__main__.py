"""`python -m goaltune` runs the CLI (also what `accelerate launch -m goaltune` uses)."""

from goaltune.cli import main

main()
