"""POST /webhooks/telegram/{name}: secret token, normalisation, customers, duplicates, outage."""

from __future__ import annotations

import asyncio

from sqlalchemy.engine import make_url

from tests.connectors.conftest import (
    BOT_SECRET,
    interactions,
    post_telegram,
    sql,
    telegram_text_update,
)


async def test_missing_or_wrong_secret_is_refused_and_nothing_stored(app_client):
    update = telegram_text_update(1, 10, "oi")
    response = await post_telegram(app_client, update, secret=None)
    assert response.status == 401
    assert "X-Telegram-Bot-Api-Secret-Token" in (await response.json())["error"]["message"]
    response = await post_telegram(app_client, update, secret=BOT_SECRET + "x")
    assert response.status == 403
    assert (await response.json())["error"]["code"] == "forbidden"
    assert await interactions(app_client) == []


async def test_unknown_bot_is_a_json_404(app_client):
    response = await post_telegram(app_client, telegram_text_update(1, 10, "oi"), bot="nobody")
    assert response.status == 404
    body = await response.json()
    assert "nobody" in body["error"]["message"]
    assert "support" in body["error"]["message"]


async def test_text_message_is_stored_with_its_customer(app_client):
    response = await post_telegram(app_client, telegram_text_update(1, 10, "Meu boleto venceu"))
    assert response.status == 200
    assert (await response.json())["stored"] == 1
    [row] = await interactions(app_client)
    assert row["channel"] == "telegram"
    assert row["channel_account"] == "support"
    assert row["message"] == "Meu boleto venceu"
    assert row["message_type"] == "text"
    assert row["external_id"] == "m:4242:10"
    assert row["update_key"] == "1"
    assert row["reply_to"] == "4242"
    assert row["sector"] is None  # the router's to fill
    [customer] = await sql(app_client, "SELECT * FROM customers")
    assert customer["id"] == row["client_id"]
    assert (customer["channel_user_id"], customer["profile_name"]) == ("4242", "Maria")

    # The REST API shows it like any other message, in the customer's history.
    response = await app_client.get(f"/api/v1/messages/client/{row['client_id']}")
    page = await response.json()
    assert [item["message"] for item in page["items"]] == ["Meu boleto venceu"]
    assert page["items"][0]["channel"] == "telegram"
    assert page["items"][0]["customer_name"] == "Maria"


async def test_one_customer_keeps_one_client_id_and_the_latest_name(app_client):
    await post_telegram(app_client, telegram_text_update(1, 10, "primeira", name="Maria"))
    await post_telegram(app_client, telegram_text_update(2, 11, "segunda", name="Maria S."))
    await post_telegram(app_client, telegram_text_update(3, 1, "outra pessoa", user_id=77))
    rows = await interactions(app_client)
    assert rows[0]["client_id"] == rows[1]["client_id"] != rows[2]["client_id"]
    customers = await sql(
        app_client, "SELECT channel_user_id, profile_name FROM customers ORDER BY channel_user_id"
    )
    assert customers == [
        {"channel_user_id": "4242", "profile_name": "Maria S."},
        {"channel_user_id": "77", "profile_name": "Maria"},
    ]
    # Every message of a customer shows the name they last wrote with.
    response = await app_client.get(f"/api/v1/messages/client/{rows[0]['client_id']}")
    assert [m["customer_name"] for m in (await response.json())["items"]] == ["Maria S."] * 2


async def test_the_same_update_twice_stores_one_row(app_client):
    update = telegram_text_update(5, 50, "duplicado?")
    first = await post_telegram(app_client, update)
    second = await post_telegram(app_client, update)
    assert (first.status, second.status) == (200, 200)
    assert (await second.json())["duplicates"] == 1
    assert len(await interactions(app_client)) == 1


async def test_the_same_message_under_a_new_update_id_stores_one_row(app_client):
    await post_telegram(app_client, telegram_text_update(5, 50, "mesma mensagem"))
    await post_telegram(app_client, telegram_text_update(6, 50, "mesma mensagem"))
    assert len(await interactions(app_client)) == 1


async def test_concurrent_duplicates_store_one_row_and_one_customer(app_client):
    update = telegram_text_update(9, 90, "ao mesmo tempo")
    responses = await asyncio.gather(*(post_telegram(app_client, update) for _ in range(8)))
    assert [r.status for r in responses] == [200] * 8
    assert sum([(await r.json())["stored"] for r in responses]) == 1
    assert len(await interactions(app_client)) == 1
    assert len(await sql(app_client, "SELECT id FROM customers")) == 1


async def test_first_messages_of_one_customer_at_once_map_to_one_client(app_client):
    updates = [telegram_text_update(20 + i, 200 + i, f"msg {i}") for i in range(6)]
    await asyncio.gather(*(post_telegram(app_client, u) for u in updates))
    rows = await interactions(app_client)
    assert len(rows) == 6
    assert len({row["client_id"] for row in rows}) == 1


async def test_edited_message_is_a_new_interaction(app_client):
    original = telegram_text_update(1, 10, "valor erado")
    edited = {"update_id": 2, "edited_message": dict(original["message"])}
    edited["edited_message"] |= {"text": "valor errado", "edit_date": 1_700_000_100}
    await post_telegram(app_client, original)
    await post_telegram(app_client, edited)
    await post_telegram(app_client, edited)
    rows = await interactions(app_client)
    assert [(r["message"], r["external_id"]) for r in rows] == [
        ("valor erado", "m:4242:10"),
        ("valor errado", "e:4242:10:1700000100"),
    ]
    assert rows[0]["client_id"] == rows[1]["client_id"]


async def test_photo_caption_channel_post_and_callback_query(app_client):
    photo = {
        "update_id": 1,
        "message": {
            "message_id": 3,
            "from": {"id": 5, "is_bot": False, "first_name": "Rui"},
            "chat": {"id": 5, "type": "private"},
            "date": 1_700_000_000,
            "photo": [
                {"file_id": "small", "file_unique_id": "s", "width": 90, "height": 60},
                {"file_id": "big", "file_unique_id": "b", "width": 900, "height": 600},
            ],
            "caption": "  o comprovante  ",
        },
    }
    post = {
        "update_id": 2,
        "channel_post": {
            "message_id": 8,
            "sender_chat": {"id": -100123, "type": "channel", "title": "Avisos"},
            "chat": {"id": -100123, "type": "channel", "title": "Avisos"},
            "date": 1_700_000_000,
            "text": "post do canal",
        },
    }
    callback = {
        "update_id": 3,
        "callback_query": {
            "id": "cbq-1",
            "from": {"id": 5, "is_bot": False, "first_name": "Rui"},
            "chat_instance": "ci",
            "data": "segunda_via",
        },
    }
    for update in (photo, post, callback):
        assert (await post_telegram(app_client, update)).status == 200
    rows = await interactions(app_client)
    assert [(r["message_type"], r["message"]) for r in rows] == [
        ("photo", "  o comprovante  "),
        ("text", "post do canal"),
        ("callback_query", "segunda_via"),
    ]
    assert rows[0]["media"]["file_id"] == "big"
    assert rows[1]["reply_to"] == "-100123"
    assert rows[2]["external_id"] == "c:cbq-1"
    assert rows[2]["reply_to"] == "5"


async def test_updates_without_a_customer_message_are_acknowledged_not_stored(app_client):
    pinned = telegram_text_update(1, 10, "x")
    pinned["message"].pop("text")
    pinned["message"]["pinned_message"] = {
        "message_id": 9,
        "chat": {"id": 4242, "type": "private"},
        "date": 1_700_000_000,
        "text": "fixada",
    }
    for update in (pinned, {"update_id": 2, "some_future_kind": {"x": 1}}, {"hello": 1}):
        response = await post_telegram(app_client, update)
        assert response.status == 200
        assert (await response.json())["ignored"] == 1
    assert await interactions(app_client) == []


async def test_malformed_json_is_a_400(app_client):
    response = await app_client.post(
        "/webhooks/telegram/support",
        data=b"{nope",
        headers={"X-Telegram-Bot-Api-Secret-Token": BOT_SECRET},
    )
    assert response.status == 400
    assert (await response.json())["error"]["code"] == "bad_request"


async def test_database_down_answers_503_and_the_retry_is_stored(app_client, db_url, pg_admin):
    name = make_url(db_url).database
    await pg_admin(
        f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS false',
        f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'",
    )
    update = telegram_text_update(1, 10, "chegou com o banco fora")
    try:
        response = await post_telegram(app_client, update)
        assert response.status == 503
        assert (await response.json())["error"]["code"] == "service_unavailable"
    finally:
        await pg_admin(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true')
    response = await post_telegram(app_client, update)  # Telegram delivers it again
    assert response.status == 200
    assert [r["message"] for r in await interactions(app_client)] == ["chegou com o banco fora"]
