"""Message routes: handlers parse, call the message service, and shape the response."""

from __future__ import annotations

from aiohttp import web

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


async def create_message(request: web.Request) -> web.Response:
    body = await parse_body(request, MessageCreate)
    row = await request.app[keys.MESSAGES].create(body)
    return json_model(MessageOut.of(row), status=201)


async def get_message(request: web.Request) -> web.Response:
    row = await request.app[keys.MESSAGES].get(path_int(request, "id"))
    return json_model(MessageOut.of(row))


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
