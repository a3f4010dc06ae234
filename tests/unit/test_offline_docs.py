"""ormgate.offline_docs: /docs and /redoc of any FastAPI app load nothing from the internet."""

from __future__ import annotations

import re
import socket
import threading
import time

import httpx
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

import ormgate

CONTENT_TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png"}


def referenced(page: str) -> list[str]:
    """Every URL a docs page loads: scripts, stylesheets, icons."""
    return re.findall(r'(?:src|href)="([^"]+)"', page)


def check_page(client: TestClient, path: str, prefix: str = "") -> list[str]:
    page = client.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "http://" not in page.text
    assert "https://" not in page.text  # no CDN, no Google Fonts, no remote favicon
    urls = referenced(page.text)
    assert urls, page.text
    for url in urls:
        assert url.startswith(f"{prefix}/docs-assets/"), url
        asset = client.get(url)  # as a browser would: the prefix included
        assert asset.status_code == 200, url
        expected = next(kind for suffix, kind in CONTENT_TYPES.items() if url.endswith(suffix))
        assert expected in asset.headers["content-type"], (url, asset.headers["content-type"])
        assert len(asset.content) > 1000
    return urls


def test_a_plain_fastapi_app_serves_its_docs_offline() -> None:
    app = ormgate.offline_docs(FastAPI(title="mine"))
    with TestClient(app) as client:
        swagger = check_page(client, "/docs")
        redoc = check_page(client, "/redoc")
        assert {url.rsplit("/", 1)[1] for url in swagger} == {"swagger-ui.css", "swagger-ui-bundle.js", "favicon.png"}
        assert {url.rsplit("/", 1)[1] for url in redoc} == {"redoc.standalone.js", "favicon.png"}
        page = client.get("/docs").text
        assert "url: '/openapi.json'" in page
        assert "<title>mine - Swagger UI</title>" in page
        assert client.get("/redoc").text.count('spec-url="/openapi.json"') == 1
        assert client.get("/docs/oauth2-redirect").status_code == 200
        # The docs routes stay out of the OpenAPI document, and each page is served once.
        assert client.get("/openapi.json").json()["paths"] == {}
        assert [getattr(r, "path", None) for r in app.routes].count("/docs") == 1


def test_custom_urls_a_disabled_page_and_a_root_path() -> None:
    app = ormgate.offline_docs(FastAPI(docs_url="/api-docs", redoc_url=None))
    with TestClient(app, root_path="/api") as client:
        check_page(client, "/api-docs", prefix="/api")
        assert "url: '/api/openapi.json'" in client.get("/api-docs").text
        assert client.get("/redoc").status_code == 404
        assert client.get("/docs").status_code == 404


def test_pages_come_before_a_catch_all_route() -> None:
    app = FastAPI()

    @app.get("/{anything}")
    def catch_all(anything: str) -> str:
        return anything

    ormgate.offline_docs(app)
    with TestClient(app) as client:
        check_page(client, "/docs")
        assert client.get("/other").json() == "other"


def test_called_twice_it_serves_each_page_once() -> None:
    app = ormgate.offline_docs(ormgate.offline_docs(FastAPI()))
    paths = [getattr(r, "path", None) for r in app.routes]
    assert paths.count("/docs") == paths.count("/redoc") == paths.count("/docs-assets") == 1
    with TestClient(app) as client:
        check_page(client, "/docs")


def test_no_openapi_document_no_pages() -> None:
    app = ormgate.offline_docs(FastAPI(openapi_url=None))
    with TestClient(app) as client:
        assert client.get("/docs").status_code == 404
        assert client.get("/docs-assets/swagger-ui.css").status_code == 404


def test_over_a_real_socket() -> None:
    """The same under uvicorn, over TCP, as a browser would load the pages."""
    app = ormgate.offline_docs(FastAPI())
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            for page in ("/docs", "/redoc"):
                html = client.get(page)
                assert html.status_code == 200
                assert "https://" not in html.text
                for url in referenced(html.text):
                    asset = client.get(url)
                    assert asset.status_code == 200, url
                    assert int(asset.headers["content-length"]) == len(asset.content) > 1000
    finally:
        server.should_exit = True
        thread.join(timeout=10)
