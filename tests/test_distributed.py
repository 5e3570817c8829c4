"""Several processes: two on CPU (gloo) give the loss curve of one process with the same global
batch, one set of artifacts, the same (sharded) evaluation outputs, and resume after SIGKILL; the
pieces underneath (collectives of one process, checkpoints per rank, the launch command)."""

import csv
import json
import random
import signal
import time
from pathlib import Path

import psutil
import pytest
import torch
import yaml
from safetensors.torch import load_file
from typer.testing import CliRunner

from goaltune.cli import app
from tests.conftest import goaltune, only_run, write_config

TOLERANCE = 1e-4


def config_for(
    tmp_path: Path, model_dir: Path, name: str, accumulation: int, steps: int, **train: object
) -> Path:
    """The tiny run of test_pipeline: batch 2 per process, `accumulation` micro-batches each."""
    config = yaml.safe_load(write_config(tmp_path, model_dir).read_text())
    config.update(name=name, output_dir=str(tmp_path / f"runs-{name}"))
    config["train"].update(
        per_device_train_batch_size=2,
        gradient_accumulation_steps=accumulation,
        max_steps=steps,
        learning_rate=1e-2,
        **train,
    )
    config["eval"]["batch_size"] = 2  # three generation batches: both processes generate
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def rows(run_dir: Path) -> list[dict[str, str]]:
    return list(csv.DictReader((run_dir / "loss_history.csv").open()))


def assert_same_curve(got: list[dict[str, str]], expected: list[dict[str, str]]) -> None:
    """Same steps, learning rates and token counts; losses within TOLERANCE at every step."""
    assert [r["step"] for r in got] == [r["step"] for r in expected]
    for mine, theirs in zip(got, expected):
        assert (mine["tokens_seen"], mine["learning_rate"]) == (
            theirs["tokens_seen"],
            theirs["learning_rate"],
        )
        assert abs(float(mine["train_loss"]) - float(theirs["train_loss"])) <= TOLERANCE, mine
        assert bool(mine["val_loss"]) == bool(theirs["val_loss"])
        if mine["val_loss"]:
            assert abs(float(mine["val_loss"]) - float(theirs["val_loss"])) <= TOLERANCE, mine


def outputs(run_dir: Path, side: str) -> list[str]:
    evaluation = json.loads((run_dir / "eval" / f"{side}.json").read_text())
    return [item["output"] for item in evaluation["task"]["items"]]


@pytest.mark.slow  # starts two worker processes (about a minute on a busy 2-core machine)
def test_two_processes_match_one_process_with_the_same_global_batch(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    single = CliRunner().invoke(
        app, ["run", str(config_for(tmp_path, tiny_model_dir, "one", 4, 8)), "--quiet"]
    )
    assert single.exit_code == 0, single.output
    two = goaltune(
        "run",
        str(config_for(tmp_path, tiny_model_dir, "two", 2, 8)),
        "--quiet",
        "--num-processes",
        "2",
    )
    output, _ = two.communicate(timeout=300)
    assert two.returncode == 0, output

    one_dir, two_dir = only_run(tmp_path / "runs-one"), only_run(tmp_path / "runs-two")
    assert len(rows(two_dir)) == 8
    assert_same_curve(rows(two_dir), rows(one_dir))
    for side in ("before", "after"):
        assert outputs(two_dir, side) == outputs(one_dir, side)
    expected = load_file(str(one_dir / "adapter" / "adapter_model.safetensors"))
    got = load_file(str(two_dir / "adapter" / "adapter_model.safetensors"))
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=0, atol=1e-5)
    metrics = json.loads((two_dir / "training_metrics.json").read_text())
    assert metrics["processes"] == 2 and metrics["global_batch_size"] == 8
    assert [p["rank"] for p in metrics["memory"]["per_process"]] == [0, 1]
    assert all(p["peak_memory_mib"] > 0 for p in metrics["memory"]["per_process"])
    assert list((two_dir / "checkpoints").glob("step-*/rng-rank-1.pt"))
    assert json.loads((two_dir / "status.json").read_text())["status"] == "finished"
    assert (two_dir / "report.html").is_file() and (two_dir / "verdict.json").is_file()
    assert output.count("verdict:") == 1  # only the main process prints the summary


def kill_tree(pid: int) -> None:
    """SIGKILL a process and every process below it, leaves first (a crash of the whole job)."""
    parent = psutil.Process(pid)
    for process in [*reversed(parent.children(recursive=True)), parent]:
        try:
            process.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass


@pytest.mark.slow
def test_sigkill_of_two_processes_then_resume_matches_one_process(
    tmp_path: Path, tiny_model_dir: Path
) -> None:
    steps, settings = 30, {"save_steps": 3, "eval_steps": 10}
    single = CliRunner().invoke(
        app,
        [
            "train",
            str(config_for(tmp_path, tiny_model_dir, "one", 4, steps, **settings)),
            "--quiet",
        ],
    )
    assert single.exit_code == 0, single.output

    kill_after = random.Random(steps).randint(5, steps - 10)  # seeded: the same step every run
    killed_config = config_for(tmp_path, tiny_model_dir, "killed", 2, steps, **settings)
    process = goaltune("train", str(killed_config), "-q", "--num-processes", "2")
    deadline = time.time() + 300
    while time.time() < deadline and process.poll() is None:
        found = list((tmp_path / "runs-killed").glob("killed-*/loss_history.csv"))
        if found and sum(1 for _ in found[0].open()) > kill_after:
            kill_tree(process.pid)
            break
        time.sleep(0.005)
    process.wait(timeout=60)
    assert process.returncode == -signal.SIGKILL, f"training ended before the kill at {kill_after}"
    killed_dir = only_run(tmp_path / "runs-killed")
    assert not (killed_dir / "adapter").exists()

    wrong = CliRunner().invoke(app, ["train", "--resume", str(killed_dir), "--quiet"])
    assert wrong.exit_code == 2 and "written by 2 process(es)" in wrong.output

    resumed = goaltune("train", "--resume", str(killed_dir), "-q", "--num-processes", "2")
    assert resumed.wait(timeout=300) == 0, resumed.stdout.read()
    one_dir = only_run(tmp_path / "runs-one")
    assert_same_curve(rows(killed_dir), rows(one_dir))
    expected = load_file(str(one_dir / "adapter" / "adapter_model.safetensors"))
    got = load_file(str(killed_dir / "adapter" / "adapter_model.safetensors"))
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=0, atol=1e-5)
    assert json.loads((killed_dir / "status.json").read_text())["status"] == "finished"


def test_one_process_context_passes_values_through() -> None:
    from goaltune.distributed import Context

    one = Context(device=torch.device("cpu"))
    assert not one.active and one.is_main
    assert one.share(range(5)) == [0, 1, 2, 3, 4] and one.merge({1: "a"}) == {1: "a"}
    assert one.sum([1.5, 2]) == [1.5, 2] and one.gather("x") == ["x"] and one.broadcast(3) == 3
    assert one.on_main(lambda: "written") == "written"
    second = Context(device=torch.device("cpu"), rank=1, world_size=3)
    assert second.share(range(8)) == [1, 4, 7] and not second.is_main


def test_plan_steps_share_each_step_between_processes() -> None:
    from goaltune.config import TrainConfig
    from goaltune.train import plan_steps

    config = TrainConfig(
        per_device_train_batch_size=2, gradient_accumulation_steps=2, num_train_epochs=2
    )
    assert plan_steps(40, config) == (10, 20)
    assert plan_steps(40, config, processes=2) == (5, 10)  # 20 micro-batches, 4 per step
    assert plan_steps(40, config, processes=2) == plan_steps(
        40,
        TrainConfig(
            per_device_train_batch_size=2, gradient_accumulation_steps=4, num_train_epochs=2
        ),
    )


def test_launch_command_runs_goaltune_under_accelerate(tmp_path: Path) -> None:
    from goaltune.distributed import launch_command

    plain = launch_command(["train", "c.yaml"], 2, None)
    assert plain[1:3] == ["-m", "accelerate.commands.launch"] and "--multi_gpu" in plain
    assert plain[plain.index("--num_processes") + 1] == "2"
    assert plain[-4:] == ["-m", "goaltune", "train", "c.yaml"]
    configured = launch_command(["run", "c.yaml"], None, tmp_path / "fsdp.yaml")
    assert configured[configured.index("--config_file") + 1] == str(tmp_path / "fsdp.yaml")
    assert "--multi_gpu" not in configured and "--num_processes" not in configured


def test_each_process_gets_its_own_rng_state_back(tmp_path: Path) -> None:
    from goaltune.checkpoints import load_checkpoint, rng_state, save_checkpoint

    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.AdamW(model.parameters())
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    states = []
    for seed in (1, 2):
        torch.manual_seed(seed)
        states.append(rng_state())
    folder = save_checkpoint(
        tmp_path, 3, model, optimizer, scheduler, {"processes": 2}, 2, rng_states=states
    )
    assert sorted(p.name for p in folder.glob("rng*.pt")) == ["rng-rank-1.pt", "rng.pt"]
    for rank, seed in ((0, 1), (1, 2)):
        load_checkpoint(folder, model, optimizer, scheduler, rank=rank)
        restored = torch.rand(3)
        torch.manual_seed(seed)
        assert torch.equal(restored, torch.rand(3))


def test_resume_with_another_number_of_processes_is_refused(
    tmp_path: Path, tiny_model_and_tokenizer
) -> None:
    from goaltune.config import TrainConfig
    from goaltune.data.encoding import encode_dataset
    from goaltune.errors import RunError
    from goaltune.train import train_adapter
    from tests.conftest import build_tiny_model, lora, tiny_examples

    _, tokenizer = tiny_model_and_tokenizer
    encoded, _ = encode_dataset(tiny_examples(8), tokenizer, max_seq_length=64)
    config = TrainConfig(max_steps=2, per_device_train_batch_size=4, bf16=False, save_steps=1)
    train_adapter(
        lora(build_tiny_model(tokenizer)),
        tokenizer,
        encoded,
        [],
        config,
        tmp_path,
        show_progress=False,
    )
    checkpoint = tmp_path / "checkpoints" / "step-000002"
    state = json.loads((checkpoint / "state.json").read_text())
    assert state["processes"] == 1
    (checkpoint / "state.json").write_text(json.dumps({**state, "processes": 2}))
    with pytest.raises(
        RunError,
        match=r"written by 2 process\(es\), but 1 are running; resume "
        r"with --num-processes 2",
    ):
        train_adapter(
            lora(build_tiny_model(tokenizer)),
            tokenizer,
            encoded,
            [],
            config,
            tmp_path,
            show_progress=False,
            resume_from=checkpoint,
        )
