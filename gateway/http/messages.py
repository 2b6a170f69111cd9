"""Message routes: handlers parse, call the message service, and shape the response."""

from __future__ import annotations

import re
from urllib.parse import quote

import structlog
from aiohttp import web

from config.errors import BadGateway, NotFound
from connectors.base import MediaFile, MediaUnavailable
from gateway.http import keys
from gateway.http.assignments import actor_of
from gateway.http.operations import MESSAGE_ID, Operation, PathParam, allow
from gateway.http.parsing import parse_body, parse_query, path_int, path_text, path_uuid
from gateway.http.responses import json_model
from gateway.schemas.messages import (
    MessageCreate,
    MessageOut,
    MessagePage,
    MessageUpdate,
    PageQuery,
    SearchHit,
    SearchRequest,
    SearchResponse,
)
from gateway.services.access import Role

log = structlog.get_logger(__name__)

# Shown in the browser (the console's picture, a voice message's player); any other type,
# an SVG or a page above all, is only ever downloaded, never rendered from atende's origin.
_SHOWN_INLINE = re.compile(r"^(image/(jpeg|png|gif|webp)|audio/[\w.+-]+|video/(mp4|3gpp|webm))$")
_MIME = re.compile(r"^[\w.+-]+/[\w.+-]+$")


def file_headers(found: MediaFile) -> dict[str, str]:
    mime_type = found.mime_type.split(";")[0].strip().lower()
    if not _MIME.match(mime_type):
        mime_type = "application/octet-stream"
    disposition = "inline" if _SHOWN_INLINE.match(mime_type) else "attachment"
    if found.file_name:
        disposition += f"; filename*=UTF-8''{quote(found.file_name, safe='')}"
    return {
        "Content-Type": mime_type,
        "Content-Disposition": disposition,
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "X-Content-Type-Options": "nosniff",
        "Cache-Control": "private, max-age=300",
    }


async def create_message(request: web.Request) -> web.Response:
    body = await parse_body(request, MessageCreate)
    row = await request.app[keys.MESSAGES].create(body)
    return json_model(MessageOut.of(row), status=201)


async def get_message(request: web.Request) -> web.Response:
    row = await request.app[keys.MESSAGES].get(path_int(request, "id"))
    return json_model(MessageOut.of(row))


async def message_file(request: web.Request) -> web.Response:
    row = await request.app[keys.MESSAGES].get(path_int(request, "id"))
    connector = request.app[keys.CONNECTORS].get(row.channel, row.channel_account)
    if not row.media or not connector.has_file(row.media):
        raise NotFound(f"message {row.id} carries no file")
    try:
        found = await connector.fetch_media(row.media)
    except MediaUnavailable as exc:
        log.warning("media_unavailable", interaction_id=row.id, error=str(exc))
        raise BadGateway(f"{row.channel} did not give the file: {exc}") from exc
    return web.Response(body=found.content, headers=file_headers(found))


async def update_message(request: web.Request) -> web.Response:
    interaction_id = path_int(request, "id")
    body = await parse_body(request, MessageUpdate)
    row = await request.app[keys.MESSAGES].update(
        interaction_id, body, actor=actor_of(request, body.operator_name)
    )
    return json_model(MessageOut.of(row))


async def search_messages(request: web.Request) -> web.Response:
    body = await parse_body(request, SearchRequest)
    hits = await request.app[keys.MESSAGES].search(body)
    items = [
        SearchHit(**MessageOut.of(hit.interaction).model_dump(), similarity=hit.similarity)
        for hit in hits
    ]
    return json_model(SearchResponse(items=items))


async def client_history(request: web.Request) -> web.Response:
    client_id = path_uuid(request, "client_id")
    query = parse_query(request, PageQuery)
    page = await request.app[keys.MESSAGES].by_client(client_id, query)
    return json_model(MessagePage.of([MessageOut.of(r) for r in page.items], page.total, query))


async def sector_messages(request: web.Request) -> web.Response:
    query = parse_query(request, PageQuery)
    page = await request.app[keys.MESSAGES].by_sector(path_text(request, "sector"), query)
    return json_model(MessagePage.of([MessageOut.of(r) for r in page.items], page.total, query))


OPERATIONS = (
    Operation(
        "POST",
        "/messages/",
        create_message,
        "Store a customer message",
        "messages",
        MessageOut,
        status=201,
        body=MessageCreate,
        errors=(400, 415, 422),
        roles=allow(Role.INTEGRATOR),
    ),
    Operation(
        "GET",
        "/messages/{id}",
        get_message,
        "Read one message",
        "messages",
        MessageOut,
        path_params=(MESSAGE_ID,),
        errors=(404, 422),
        roles=allow(Role.OPERATOR, Role.INTEGRATOR),
    ),
    Operation(
        "GET",
        "/messages/{id}/file",
        message_file,
        "The file a customer sent (a photo, a voice message, a document), fetched from "
        "Telegram or WhatsApp with the channel's credentials; pictures, audio and video "
        "inline, anything else as an attachment",
        "messages",
        None,
        text_media_type="application/octet-stream",
        path_params=(MESSAGE_ID,),
        errors=(404, 422, 502),
        roles=allow(Role.OPERATOR, Role.INTEGRATOR),
    ),
    Operation(
        "PUT",
        "/messages/{id}",
        update_message,
        "Change a message's answer, operator or validation (partial)",
        "messages",
        MessageOut,
        body=MessageUpdate,
        path_params=(MESSAGE_ID,),
        errors=(400, 404, 409, 415, 422),
        roles=allow(Role.OPERATOR),
    ),
    Operation(
        "POST",
        "/messages/search",
        search_messages,
        "Messages most similar in meaning to a query",
        "messages",
        SearchResponse,
        body=SearchRequest,
        errors=(400, 415, 422, 503),
        roles=allow(Role.OPERATOR, Role.INTEGRATOR),
    ),
    Operation(
        "GET",
        "/messages/client/{client_id}",
        client_history,
        "A customer's messages, newest first",
        "messages",
        MessagePage,
        query=PageQuery,
        path_params=(PathParam("client_id", {"type": "string", "format": "uuid"}),),
        errors=(422,),
        roles=allow(Role.OPERATOR, Role.INTEGRATOR),
    ),
    Operation(
        "GET",
        "/messages/sector/{sector}",
        sector_messages,
        "A sector's messages, newest first",
        "messages",
        MessagePage,
        query=PageQuery,
        path_params=(PathParam("sector", {"type": "string"}),),
        errors=(404, 422),
        roles=allow(Role.OPERATOR),
    ),
)
