"""Service routes: identity, health, sectors, and the API's own documentation."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

import structlog
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import SQLAlchemyError

from gateway import __version__
from gateway.http import keys
from gateway.http.access import POLICY
from gateway.http.openapi import build_openapi
from gateway.http.operations import Operation, allow
from gateway.http.responses import json_model
from gateway.schemas.access import Liveness, Readiness
from gateway.schemas.messages import Health, SectorList, SectorOut, ServiceInfo
from gateway.services import embedding, pipeline
from gateway.services.access import Role
from storage.api_keys import BacklogRepository
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


async def live(request: web.Request) -> web.Response:
    # The process answers: nothing else is checked, so a slow database never restarts it.
    return json_model(Liveness(status="ok"))


async def _worker_backlog(request: web.Request) -> int:
    return await BacklogRepository(request.app[keys.SESSIONS]).worker_backlog(
        embed_attempts=embedding.MAX_ATTEMPTS, pipeline_attempts=pipeline.MAX_ATTEMPTS
    )


async def ready(request: web.Request) -> web.Response:
    bound = request.app[keys.SETTINGS].ready_max_backlog
    try:
        await ping(request.app[keys.ENGINE])
        backlog = await _worker_backlog(request)
    except (SQLAlchemyError, OSError) as exc:
        log.warning("ready_database_unreachable", error=str(exc))
        body = Readiness(
            status="unavailable", database="unreachable", backlog=None, max_backlog=bound
        )
        return json_model(body, status=503)
    ok = backlog <= bound
    if not ok:
        log.warning("ready_backlog_too_long", backlog=backlog, max_backlog=bound)
    body = Readiness(
        status="ok" if ok else "unavailable", database="ok", backlog=backlog, max_backlog=bound
    )
    return json_model(body, status=200 if ok else 503)


async def metrics(request: web.Request) -> web.Response:
    collected = request.app[keys.METRICS]
    backlog = BacklogRepository(request.app[keys.SESSIONS])
    target = request.app[keys.SETTINGS].response_target
    try:
        depth, late = await backlog.operator_queue(late_before=datetime.now(UTC) - target)
        collected.observe_database(
            queue_depth=depth,
            queue_late=late,
            worker_backlog=await _worker_backlog(request),
            deliveries=await backlog.deliveries_by_status(),
        )
    except (SQLAlchemyError, OSError) as exc:
        # The counters are still worth scraping; the gauges keep their last values.
        log.warning("metrics_database_unreachable", error=str(exc))
    return web.Response(
        body=generate_latest(collected.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
    )


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
    Operation(
        "GET",
        "/health/live",
        live,
        "Whether the process answers (liveness)",
        "service",
        Liveness,
        absolute=True,
    ),
    Operation(
        "GET",
        "/health/ready",
        ready,
        "Whether atende can serve: database reachable, worker backlog within "
        "ATENDE_READY_MAX_BACKLOG (readiness)",
        "service",
        Readiness,
        absolute=True,
        extra_responses={503: "The database is unreachable or the backlog is too long."},
    ),
    Operation(
        "GET",
        "/sectors",
        list_sectors,
        "The configured sectors",
        "sectors",
        SectorList,
        roles=allow(Role.OPERATOR, Role.INTEGRATOR),
    ),
)


def metrics_operation(require_key: bool) -> Operation:
    """`/metrics`: open like /health, or for admin and operator keys when the settings say."""
    return Operation(
        "GET",
        "/metrics",
        metrics,
        "Prometheus metrics (text exposition format)",
        "service",
        None,
        text_media_type="text/plain",
        absolute=True,
        roles=allow(Role.OPERATOR) if require_key else None,
    )


def routed(path: str, paths: Iterable[str]) -> str:
    """`path` as aiohttp routes it: a `{parameter}` segment does not take a word another
    route has in its place, so GET /messages/search is a 405 naming POST, not a request
    for the message "search" (which would be a 422 about its id)."""
    parts = path.split("/")
    others = [other.split("/") for other in paths]
    for i, part in enumerate(parts):
        if not (part.startswith("{") and ":" not in part):
            continue
        words = sorted(
            {o[i] for o in others if len(o) > i and o[:i] == parts[:i] and o[i] and "{" not in o[i]}
        )
        if words:
            taken = "|".join(re.escape(word) for word in words)
            parts[i] = f"{{{part[1:-1]}:(?!(?:{taken})$)[^/]+}}"
    return "/".join(parts)


def add_routes(app: web.Application, operations: tuple[Operation, ...], prefix: str) -> None:
    """Register the operations, each with its roles for the access middleware."""
    policy = app[POLICY]
    paths = [op.full_path(prefix) for op in operations]
    for op in operations:
        if not op.absolute and op.roles is None:
            raise ValueError(f"{op.method} {op.path} is under {prefix} and names no roles")
        route = app.router.add_route(op.method, routed(op.full_path(prefix), paths), op.handler)
        policy.operations[route] = op
    app[OPENAPI_KEY] = build_openapi(operations, prefix, app[keys.SECTORS].names)
    app.router.add_get("/openapi.json", openapi)
    app.router.add_get("/docs", docs)
    app.router.add_get("/docs/init.js", docs_init)
    app.router.add_static("/docs/static", _swagger_dir())
