"""The `goaltune` command line: thin wrappers that parse options and call one function each.

`base.py` holds the app, error handling and shared options; the commands live in
`init_commands.py` (a starting config), `run_commands.py` (the recipe and its steps),
`use_commands.py` (using a trained run) and `experiments_commands.py` (many runs); importing
them registers them on the app.
"""

# the import order is the order of the commands in `goaltune --help`
from goaltune.cli.base import app, main  # noqa: I001
from goaltune.cli import init_commands, run_commands, use_commands, experiments_commands

__all__ = [
    "app",
    "experiments_commands",
    "init_commands",
    "main",
    "run_commands",
    "use_commands",
]
