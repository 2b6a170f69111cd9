"""GET and POST /webhooks/whatsapp/{name}: verification, signature, every entry, duplicates."""

from __future__ import annotations

import asyncio
import json
import time
from datetime import datetime

from tests.connectors.conftest import (
    APP_SECRET,
    VERIFY_TOKEN,
    interactions,
    post_whatsapp,
    sql,
    start_app,
    whatsapp_body,
    whatsapp_text,
)


async def test_subscription_verification(app_client):
    params = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "8841"}
    response = await app_client.get("/webhooks/whatsapp/main", params=params)
    assert response.status == 200
    assert response.content_type == "text/plain"
    assert await response.text() == "8841"
    for wrong in ({"hub.verify_token": "nope"}, {"hub.mode": "unsubscribe"}):
        response = await app_client.get("/webhooks/whatsapp/main", params=params | wrong)
        assert response.status == 403
        assert (await response.json())["error"]["code"] == "forbidden"
    response = await app_client.get("/webhooks/whatsapp/other", params=params)
    assert response.status == 404


async def test_signature_missing_wrong_or_over_another_body(app_client):
    body = whatsapp_body([whatsapp_text("wamid.A", "oi")])
    response = await post_whatsapp(app_client, body, secret=None)
    assert response.status == 401
    response = await post_whatsapp(app_client, body, secret="not-the-app-secret")
    assert response.status == 403
    # A valid signature of different bytes (re-serialised JSON) is still wrong.
    raw = json.dumps(body).encode()
    from connectors.signing import signature_header

    response = await app_client.post(
        "/webhooks/whatsapp/main",
        data=json.dumps(body, indent=2).encode(),
        headers={"X-Hub-Signature-256": signature_header(APP_SECRET, raw)},
    )
    assert response.status == 403
    assert await interactions(app_client) == []


async def test_every_entry_change_and_message_is_walked(app_client):
    first = whatsapp_body([whatsapp_text("wamid.1", "um"), whatsapp_text("wamid.2", "dois")])
    second = whatsapp_body(
        [whatsapp_text("wamid.3", "três", sender="5511888880000")],
        name="Caio",
        wa_id="5511888880000",
    )
    first["entry"][0]["changes"].append(second["entry"][0]["changes"][0])
    first["entry"].append(whatsapp_body([whatsapp_text("wamid.4", "quatro")])["entry"][0])
    response = await post_whatsapp(app_client, first)
    assert response.status == 200
    assert (await response.json())["stored"] == 4
    rows = await interactions(app_client)
    assert [r["message"] for r in rows] == ["um", "dois", "três", "quatro"]
    assert [r["external_id"] for r in rows] == ["wamid.1", "wamid.2", "wamid.3", "wamid.4"]
    assert rows[0]["client_id"] == rows[1]["client_id"] == rows[3]["client_id"]
    assert rows[2]["client_id"] != rows[0]["client_id"]
    customers = await sql(
        app_client,
        "SELECT channel_user_id, profile_name, last_inbound_at FROM customers "
        "ORDER BY channel_user_id",
    )
    assert [(c["channel_user_id"], c["profile_name"]) for c in customers] == [
        ("5511888880000", "Caio"),
        ("5511999990000", "Joana"),
    ]
    assert customers[1]["last_inbound_at"].timestamp() == 1_700_000_000
    response = await app_client.get(f"/api/v1/messages/{rows[2]['id']}")
    assert (await response.json())["customer_name"] == "Caio"


async def test_kinds_are_stored_with_type_text_and_media(app_client):
    messages = [
        {"type": "image", "image": {"id": "m1", "mime_type": "image/jpeg", "caption": "nota"}},
        {"type": "audio", "audio": {"id": "m2", "mime_type": "audio/ogg", "voice": True}},
        {"type": "interactive", "interactive": {"type": "button_reply",
                                                "button_reply": {"id": "b1", "title": "Sim"}}},
        {"type": "reaction", "reaction": {"message_id": "wamid.X", "emoji": "👍"}},
        {"type": "location", "location": {"latitude": -23.5, "longitude": -46.6}},
        {"type": "unsupported", "errors": [{"code": 131051, "title": "Message type unknown"}]},
    ]  # fmt: skip
    for number, message in enumerate(messages):
        message |= {"from": "5511999990000", "id": f"wamid.k{number}", "timestamp": "1700000000"}
    assert (await post_whatsapp(app_client, whatsapp_body(messages))).status == 200
    rows = await interactions(app_client)
    assert [(r["message_type"], r["message"]) for r in rows] == [
        ("image", "nota"),
        ("voice", "[voice]"),
        ("button_reply", "Sim"),
        ("reaction", "👍"),
        ("location", "[location] (-23.5, -46.6)"),
        ("unsupported", "[unsupported] Message type unknown"),
    ]
    assert rows[0]["media"] == {"id": "m1", "mime_type": "image/jpeg"}
    assert rows[2]["media"] == {"reply_id": "b1"}
    assert rows[3]["media"] == {"message_id": "wamid.X"}


async def test_duplicates_sequential_and_concurrent_store_once(app_client):
    body = whatsapp_body([whatsapp_text("wamid.dup", "uma vez só")])
    assert (await post_whatsapp(app_client, body)).status == 200
    assert (await post_whatsapp(app_client, body)).status == 200
    fresh = whatsapp_body([whatsapp_text("wamid.race", "corrida")])
    responses = await asyncio.gather(*(post_whatsapp(app_client, fresh) for _ in range(8)))
    assert {r.status for r in responses} == {200}
    rows = await interactions(app_client)
    assert [r["message"] for r in rows] == ["uma vez só", "corrida"]


async def test_other_fields_are_acknowledged_and_ignored(app_client):
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": "1", "changes": [{"field": "account_update", "value": {"x": 1}}]}],
    }
    response = await post_whatsapp(app_client, body)
    assert response.status == 200
    assert (await response.json())["ignored"] == 1
    assert await interactions(app_client) == []


async def test_a_body_for_another_configured_number_is_stored_under_that_number(
    channel_settings, aiohttp_client
):
    from config.channels import WhatsAppNumber

    second = WhatsAppNumber(
        name="second",
        phone_number_id="99887766",
        access_token="t2",
        app_secret=APP_SECRET,  # one Meta app, one secret, one webhook URL
        verify_token="v2",
    )
    numbers = [*channel_settings.whatsapp_numbers, second]
    settings = channel_settings.model_copy(update={"whatsapp_numbers": numbers})
    client = await start_app(aiohttp_client, settings)
    body = whatsapp_body([whatsapp_text("wamid.main", "para o principal")])
    other = whatsapp_body([whatsapp_text("wamid.second", "para o segundo")])
    other["entry"][0]["changes"][0]["value"]["metadata"]["phone_number_id"] = "99887766"
    body["entry"].append(other["entry"][0])
    response = await post_whatsapp(client, body)
    assert (await response.json())["stored"] == 2
    rows = await interactions(client)
    assert [(r["channel_account"], r["message"]) for r in rows] == [
        ("main", "para o principal"),
        ("second", "para o segundo"),
    ]
    # One person, one client_id, whichever number they wrote to.
    assert rows[0]["client_id"] == rows[1]["client_id"]


async def test_database_down_answers_503(app_client, db_url, pg_admin):
    from sqlalchemy.engine import make_url

    name = make_url(db_url).database
    await pg_admin(
        f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false',
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'",
    )
    body = whatsapp_body([whatsapp_text("wamid.down", "banco fora")])
    try:
        assert (await post_whatsapp(app_client, body)).status == 503
    finally:
        await pg_admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    assert (await post_whatsapp(app_client, body)).status == 200
    assert [r["message"] for r in await interactions(app_client)] == ["banco fora"]


async def test_each_message_says_when_whatsapp_stops_taking_a_written_answer(app_client):
    """24 hours after the customer's latest message, whichever of theirs is read."""
    now = int(time.time())

    async def write(wamid: str, text: str, at: int) -> dict:
        message = whatsapp_text(wamid, text) | {"timestamp": str(at)}
        assert (await post_whatsapp(app_client, whatsapp_body([message]))).status == 200
        stored = next(r for r in await interactions(app_client) if r["external_id"] == wamid)
        response = await app_client.get(f"/api/v1/messages/{stored['id']}")
        assert response.status == 200
        return await response.json()

    def closes(message: dict) -> float:
        return datetime.fromisoformat(message["reply_window_closes_at"]).timestamp()

    first = await write("wamid.W1", "meu pedido nao chegou", now - 23 * 3600)
    assert closes(first) == now + 3600
    # She writes again: the window runs from her newest message, for the older one too.
    await write("wamid.W2", "alguem ai?", now - 600)
    response = await app_client.get(f"/api/v1/messages/{first['id']}")
    assert closes(await response.json()) == now - 600 + 24 * 3600
    # A message delivered late by the platform does not move it back.
    await write("wamid.W0", "oi", now - 30 * 3600)
    response = await app_client.get(f"/api/v1/messages/{first['id']}")
    assert closes(await response.json()) == now - 600 + 24 * 3600
    # Other channels have no such window.
    body = {"client_id": "5b1f0d3e-3c55-4c52-9a57-1d2b7e0f4a10", "message": "oi"}
    response = await app_client.post("/api/v1/messages/", json=body)
    assert (await response.json())["reply_window_closes_at"] is None
