"""Service routes: identity, health, sectors, and the API's own documentation."""

from __future__ import annotations

from pathlib import Path

import structlog
from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from gateway import __version__, keys
from gateway.http.openapi import build_openapi
from gateway.http.operations import Operation
from gateway.http.responses import json_model
from gateway.schemas import Health, SectorList, SectorOut, ServiceInfo
from storage.database import ping

log = structlog.get_logger(__name__)

OPENAPI_KEY = web.AppKey("openapi", dict)


async def root(request: web.Request) -> web.Response:
    return json_model(ServiceInfo(name="atende", version=__version__, status="ok"))


async def health(request: web.Request) -> web.Response:
    try:
        await ping(request.app[keys.ENGINE])
    except (SQLAlchemyError, OSError) as exc:
        log.warning("health_database_unreachable", error=str(exc))
        return json_model(Health(status="unavailable", database="unreachable"), status=503)
    return json_model(Health(status="ok", database="ok"))


async def list_sectors(request: web.Request) -> web.Response:
    catalog = request.app[keys.SECTORS]
    fallback = catalog.fallback
    items = [
        SectorOut(name=s.name, description=s.description, fallback=s.name == fallback)
        for s in catalog.sectors
    ]
    return json_model(SectorList(items=items))


async def openapi(request: web.Request) -> web.Response:
    return web.json_response(request.app[OPENAPI_KEY])


def _swagger_dir() -> Path:
    import swagger_ui_bundle

    return Path(swagger_ui_bundle.swagger_ui_path)


_DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>atende API</title>
<link rel="stylesheet" href="/docs/static/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/static/swagger-ui-bundle.js"></script>
<script src="/docs/init.js"></script></body></html>
"""

_DOCS_INIT = """window.ui = SwaggerUIBundle({url: "/openapi.json", dom_id: "#swagger-ui"});\n"""


async def docs(request: web.Request) -> web.Response:
    return web.Response(text=_DOCS_PAGE, content_type="text/html")


async def docs_init(request: web.Request) -> web.Response:
    # Served as a file of its own so the page needs no inline script.
    return web.Response(text=_DOCS_INIT, content_type="application/javascript")


OPERATIONS = (
    Operation("GET", "/", root, "Name, version and status", "service", ServiceInfo, absolute=True),
    Operation(
        "GET",
        "/health",
        health,
        "Whether atende can reach its database",
        "service",
        Health,
        absolute=True,
        extra_responses={503: "The database is unreachable."},
    ),
    Operation("GET", "/sectors", list_sectors, "The configured sectors", "sectors", SectorList),
)


def add_routes(app: web.Application, operations: tuple[Operation, ...], prefix: str) -> None:
    for op in operations:
        app.router.add_route(op.method, op.full_path(prefix), op.handler)
    app[OPENAPI_KEY] = build_openapi(operations, prefix)
    app.router.add_get("/openapi.json", openapi)
    app.router.add_get("/docs", docs)
    app.router.add_get("/docs/init.js", docs_init)
    app.router.add_static("/docs/static", _swagger_dir())
