"""Swagger UI and ReDoc served by the app itself, so ``/docs`` and ``/redoc`` work without internet.

FastAPI's documentation pages load their JavaScript, CSS and favicon from a CDN:
offline (a train, a locked-down network) ``/docs`` is a blank page. ``offline_docs``
replaces both pages with the same ones pointing at assets the app serves itself,
taken from the ``fastapi-offline`` package (``pip install 'ormgate[offline]'``),
which ships Swagger UI 5 and ReDoc 2.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.requests import Request
from starlette.responses import HTMLResponse

from .errors import MissingExtra


def assets() -> Path:
    """fastapi-offline's data directory (swagger-ui-bundle.js, swagger-ui.css, redoc.standalone.js, favicon.png).

    Its only module exports a factory for new apps, not the assets for an existing one.
    Looked up when asked for: importing ormgate does not need the package.
    """
    try:
        return Path(str(files("fastapi_offline").joinpath("static")))
    except ModuleNotFoundError as exc:
        raise MissingExtra(f"offline_docs needs: pip install 'ormgate[offline]' ({exc})") from exc


ASSETS_URL = "/docs-assets"


def offline_docs(app: FastAPI, *, assets_url: str = ASSETS_URL) -> FastAPI:
    """Serve ``app``'s Swagger UI (``app.docs_url``) and ReDoc (``app.redoc_url``) pages from local assets.

    Call it once on any ``FastAPI()`` app, before it serves: the CDN pages FastAPI made are
    replaced at the same URLs, the assets are served under ``assets_url``, and a page set to
    ``None`` stays off. Behind a proxy (``root_path``) every URL is prefixed as FastAPI's are.
    Returns the app.
    """
    if not app.openapi_url:
        return app  # no OpenAPI document: FastAPI serves no docs pages either
    pages = {url for url in (app.docs_url, app.redoc_url, assets_url) if url}
    routes = app.router.routes
    kept = [route for route in routes if getattr(route, "path", None) not in pages]
    added_from = len(kept)
    routes[:] = kept
    app.mount(assets_url, StaticFiles(directory=assets()), name="ormgate-docs-assets")
    openapi_url = app.openapi_url

    def root(request: Request) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/")

    if app.docs_url:

        async def swagger_ui(request: Request) -> HTMLResponse:
            prefix = root(request)
            assets = prefix + assets_url
            redirect = app.swagger_ui_oauth2_redirect_url
            return get_swagger_ui_html(
                openapi_url=prefix + openapi_url,
                title=f"{app.title} - Swagger UI",
                swagger_js_url=f"{assets}/swagger-ui-bundle.js",
                swagger_css_url=f"{assets}/swagger-ui.css",
                swagger_favicon_url=f"{assets}/favicon.png",
                oauth2_redirect_url=prefix + redirect if redirect else None,
                init_oauth=app.swagger_ui_init_oauth,
                swagger_ui_parameters=app.swagger_ui_parameters,
            )

        app.add_route(app.docs_url, swagger_ui, include_in_schema=False)

    if app.redoc_url:

        async def redoc(request: Request) -> HTMLResponse:
            prefix = root(request)
            assets = prefix + assets_url
            return get_redoc_html(
                openapi_url=prefix + openapi_url,
                title=f"{app.title} - ReDoc",
                redoc_js_url=f"{assets}/redoc.standalone.js",
                redoc_favicon_url=f"{assets}/favicon.png",
                with_google_fonts=False,  # fonts from Google would be a request to the internet too
            )

        app.add_route(app.redoc_url, redoc, include_in_schema=False)

    # First, where FastAPI puts its own pages: a catch-all route of the app cannot shadow them.
    routes[:] = routes[added_from:] + routes[:added_from]
    return app
