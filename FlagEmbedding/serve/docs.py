"""``/docs``: Swagger UI from the locally installed ``swagger-ui-bundle-v2`` assets (no CDN, works offline)."""
from __future__ import annotations

from typing import TypedDict

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

ASSETS_PATH = "/docs-assets"


class SwaggerAssets(TypedDict, total=False):
    """Asset URLs passed to :func:`get_swagger_ui_html` (any left out: FastAPI's CDN defaults)."""

    swagger_js_url: str
    swagger_css_url: str
    swagger_favicon_url: str


def install_docs(app: FastAPI) -> None:
    """Serve the OpenAPI page at ``/docs`` with Swagger UI's JS/CSS mounted at ``/docs-assets``.

    Without the ``swagger-ui-bundle-v2`` package (the ``serve`` extra) the page loads FastAPI's default CDN assets.
    """
    try:
        from swagger_ui_bundle import swagger_ui_path
    except ImportError:
        swagger_ui_path = None
    if swagger_ui_path is not None:
        app.mount(ASSETS_PATH, StaticFiles(directory=swagger_ui_path), name="docs-assets")
    assets: SwaggerAssets = {} if swagger_ui_path is None else SwaggerAssets(
        swagger_js_url=f"{ASSETS_PATH}/swagger-ui-bundle.js", swagger_css_url=f"{ASSETS_PATH}/swagger-ui.css",
        swagger_favicon_url=f"{ASSETS_PATH}/favicon-32x32.png",
    )

    @app.get("/docs", include_in_schema=False)
    async def swagger_ui() -> HTMLResponse:
        # set: the server's application keeps FastAPI's default ``/openapi.json``
        assert app.openapi_url is not None
        return get_swagger_ui_html(openapi_url=app.openapi_url, title=f"{app.title} - API docs", **assets)
