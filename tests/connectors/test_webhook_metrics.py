"""Webhook calls are counted by channel and outcome, and deliveries by state."""

from __future__ import annotations

from tests.connectors.conftest import (
    interactions,
    post_telegram,
    post_whatsapp,
    telegram_text_update,
    whatsapp_body,
    whatsapp_text,
)
from tests.test_operations import scrape, value

NAME = "atende_webhooks_total"


async def test_webhooks_are_counted_by_channel_and_outcome(app_client):
    assert (await post_telegram(app_client, telegram_text_update(1, 10, "oi"))).status == 200
    assert (
        await post_telegram(app_client, telegram_text_update(2, 11, "x"), secret="no")
    ).status == 403
    assert (
        await post_telegram(app_client, telegram_text_update(3, 12, "y"), secret=None)
    ).status == 401
    body = whatsapp_body([whatsapp_text("wamid.m1", "olá")])
    assert (await post_whatsapp(app_client, body)).status == 200
    assert (await post_whatsapp(app_client, b"not json")).status == 400

    samples = await scrape(app_client)
    assert value(samples, NAME, channel="telegram", outcome="accepted") == 1
    assert value(samples, NAME, channel="telegram", outcome="unauthenticated") == 2
    assert value(samples, NAME, channel="whatsapp", outcome="accepted") == 1
    assert value(samples, NAME, channel="whatsapp", outcome="rejected") == 1
    assert len(await interactions(app_client)) == 2

    # An approved answer queues one delivery part, pending until the worker sends it.
    [first, _] = await interactions(app_client)
    response = await app_client.post(
        f"/api/v1/operator/messages/{first['id']}/approve", json={"answer": "Olá!"}
    )
    assert response.status == 200, await response.text()
    samples = await scrape(app_client)
    assert value(samples, "atende_deliveries", state="pending") == 1
    assert value(samples, "atende_deliveries", state="sent") == 0
