"""`goaltune generate`, `chat`, `serve`, `export`: using a trained run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from goaltune.cli.base import app, console, err_console, quiet_libraries, user_errors
from goaltune.errors import GoaltuneError

BaseOption = typer.Option(False, "--base", help="Also show the base model's answer.")
TemperatureOption = typer.Option(0.0, min=0.0, help="Sampling temperature (0: greedy).")


@app.command()
@user_errors
def generate(
    run_dir: Path = typer.Argument(..., help="A run folder (or run name)."),
    prompt: str = typer.Option(..., "--prompt", "-p", help="The user message."),
    max_new_tokens: int = typer.Option(256, min=1, help="Reply length limit."),
    base: bool = BaseOption,
    temperature: float = TemperatureOption,
) -> None:
    """Answer one prompt with the run's adapter applied (streamed), optionally the base too."""
    from goaltune.adapters import load_run_model
    from goaltune.chat import ChatSession

    quiet_libraries(True)
    session = ChatSession(load_run_model(run_dir), max_new_tokens, temperature, base)
    session.ask(prompt)


@app.command()
@user_errors
def chat(
    run_dir: Path = typer.Argument(..., help="A run folder (or run name)."),
    max_new_tokens: int = typer.Option(256, min=1, help="Reply length limit."),
    base: bool = BaseOption,
    temperature: float = TemperatureOption,
) -> None:
    """Chat with the run's fine-tuned model; /reset clears the history, /quit exits."""
    from goaltune.adapters import load_run_model
    from goaltune.chat import ChatSession, chat_loop

    quiet_libraries(True)
    chat_loop(ChatSession(load_run_model(run_dir), max_new_tokens, temperature, base))


@app.command()
@user_errors
def serve(
    target: str = typer.Argument(..., help="A run folder (or run name), or any model to load."),
    adapter: Path | None = typer.Option(None, "--adapter", help="A LoRA adapter for a MODEL."),
    port: int = typer.Option(8000, "--port", min=1, max=65535, help="TCP port."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to bind."),
) -> None:
    """Serve the model behind an OpenAI-compatible API (/v1/models, /v1/chat/completions)."""
    from goaltune import serve as serving

    serving.require_serve_extra()
    quiet_libraries(True)
    if host not in ("127.0.0.1", "localhost", "::1"):
        err_console.print(
            f"[bold yellow]warning:[/] binding {host}: the API has no authentication, anyone "
            "who reaches this address can use the model"
        )
    served = serving.load_served(target, adapter)
    console.print(f"serving [bold]{served.name}[/] at http://{host}:{port}/v1 (Ctrl-C stops)")
    serving.serve(served, host, port)


@app.command()
@user_errors
def export(
    run_dir: Path = typer.Argument(..., help="A run folder (or run name)."),
    merged: Path | None = typer.Option(None, "--merged", help="Write a merged HF folder."),
    gguf: Path | None = typer.Option(None, "--gguf", help="Write GGUF (+ Ollama Modelfile)."),
    gguf_type: str = typer.Option("f16", "--type", help="GGUF tensor type: f16 or q8_0."),
    hub: str | None = typer.Option(None, "--hub", help="Upload to this Hub repo (user/name)."),
    merged_upload: bool = typer.Option(
        False, "--merged-upload", help="Upload the merged model, not the adapter."
    ),
    private: bool = typer.Option(False, "--private", help="Create the Hub repo as private."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace existing output."),
    parity_items: int | None = typer.Option(
        None, "--parity-items", min=1, help="Parity check on the first N task items only."
    ),
    no_parity: bool = typer.Option(
        False, "--no-parity", help="Skip re-scoring the export against the adapter model."
    ),
) -> None:
    """Merge the adapter into the base weights and export it (folder, GGUF) or upload it.

    A merged folder or GGUF file is re-scored on the run's task items against the adapter model
    (parity.json beside it); an export worse beyond noise exits with code 3.
    """
    from goaltune import export as exporting
    from goaltune.adapters import load_run_model, merge_loaded
    from goaltune.export import parity

    if not (merged or gguf or hub):
        raise GoaltuneError("give at least one of --merged DIR, --gguf FILE, --hub REPO")
    if merged_upload and not hub:
        raise GoaltuneError("--merged-upload needs --hub REPO")
    if gguf_type not in exporting.GGUF_TYPES:
        raise GoaltuneError(f"--type {gguf_type}: choose one of {', '.join(exporting.GGUF_TYPES)}")
    for target in (merged, gguf):
        if target:
            exporting.check_target(target, overwrite)
    loaded = load_run_model(run_dir) if merged or gguf or merged_upload else None
    check = None
    if loaded and (merged or gguf) and not no_parity:  # the adapter model, before merging
        check = parity.start_check(loaded, parity_items)
    model = merge_loaded(loaded) if loaded else None
    written: list[tuple[parity.Kind, Path]] = []
    if merged and model:
        written.append(("merged", exporting.save_merged(model, merged, overwrite)))
        console.print(f"wrote [bold]{written[-1][1]}[/]")
    if gguf and model:
        written.append(("gguf", exporting.write_gguf(model, gguf, gguf_type, overwrite)))
        console.print(
            f"wrote [bold]{written[-1][1]}[/] and {written[-1][1].with_name('Modelfile')}"
        )
    if check:
        _parity_gate(check, written)
    if hub:
        url = exporting.push_to_hub(run_dir, hub, model if merged_upload else None, private)
        console.print(f"uploaded to [bold]{url}[/]")


def _parity_gate(check: Any, written: list[tuple[Any, Path]]) -> None:
    """Re-score each export, print one line per reader, fail (exit 3) if one is worse."""
    from goaltune.export import parity

    results = [parity.check_export(check, kind, path) for kind, path in written]
    for record, target in results:
        for reader in record.readers:
            console.print(parity.parity_line(reader), highlight=False)
        for reader_name, why in record.skipped.items():
            console.print(f"[dim]parity ({reader_name}): skipped, {why}[/]", highlight=False)
        console.print(f"wrote [bold]{target}[/]")
    for record, target in results:
        parity.require_parity(record, target)
