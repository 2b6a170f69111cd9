"""`atende telegram set-webhook` and `atende telegram poll`, against the fake Bot API."""

from __future__ import annotations

import pytest

from config.errors import ConfigurationError
from gateway.cli.telegram import poll_once, set_webhooks
from gateway.http import keys
from tests.connectors.conftest import BOT_SECRET, interactions, telegram_text_update


async def test_set_webhook_registers_url_secret_and_update_kinds(channel_settings, fake_telegram):
    urls = await set_webhooks(channel_settings, "https://atende.example.com/", None)
    assert urls == ["https://atende.example.com/webhooks/telegram/support"]
    [params] = [p for method, p in fake_telegram.calls if method == "setWebhook"]
    assert params["url"] == urls[0]
    assert params["secret_token"] == BOT_SECRET
    assert set(params["allowed_updates"]) == {
        "message",
        "edited_message",
        "channel_post",
        "edited_channel_post",
        "callback_query",
    }
    with pytest.raises(ConfigurationError, match="nobody"):
        await set_webhooks(channel_settings, "https://atende.example.com", "nobody")


async def test_polling_stores_updates_through_the_same_pipeline(app_client, fake_telegram):
    connector = app_client.app[keys.CONNECTORS].get("telegram", "support")
    inbound = app_client.app[keys.INBOUND]
    fake_telegram.updates = [
        telegram_text_update(41, 1, "primeira por polling"),
        telegram_text_update(42, 2, "segunda por polling"),
    ]
    offset = await poll_once(connector, inbound, 0, wait_seconds=0)
    assert offset == 43
    # The same batch again (as after a crash before the offset was saved) adds nothing.
    assert await poll_once(connector, inbound, 0, wait_seconds=0) == 43
    assert await poll_once(connector, inbound, offset, wait_seconds=0) == 43
    rows = await interactions(app_client)
    assert [(r["message"], r["update_key"]) for r in rows] == [
        ("primeira por polling", "41"),
        ("segunda por polling", "42"),
    ]
