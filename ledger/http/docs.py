"""`/docs`: Swagger UI from an installed package, never from a CDN.

The files come from `fastapi-offline`'s static folder (Swagger UI 5): FastAPI writes OpenAPI
3.1, which Swagger UI 4 (`swagger-ui-bundle`) refuses to render.
"""

from __future__ import annotations

from pathlib import Path

import fastapi_offline
from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

assets_path = "/docs/assets"


def install_docs(app: FastAPI) -> None:
    assets = Path(fastapi_offline.__file__).parent / "static"
    app.mount(assets_path, StaticFiles(directory=assets), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title}: API",
            swagger_js_url=f"{assets_path}/swagger-ui-bundle.js",
            swagger_css_url=f"{assets_path}/swagger-ui.css",
            swagger_favicon_url=f"{assets_path}/favicon.png",
        )
