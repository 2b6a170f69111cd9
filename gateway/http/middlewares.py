"""Request ids, one log line per request, errors as JSON and request metrics: every
response passes here."""

from __future__ import annotations

import asyncio
import time
import uuid

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from config.errors import AtendeError, ServiceUnavailable
from gateway.http import keys

log = structlog.get_logger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
# What a request whose client left (and whose handler was cancelled) is counted as;
# nginx's convention, so a closed console stream never shows as a server error.
CLIENT_CLOSED = 499
REQUEST_ID = web.RequestKey("request_id", str)
# Fields a handler adds to its request's log line (one line per request, not one per fact).
REQUEST_LOG = web.RequestKey("request_log", dict)
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def error_response(
    status: int,
    code: str,
    message: str,
    request_id: str | None,
    details: list[dict[str, str]] | None = None,
) -> web.Response:
    body = {
        "error": {"code": code, "message": message, "details": details or []},
        "request_id": request_id,
    }
    return web.json_response(body, status=status)


def _request_id(request: web.Request) -> str:
    given = request.headers.get(REQUEST_ID_HEADER, "")
    # Accept a caller's id for tracing across systems, but only a sane one.
    if 0 < len(given) <= 128 and given.isprintable():
        return given
    return uuid.uuid4().hex


@web.middleware
async def request_context(request: web.Request, handler: Handler) -> web.StreamResponse:
    request_id = _request_id(request)
    request[REQUEST_ID] = request_id
    started = time.perf_counter()
    structlog.contextvars.bind_contextvars(request_id=request_id)
    status = 500
    try:
        response = await _as_json_errors(request, handler, request_id)
        status = response.status
        if not response.prepared:  # a stream sent its headers itself
            response.headers[REQUEST_ID_HEADER] = request_id
        return response
    except asyncio.CancelledError:
        status = CLIENT_CLOSED
        raise
    finally:
        log.info(
            "request",
            method=request.method,
            path=request.path,
            status=status,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
            **request.get(REQUEST_LOG, {}),
        )
        structlog.contextvars.unbind_contextvars("request_id")


def _database_gone(exc: Exception) -> bool:
    return isinstance(exc, DBAPIError) and (
        exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)
    )


async def _as_json_errors(
    request: web.Request, handler: Handler, request_id: str
) -> web.StreamResponse:
    try:
        return await handler(request)
    except AtendeError as exc:
        if exc.status >= 500:
            log.warning("request_failed", code=exc.code, error=exc.message)
        response = error_response(
            exc.status,
            exc.code,
            exc.message,
            request_id,
            [{"field": d.field, "message": d.message} for d in exc.details],
        )
        response.headers.update(exc.headers)
        return response
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = exc.reason.lower().replace(" ", "_")
        message = exc.text if exc.text and not exc.text.startswith(f"{exc.status}:") else exc.reason
        response = error_response(exc.status, code, message, request_id)
        for header in ("Allow", "Retry-After"):
            if header in exc.headers:
                response.headers[header] = exc.headers[header]
        return response
    except Exception as exc:
        if _database_gone(exc):
            # The database went away under the request (a restart, a failover): the pool
            # reconnects on the next one, so this is worth a retry, not a 500.
            log.warning("request_database_unavailable", error=str(exc).splitlines()[0])
            response = error_response(
                503,
                ServiceUnavailable.code,
                "the database is unavailable; try again shortly",
                request_id,
            )
            response.headers["Retry-After"] = "1"
            return response
        log.exception("unhandled_error", method=request.method, path=request.path)
        return error_response(
            500,
            "internal_error",
            "atende failed to handle this request; see its log",
            request_id,
        )


@web.middleware
async def request_metrics(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Count every answer by route pattern (never the raw path, which would grow without
    bound) and status, and webhook calls by channel and outcome."""
    status = 500
    try:
        response = await handler(request)
        status = response.status
        return response
    except asyncio.CancelledError:
        status = CLIENT_CLOSED
        raise
    except web.HTTPException as exc:  # redirects and the like pass through request_context
        status = exc.status
        raise
    finally:
        resource = request.match_info.route.resource
        route = resource.canonical if resource is not None else "unmatched"
        metrics = request.app[keys.METRICS]
        # A client picks the method; only known ones become labels.
        method = request.method if request.method in _METHODS else "other"
        metrics.requests.labels(route, method, str(status)).inc()
        if request.method == "POST" and route.startswith("/webhooks/"):
            metrics.webhook(request.match_info.get("channel", "unknown"), status)
