"""Start loading Plotly's JavaScript with the page, not after the first chart arrives.

Streamlit's frontend loads its Plotly component (a 4.7 MB module) only when a
script run first sends a chart, so a new tab waits for the page's HTML, the
websocket, the script run *and then* the download and compile of Plotly before
it draws anything. Every steadyback page but the login form draws Plotly
charts, so the page's HTML names the module as a `modulepreload`: the browser
fetches and compiles it (from its cache, after the first visit) while the server
runs the page's script. The module's file name carries a content hash that
changes with each Streamlit release; it is looked up in the installed frontend,
and nothing is added if it is not found.

Only the app's HTML page is touched: a GET that is not for Streamlit's own
routes (`static/`, `media/`, `_stcore/`) or steadyback's, answered 200 with
`text/html` and no content encoding. Everything else passes through untouched.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PLOTLY_MODULE_GLOB = "PlotlyChart.*.js"
# first path segments (after any base URL path) that are never the app's HTML page
NOT_PAGES = ("static", "media", "_stcore", "_steadyback", "component", "favicon.png")


@cache
def plotly_module() -> str | None:
    """`./static/js/PlotlyChart.<hash>.js` of the installed Streamlit frontend, or None."""
    import streamlit

    folder = Path(streamlit.__file__).parent / "static" / "static" / "js"
    found = sorted(folder.glob(PLOTLY_MODULE_GLOB))
    return f"./static/js/{found[0].name}" if len(found) == 1 else None


def preload_tag(module: str) -> bytes:
    return f'<link rel="modulepreload" crossorigin href="{module}">'.encode()


def is_page_request(scope: Scope) -> bool:
    if scope["type"] != "http" or scope["method"] != "GET":
        return False
    path = scope.get("path", "")
    root = scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    from streamlit import config

    base = str(config.get_option("server.baseUrlPath") or "").strip("/")
    segments = [segment for segment in path.split("/") if segment]
    if base:
        base_segments = base.split("/")
        if segments[: len(base_segments)] != base_segments:
            return False
        segments = segments[len(base_segments) :]
    return not segments or segments[0] not in NOT_PAGES


class PreloadCharts:
    """ASGI middleware: adds the Plotly module's preload to the app's HTML page."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        module = plotly_module()
        if module is None or not is_page_request(scope):
            await self.app(scope, receive, send)
            return
        # the page is a few kB: asked for uncompressed, and sent as one body, so it can be edited
        headers = [(k, v) for k, v in scope["headers"] if k.lower() != b"accept-encoding"]
        extensions = {
            k: v for k, v in scope.get("extensions", {}).items() if k != "http.response.pathsend"
        }
        scope = {**scope, "headers": headers, "extensions": extensions}
        start: Message | None = None
        editing = False
        body: list[bytes] = []

        async def edit_page(message: Message) -> None:
            nonlocal start, editing
            if message["type"] == "http.response.start":
                response_headers = {k.lower(): v for k, v in message.get("headers", [])}
                editing = (
                    message["status"] == 200
                    and response_headers.get(b"content-type", b"").startswith(b"text/html")
                    and b"content-encoding" not in response_headers
                    and b"content-range" not in response_headers
                )
                if editing:
                    start = message
                else:
                    await send(message)
                return
            if not editing or message["type"] != "http.response.body":
                await send(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            page = b"".join(body)
            if b"</head>" in page:
                page = page.replace(b"</head>", preload_tag(module) + b"</head>", 1)
            response_headers = [
                (k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"
            ]
            response_headers.append((b"content-length", str(len(page)).encode()))
            await send({**start, "headers": response_headers})
            await send({"type": "http.response.body", "body": page})

        await self.app(scope, receive, edit_page)
