"""Take, release and transfer a message: parse, call the assignment service, shape."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from gateway.http import keys
from gateway.http.access import PRINCIPAL
from gateway.http.operations import MESSAGE_ID, Handler, Operation, allow
from gateway.http.parsing import parse_body, path_int
from gateway.http.responses import json_model
from gateway.schemas.messages import MessageOut
from gateway.schemas.operators import AssignmentRequest, CloseRequest, TransferRequest
from gateway.services.access import Role
from gateway.services.assignments import Actor


def actor_of(request: web.Request, operator_name: str | None) -> Actor:
    """The name the operator signed in with, else their key's name; admin or not.

    The name is what the console sends: operators sharing one key tell themselves
    apart by it, as they already do in `operator_name` on the answers they approve.
    """
    principal = request[PRINCIPAL]
    return Actor(name=operator_name or principal.name, admin=principal.role is Role.ADMIN)


async def optional_body(request: web.Request) -> AssignmentRequest:
    if not request.can_read_body:
        return AssignmentRequest()
    return await parse_body(request, AssignmentRequest)


async def take(request: web.Request) -> web.Response:
    body = await optional_body(request)
    row = await request.app[keys.ASSIGNMENTS].take(
        path_int(request, "id"), actor_of(request, body.operator_name)
    )
    return json_model(MessageOut.of(row))


async def release(request: web.Request) -> web.Response:
    body = await optional_body(request)
    row = await request.app[keys.ASSIGNMENTS].release(
        path_int(request, "id"), actor_of(request, body.operator_name)
    )
    return json_model(MessageOut.of(row))


async def transfer(request: web.Request) -> web.Response:
    interaction_id = path_int(request, "id")
    body = await parse_body(request, TransferRequest)
    row = await request.app[keys.ASSIGNMENTS].transfer(
        interaction_id, body.sector, actor_of(request, body.operator_name)
    )
    return json_model(MessageOut.of(row))


async def close(request: web.Request) -> web.Response:
    interaction_id = path_int(request, "id")
    body = await parse_body(request, CloseRequest)
    row = await request.app[keys.ASSIGNMENTS].close(
        interaction_id, body.reason, actor_of(request, body.operator_name)
    )
    return json_model(MessageOut.of(row))


async def reopen(request: web.Request) -> web.Response:
    body = await optional_body(request)
    row = await request.app[keys.ASSIGNMENTS].reopen(
        path_int(request, "id"), actor_of(request, body.operator_name)
    )
    return json_model(MessageOut.of(row))


def message_action(
    verb: str,
    handler: Handler,
    summary: str,
    body: type[BaseModel],
    response: type[MessageOut] = MessageOut,
) -> Operation:
    """An operator's POST on one message (take, release, transfer, approve, reject): it
    answers with the message as it now stands (and, approving, what became of the lines
    answered together), and fails alike. A body whose fields all have defaults (who acts,
    an edited answer) may be left out."""
    return Operation(
        "POST",
        f"/operator/messages/{{id}}/{verb}",
        handler,
        summary,
        "operators",
        response,
        body=body,
        body_optional=not body.model_json_schema().get("required"),
        path_params=(MESSAGE_ID,),
        errors=(400, 404, 409, 415, 422),
        roles=allow(Role.OPERATOR),
    )


OPERATIONS = (
    message_action(
        "take",
        take,
        "Take a waiting message to answer it: the other operators see it taken (409 when "
        "someone else holds it or a human answered it already; taking it again is fine)",
        AssignmentRequest,
    ),
    message_action(
        "release",
        release,
        "Give a taken message back to the queue (its holder, or an admin)",
        AssignmentRequest,
    ),
    message_action(
        "transfer",
        transfer,
        "Hand a waiting message to another sector's queue, no longer taken by anyone",
        TransferRequest,
    ),
    message_action(
        "close",
        close,
        "Close a waiting message without answering it (thanks, spam, a question asked "
        "again): it leaves the queue and nothing is sent. 409 when a human answered it or "
        "someone else holds it; closing it again changes nothing",
        CloseRequest,
    ),
    message_action(
        "reopen",
        reopen,
        "Put a closed message back in the queue, in its place by when it was received",
        AssignmentRequest,
    ),
)
