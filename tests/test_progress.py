"""The one progress bar: silent when hidden, otherwise done/total and the named fields."""

from __future__ import annotations

from goaltune.progress import ProgressBar


def test_hidden_bar_prints_nothing(capsys):
    with ProgressBar("eval", 3, show=False) as bar:
        bar.advance()
        bar.update(3, loss="1.0")
    assert capsys.readouterr().out == ""


def test_bar_shows_label_count_and_fields(capsys):
    with ProgressBar(
        "train", 10, completed=2, fields={"loss": "loss {}", "tps": "{} tok/s"}
    ) as bar:
        bar.advance()
        bar.update(7, loss="0.5000", tps="123")
    out = capsys.readouterr().out
    assert "train" in out and "7/10" in out and "loss 0.5000" in out and "123 tok/s" in out
