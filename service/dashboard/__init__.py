"""The analyst's web dashboard, served by the service at `/` (service/dashboard/static, templates/index.html).

The page signs in with an API key kept in the browser's session storage and sent as a Bearer header; it reads
the JSON API only, so the server computes nothing for it. Its front-end libraries are files of this package
(static/vendor, see the README there): the dashboard works without network access.
"""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader, select_autoescape

HERE = Path(__file__).resolve().parent
STATIC_URL = "/dashboard"
IMPORTS = {  # bare module names the page's scripts import, resolved by the page's import map
    "preact": f"{STATIC_URL}/vendor/preact.mjs",
    "preact/hooks": f"{STATIC_URL}/vendor/hooks.mjs",
    "htm": f"{STATIC_URL}/vendor/htm.mjs",
}


def page() -> tuple[str, str]:
    """The page's HTML and its Content-Security-Policy (scripts: this origin and the inline import map only)."""
    import_map = json.dumps({"imports": IMPORTS}, separators=(",", ":"))
    digest = base64.b64encode(hashlib.sha256(import_map.encode()).digest()).decode()
    templates = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"]))
    html = templates.get_template("index.html").render(import_map=import_map, static=STATIC_URL)
    # inline styles and data: images: a summary's HTML, shown in a sandboxed frame, carries its own SVG charts
    policy = (f"default-src 'self'; script-src 'self' 'sha256-{digest}'; style-src 'self' 'unsafe-inline'; "
              "img-src 'self' data: blob:; frame-src 'self' blob:; connect-src 'self'; object-src 'none'; "
              "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
    return html, policy


def install(app: FastAPI) -> None:
    html, policy = page()
    headers = {"Content-Security-Policy": policy, "Referrer-Policy": "no-referrer", "Cache-Control": "no-cache",
               "X-Content-Type-Options": "nosniff"}

    @app.get("/", include_in_schema=False)
    def dashboard() -> HTMLResponse:
        return HTMLResponse(html, headers=headers)

    app.mount(STATIC_URL, StaticFiles(directory=HERE / "static"), name="dashboard")
