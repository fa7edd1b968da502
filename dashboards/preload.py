"""Start loading Plotly's JavaScript with the page, not after the first chart arrives.

Streamlit's frontend loads its Plotly component (a 4.7 MB module) only when a
script run first sends a chart, so a new tab waits for the page's HTML, the
websocket, the script run *and then* the download, compile and start of Plotly
before it draws anything. Every steadyback page but the login form draws Plotly
charts, so the page's HTML asks for the module at once: the browser fetches and
evaluates it while the server runs the page's script (from its cache, after the
first visit). The module's file name carries a content hash that changes with
each Streamlit release; it is looked up in the installed frontend at start-up,
and nothing is added if it is not found.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from starlette.types import ASGIApp, Message, Receive, Scope, Send

PLOTLY_MODULE_GLOB = "PlotlyChart.*.js"


@cache
def plotly_module() -> str | None:
    """`./static/js/PlotlyChart.<hash>.js` of the installed Streamlit frontend, or None."""
    import streamlit

    found = sorted(
        (Path(streamlit.__file__).parent / "static" / "static" / "js").glob(PLOTLY_MODULE_GLOB)
    )
    return f"./static/js/{found[0].name}" if len(found) == 1 else None


def preload_tags(module: str) -> bytes:
    # modulepreload: fetched and compiled at once; the import: evaluated once the app's own
    # module ran (module scripts run in document order), while the page waits for the server
    return (f'<link rel="modulepreload" crossorigin href="{module}"></head>').encode()


class PreloadCharts:
    """ASGI middleware: adds the Plotly module's preload to the app's HTML page."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        module = plotly_module()
        if scope["type"] != "http" or scope["method"] != "GET" or module is None:
            await self.app(scope, receive, send)
            return
        # the HTML page is small: ask for it uncompressed so that it can be edited
        scope = dict(scope)
        scope["headers"] = [(k, v) for k, v in scope["headers"] if k != b"accept-encoding"]
        start: Message | None = None
        body: list[bytes] = []

        async def edit_html(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                headers = dict(message.get("headers", []))
                if not headers.get(b"content-type", b"").startswith(b"text/html"):
                    start = None
                    await send(message)
                    return
                start = message
                return
            if start is None:
                await send(message)
                return
            body.append(message.get("body", b""))
            if message.get("more_body", False):
                return
            html = b"".join(body).replace(b"</head>", preload_tags(module), 1)
            headers = [(k, v) for k, v in start.get("headers", []) if k != b"content-length"]
            headers.append((b"content-length", str(len(html)).encode()))
            await send({**start, "headers": headers})
            await send({"type": "http.response.body", "body": html})

        await self.app(scope, receive, edit_html)
