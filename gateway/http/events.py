"""`GET /api/v1/operator/events`: the operator console's live feed, as server-sent events.

Authenticated like every API route, by `Authorization: Bearer` checked in the access
middleware: the console reads the stream with fetch(), which can send that header (the
browser's EventSource cannot), so no key ever travels in a URL or a log line. Each event
is `event: <kind>` and `data: {"kind": ..., "message": <the message as the REST API
shows it>}`; a comment line every HEARTBEAT_SECONDS keeps proxies from closing an idle
stream and notices a client that left. Shutting the app down ends every open stream.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import structlog
from aiohttp import web
from sqlalchemy.exc import SQLAlchemyError

from config.errors import ServiceUnavailable
from gateway.http import keys
from gateway.http.middlewares import REQUEST_ID, REQUEST_ID_HEADER
from gateway.http.operations import Operation, allow
from gateway.schemas.messages import MessageOut
from gateway.services.access import Role
from gateway.services.activity import POLL_SECONDS, ActivityFeed
from storage.activity import ActivityRepository

log = structlog.get_logger(__name__)

HEARTBEAT_SECONDS = 15.0
EVENTS_STOP = web.AppKey("events_stop", asyncio.Event)


async def events_ctx(app: web.Application) -> AsyncIterator[None]:
    """The signal that ends the open streams; set on shutdown, before the server waits
    for its handlers, so stopping the app never waits on a console left open."""
    app[EVENTS_STOP] = asyncio.Event()
    yield


async def _stop_streams(app: web.Application) -> None:
    app[EVENTS_STOP].set()


def add_shutdown(app: web.Application) -> None:
    app.cleanup_ctx.append(events_ctx)
    app.on_shutdown.append(_stop_streams)


def _frame(event_id: int, kind: str, message: MessageOut) -> bytes:
    data = json.dumps({"kind": kind, "message": message.model_dump(mode="json")})
    return f"id: {event_id}\nevent: {kind}\ndata: {data}\n\n".encode()


async def events(request: web.Request) -> web.StreamResponse:
    stop = request.app[EVENTS_STOP]
    feed = ActivityFeed(ActivityRepository(request.app[keys.SESSIONS]))
    try:
        await feed.start()
    except (SQLAlchemyError, OSError) as exc:
        raise ServiceUnavailable("cannot read the database; try again shortly") from exc
    response = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",  # nginx would otherwise hold the events back
            REQUEST_ID_HEADER: request[REQUEST_ID],
        }
    )
    await response.prepare(request)
    loop = asyncio.get_running_loop()
    next_heartbeat = loop.time() + HEARTBEAT_SECONDS
    sent = 0
    bound = log.bind(path=request.path)
    try:
        await response.write(b"retry: 2000\n: connected\n\n")
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), POLL_SECONDS)
            if stop.is_set():
                break
            try:
                changes = await feed.poll()
            except (SQLAlchemyError, OSError) as exc:
                # The stream stays open; the next poll tries again.
                bound.warning("events_database_unavailable", error=str(exc).splitlines()[0])
                changes = []
            for change in changes:
                sent += 1
                await response.write(_frame(sent, change.kind, MessageOut.of(change.row)))
            if loop.time() >= next_heartbeat:
                next_heartbeat = loop.time() + HEARTBEAT_SECONDS
                await response.write(b": keep-alive\n\n")
    except ConnectionResetError:
        bound.info("events_client_gone", events=sent)
        return response
    bound.info("events_stream_closed", events=sent)
    return response


OPERATIONS = (
    Operation(
        "GET",
        "/operator/events",
        events,
        "Live feed for the operator console (text/event-stream): message.stored, "
        "message.triaged, message.approved, message.rejected, message.updated, message.assigned, "
        "message.closed, delivery.updated, each with the message as GET /messages/{id} shows it",
        "operators",
        None,
        text_media_type="text/event-stream",
        errors=(503,),
        roles=allow(Role.OPERATOR),
    ),
)
