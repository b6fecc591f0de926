"""The web page at / and its static files."""

from __future__ import annotations

import html
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from searchengine.http.state import root_of
from searchengine.media.kinds import MODALITIES

STATIC = Path(__file__).resolve().parent.parent / "static"


def mount_page(app: FastAPI) -> None:
    page_html = (STATIC / "index.html").read_text(encoding="utf-8").replace("{{KINDS}}", "\n".join(
        f'        <label><input type="checkbox" name="modality" value="{m}"> {"images" if m == "image" else m}</label>'
        for m in MODALITIES))

    @app.get("/", include_in_schema=False)
    def index_page(request: Request) -> HTMLResponse:
        """The page, with its links under the prefix the app is mounted at (if any)."""
        return HTMLResponse(page_html.replace("{{ROOT}}", html.escape(root_of(request), quote=True)))

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
