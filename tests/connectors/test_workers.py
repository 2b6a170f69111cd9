"""The channels' background work as `atende serve` and `atende worker` run it."""

from __future__ import annotations

import asyncio

from gateway.http import keys
from tests.conftest import wait_until_embedded
from tests.connectors.conftest import (
    interactions,
    post_telegram,
    post_whatsapp,
    start_app,
    telegram_text_update,
    whatsapp_body,
    whatsapp_text,
)


async def eventually(check, within: float = 20.0):
    """Poll `check` until it returns something truthy."""
    deadline = asyncio.get_running_loop().time() + within
    while not (result := await check()):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not done within {within}s")
        await asyncio.sleep(0.05)
    return result


async def test_serve_embeds_inbound_messages_and_sends_approved_answers(
    channel_settings, aiohttp_client, fake_whatsapp
):

    settings = channel_settings.model_copy(update={"run_worker": True})
    client = await start_app(aiohttp_client, settings)
    await post_whatsapp(client, whatsapp_body([whatsapp_text("wamid.w1", "Quero a fatura")]))
    [row] = await interactions(client)
    # The same pipeline as REST-created messages: the embedding worker picks it up.
    await wait_until_embedded(client, row["id"])
    response = await client.put(
        f"/api/v1/messages/{row['id']}",
        json={"answer": "Enviamos a fatura por e-mail.", "validated_by": "human"},
    )
    assert response.status == 200

    async def sent():
        body = await (await client.get(f"/api/v1/messages/{row['id']}")).json()
        return body["delivery"]["status"] == "sent" and body

    body = await eventually(sent)
    assert body["delivery"]["parts"][0]["platform_message_id"] == fake_whatsapp.sent[0]["id"]
    assert [s["text"] for s in fake_whatsapp.sent] == ["Enviamos a fatura por e-mail."]


async def test_a_worker_process_sends_beside_the_gateway(app_client, fake_telegram):
    from gateway.http.channels import running_delivery_worker

    app = app_client.app
    await post_telegram(app_client, telegram_text_update(1, 10, "oi"))
    [row] = await interactions(app_client)
    await app_client.put(
        f"/api/v1/messages/{row['id']}", json={"answer": "Olá!", "validated_by": "human"}
    )
    async with running_delivery_worker(app[keys.SETTINGS], app[keys.SESSIONS]):

        async def sent():
            return fake_telegram.sent

        assert [s["text"] for s in await eventually(sent)] == ["Olá!"]
