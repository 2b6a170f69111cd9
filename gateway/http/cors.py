"""CORS for browser integrators: pages of the origins in ATENDE_ALLOWED_ORIGINS may call the
REST API (and nothing else: not the webhooks, the console or /metrics).

A preflight (`OPTIONS` with `Origin` and `Access-Control-Request-Method`) carries no API key,
as browsers send none, so the access middleware lets an allowed origin's preflight through
and `preflight` answers it here; the real request that follows still needs its key.
`Access-Control-Allow-Origin` only ever echoes an allowed origin, never `*`, and every API
response says `Vary: Origin` so a cache never serves one origin's answer to another.

There is no `Access-Control-Allow-Credentials`: the API authenticates with Bearer keys that
the page sends itself, never with cookies, so the browser has no credentials to include.
With no allowed origins (the default) none of this is installed and no CORS header is sent.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler

from config.settings import Settings

ALLOWED_ORIGINS = web.AppKey("allowed_origins", frozenset)
API_PREFIX = web.AppKey("cors_api_prefix", str)
ALLOWED_HEADERS = "Authorization, Content-Type, X-Request-ID"
# What a page may read from an answer besides the simple headers: the request id to quote,
# when to retry, why a key was refused, and the CSV's file name.
EXPOSED_HEADERS = "X-Request-ID, Retry-After, WWW-Authenticate, Content-Disposition"
# Browsers cap this themselves (Chromium at two hours); an hour spares most preflights.
MAX_AGE_SECONDS = 3600


def _under_api(request: web.Request) -> bool:
    prefix = request.app[API_PREFIX]
    return request.path == prefix or request.path.startswith(prefix + "/")


def allowed_origin(request: web.Request) -> str | None:
    """The request's `Origin` when it is allowed and the path is the API's, else None."""
    origins = request.app.get(ALLOWED_ORIGINS)
    origin = request.headers.get("Origin")
    if not origins or origin not in origins or not _under_api(request):
        return None
    return origin


def is_preflight(request: web.Request) -> bool:
    """A CORS preflight from an allowed origin to the API: it may come without a key."""
    return (
        request.method == "OPTIONS"
        and "Access-Control-Request-Method" in request.headers
        and allowed_origin(request) is not None
    )


@web.middleware
async def preflight(request: web.Request, handler: Handler) -> web.StreamResponse:
    if not is_preflight(request):
        return await handler(request)
    # No route takes OPTIONS, so a known path matches as "method not allowed", which knows
    # the methods the path does take; an unknown path goes on to its 404.
    refusal = request.match_info.http_exception
    if not isinstance(refusal, web.HTTPMethodNotAllowed):
        return await handler(request)
    return web.Response(
        status=204,
        headers={
            "Access-Control-Allow-Methods": ", ".join(sorted(refusal.allowed_methods)),
            "Access-Control-Allow-Headers": ALLOWED_HEADERS,
            "Access-Control-Max-Age": str(MAX_AGE_SECONDS),
        },
    )


async def _add_headers(request: web.Request, response: web.StreamResponse) -> None:
    # A signal rather than a middleware: it also reaches error answers and the live event
    # stream, which sends its headers from inside its handler.
    if not _under_api(request):
        return
    vary = response.headers.get("Vary")
    if vary is None:
        response.headers["Vary"] = "Origin"
    elif "origin" not in vary.lower():
        response.headers["Vary"] = f"{vary}, Origin"
    origin = allowed_origin(request)
    if origin is not None:
        response.headers["Access-Control-Allow-Origin"] = origin
        if request.method != "OPTIONS":
            response.headers["Access-Control-Expose-Headers"] = EXPOSED_HEADERS


def add_cors(app: web.Application, settings: Settings) -> None:
    """Install CORS when the settings allow some origin; otherwise leave no trace."""
    if not settings.allowed_origins:
        return
    app[ALLOWED_ORIGINS] = frozenset(settings.allowed_origins)
    app[API_PREFIX] = settings.api_prefix
    app.middlewares.append(preflight)
    app.on_response_prepare.append(_add_headers)
