"""Write the loss curves of tests/data/curves/: real runs of the tiny test model and synthetic ones.

    .venv/bin/python scripts/make_loss_curves.py [OUT_DIR]   # default: tests/data/curves

Real curves are the `loss_history.csv` of short runs of the tiny random Llama that
tests/conftest.py builds, on one CPU thread (under a minute in all). LoRA on a random model
barely moves the loss, so "from scratch" runs train all its weights, and the fine-tunes put LoRA
on a copy first trained (all weights) on the same kind of data, as a pretrained model would be:
a normal learning rate, the same with a learning rate 20x too high, and a many-epoch run on a
few examples with a validation set. Synthetic curves have known events (noise at several
scales, a demo-like tiny-loss tail, a planted spike, a plateau, overfitting, a NaN); the
expected findings of every curve are kept by hand in labels.json.
"""

from __future__ import annotations

import copy
import importlib.util
import math
import random
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

NORMAL_LR = 5e-3  # what the training tests use for the tiny model: the loss falls steadily
WORDS = ["red", "blue", "green", "cat", "dog", "tree", "sun", "moon", "fox", "egg", "roof", "gas"]
COLUMNS = "step,epoch,train_loss,val_loss,learning_rate,grad_norm,tokens_seen,elapsed_s"


def examples(n: int, seed: int, answer_words_only: bool = False) -> list[Any]:
    """`n` chat examples of mixed length and difficulty (so batches differ in loss).

    The default answer is the sum and the words of the question; `answer_words_only` is the
    fine-tuning task, which the pretrained copy has not seen but whose tokens it knows.
    """
    from goaltune.data.formats import Example

    rng = random.Random(seed)
    out = []
    for _ in range(n):
        a, b = rng.randrange(100), rng.randrange(100)
        words = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(1, 6)))
        answer = f"Answer: {words}" if answer_words_only else f"Answer: {a + b} {words}"
        question = {"role": "user", "content": f"Question: {a} + {b} and {words}?"}
        out.append(Example(messages=[question, {"role": "assistant", "content": answer}]))
    return out


def train(model: Any, tokenizer: Any, data: list[Any], n_val: int, **options: Any) -> str:
    """Train `model` on `data` (the last `n_val` examples for validation): the history's text."""
    from goaltune.config import TrainConfig
    from goaltune.data.encoding import encode_dataset
    from goaltune.errors import TrainingFailed
    from goaltune.train import train_adapter

    encoded, _ = encode_dataset(data, tokenizer, max_seq_length=64)
    config = TrainConfig(per_device_train_batch_size=4, save_steps=10_000, bf16=False, **options)
    split = len(encoded) - n_val
    with tempfile.TemporaryDirectory() as folder:
        try:
            train_adapter(
                model, tokenizer, encoded[:split], encoded[split:], config, Path(folder), False
            )
        except TrainingFailed as error:  # a diverged run is a curve too: keep what it logged
            print(error)
        return (Path(folder) / "loss_history.csv").read_text()


def real_curves() -> dict[str, str]:
    """Curve name -> loss history of the real runs."""
    # By file path: a dependency installs a top-level `tests` package that would shadow ours.
    spec = importlib.util.spec_from_file_location("conftest", ROOT / "tests" / "conftest.py")
    assert spec is not None and spec.loader is not None
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)
    build_tiny_model, lora = conftest.build_tiny_model, conftest.lora
    tokenizer = conftest.build_tiny_tokenizer()
    scratch = {"max_steps": 200, "eval_steps": 20}
    curves = {
        "real-scratch-normal-lr": train(
            build_tiny_model(tokenizer),
            tokenizer,
            examples(112, 0),
            16,
            learning_rate=NORMAL_LR,
            **scratch,
        ),
        "real-scratch-overfit-many-epochs": train(
            build_tiny_model(tokenizer),
            tokenizer,
            examples(40, 0),
            32,
            learning_rate=NORMAL_LR,
            **scratch,
        ),
    }
    pretrained = build_tiny_model(tokenizer)
    train(pretrained, tokenizer, examples(400, 100), 0, learning_rate=NORMAL_LR, max_steps=300)
    for seed in (0, 1):
        for name, rate in (("normal-lr", NORMAL_LR), ("lr-20x", 20 * NORMAL_LR)):
            curves[f"real-finetune-{name}-seed{seed}"] = train(
                lora(copy.deepcopy(pretrained), r=8),
                tokenizer,
                examples(216, seed, answer_words_only=True),
                16,
                learning_rate=rate,
                max_steps=150,
                eval_steps=25,
                seed=seed,
            )
    return curves


def history(train_losses: list[float], val: dict[int, float] | None = None) -> str:
    """A loss_history.csv text for synthetic losses (one epoch, constant rate)."""
    n = len(train_losses)
    lines = [COLUMNS]
    for i, loss in enumerate(train_losses, start=1):
        val_cell = "" if val is None or i not in val else f"{val[i]:.6g}"
        lines.append(f"{i},{i / n:.4g},{loss:.6g},{val_cell},0.0002,1.0,{100 * i},{0.5 * i}")
    return "\n".join(lines) + "\n"


def decay(n: int, start: float, end: float, tau: float) -> list[float]:
    """Exponential decay from `start` towards `end` with time constant `tau` steps."""
    return [end + (start - end) * math.exp(-i / tau) for i in range(n)]


def noisy(values: list[float], sigma: float, rng: random.Random) -> list[float]:
    """Multiplicative log-normal batch noise of log-sigma `sigma`."""
    return [v * math.exp(rng.gauss(0, sigma)) for v in values]


def demo_like(rng: random.Random, n: int = 114) -> list[float]:
    """Like the demo: 0.85 falls to about 0.01 within 40 steps, then skewed batch noise.

    At a tiny mean loss a batch of 4 is mostly near-zero token losses with now and then a
    hard token, so batch losses of 0.03-0.08 around a 0.01 level are ordinary.
    """
    losses = noisy(decay(n, 0.85, 0.011, 8.0), 0.25, rng)
    for i in range(50, n):
        if rng.random() < 0.08:
            losses[i] = rng.uniform(0.03, 0.085)
    return losses


def synthetic_curves() -> dict[str, str]:
    """Curve name -> loss history of the synthetic curves (fixed seeds)."""
    rng = random.Random(18)
    curves: dict[str, str] = {}
    for sigma in (0.01, 0.05, 0.15, 0.3):
        curves[f"syn-decay-noise-{sigma:g}"] = history(noisy(decay(150, 2.5, 0.5, 15), sigma, rng))
    for seed in range(4):
        curves[f"syn-demo-like-{seed}"] = history(demo_like(random.Random(seed)))
    spike = noisy(decay(120, 2.5, 0.5, 12), 0.03, rng)
    spike[70] = 2.2
    curves["syn-planted-spike"] = history(spike)
    tiny_spike = demo_like(random.Random(7))
    tiny_spike[90] = 0.5
    curves["syn-planted-spike-demo-like"] = history(tiny_spike)
    diverge = noisy(decay(120, 2.0, 0.6, 10), 0.05, rng)
    diverge[60:] = noisy([0.6 + 0.08 * k for k in range(60)], 0.05, rng)
    curves["syn-divergence"] = history(diverge)
    curves["syn-plateau"] = history(
        noisy([max(0.8, 2.5 - 0.05 * i) for i in range(120)], 0.04, rng)
    )
    curves["syn-flat"] = history(noisy([2.0] * 100, 0.05, rng))
    curves["syn-still-falling"] = history(noisy([2.5 - 0.015 * i for i in range(100)], 0.04, rng))
    train_losses = noisy(decay(200, 2.5, 0.2, 30), 0.05, rng)
    u_shape = {20 * k: 0.9 + 0.002 * (20 * k - 80) ** 2 / 20 for k in range(1, 11)}
    curves["syn-overfit"] = history(
        train_losses, {s: v * math.exp(rng.gauss(0, 0.01)) for s, v in u_shape.items()}
    )
    falling = {
        20 * k: (1.0 + 1.5 * math.exp(-k / 2)) * math.exp(rng.gauss(0, 0.03)) for k in range(1, 11)
    }
    curves["syn-val-noisy-falling"] = history(train_losses, falling)
    nan = noisy(decay(60, 2.5, 0.5, 8), 0.03, rng)
    nan[-1] = math.nan
    curves["syn-nan"] = history(nan)
    curves["syn-too-short"] = history([2.0, 1.7, 1.5])
    return curves


def main() -> None:
    """Write every curve, real and synthetic, as OUT_DIR/<name>.csv."""
    import torch

    torch.set_num_threads(1)  # tiny models run faster on one thread
    out_dir = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "tests" / "data" / "curves"
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, text in {**synthetic_curves(), **real_curves()}.items():
        (out_dir / f"{name}.csv").write_text(text)
        print(f"wrote {out_dir / name}.csv")


if __name__ == "__main__":
    main()
