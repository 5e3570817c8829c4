"""The dashboard's web app: pages rendered on the server, JSON for the live curves, downloads.

Every request reads the run folders again, so a run that is training, was rewritten or was
deleted shows as it is now. A run that cannot be read shows its error on its own page or row;
ids and file names from the browser are checked by the `Catalog` (unknown ones are 404).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape

from goaltune.errors import GoaltuneError
from goaltune.format import pct
from goaltune.report.inputs import load_run
from goaltune.ui.catalog import Catalog, NotFound
from goaltune.ui.compare_page import compare_page
from goaltune.ui.run_page import run_page
from goaltune.ui.views import read_curves, run_row

STATIC = Path(__file__).parent / "static"


def _templates() -> Environment:
    env = Environment(
        loader=PackageLoader("goaltune.ui", "templates"),
        autoescape=select_autoescape(["html"]),
    )
    env.filters["pct"] = pct
    return env


def create_app(roots: list[Path]) -> FastAPI:
    """The dashboard over these runs folders (each a folder of runs, a sweep or one run)."""
    catalog = Catalog(tuple(Path(root) for root in roots))
    templates = _templates()
    app = FastAPI(title="goaltune", docs_url=None, redoc_url=None, openapi_url=None)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    def page(template: str, status: int = 200, **values: Any) -> HTMLResponse:
        values["roots"] = [str(root) for root in catalog.roots]
        return HTMLResponse(templates.get_template(template).render(**values), status_code=status)

    def not_found() -> HTMLResponse:
        return page("message.html", 404, title="Not found", message="No such run or file here.")

    @app.exception_handler(NotFound)
    def _not_found(request: Request, error: NotFound) -> Response:
        if request.url.path.startswith("/api/"):
            return JSONResponse({"error": "not found"}, status_code=404)
        return not_found()

    @app.exception_handler(404)
    def _no_route(request: Request, error: Exception) -> Response:
        return not_found()

    @app.get("/", response_class=HTMLResponse)
    def runs() -> HTMLResponse:
        found, notes = catalog.discover()
        rows = [run_row(run_id, path) for run_id, path in found]
        return page("runs.html", runs=rows, notes=notes)

    @app.get("/run/{run_id:path}", response_class=HTMLResponse)
    def run(run_id: str) -> HTMLResponse:
        path = catalog.run_dir(run_id)
        try:
            data = load_run(path)
        except (GoaltuneError, OSError) as error:
            return page("message.html", title=run_id, message=f"This run cannot be read: {error}")
        return page("run.html", **run_page(run_id, data))

    @app.get("/api/run/{run_id:path}")
    def live(run_id: str) -> dict[str, Any]:
        return read_curves(run_id, catalog.run_dir(run_id))

    @app.get("/api/curves")
    def many(run: list[str] = Query(default=[])) -> dict[str, Any]:
        return {"runs": [read_curves(run_id, catalog.run_dir(run_id)) for run_id in run]}

    @app.get("/compare", response_class=HTMLResponse)
    def compare(run: list[str] = Query(default=[]), group_by: str = "") -> HTMLResponse:
        dirs = [catalog.run_dir(run_id) for run_id in run]
        try:
            return page("compare.html", **compare_page(run, dirs, group_by))
        except (GoaltuneError, OSError) as error:
            return page("message.html", title="Compare", message=f"Cannot compare: {error}")

    @app.get("/file/{run_id:path}")
    def download(run_id: str, name: str) -> FileResponse:
        path = catalog.download(run_id, name)
        return FileResponse(path, filename=path.name if path.suffix != ".html" else None)

    return app
