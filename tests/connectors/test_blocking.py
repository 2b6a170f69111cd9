"""Blocking a customer over the REST API, against the real database: their waiting
messages close, the ones they send next arrive closed (stored and acknowledged as ever,
never queued), blocking twice keeps the first block, unblocking lets their next messages
wait again, and what is not a Telegram or WhatsApp customer is a clear error."""

from __future__ import annotations

import uuid

from tests.conftest import bearer, issue_key
from tests.connectors.conftest import (
    interactions,
    post_telegram,
    send_telegram_texts,
    telegram_text_update,
)
from tests.routing_helpers import API, post


async def messages_of(client) -> dict[str, dict]:
    """Every message as the API shows it, by its text."""
    shown = {}
    for row in await interactions(client):
        response = await client.get(f"{API}/messages/{row['id']}")
        assert response.status == 200
        shown[row["message"]] = await response.json()
    return shown


async def queued(client) -> list[str]:
    response = await client.get(f"{API}/operator/queue", params={"per_page": "100"})
    return [m["message"] for m in (await response.json())["items"]]


async def test_a_blocked_customers_messages_are_kept_but_never_wait(app_client, channel_settings):
    client = app_client
    texts = [("PROMO imperdível 1", 7777, "Promo"), ("PROMO 2", 7777, "Promo")]
    await send_telegram_texts(client, [*texts, ("oi", 4242, "Maria")])
    spammer = (await messages_of(client))["PROMO 2"]
    maria = (await messages_of(client))["oi"]["client_id"]
    key = bearer(await issue_key(channel_settings.async_database_url or "", "operator", "bia"))
    take = {"operator_name": "Ana"}
    response = await client.post(f"{API}/operator/messages/{spammer['id']}/take", json=take)
    assert response.status == 200
    url = f"{API}/operator/clients/{spammer['client_id']}"

    response = await client.get(url, headers=key)
    assert response.status == 200, await response.text()
    assert {k: v for k, v in (await response.json()).items() if k != "last_message_at"} == {
        "client_id": spammer["client_id"],
        "channel": "telegram",
        "name": "Promo",
        "blocked_at": None,
        "blocked_by": None,
    }

    response = await client.put(f"{url}/block", json={"operator_name": "Bia"}, headers=key)
    assert response.status == 200, await response.text()
    blocked = await response.json()
    assert blocked["blocked_by"] == "Bia"
    assert blocked["blocked_at"] is not None
    stored = await messages_of(client)
    promos = [stored["PROMO imperdível 1"]["id"], stored["PROMO 2"]["id"]]
    # Both of theirs that waited are closed, the one Ana held too; Maria's waits on.
    assert blocked["closed_messages"] == promos
    for text in ("PROMO imperdível 1", "PROMO 2"):
        closed = stored[text]
        assert (closed["close_reason"], closed["closed_by"], closed["assigned_to"]) == (
            "blocked",
            "Bia",
            None,
        )
    assert await queued(client) == ["oi"]

    # What they send next is stored and acknowledged, and arrives closed.
    update = telegram_text_update(50, 60, "PROMO 3 clique aqui", user_id=7777, name="Promo")
    assert (await post_telegram(client, update)).status == 200
    third = (await messages_of(client))["PROMO 3 clique aqui"]
    assert (third["close_reason"], third["closed_by"]) == ("blocked", "Bia")
    assert third["closed_at"] is not None
    assert await queued(client) == ["oi"]

    # Blocking again keeps the first block and closes nothing more.
    response = await client.put(f"{url}/block", json={"operator_name": "Caio"}, headers=key)
    again = await response.json()
    assert (again["blocked_at"], again["blocked_by"], again["closed_messages"]) == (
        blocked["blocked_at"],
        "Bia",
        [],
    )
    # Only a block closes a message as blocked.
    response = await client.post(
        f"{API}/operator/messages/{stored['oi']['id']}/close", json={"reason": "blocked"}
    )
    assert response.status == 422

    response = await client.get(f"{API}/analytics")
    assert (await response.json())["closed"]["blocked"] == 3

    # Unblocked: their next message waits; those closed stay closed, and can be reopened.
    response = await client.request("DELETE", f"{url}/block", headers=key)
    assert response.status == 200, await response.text()
    assert (await response.json())["blocked_at"] is None
    update = telegram_text_update(51, 61, "desculpa, preciso de ajuda", user_id=7777, name="Promo")
    assert (await post_telegram(client, update)).status == 200
    assert await queued(client) == ["oi", "desculpa, preciso de ajuda"]
    response = await client.post(f"{API}/operator/messages/{promos[1]}/reopen")
    assert response.status == 200
    assert await queued(client) == ["PROMO 2", "oi", "desculpa, preciso de ajuda"]
    assert maria != spammer["client_id"]


async def test_what_is_not_a_channel_customer_is_a_clear_error(app_client):
    client = app_client
    rest = await post(client, "mensagem de um integrador")
    for path in (f"{rest['client_id']}", f"{uuid.uuid4()}"):
        for method, suffix in (("GET", ""), ("PUT", "/block"), ("DELETE", "/block")):
            response = await client.request(method, f"{API}/operator/clients/{path}{suffix}")
            assert response.status == 404, await response.text()
            assert "no Telegram or WhatsApp customer" in (await response.json())["error"]["message"]
    response = await client.get(f"{API}/operator/clients/not-a-uuid")
    assert response.status == 422
