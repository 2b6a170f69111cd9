"""Request ids, one log line per request, and errors as JSON: every response passes here."""

from __future__ import annotations

import time
import uuid

import structlog
from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.errors import AtendeError

log = structlog.get_logger(__name__)

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID = web.RequestKey("request_id", str)


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
        response.headers[REQUEST_ID_HEADER] = request_id
        return response
    finally:
        log.info(
            "request",
            method=request.method,
            path=request.path,
            status=status,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )
        structlog.contextvars.unbind_contextvars("request_id")


async def _as_json_errors(
    request: web.Request, handler: Handler, request_id: str
) -> web.StreamResponse:
    try:
        return await handler(request)
    except AtendeError as exc:
        if exc.status >= 500:
            log.warning("request_failed", code=exc.code, error=exc.message)
        return error_response(
            exc.status,
            exc.code,
            exc.message,
            request_id,
            [{"field": d.field, "message": d.message} for d in exc.details],
        )
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
    except Exception:
        log.exception("unhandled_error", method=request.method, path=request.path)
        return error_response(
            500,
            "internal_error",
            "atende failed to handle this request; see its log",
            request_id,
        )
