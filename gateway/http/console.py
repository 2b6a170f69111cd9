"""`/console`: the operator console, static files served by atende itself.

The page holds no secret and needs no key to load; everything it shows comes from the
API, called with the operator's key. Its policy allows only its own scripts and styles
(no inline code, no other origin), which limits what an injected message could do; blob:
pictures are the customers' photos, fetched with the key (an <img> cannot send it).
"""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from gateway.http import keys

STATIC_DIR = Path(__file__).resolve().parent.parent / "static" / "console"
_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
)


async def page(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html", headers=_headers())


async def analytics_page(request: web.Request) -> web.FileResponse:
    # The managers' page: its own files, the same policy, the same sign-in (sessionStorage).
    return web.FileResponse(STATIC_DIR / "analytics.html", headers=_headers())


async def config(request: web.Request) -> web.Response:
    """What the console's pages need before sign-in (their language); nothing secret."""
    settings = request.app[keys.SETTINGS]
    return web.json_response({"language": settings.console_language.value}, headers=_headers())


def _headers() -> dict[str, str]:
    return {
        "Content-Security-Policy": _POLICY,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-cache",
    }


def add_routes(app: web.Application) -> None:
    app.router.add_get("/console", page)
    app.router.add_get("/console/", page)
    app.router.add_get("/console/analytics", analytics_page)
    app.router.add_get("/console/config.json", config)
    app.router.add_static("/console/static", STATIC_DIR)
