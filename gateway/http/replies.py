"""Saved replies ("respostas prontas"): parse, call the reply service, shape."""

from __future__ import annotations

from aiohttp import web

from gateway.http import keys
from gateway.http.assignments import actor_of
from gateway.http.operations import Operation, allow, row_id
from gateway.http.parsing import parse_body, parse_query, path_int
from gateway.http.responses import json_model
from gateway.schemas.replies import ReplyIn, ReplyList, ReplyOut, ReplyQuery
from gateway.services.access import Role
from gateway.services.replies import ReplyDraft

REPLY_ID = row_id("The saved reply's id.")


def _draft(body: ReplyIn) -> ReplyDraft:
    return ReplyDraft(title=body.title, text=body.text, sector=body.sector)


async def list_replies(request: web.Request) -> web.Response:
    query = parse_query(request, ReplyQuery)
    rows = await request.app[keys.REPLIES].list(query.sector)
    return json_model(ReplyList(items=[ReplyOut.of(row) for row in rows]))


async def create_reply(request: web.Request) -> web.Response:
    body = await parse_body(request, ReplyIn)
    by = actor_of(request, body.operator_name).name
    row = await request.app[keys.REPLIES].create(_draft(body), by)
    return json_model(ReplyOut.of(row), status=201)


async def update_reply(request: web.Request) -> web.Response:
    reply_id = path_int(request, "id")
    body = await parse_body(request, ReplyIn)
    by = actor_of(request, body.operator_name).name
    row = await request.app[keys.REPLIES].update(reply_id, _draft(body), by)
    return json_model(ReplyOut.of(row))


async def delete_reply(request: web.Request) -> web.Response:
    reply_id = path_int(request, "id")
    await request.app[keys.REPLIES].delete(reply_id, actor_of(request, None).name)
    return web.Response(status=204)


OPERATIONS = (
    Operation(
        "GET",
        "/operator/replies",
        list_replies,
        "The saved replies operators keep ready to send, by title; with `sector`, that "
        "sector's and every sector's",
        "operators",
        ReplyList,
        query=ReplyQuery,
        errors=(422,),
        roles=allow(Role.OPERATOR),
    ),
    Operation(
        "POST",
        "/operator/replies",
        create_reply,
        "Save a reply for one sector or every sector (409 when one of that sector has the "
        "title already, whatever its case)",
        "operators",
        ReplyOut,
        status=201,
        body=ReplyIn,
        errors=(400, 409, 415, 422),
        roles=allow(Role.OPERATOR),
    ),
    Operation(
        "PUT",
        "/operator/replies/{id}",
        update_reply,
        "Change a saved reply's title, text or sector",
        "operators",
        ReplyOut,
        body=ReplyIn,
        path_params=(REPLY_ID,),
        errors=(400, 404, 409, 415, 422),
        roles=allow(Role.OPERATOR),
    ),
    Operation(
        "DELETE",
        "/operator/replies/{id}",
        delete_reply,
        "Delete a saved reply",
        "operators",
        None,
        status=204,
        path_params=(REPLY_ID,),
        errors=(404, 422),
        roles=allow(Role.OPERATOR),
    ),
)
