"""Approved answers out to Telegram, WhatsApp and REST callbacks, against loopback fakes."""

from __future__ import annotations

import asyncio
import json

from aiohttp import web

from connectors.signing import signature_header
from gateway.http import keys
from tests.connectors.conftest import (
    CALLBACK_SECRET,
    deliveries,
    interactions,
    post_telegram,
    post_whatsapp,
    sql,
    telegram_text_update,
    whatsapp_body,
    whatsapp_text,
)

API = "/api/v1"


async def approve(client, interaction_id: int, answer: str = "Segue a segunda via.") -> dict:
    response = await client.put(
        f"{API}/messages/{interaction_id}",
        json={"answer": answer, "operator_name": "Ana", "validated_by": "human"},
    )
    assert response.status == 200, await response.text()
    return await response.json()


async def drain(client) -> int:
    return await client.app[keys.DELIVERY_WORKER].drain()


async def make_due(client) -> None:
    """Let time pass for the queue: every waiting retry becomes due now."""
    await sql(client, "UPDATE deliveries SET next_attempt_at = now() WHERE status = 'pending'")


def telegram_sends(fake_telegram) -> list[str]:
    """The text of every sendMessage the fake received, whatever it answered."""
    return [params["text"] for method, params in fake_telegram.calls if method == "sendMessage"]


async def telegram_interaction(
    client, update_id: int = 1, text: str = "segunda via?", user_id: int = 4242
) -> int:
    update = telegram_text_update(update_id, 100 + update_id, text, user_id=user_id)
    await post_telegram(client, update)
    return (await interactions(client))[-1]["id"]


async def whatsapp_interaction(client, wamid: str = "wamid.in1") -> int:
    await post_whatsapp(client, whatsapp_body([whatsapp_text(wamid, "oi")]))
    return (await interactions(client))[-1]["id"]


async def test_human_approval_is_sent_on_telegram_and_shown_in_the_message(
    app_client, fake_telegram
):
    interaction_id = await telegram_interaction(app_client)
    approved = await approve(app_client, interaction_id)
    assert approved["delivery"]["status"] == "pending"
    assert await drain(app_client) == 1
    assert fake_telegram.sent == [
        {"chat_id": "4242", "text": "Segue a segunda via.", "message_id": 500}
    ]
    body = await (await app_client.get(f"{API}/messages/{interaction_id}")).json()
    assert body["delivery"]["status"] == "sent"
    assert body["delivery"]["parts"][0]["platform_message_id"] == "500"


async def test_approving_again_or_at_once_sends_once_and_a_new_answer_is_sent(
    app_client, fake_telegram
):
    interaction_id = await telegram_interaction(app_client)
    await asyncio.gather(*(approve(app_client, interaction_id) for _ in range(5)))
    await approve(app_client, interaction_id)
    await drain(app_client)
    assert len(fake_telegram.sent) == 1
    await approve(app_client, interaction_id, "Correção: o boleto vence amanhã.")
    await drain(app_client)
    assert [s["text"] for s in fake_telegram.sent] == [
        "Segue a segunda via.",
        "Correção: o boleto vence amanhã.",
    ]


async def test_nothing_is_sent_without_human_validation(app_client, fake_telegram):
    interaction_id = await telegram_interaction(app_client)
    await app_client.put(f"{API}/messages/{interaction_id}", json={"answer": "rascunho"})
    await app_client.put(f"{API}/messages/{interaction_id}", json={"validated_by": "ai"})
    assert await drain(app_client) == 0
    assert fake_telegram.sent == []


async def test_server_errors_are_retried_with_backoff(app_client, fake_telegram):
    interaction_id = await telegram_interaction(app_client)
    await approve(app_client, interaction_id)
    fake_telegram.fail_next(502, "Bad Gateway")
    await drain(app_client)
    [row] = await deliveries(app_client)
    assert (row["status"], row["attempts"], row["last_error_code"]) == (
        "pending",
        1,
        "network_error",
    )
    assert row["next_attempt_at"] > row["updated_at"]  # waits before the next try
    assert await drain(app_client) == 0  # not due yet
    await make_due(app_client)
    await drain(app_client)
    [row] = await deliveries(app_client)
    assert (row["status"], row["attempts"]) == ("sent", 2)
    assert len(fake_telegram.sent) == 1
    await make_due(app_client)
    assert await drain(app_client) == 0
    # One request refused, one accepted, and never a third.
    assert telegram_sends(fake_telegram) == ["Segue a segunda via."] * 2


async def test_telegram_retry_after_is_honoured(app_client, fake_telegram):
    interaction_id = await telegram_interaction(app_client)
    await approve(app_client, interaction_id)
    fake_telegram.fail_next(429, "Too Many Requests: retry after 37", retry_after=37)
    await drain(app_client)
    [wait] = await sql(
        app_client,
        "SELECT extract(epoch FROM next_attempt_at - updated_at) AS s, last_error_code "
        "FROM deliveries",
    )
    assert float(wait["s"]) == 37
    assert wait["last_error_code"] == "rate_limited"
    assert await drain(app_client) == 0  # nothing is tried before the platform's wait
    await make_due(app_client)
    assert await drain(app_client) == 1
    await make_due(app_client)
    assert await drain(app_client) == 0
    [row] = await deliveries(app_client)
    assert (row["status"], row["attempts"]) == ("sent", 2)
    assert telegram_sends(fake_telegram) == ["Segue a segunda via."] * 2
    assert len(fake_telegram.sent) == 1


async def test_blocked_bot_fails_permanently_with_the_reason(app_client, fake_telegram):
    interaction_id = await telegram_interaction(app_client)
    await approve(app_client, interaction_id)
    fake_telegram.fail_next(403, "Forbidden: bot was blocked by the user")
    await drain(app_client)
    await make_due(app_client)
    assert await drain(app_client) == 0
    body = await (await app_client.get(f"{API}/messages/{interaction_id}")).json()
    [part] = body["delivery"]["parts"]
    assert body["delivery"]["status"] == "failed"
    assert part["error_code"] == "forbidden"
    assert "blocked" in part["error_reason"]
    assert part["attempts"] == 1


async def test_retries_stop_after_the_configured_attempts(app_client, fake_telegram):
    from gateway.http.channels import build_delivery_worker

    app = app_client.app
    settings = app[keys.SETTINGS].model_copy(update={"delivery_max_attempts": 3})
    _, worker = build_delivery_worker(settings, app[keys.SESSIONS], app[keys.CONNECTORS])
    interaction_id = await telegram_interaction(app_client)
    await approve(app_client, interaction_id)
    for _ in range(3):
        fake_telegram.fail_next(500, "Internal Server Error")
    for _ in range(4):
        await worker.drain()
        await make_due(app_client)
    [row] = await deliveries(app_client)
    assert (row["status"], row["attempts"], row["last_error_code"]) == (
        "failed",
        3,
        "retries_exhausted",
    )
    assert fake_telegram.sent == []
    assert len(telegram_sends(fake_telegram)) == 3  # exactly the configured attempts


async def test_long_answer_is_split_in_order(app_client, fake_telegram):
    interaction_id = await telegram_interaction(app_client)
    sentences = [f"Frase número {i} da resposta, com algum conteúdo." for i in range(200)]
    answer = " ".join(sentences)
    assert len(answer) > 8192
    await approve(app_client, interaction_id, answer)
    while await drain(app_client):
        pass
    texts = [s["text"] for s in fake_telegram.sent]
    assert len(texts) == 3
    assert all(len(t) <= 4096 for t in texts)
    assert "".join(texts) == answer
    assert all(t.rstrip().endswith(".") for t in texts)  # cut after a sentence
    body = await (await app_client.get(f"{API}/messages/{interaction_id}")).json()
    assert [p["part"] for p in body["delivery"]["parts"]] == [1, 2, 3]
    assert body["delivery"]["status"] == "sent"


async def test_two_workers_send_each_answer_exactly_once(app_client, fake_telegram):
    from gateway.services.delivery import DeliveryWorker
    from storage.database import create_engine, session_factory
    from storage.deliveries import DeliveryRepository

    app = app_client.app
    # Different chats, so Telegram's one-message-a-second-per-chat pace does not apply.
    ids = [
        await telegram_interaction(app_client, i, f"pergunta {i}", user_id=9000 + i)
        for i in range(1, 13)
    ]
    await asyncio.gather(*(approve(app_client, i, f"resposta {i}") for i in ids))
    # The second worker has its own engine and connections, as another process would.
    engine = create_engine(app[keys.SETTINGS].async_database_url or "")
    try:
        workers = [
            DeliveryWorker(DeliveryRepository(sessions), app[keys.CONNECTORS], app[keys.OUTBOX],
                           batch_size=2)
            for sessions in (app[keys.SESSIONS], session_factory(engine))
        ]  # fmt: skip
        counts = await asyncio.gather(*(w.drain() for w in workers * 3))
    finally:
        await engine.dispose()
    assert sum(counts) == 12
    assert sorted(s["text"] for s in fake_telegram.sent) == sorted(f"resposta {i}" for i in ids)
    assert {r["status"] for r in await deliveries(app_client)} == {"sent"}
    assert {r["attempts"] for r in await deliveries(app_client)} == {1}


async def test_whatsapp_send_and_statuses_never_move_backwards(app_client, fake_whatsapp):
    interaction_id = await whatsapp_interaction(app_client)
    await approve(app_client, interaction_id)
    await drain(app_client)
    [sent] = fake_whatsapp.sent
    assert (sent["to"], sent["text"]) == ("5511999990000", "Segue a segunda via.")

    def status(value: str) -> dict:
        return {"id": sent["id"], "status": value, "timestamp": "1", "recipient_id": sent["to"]}

    seen = []
    for value in ("delivered", "sent", "read", "delivered", "failed"):
        response = await post_whatsapp(app_client, whatsapp_body(statuses=[status(value)]))
        assert response.status == 200
        body = await (await app_client.get(f"{API}/messages/{interaction_id}")).json()
        seen.append(body["delivery"]["status"])
    assert seen == ["delivered", "delivered", "read", "read", "read"]
    # A status body posted twice changes nothing and is acknowledged.
    response = await post_whatsapp(app_client, whatsapp_body(statuses=[status("read")]))
    assert (await response.json())["statuses"] == 0


async def test_whatsapp_failed_status_records_the_error(app_client, fake_whatsapp):
    interaction_id = await whatsapp_interaction(app_client)
    await approve(app_client, interaction_id)
    await drain(app_client)
    failed = {
        "id": fake_whatsapp.sent[0]["id"],
        "status": "failed",
        "timestamp": "1",
        "recipient_id": "5511999990000",
        "errors": [{"code": 131047, "title": "Re-engagement message",
                    "error_data": {"details": "more than 24 hours"}}],
    }  # fmt: skip
    await post_whatsapp(app_client, whatsapp_body(statuses=[failed]))
    body = await (await app_client.get(f"{API}/messages/{interaction_id}")).json()
    part = body["delivery"]["parts"][0]
    assert (body["delivery"]["status"], part["error_code"]) == ("failed", "131047")
    assert part["error_reason"] == "more than 24 hours"
    # A failure the platform reports later is not a reason to send again.
    await make_due(app_client)
    assert await drain(app_client) == 0
    assert len(fake_whatsapp.received) == 1


async def test_whatsapp_outside_the_window_is_permanent_and_rate_limits_wait(
    app_client, fake_whatsapp
):
    first = await whatsapp_interaction(app_client, "wamid.a")
    second = await whatsapp_interaction(app_client, "wamid.b")
    fake_whatsapp.fail_next(400, 131047, "Re-engagement message", "outside the 24h window")
    await approve(app_client, first)
    await drain(app_client)
    fake_whatsapp.fail_next(400, 130429, "Rate limit hit")
    await approve(app_client, second, "Resposta dois.")
    await drain(app_client)
    rows = {r["interaction_id"]: r for r in await deliveries(app_client)}
    assert rows[first]["status"] == "failed"
    assert rows[first]["last_error_code"] == "whatsapp_131047"
    assert "24h" in rows[first]["last_error_reason"]
    assert rows[second]["status"] == "pending"
    assert rows[second]["last_error_code"] == "whatsapp_130429"
    await make_due(app_client)
    await drain(app_client)
    assert [s["text"] for s in fake_whatsapp.sent] == ["Resposta dois."]
    await make_due(app_client)
    assert await drain(app_client) == 0
    # 131047 is never tried again; the rate-limited one once more, then never again.
    to = "5511999990000"
    assert fake_whatsapp.received == [
        (to, "Segue a segunda via."),
        (to, "Resposta dois."),
        (to, "Resposta dois."),
    ]


async def test_rest_callback_is_signed_and_retried(app_client, aiohttp_server):
    received: list[tuple[bytes, dict]] = []
    answers = [500, 200]

    async def callback(request: web.Request) -> web.Response:
        received.append((await request.read(), dict(request.headers)))
        return web.Response(status=answers.pop(0))

    app = web.Application()
    app.router.add_post("/hook", callback)
    server = await aiohttp_server(app)
    response = await app_client.post(
        f"{API}/messages/",
        json={
            "client_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7",
            "sector": "financeiro",
            "message": "Meu boleto?",
            "callback_url": str(server.make_url("/hook")),
        },
    )
    created = await response.json()
    await approve(app_client, created["id"])
    await drain(app_client)
    await make_due(app_client)
    await drain(app_client)
    assert len(received) == 2
    raw, headers = received[1]
    assert headers["X-Atende-Signature"] == signature_header(CALLBACK_SECRET, raw)
    assert received[0][1]["X-Atende-Delivery"] == headers["X-Atende-Delivery"]
    payload = json.loads(raw)
    assert payload["event"] == "answer.approved"
    assert payload["message_id"] == created["id"]
    assert payload["answer"] == "Segue a segunda via."
    body = await (await app_client.get(f"{API}/messages/{created['id']}")).json()
    assert body["delivery"]["status"] == "sent"


async def test_rest_message_without_callback_sends_nothing(app_client):
    response = await app_client.post(
        f"{API}/messages/",
        json={"client_id": "7c9e6679-7425-40de-944b-e07fc1f90ae7", "message": "sem retorno"},
    )
    created = await response.json()
    approved = await approve(app_client, created["id"])
    assert approved["delivery"] is None
    assert await deliveries(app_client) == []


async def test_operator_approval_sends_through_the_same_outbox(app_client, fake_telegram):
    interaction_id = await telegram_interaction(app_client)
    response = await app_client.post(
        f"{API}/operator/messages/{interaction_id}/approve",
        json={"answer": "Aprovado pelo operador.", "operator_name": "Bia"},
    )
    assert response.status == 200, await response.text()
    await drain(app_client)
    assert [s["text"] for s in fake_telegram.sent] == ["Aprovado pelo operador."]
