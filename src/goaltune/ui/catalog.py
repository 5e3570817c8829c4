"""Which run folders the dashboard shows, their ids in URLs, and safe lookups from those ids.

A run's id is `<root number>/<path inside that root>` (`0/sweep-a/lr-1e-4-...`). Every id or file
name that comes from the browser is resolved and must stay inside its root (and be a run folder,
or a downloadable file of one); anything else is answered as not found.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from goaltune.compare import find_runs
from goaltune.errors import GoaltuneError
from goaltune.run_folder import RunFolder


class NotFound(Exception):
    """An id or file the browser asked for that is not a run (or file) the dashboard serves."""


def _inside(path: Path, parent: Path) -> bool:
    return path == parent or parent in path.parents


@dataclass(frozen=True)
class Catalog:
    """The runs folders given to `goaltune ui` (each a folder of runs, a sweep or one run)."""

    roots: tuple[Path, ...]

    def discover(self) -> tuple[list[tuple[str, Path]], list[str]]:
        """(id, folder) of every run under the roots, and a note per root that cannot be read."""
        found: list[tuple[str, Path]] = []
        notes: list[str] = []
        for number, root in enumerate(self.roots):
            if RunFolder(root).is_run():
                found.append((str(number), root))
                continue
            try:
                runs = find_runs(root)
            except (GoaltuneError, OSError) as error:
                notes.append(str(error))
                continue
            found += [(f"{number}/{run.relative_to(root).as_posix()}", run) for run in runs]
        return found, notes

    def run_dir(self, run_id: str) -> Path:
        """The run folder an id names; NotFound for anything outside the roots or not a run."""
        head, _, rest = run_id.partition("/")
        if not head.isdigit() or int(head) >= len(self.roots):
            raise NotFound(run_id)
        parts = [p for p in rest.split("/") if p not in ("", ".")]
        if any(p == ".." or "\\" in p or "\0" in p for p in parts):
            raise NotFound(run_id)
        root = self.roots[int(head)].resolve()
        path = root.joinpath(*parts).resolve()
        if not _inside(path, root) or not RunFolder(path).is_run():
            raise NotFound(run_id)
        return path

    def download(self, run_id: str, name: str) -> Path:
        """A file the run page links to: report.html or a file of the adapter, nothing else."""
        folder = RunFolder(self.run_dir(run_id))
        path = (folder.path / name).resolve()
        allowed = path == folder.report_html_path.resolve() or _inside(
            path, folder.adapter_dir.resolve()
        )
        if ".." in Path(name).parts or not allowed or not path.is_file():
            raise NotFound(name)
        return path


def adapter_files(folder: RunFolder) -> list[str]:
    """The adapter's files as names inside the run folder ('adapter/adapter_model.safetensors')."""
    if not folder.adapter_dir.is_dir():
        return []
    files = sorted(p for p in folder.adapter_dir.rglob("*") if p.is_file())
    return [folder.relative(p) for p in files]
