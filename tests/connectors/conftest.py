"""The real app wired to loopback fakes of the Telegram Bot API and the WhatsApp Graph API.

The background workers are off in these tests: each test drives the delivery worker
itself (`drain`), so what was sent is decided by the code, not by timing.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import text

from config.settings import ConsoleLanguage, Settings
from connectors.signing import signature_header
from gateway.http import keys
from tests.conftest import bearer, issue_key, make_settings
from tests.fakes.telegram import FakeTelegram
from tests.fakes.whatsapp import FakeWhatsApp

BOT = "support"
BOT_TOKEN = "123456:TEST-token"
BOT_SECRET = "telegram-secret-token"
NUMBER = "main"
PHONE_NUMBER_ID = "1122334455667"  # what the shared fixtures name in their metadata
ACCESS_TOKEN = "wa-access-token"
APP_SECRET = "wa-app-secret"
VERIFY_TOKEN = "wa-verify-token"
CALLBACK_SECRET = "callback-secret"


@pytest.fixture
def fake_telegram() -> FakeTelegram:
    return FakeTelegram(tokens={BOT_TOKEN})


@pytest.fixture
def fake_whatsapp() -> FakeWhatsApp:
    return FakeWhatsApp(numbers={PHONE_NUMBER_ID: ACCESS_TOKEN})


@pytest.fixture
async def channel_settings(
    db_url: str, tmp_path, aiohttp_server, fake_telegram, fake_whatsapp
) -> Settings:
    telegram_server = await aiohttp_server(fake_telegram.app())
    whatsapp_server = await aiohttp_server(fake_whatsapp.app())
    return make_settings(
        db_url,
        run_worker=False,
        channels_file=tmp_path / "absent.yaml",
        telegram_bots=[{"name": BOT, "token": BOT_TOKEN, "secret_token": BOT_SECRET}],
        whatsapp_numbers=[
            {
                "name": NUMBER,
                "phone_number_id": PHONE_NUMBER_ID,
                "access_token": ACCESS_TOKEN,
                "app_secret": APP_SECRET,
                "verify_token": VERIFY_TOKEN,
            }
        ],
        telegram_api_url=str(telegram_server.make_url("")).rstrip("/"),
        whatsapp_graph_url=str(whatsapp_server.make_url("")).rstrip("/"),
        rest_callback_secret=CALLBACK_SECRET,
        delivery_timeout_seconds=5,
    )


async def start_app(aiohttp_client, settings: Settings):
    """The real app on loopback, its client speaking as an admin key."""
    from gateway.app import create_app

    key = await issue_key(settings.async_database_url or "")
    return await aiohttp_client(create_app(settings), headers=bearer(key))


@pytest.fixture
async def live_client(channel_settings, aiohttp_client):
    """The gateway with its workers running, as in `atende serve`: the pipeline routes and
    suggests, the delivery worker sends, the live feed tells the console's pages."""
    return await start_app(aiohttp_client, channel_settings.model_copy(update={"run_worker": True}))


@pytest.fixture
async def app_client(channel_settings: Settings, aiohttp_client):
    return await start_app(aiohttp_client, channel_settings)


async def post_telegram(
    client, update: dict[str, Any] | bytes, *, secret: str | None = BOT_SECRET, bot: str = BOT
):
    """POST an update to the bot's webhook; bytes are sent as they are, anything else as JSON."""
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    body = update if isinstance(update, bytes) else json.dumps(update)
    return await client.post(f"/webhooks/telegram/{bot}", data=body, headers=headers)


async def post_whatsapp(
    client, body: dict[str, Any] | bytes, *, secret: str | None = APP_SECRET, number: str = NUMBER
):
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if secret is not None:
        headers["X-Hub-Signature-256"] = signature_header(secret, raw)
    return await client.post(f"/webhooks/whatsapp/{number}", data=raw, headers=headers)


async def sql(client, statement: str, **params: Any) -> list[dict[str, Any]]:
    """Rows straight from the database the app uses."""
    async with client.app[keys.SESSIONS].begin() as session:
        result = await session.execute(text(statement), params)
        return [dict(row) for row in result.mappings()] if result.returns_rows else []


async def interactions(client) -> list[dict[str, Any]]:
    return await sql(
        client,
        "SELECT id, client_id, channel, channel_account, external_id, update_key, message, "
        "message_type, media, reply_to, sector FROM chat_interactions ORDER BY id",
    )


async def deliveries(client) -> list[dict[str, Any]]:
    return await sql(client, "SELECT * FROM deliveries ORDER BY id")


def telegram_text_update(
    update_id: int, message_id: int, text: str, *, user_id: int = 4242, name: str = "Maria"
) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": message_id,
            "from": {"id": user_id, "is_bot": False, "first_name": name},
            "chat": {"id": user_id, "type": "private", "first_name": name},
            "date": 1_700_000_000 + update_id,
            "text": text,
        },
    }


async def send_telegram_texts(client, texts: list[tuple[str, int, str]]) -> None:
    """Customers write to the bot, in order: (text, their user id, their first name)."""
    for update_id, (said, user_id, name) in enumerate(texts, start=1):
        update = telegram_text_update(update_id, 10 + update_id, said, user_id=user_id, name=name)
        assert (await post_telegram(client, update)).status == 200


def whatsapp_body(
    messages: list[dict[str, Any]] | None = None,
    statuses: list[dict[str, Any]] | None = None,
    *,
    name: str = "Joana",
    wa_id: str = "5511999990000",
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": "5511000000000", "phone_number_id": PHONE_NUMBER_ID},
    }
    if messages is not None:
        value["contacts"] = [{"profile": {"name": name}, "wa_id": wa_id}]
        value["messages"] = messages
    if statuses is not None:
        value["statuses"] = statuses
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": "WABA", "changes": [{"value": value, "field": "messages"}]}],
    }


def whatsapp_text(wamid: str, body: str, *, sender: str = "5511999990000") -> dict[str, Any]:
    return {
        "from": sender,
        "id": wamid,
        "timestamp": "1700000000",
        "type": "text",
        "text": {"body": body},
    }


@pytest.fixture
def english(db_url: str) -> Settings:
    """A gateway whose console speaks English."""
    return make_settings(db_url, console_language=ConsoleLanguage.EN)
