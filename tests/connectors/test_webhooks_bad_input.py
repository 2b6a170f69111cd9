"""Webhook bodies the fuzzers once broke the gateway with, each kept as a plain example:
NUL and lone surrogates, fields of the wrong type, dates past what Python holds, deep
nesting, JSON the decoder refuses. Each must be stored cleaned, ignored, or refused with a
4xx, never a 5xx (the properties themselves are in tests/test_fuzz_webhooks.py)."""

from __future__ import annotations

import json

import pytest

from tests.connectors.conftest import (
    interactions,
    post_telegram,
    post_whatsapp,
    sql,
    telegram_text_update,
    whatsapp_body,
    whatsapp_text,
)
from tests.test_fuzz_webhooks import Deep, encode


async def test_telegram_text_with_nul_and_lone_surrogate_is_stored_cleaned(app_client):
    # PostgreSQL refused the NUL: a 500, and Telegram would have retried it for a day.
    update = telegram_text_update(1, 10, "oi\x00 tudo \ud800bem")
    update["message"]["from"]["first_name"] = "Ma\x00ria"
    response = await post_telegram(app_client, json.dumps(update).encode())
    assert response.status == 200, await response.text()
    assert (await response.json())["stored"] == 1
    [row] = await interactions(app_client)
    assert row["message"] == "oi tudo \ufffdbem"
    [customer] = await sql(app_client, "SELECT profile_name FROM customers")
    assert customer["profile_name"] == "Maria"


async def test_telegram_text_of_nothing_but_nul_keeps_a_description(app_client):
    response = await post_telegram(
        app_client, json.dumps(telegram_text_update(1, 10, "\x00\x00")).encode()
    )
    assert (await response.json())["stored"] == 1
    assert [r["message"] for r in await interactions(app_client)] == ["[text]"]


async def test_telegram_fields_of_the_wrong_type(app_client):
    # python-telegram-bot checks no type: a number as text, or no chat at all, reached
    # atende's normalisation and raised there (a 500).
    number_text = telegram_text_update(1, 10, "x")
    number_text["message"]["text"] = 12345
    no_chat = telegram_text_update(2, 11, "oi")
    del no_chat["message"]["chat"]
    for update, stored in ((number_text, 1), (no_chat, 0)):
        response = await post_telegram(app_client, json.dumps(update).encode())
        assert response.status == 200, await response.text()
        assert (await response.json())["stored"] == stored
    assert [r["message"] for r in await interactions(app_client)] == ["[text]"]


async def test_telegram_date_beyond_datetime_and_deep_nesting(app_client):
    # datetime raised OSError/OverflowError, and _tolerant RecursionError, neither of which
    # the connector caught.
    far = telegram_text_update(1, 10, "oi")
    far["message"]["date"] = 10**30
    response = await post_telegram(app_client, json.dumps(far).encode())
    assert (await response.json())["stored"] == 1
    deep = telegram_text_update(2, 11, "fundo")
    deep["message"]["reply_markup"] = Deep(600, 1)
    response = await post_telegram(app_client, encode(deep))
    assert response.status == 200, await response.text()
    assert (await response.json())["stored"] == 1
    assert [r["message"] for r in await interactions(app_client)] == ["oi", "fundo"]


async def test_whatsapp_fields_of_the_wrong_type_and_nul(app_client):
    # A number where Meta sends text made str.join raise (location, contacts) or reached
    # PostgreSQL as a profile name or an error reason; a NUL failed the insert.
    location = {**whatsapp_text("wamid.L", "x"), "type": "location"}
    location["location"] = {"latitude": 1.5, "longitude": 2, "name": 7, "address": "Rua A"}
    contacts = {**whatsapp_text("wamid.C", "x"), "type": "contacts"}
    contacts["contacts"] = [{"name": {"formatted_name": 3}, "phones": [{"phone": 55}, {}]}]
    nul = whatsapp_text("wamid.N\x00", "boa\x00 noite")
    body = whatsapp_body(
        [location, contacts, nul],
        [{"id": "wamid.out", "status": "failed", "errors": [{"code": 1, "message": {"a": 1}}]}],
    )
    body["entry"][0]["changes"][0]["value"]["contacts"] = [{"profile": {"name": 9}, "wa_id": "1"}]
    response = await post_whatsapp(app_client, body)
    assert response.status == 200, await response.text()
    assert (await response.json())["stored"] == 3
    rows = await interactions(app_client)
    assert [(r["external_id"], r["message"]) for r in rows] == [
        ("wamid.L", "[location] Rua A (1.5, 2)"),
        ("wamid.C", "[contacts]"),
        ("wamid.N", "boa noite"),
    ]


# json.loads raises these as RecursionError and ValueError, not JSONDecodeError: the
# webhook must still answer them as a bad body, not crash.
@pytest.mark.parametrize(
    "raw",
    [b"[" * 100_000 + b"]" * 100_000, b'{"update_id": ' + b"9" * 5000 + b"}"],
    ids=["deep", "long-integer"],
)
async def test_json_the_decoder_refuses_is_a_400(app_client, raw: bytes):
    telegram = await post_telegram(app_client, raw)
    whatsapp = await post_whatsapp(app_client, raw)
    assert (telegram.status, whatsapp.status) == (400, 400)
