"""The operator console over HTTP: the page, and the live feed's access, events and shutdown."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from gateway.services.activity import (
    APPROVED,
    CLOSED,
    DELIVERY,
    REJECTED,
    STORED,
    TRIAGED,
    UPDATED,
    MessageState,
    transitions,
)
from tests.conftest import bearer, issue_key
from tests.routing_helpers import API, CLIENT, import_kb

QUESTION = "Qual é o prazo de entrega para o Nordeste?"
ANSWER = "Para o Nordeste a entrega leva de 5 a 8 dias úteis."


async def next_event(response, kind: str, interaction_id: int, within: float = 30.0) -> dict:
    """Read the stream until `kind` arrives for the message; returns its data."""

    async def read() -> dict:
        event = data = None
        while True:
            line = (await response.content.readline()).decode()
            assert line, "the stream ended"
            line = line.rstrip("\n")
            if line.startswith("event: "):
                event = line[len("event: ") :]
            elif line.startswith("data: "):
                data = json.loads(line[len("data: ") :])
            elif not line:
                if event == kind and data and data["message"]["id"] == interaction_id:
                    return data
                event = data = None

    return await asyncio.wait_for(read(), within)


async def open_stream(client, key: str):
    response = await client.get(
        f"{API}/operator/events", headers={**bearer(key), "Accept": "text/event-stream"}
    )
    assert response.status == 200, await response.text()
    assert response.content_type == "text/event-stream"
    return response


async def test_the_console_page_and_its_files_need_no_key(client):
    response = await client.get("/console", headers={"Authorization": ""})
    assert response.status == 200
    assert response.content_type == "text/html"
    page = await response.text()
    assert 'lang="pt-BR"' in page
    assert "Entrar" in page
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    for name in (
        "strings.js",
        "console.js",
        "detail.js",
        "conversation.js",
        "search.js",
        "keyboard.js",
        "live.js",
        "common.js",
        "replies.js",
        "closing.js",
        "notes.js",
        "together.js",
        "whatsapp.js",
        "blocking.js",
        "sending.js",
        "console.css",
    ):
        response = await client.get(f"/console/static/{name}", headers={"Authorization": ""})
        assert response.status == 200, name


async def test_the_event_stream_needs_an_operator_or_admin_key(client, settings):
    db = settings.async_database_url or ""
    response = await client.get(f"{API}/operator/events", headers={"Authorization": ""})
    assert response.status == 401
    response = await client.get(f"{API}/operator/events", headers=bearer("atd_wrong_0000"))
    assert response.status == 401
    integrator = await issue_key(db, "integrator")
    response = await client.get(f"{API}/operator/events", headers=bearer(integrator))
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "forbidden"
    for role in ("operator", "admin"):
        stream = await open_stream(client, await issue_key(db, role))
        stream.close()


async def test_the_stream_tells_a_message_s_life_and_its_delivery(client, settings, aiohttp_server):
    received: list[dict] = []

    async def callback(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.json_response({"ok": True})

    hook = web.Application()
    hook.router.add_post("/hook", callback)
    server = await aiohttp_server(hook)
    await import_kb(client, [{"question": QUESTION, "answer": ANSWER, "sector": "vendas"}])
    stream = await open_stream(client, await issue_key(settings.async_database_url, "operator"))

    created = await client.post(
        f"{API}/messages/",
        json={
            "client_id": CLIENT,
            "message": "Qual o prazo de entrega para o Nordeste?",
            "callback_url": str(server.make_url("/hook")),
        },
    )
    message_id = (await created.json())["id"]
    stored = await next_event(stream, STORED, message_id)
    assert stored["message"]["channel"] == "rest"
    triaged = await next_event(stream, TRIAGED, message_id)
    assert triaged["message"]["answer"] == ANSWER
    assert triaged["message"]["suggestion"]["similarity"] > 0.9

    response = await client.post(f"{API}/operator/messages/{message_id}/approve", json={})
    assert response.status == 200
    approved = await next_event(stream, APPROVED, message_id)
    assert approved["message"]["validated_by"] == "human"
    while True:
        delivered = await next_event(stream, DELIVERY, message_id)
        if delivered["message"]["delivery"]["status"] == "sent":
            break
    assert [body["answer"] for body in received] == [ANSWER]
    stream.close()


async def test_shutting_down_ends_open_streams_at_once(settings, aiohttp_client):
    from gateway.app import create_app

    key = await issue_key(settings.async_database_url, "operator")
    client = await aiohttp_client(create_app(settings))
    stream = await open_stream(client, key)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.wait_for(client.close(), 10)
    assert loop.time() - started < 5
    stream.close()


def test_kinds_follow_the_state_changes():
    def state(validated_by="pending", triaged=False, answer=None, delivery=None):
        return MessageState(validated_by, triaged, validated_by == "ai", answer, "vendas", delivery)

    received = state()
    suggested = state("ai", True, ANSWER)
    assert transitions(received, suggested) == [TRIAGED]
    assert transitions(suggested, state("human", True, ANSWER, "pending")) == [
        APPROVED,
        DELIVERY,
    ]
    assert transitions(suggested, state(triaged=True)) == [REJECTED]
    assert transitions(state(triaged=True), state(triaged=True, answer="Oi")) == [UPDATED]
    sending = state("human", True, ANSWER, "sending")
    assert transitions(sending, state("human", True, ANSWER, "sent")) == [DELIVERY]
    assert transitions(sending, sending) == []
    closed = MessageState("pending", True, False, None, "vendas", None, closed=True)
    assert transitions(state(triaged=True), closed) == [CLOSED]
    assert transitions(closed, state(triaged=True)) == [UPDATED]  # reopened
