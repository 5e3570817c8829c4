"""`goaltune ui`: a local web dashboard over run folders (FastAPI + uvicorn, extra 'ui').

`catalog` finds the runs and checks every id and file name from the browser, `views`,
`run_page` and `compare_page` turn run folders into what the pages show (read through the
run-folder contract, never written), `app` serves the pages, the JSON the live charts poll and
the downloads. Templates and the small SVG chart script ship in the package (no CDN).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from goaltune.extras import require

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def require_ui_extra() -> None:
    """GoaltuneError naming the pip extra when FastAPI, uvicorn or Jinja2 is missing."""
    require("goaltune ui", ["fastapi", "uvicorn", "jinja2"], "ui")


def url(host: str, port: int) -> str:
    """The dashboard's address as a browser takes it (IPv6 hosts in brackets)."""
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


def serve_ui(roots: Sequence[Path], host: str = DEFAULT_HOST, port: int = DEFAULT_PORT) -> None:
    """Serve the dashboard over these runs folders until interrupted."""
    import uvicorn

    from goaltune.ui.app import create_app

    uvicorn.run(create_app(list(roots)), host=host, port=port, log_level="warning")
