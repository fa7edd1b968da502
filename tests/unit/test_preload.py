"""dashboards.preload: the Plotly module's preload goes into the app's HTML page and nowhere else.

The middleware wraps a real Starlette app here (HTML pages, a chunked page, a download, an
encoded page, a 304, a HEAD) and is driven over ASGI as the server drives it."""

from __future__ import annotations

import asyncio

import pytest
from starlette.applications import Starlette
from starlette.responses import HTMLResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from dashboards.preload import PreloadCharts, plotly_module, preload_tag

PAGE = b"<html><head><title>steadyback</title></head><body></body></html>"


def chunked_page(request):
    async def parts():
        yield PAGE[:20]
        yield PAGE[20:]

    return StreamingResponse(parts(), media_type="text/html")


APP = PreloadCharts(
    Starlette(
        routes=[
            Route("/", lambda request: HTMLResponse(PAGE)),
            Route("/person", chunked_page),
            Route("/media/report.html", lambda request: HTMLResponse(PAGE)),
            Route("/_stcore/health", lambda request: PlainTextResponse("ok")),
            Route(
                "/encoded",
                lambda request: Response(
                    PAGE,  # as if encoded: an encoded body is never edited
                    media_type="text/html",
                    headers={"content-encoding": "gzip"},
                ),
            ),
            Route("/not-modified", lambda request: Response(status_code=304)),
            Route("/missing", lambda request: HTMLResponse(PAGE, status_code=404)),
        ]
    )
)


def request(path: str, method: str = "GET", headers: dict[str, str] | None = None):
    """(status, headers, body, the headers the app was asked with) of one request."""
    seen: dict = {}
    sent: list[dict] = []

    async def run():
        asked = asyncio.Event()

        async def receive():  # the request, then nothing until the response is over
            if asked.is_set():
                await asyncio.Event().wait()
            asked.set()
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message):
            sent.append(message)

        async def spy(scope, receive, send):
            seen.update(dict(scope["headers"]))
            await inner(scope, receive, send)

        await PreloadCharts(spy)(scope, receive, send)

    inner = APP.app
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": raw,
        "scheme": "http",
        "server": ("127.0.0.1", 8501),
        "client": ("127.0.0.1", 50000),
        "http_version": "1.1",
        "asgi": {"version": "3.0"},
        "extensions": {},
    }
    asyncio.run(run())
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], {k.decode(): v.decode() for k, v in start["headers"]}, body, seen


@pytest.fixture(scope="module")
def module() -> str:
    found = plotly_module()
    assert found is not None, "the installed Streamlit has no single PlotlyChart module"
    return found


def test_the_apps_pages_name_the_module_once_before_the_head_ends(module):
    for path in ("/", "/person"):  # one body, and one sent in two chunks
        status, headers, body, asked = request(path, headers={"Accept-Encoding": "gzip"})
        assert status == 200
        assert body == PAGE.replace(b"</head>", preload_tag(module) + b"</head>")
        assert int(headers["content-length"]) == len(body)
        assert b"accept-encoding" not in asked  # a page is asked for uncompressed


@pytest.mark.parametrize(
    "path, method",
    [
        ("/media/report.html", "GET"),  # a download, even an HTML one
        ("/_stcore/health", "GET"),
        ("/encoded", "GET"),  # already compressed: never edited
        ("/not-modified", "GET"),
        ("/missing", "GET"),
        ("/", "HEAD"),
    ],
)
def test_everything_else_passes_through_untouched(path, method, module):
    status, headers, body, asked = request(path, method, headers={"Accept-Encoding": "gzip"})
    assert preload_tag(module) not in body
    if path.startswith(("/media", "/_stcore")) or method == "HEAD":
        assert asked.get(b"accept-encoding") == b"gzip"  # compression stays available
    if "content-length" in headers and method == "GET":
        assert int(headers["content-length"]) == len(body)
