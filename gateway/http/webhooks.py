"""Webhook routes, one shape for every channel: `/webhooks/{channel}/{name}`.

The handler reads the raw body, lets the account's connector verify it, parses and
normalises it, and hands the result to the inbound service; the answer is 200 once what
the body carried is committed.
"""

from __future__ import annotations

from aiohttp import web

from config.errors import NotFound
from connectors.whatsapp.connector import WhatsAppConnector
from gateway.http import keys
from gateway.http.middlewares import REQUEST_LOG
from gateway.http.parsing import decode_json

CHANNELS = "telegram|whatsapp"


async def receive(request: web.Request) -> web.Response:
    connector = request.app[keys.CONNECTORS].get(
        request.match_info["channel"], request.match_info["name"]
    )
    body = await request.read()
    connector.verify(request.headers, body)
    payload = decode_json(body)
    inbound = connector.normalise(payload)
    request[REQUEST_LOG] = {"channel": connector.channel}
    totals = {"stored": 0, "duplicates": 0, "statuses": 0, "ignored": 0}
    stored: list[int] = []
    for account, carried in request.app[keys.CONNECTORS].by_account(connector, inbound):
        receipt = await request.app[keys.INBOUND].receive(account, carried)
        stored.extend(receipt.interaction_ids)
        for name in totals:
            totals[name] += getattr(receipt, name)
    request[REQUEST_LOG].update(totals, interaction_ids=stored)
    return web.json_response({"ok": True, **totals})


async def handshake(request: web.Request) -> web.Response:
    """Meta's subscription check: echo hub.challenge when hub.verify_token matches."""
    connector = request.app[keys.CONNECTORS].get(
        request.match_info["channel"], request.match_info["name"]
    )
    if not isinstance(connector, WhatsAppConnector):  # the route only matches WhatsApp
        raise NotFound(f"{connector.channel} webhooks take no GET")
    return web.Response(text=connector.handshake(request.query), content_type="text/plain")


def add_routes(app: web.Application) -> None:
    app.router.add_post(f"/webhooks/{{channel:{CHANNELS}}}/{{name}}", receive)
    app.router.add_get("/webhooks/{channel:whatsapp}/{name}", handshake)
