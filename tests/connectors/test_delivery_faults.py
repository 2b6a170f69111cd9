"""Deliveries when things go wrong: a worker that dies mid-send, a platform whose answer
never comes or that cannot be reached. Counted at the fake platforms: never sent twice."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from aiohttp import web

from gateway.http import keys
from tests.connectors.conftest import deliveries, sql, start_app
from tests.connectors.test_delivery import (
    API,
    approve,
    drain,
    make_due,
    telegram_interaction,
    whatsapp_interaction,
)


async def test_a_send_interrupted_by_a_crash_is_failed_not_repeated(app_client, fake_telegram):
    from storage.deliveries import DeliveryRepository, Recovered

    interaction_id = await telegram_interaction(app_client)
    await approve(app_client, interaction_id)
    repository = DeliveryRepository(app_client.app[keys.SESSIONS])
    [claimed] = await repository.claim(10)  # a worker claims it, starts the send, then dies
    assert await repository.start_send(claimed)
    await sql(app_client, "UPDATE deliveries SET claimed_at = now() - interval '10 minutes'")
    assert await repository.recover(timedelta(minutes=5)) == Recovered(requeued=0, interrupted=1)
    assert await drain(app_client) == 0
    [row] = await deliveries(app_client)
    assert (row["id"], row["status"], row["last_error_code"]) == (
        claimed.id,
        "failed",
        "interrupted",
    )
    assert fake_telegram.sent == []


async def test_a_send_whose_answer_never_came_is_not_repeated(
    channel_settings, aiohttp_client, fake_whatsapp
):
    settings = channel_settings.model_copy(update={"delivery_timeout_seconds": 0.2})
    client = await start_app(aiohttp_client, settings)
    interaction_id = await whatsapp_interaction(client)
    await approve(client, interaction_id)
    fake_whatsapp.delays.append(2.0)  # the platform has it, but answers too late
    await drain(client)
    [row] = await deliveries(client)
    assert (row["status"], row["last_error_code"]) == ("failed", "unconfirmed")
    assert "never gets it twice" in row["last_error_reason"]
    await make_due(client)
    assert await drain(client) == 0
    assert len(fake_whatsapp.received) == 1


async def test_a_telegram_read_timeout_is_not_repeated(
    channel_settings, aiohttp_client, fake_telegram
):
    settings = channel_settings.model_copy(update={"delivery_timeout_seconds": 0.5})
    client = await start_app(aiohttp_client, settings)
    interaction_id = await telegram_interaction(client)
    await approve(client, interaction_id)
    fake_telegram.delays.append(3.0)  # longer than the timeout
    await drain(client)
    await make_due(client)
    assert await drain(client) == 0
    [row] = await deliveries(client)
    assert (row["status"], row["last_error_code"]) == ("failed", "unconfirmed")
    assert "timeout" in row["last_error_reason"]
    assert len([c for c in fake_telegram.calls if c[0] == "sendMessage"]) == 1


async def test_a_platform_that_cannot_be_reached_is_retried(
    channel_settings, aiohttp_client, fake_whatsapp, unused_tcp_port
):
    # Nothing listens there: no connection, so no request, so trying again is safe.
    closed = f"http://127.0.0.1:{unused_tcp_port}"
    settings = channel_settings.model_copy(update={"whatsapp_graph_url": closed})
    client = await start_app(aiohttp_client, settings)
    interaction_id = await whatsapp_interaction(client)
    await approve(client, interaction_id)
    await drain(client)
    [row] = await deliveries(client)
    assert (row["status"], row["last_error_code"]) == ("pending", "network_error")


async def test_rest_callbacks_are_retried_after_a_lost_answer(
    channel_settings, aiohttp_client, aiohttp_server
):
    calls: list[str] = []

    async def slow_then_ok(request: web.Request) -> web.Response:
        calls.append(request.headers["X-Atende-Delivery"])
        if len(calls) == 1:
            await asyncio.sleep(2.0)
        return web.json_response({"ok": True})

    receiver = web.Application()
    receiver.router.add_post("/hook", slow_then_ok)
    server = await aiohttp_server(receiver)
    settings = channel_settings.model_copy(update={"delivery_timeout_seconds": 0.3})
    client = await start_app(aiohttp_client, settings)
    created = await client.post(
        f"{API}/messages/",
        json={
            "client_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
            "message": "Meu boleto?",
            "callback_url": str(server.make_url("/hook")),
        },
    )
    assert created.status == 201, await created.text()
    await approve(client, (await created.json())["id"])
    await drain(client)
    await make_due(client)
    await drain(client)
    [row] = await deliveries(client)
    assert row["status"] == "sent"
    # The receiver saw one delivery id twice and can drop the repeat.
    assert len(calls) == 2
    assert calls[0] == calls[1]


async def test_whatsapp_server_errors_are_retried_and_sent_once(app_client, fake_whatsapp):
    interaction_id = await whatsapp_interaction(app_client)
    await approve(app_client, interaction_id)
    fake_whatsapp.fail_next(500, 1, "An unknown error occurred")
    await drain(app_client)
    [row] = await deliveries(app_client)
    assert (row["status"], row["last_error_code"]) == ("pending", "whatsapp_1")
    await make_due(app_client)
    await drain(app_client)
    await make_due(app_client)
    assert await drain(app_client) == 0
    [row] = await deliveries(app_client)
    assert (row["status"], row["attempts"]) == ("sent", 2)
    assert fake_whatsapp.received == [("5511999990000", "Segue a segunda via.")] * 2
    assert len(fake_whatsapp.sent) == 1


async def test_a_dead_workers_claims_are_taken_back_at_once(app_client, fake_telegram):
    from storage.deliveries import DeliveryRepository, Recovered

    repository = DeliveryRepository(app_client.app[keys.SESSIONS])
    ids = [await telegram_interaction(app_client, i, f"p{i}", user_id=7100 + i) for i in (1, 2, 3)]
    for i, interaction_id in enumerate(ids, start=1):
        await approve(app_client, interaction_id, f"resposta {i}")
    dead, alive = repository.lease(), repository.lease()
    dead_id, alive_id = await dead.ensure(), await alive.ensure()
    assert dead_id != alive_id
    [never_started] = await repository.claim(1, dead_id)
    [started] = await repository.claim(1, dead_id)
    assert await repository.start_send(started)  # the platform may have this one
    [alive_claim] = await repository.claim(1, alive_id)
    try:
        # Nothing is taken back while both workers live, however often it is asked.
        assert await repository.recover(timedelta(minutes=5)) == Recovered(0, 0)
        await dead.release()  # its worker dies: the lock goes with its connection
        assert await repository.recover(timedelta(minutes=5)) == Recovered(1, 1)
        # Had the dead worker lived on, it could no longer start the claim it lost.
        assert not await repository.start_send(never_started)
        assert await drain(app_client) == 1
        rows = {r["id"]: r for r in await deliveries(app_client)}
        assert (rows[never_started.id]["status"], rows[never_started.id]["attempts"]) == ("sent", 1)
        assert rows[started.id]["status"] == "failed"
        assert rows[started.id]["last_error_code"] == "interrupted"
        assert rows[alive_claim.id]["status"] == "sending"
        # Each text reached the fake once, and the started one not again.
        assert [s["text"] for s in fake_telegram.sent] == [never_started.body]
    finally:
        await alive.release()
    assert await repository.recover(timedelta(minutes=5)) == Recovered(1, 0)


async def test_a_failed_interrupted_part_fails_the_parts_after_it(app_client, fake_telegram):
    from storage.deliveries import DeliveryRepository, Recovered

    interaction_id = await telegram_interaction(app_client)
    answer = " ".join(f"Frase número {i} da resposta, com algum conteúdo." for i in range(100))
    await approve(app_client, interaction_id, answer)
    repository = DeliveryRepository(app_client.app[keys.SESSIONS])
    lease = repository.lease()
    [first] = await repository.claim(10, await lease.ensure())  # later parts wait for it
    assert await repository.start_send(first)
    await lease.release()
    assert await repository.recover(timedelta(minutes=5)) == Recovered(0, 1)
    assert await drain(app_client) == 0
    rows = await deliveries(app_client)
    assert [(r["part"], r["status"], r["last_error_code"]) for r in rows] == [
        (1, "failed", "interrupted"),
        (2, "failed", "earlier_part_failed"),
    ]
    assert fake_telegram.sent == []
