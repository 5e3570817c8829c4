"""A missing package is one line naming what to install, exit code 2, never a traceback.

The subprocess tests make a package unimportable the way a missing one is: a sitecustomize on
PYTHONPATH puts None in sys.modules for it, so `import NAME` raises ModuleNotFoundError and
`importlib.util.find_spec(NAME)` gives None.
"""

import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from goaltune.cli.base import user_errors
from goaltune.errors import ConfigError
from goaltune.extras import PACKAGES, MissingPackage, install_hint, require
from tests.conftest import write_config

SRC = Path(__file__).resolve().parents[1] / "src"
BLOCKER = "import sys\nfor name in {names!r}:\n    sys.modules[name] = None\n"


def goaltune_without(tmp_path: Path, names: list[str], *args: str) -> subprocess.CompletedProcess:
    """Run `python -m goaltune ARGS` with the packages `names` unimportable."""
    folder = tmp_path / "blocker"
    folder.mkdir(exist_ok=True)
    (folder / "sitecustomize.py").write_text(BLOCKER.format(names=names))
    env = {"PYTHONPATH": f"{folder}:{SRC}", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    return subprocess.run(
        [sys.executable, "-m", "goaltune", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def assert_one_line(result: subprocess.CompletedProcess, expected: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and expected in lines[0], result.stderr


@pytest.mark.integration
@pytest.mark.parametrize("blocked", ["nltk", "lm_eval"])
def test_ifeval_without_its_scorer_names_the_package(
    blocked: str, tmp_path: Path, tiny_model_dir: Path
) -> None:
    args = ["eval", "--model", str(tiny_model_dir), "--benchmarks", "builtin:ifeval-mini"]
    result = goaltune_without(tmp_path, [blocked], *args, "--limit", "2", "--quiet")
    pip_name = PACKAGES[blocked][0]
    assert_one_line(result, f"IFEval scoring needs {pip_name} (a goaltune dependency")
    assert f"pip install '{pip_name}'" in result.stderr


@pytest.mark.integration
def test_a_tracker_without_its_library_names_the_extra(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    config = write_config(tmp_path, tiny_model_dir, name="tracked")
    args = ["run", str(config), "--set", "train.report_to=[tensorboard]", "--quiet"]
    result = goaltune_without(tmp_path, ["tensorboard"], *args)
    assert_one_line(result, "train.report_to: tensorboard needs tensorboard")
    assert "pip install 'goaltune[tensorboard]'" in result.stderr
    assert not (tmp_path / "runs").exists()  # refused before anything was loaded or written


@pytest.mark.integration
def test_serve_without_uvicorn_names_the_extra(tmp_path: Path, tiny_model_dir: Path) -> None:
    result = goaltune_without(tmp_path, ["uvicorn"], "serve", str(tiny_model_dir))
    assert_one_line(result, "goaltune serve needs uvicorn: pip install 'goaltune[serve]'")


def test_a_missing_package_raised_anywhere_is_one_line() -> None:
    app = typer.Typer()

    @app.command()
    @user_errors
    def deep() -> None:
        raise ModuleNotFoundError("No module named 'mlflow'", name="mlflow.tracking")

    result = CliRunner().invoke(app, [])
    assert result.exit_code == 2
    assert (
        result.output.strip() == "error: this command needs mlflow: pip install 'goaltune[mlflow]'"
    )


def test_an_unknown_missing_module_is_a_bug_and_keeps_its_traceback() -> None:
    app = typer.Typer()

    @app.command()
    @user_errors
    def deep() -> None:
        raise ModuleNotFoundError("No module named 'goaltune.nothing'", name="goaltune.nothing")

    result = CliRunner().invoke(app, [])
    assert result.exit_code == 1 and isinstance(result.exception, ModuleNotFoundError)


def test_require_names_every_missing_package_and_the_extra() -> None:
    with pytest.raises(MissingPackage, match=r"^x needs no_such_a and no_such_b: pip install "):
        require("x", ["json", "no_such_a", "no_such_b"], "serve")
    with pytest.raises(ConfigError, match=r"pip install 'goaltune\[ui\]'$"):
        require("y", ["no_such_module"], "ui", error=ConfigError)
    require("z", ["json", "typer"])  # both importable: nothing raised
    assert install_hint(["llama_cpp"]).endswith("pip install 'llama-cpp-python'")
    assert install_hint(["bitsandbytes"]) == "bitsandbytes: pip install 'goaltune[gpu]'"
