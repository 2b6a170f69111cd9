"""A Telegram or WhatsApp customer, and blocking them: parse, call the service, shape."""

from __future__ import annotations

from aiohttp import web

from gateway.http import keys
from gateway.http.assignments import actor_of, optional_body
from gateway.http.operations import CLIENT_ID, Operation, allow
from gateway.http.parsing import path_uuid
from gateway.http.responses import json_model
from gateway.schemas.customers import BlockedOut, CustomerOut
from gateway.schemas.operators import AssignmentRequest
from gateway.services.access import Role


async def customer(request: web.Request) -> web.Response:
    row = await request.app[keys.CUSTOMERS].get(path_uuid(request, "client_id"))
    return json_model(CustomerOut.of(row))


async def block(request: web.Request) -> web.Response:
    client_id = path_uuid(request, "client_id")
    body = await optional_body(request)
    row, closed = await request.app[keys.CUSTOMERS].block(
        client_id, actor_of(request, body.operator_name)
    )
    return json_model(BlockedOut(**CustomerOut.of(row).model_dump(), closed_messages=closed))


async def unblock(request: web.Request) -> web.Response:
    client_id = path_uuid(request, "client_id")
    body = await optional_body(request)
    row = await request.app[keys.CUSTOMERS].unblock(
        client_id, actor_of(request, body.operator_name)
    )
    return json_model(CustomerOut.of(row))


OPERATIONS = (
    Operation(
        "GET",
        "/operator/clients/{client_id}",
        customer,
        "A Telegram or WhatsApp customer: their name, latest message and whether they are "
        "blocked (404 for a REST client)",
        "operators",
        CustomerOut,
        path_params=(CLIENT_ID,),
        errors=(404, 422),
        roles=allow(Role.OPERATOR),
    ),
    Operation(
        "PUT",
        "/operator/clients/{client_id}/block",
        block,
        "Block a customer who sends spam or abuse: their waiting messages are closed, and "
        "their next ones arrive closed (stored, never queued, nothing sent); blocking again "
        "keeps the first block",
        "operators",
        BlockedOut,
        body=AssignmentRequest,
        body_optional=True,
        path_params=(CLIENT_ID,),
        errors=(400, 404, 415, 422),
        roles=allow(Role.OPERATOR),
    ),
    Operation(
        "DELETE",
        "/operator/clients/{client_id}/block",
        unblock,
        "Unblock a customer: their next messages wait in the queue again (those closed stay "
        "closed; each can be reopened)",
        "operators",
        CustomerOut,
        body=AssignmentRequest,
        body_optional=True,
        path_params=(CLIENT_ID,),
        errors=(400, 404, 415, 422),
        roles=allow(Role.OPERATOR),
    ),
)
