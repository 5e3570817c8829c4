"""goaltune's tests: a package, so `tests.conftest` is ours even where an installed library
(textstat 0.7.8) ships a top-level `tests` package."""
