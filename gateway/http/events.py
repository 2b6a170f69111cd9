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
from gateway.services.activity import ActivityHub, Change, Subscription
from storage.activity import ActivityRepository
from storage.database import on_commit

log = structlog.get_logger(__name__)

HEARTBEAT_SECONDS = 15.0


def _encode(change: Change) -> bytes:
    return json.dumps(
        {"kind": change.kind, "message": MessageOut.of(change.row).model_dump(mode="json")}
    ).encode()


async def events_ctx(app: web.Application) -> AsyncIterator[None]:
    """The process's feed, read for every open stream, and woken by the commits of this
    process's sessions (and by a stored message: gateway.http.channels)."""
    hub = ActivityHub(ActivityRepository(app[keys.SESSIONS]), _encode)
    app[keys.ACTIVITY] = hub
    on_commit(app[keys.SESSIONS], hub.wake)
    yield


async def _stop_streams(app: web.Application) -> None:
    """On shutdown, before the server waits for its handlers: stopping the app never
    waits on a console left open."""
    await app[keys.ACTIVITY].close()


def add_shutdown(app: web.Application) -> None:
    app.cleanup_ctx.append(events_ctx)
    app.on_shutdown.append(_stop_streams)


async def events(request: web.Request) -> web.StreamResponse:
    hub = request.app[keys.ACTIVITY]
    try:
        subscription = await hub.subscribe()
    except (SQLAlchemyError, OSError) as exc:
        raise ServiceUnavailable("cannot read the database; try again shortly") from exc
    try:
        return await _stream(request, subscription)
    finally:
        hub.unsubscribe(subscription)


async def _stream(request: web.Request, subscription: Subscription) -> web.StreamResponse:
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
        while not subscription.ended:
            for event in await subscription.take(max(0.0, next_heartbeat - loop.time())):
                sent += 1
                frame = f"id: {sent}\nevent: {event.kind}\ndata: ".encode()
                await response.write(frame + event.data + b"\n\n")
            if loop.time() >= next_heartbeat:
                next_heartbeat = loop.time() + HEARTBEAT_SECONDS
                await response.write(b": keep-alive\n\n")
    except ConnectionResetError:
        bound.info("events_client_gone", events=sent)
        return response
    if subscription.overflowed:
        # Its console reconnects and reads the queue again.
        bound.warning("events_stream_fell_behind", events=sent)
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
