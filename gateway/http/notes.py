"""Internal notes about a customer: parse, call the note service, shape."""

from __future__ import annotations

from aiohttp import web

from gateway.http import keys
from gateway.http.assignments import actor_of, optional_body
from gateway.http.operations import CLIENT_ID, Operation, allow, row_id
from gateway.http.parsing import parse_body, path_int, path_uuid
from gateway.http.responses import json_model
from gateway.schemas.notes import NoteIn, NoteList, NoteOut
from gateway.schemas.operators import AssignmentRequest
from gateway.services.access import Role

NOTE_ID = row_id("The note's id.")


async def list_notes(request: web.Request) -> web.Response:
    rows = await request.app[keys.NOTES].newest(path_uuid(request, "client_id"))
    return json_model(NoteList(items=[NoteOut.of(row) for row in rows]))


async def add_note(request: web.Request) -> web.Response:
    client_id = path_uuid(request, "client_id")
    body = await parse_body(request, NoteIn)
    row = await request.app[keys.NOTES].add(
        client_id, body.text, actor_of(request, body.operator_name)
    )
    return json_model(NoteOut.of(row), status=201)


async def delete_note(request: web.Request) -> web.Response:
    note_id = path_int(request, "id")
    body = await optional_body(request)
    await request.app[keys.NOTES].delete(note_id, actor_of(request, body.operator_name))
    return web.Response(status=204)


OPERATIONS = (
    Operation(
        "GET",
        "/operator/clients/{client_id}/notes",
        list_notes,
        "The internal notes about a customer (never shown to them), the newest 50 first",
        "operators",
        NoteList,
        path_params=(CLIENT_ID,),
        errors=(422,),
        roles=allow(Role.OPERATOR),
    ),
    Operation(
        "POST",
        "/operator/clients/{client_id}/notes",
        add_note,
        "Write an internal note about a customer for the other operators (404 when no "
        "message is theirs)",
        "operators",
        NoteOut,
        status=201,
        body=NoteIn,
        path_params=(CLIENT_ID,),
        errors=(400, 404, 415, 422),
        roles=allow(Role.OPERATOR),
    ),
    Operation(
        "DELETE",
        "/operator/notes/{id}",
        delete_note,
        "Delete an internal note: its author, or an admin (409 for anyone else)",
        "operators",
        None,
        status=204,
        body=AssignmentRequest,
        body_optional=True,
        path_params=(NOTE_ID,),
        errors=(400, 404, 409, 415, 422),
        roles=allow(Role.OPERATOR),
    ),
)
