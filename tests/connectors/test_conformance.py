"""Every real payload in ../shared/fixtures through the webhooks (see its README).

Each sample must answer 2xx, store what its declared kind says (nothing for updates that
carry no customer message), keep text and captions word for word and media references,
apply statuses to the delivery they name, and add nothing when the same body comes
again. A sample nobody declared below fails the suite, so a new fixture gets a decision.

Telegram's `teloxide-objects/` are Message / CallbackQuery objects, not Updates: they are
wrapped here as `{"update_id": 1, "message": obj}` (`channel_post` for a channel's chat,
`callback_query` for a callback query); `telegram-types/inline_query.json` is not an
Update at all and is posted as it is.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import require_shared, shared_dir
from tests.connectors.conftest import interactions, post_telegram, post_whatsapp, sql

_T = "telegram-types/"
_O = "teloxide-objects/"
_U = "teloxide-updates/"
# The message_type each Telegram sample stores, or None when it carries no customer message.
TELEGRAM: dict[str, str | None] = {
    **{_T + n: "text" for n in ("edited_message", "forwarded_message", "message", "reply_message")},
    **{_T + f"message_with_{n}": n for n in ("audio", "document", "game", "location", "photo",
                                           "sticker", "video", "voice")},
    **{_T + n: None for n in ("inline_query", "message_with_invoice",
                              "message_with_successful_payment", "pre_checkout_query",
                              "shipping_query")},
    _O + "callback_query__deserialize": "callback_query",
    **{_O + f"message__{n}": "text" for n in ("de_text", "effect_id", "issue_419",
                                              "topic_message")},
    **{_O + f"message__{n}": "photo" for n in ("de_image", "parse_caption_entities",
                                               "show_caption_above_media")},
    _O + "message__de_media_forwarded": "video",
    _O + "message__de_media_group_forwarded": "video",
    _O + "message__de_sticker": "sticker",
    _O + "message__issue_481": "venue",
    **{_O + n: None for n in (
        "maybe_inaccessible_message__test_inaccessible_message",
        "maybe_inaccessible_message__test_regular_message", "message__chat_boost_added",
        "message__de_shared_chat", "message__empty_message", "message__gift_info",
        "message__giveaway", "message__giveaway_completed", "message__giveaway_created",
        "message__giveaway_winners", "message__issue_427", "message__issue_427_2",
        "message__issue_475", "message__issue_874", "message__paid_message_price_changed",
        "message__suggested_post_approval_failed", "message__suggested_post_approved",
        "message__suggested_post_declined", "message__suggested_post_paid",
        "message__suggested_post_refunded", "message__topic_created",
        "message__unique_gift_info")},
    **{_U + n: "text" for n in ("de_private_chat_text_message", "issue_1107_2", "message")},
    _U + "dice_works": "dice",
    _U + "issue_1107": "story",
    **{_U + n: None for n in ("chat_boost_removed", "chat_boost_updated", "issue_523",
                              "message_reaction_count_updated", "message_reaction_updated",
                              "message_reaction_updated_2", "new_update_kind_error",
                              "paid_media_purchased_de", "pinned_message_works")},
}  # fmt: skip

# WhatsApp samples, `file/sample`: the message_type stored, "status:<s>" for a status
# update, or None for a field or event that carries no customer message.
_IGNORED_FILES = ("account_update", "call_connect", "call_status", "call_terminate",
                  "outgoing_message", "system", "template_category_update",
                  "template_components_update", "template_quality_update",
                  "template_status_update", "user_marketing_preferences")  # fmt: skip
WHATSAPP_BY_SAMPLE: dict[str, str | None] = {
    "call_permission_update/accept": "call_permission_reply",
    "call_permission_update/reject": "call_permission_reply",
    "callback_button/button": "button_reply",
    "callback_button/quick_reply": "button",
    "callback_button/quick_reply_without_context": "button",
    "callback_selection/callback": "list_reply",
    "callback_selection/description": "list_reply",
    "deleted_message/revoke": None,
    "edited_message/image": "edit:image",
    "flow_completion/completion": "nfm_reply",
    "flow_completion/without_flow_token": "nfm_reply",
    **{f"message/{n}": "text" for n in ("text", "reply", "forwarded", "forwarded_many_times",
                                        "referral")},
    **{f"message/{n}": n for n in ("image", "video", "document", "audio", "voice", "contacts",
                                   "order")},
    "message/media_with_url": "image",
    "message/static_sticker": "sticker",
    "message/animated_sticker": "sticker",
    **{f"message/{n}": "reaction" for n in ("reaction", "unreaction_empty",
                                            "unreaction_no_emoji")},
    "message/current_location": "location",
    "message/chosen_location": "location",
    "message/unsupported": "unsupported",
    "message/unsupported_with_type": "unsupported",
    "message/interactive_message_with_err": "interactive",
    **{f"message_status/{n}": "status:sent" for n in ("sent", "with_tracker")},
    "message_status/delivered": "status:delivered",
    **{f"message_status/{n}": "status:read" for n in ("read", "played", "group")},
    "message_status/failed": "status:failed",
}  # fmt: skip


def _telegram_samples() -> list[str]:
    root = shared_dir() / "fixtures" / "telegram"
    return sorted(str(p.relative_to(root).with_suffix("")) for p in root.glob("*/*.json"))


def _whatsapp_samples() -> list[str]:
    root = shared_dir() / "fixtures" / "whatsapp"
    return [
        f"{path.stem}/{name}"
        for path in sorted(root.glob("*.json"))
        for name in json.loads(path.read_text())
    ]


def _wrap(obj: dict[str, Any]) -> dict[str, Any]:
    if "update_id" in obj:
        return obj
    if "message_id" in obj:
        kind = "channel_post" if obj.get("chat", {}).get("type") == "channel" else "message"
        return {"update_id": 1, kind: obj}
    if "chat_instance" in obj:
        return {"update_id": 1, "callback_query": obj}
    return obj


def _telegram_expected_text(update: dict[str, Any]) -> str | None:
    if "callback_query" in update:
        return update["callback_query"].get("data")
    message = next((v for k, v in update.items() if k != "update_id"), {})
    text = message.get("text") or message.get("caption")
    return text if isinstance(text, str) and text.strip() else None


@pytest.mark.parametrize("sample", _telegram_samples() or ["absent"])
async def test_telegram_fixture(app_client, sample):
    path = require_shared("fixtures", "telegram", f"{sample}.json")
    assert sample in TELEGRAM, f"{sample} is not declared in TELEGRAM: decide what it stores"
    update = _wrap(json.loads(path.read_text()))
    response = await post_telegram(app_client, update)
    assert response.status == 200, await response.text()
    rows = await interactions(app_client)
    expected = TELEGRAM[sample]
    assert [r["message_type"] for r in rows] == ([expected] if expected else [])
    if rows:
        text = _telegram_expected_text(update)
        if text is not None:
            assert rows[0]["message"] == text  # word for word
        message = next((v for k, v in update.items() if k != "update_id"), {})
        if expected in ("audio", "document", "photo", "sticker", "video", "voice"):
            media = message[expected]
            file_ids = [m["file_id"] for m in media] if expected == "photo" else [media["file_id"]]
            assert rows[0]["media"]["file_id"] in file_ids
    again = await post_telegram(app_client, update)
    assert again.status == 200
    assert await interactions(app_client) == rows


def _whatsapp_message_text(message: dict[str, Any]) -> str | None:
    kind = message.get("type")
    body = message.get(kind) if isinstance(message.get(kind), dict) else {}
    if kind == "text":
        return body.get("body")
    if kind == "interactive":
        reply = body.get(body.get("type"), {})
        return reply.get("title") if "description" not in reply else None
    if kind == "button":
        return body.get("text")
    return body.get("caption")


async def _sent_delivery(client, wamid: str) -> None:
    """A message atende sent earlier, that a status sample reports on."""
    [row] = await sql(
        client,
        "INSERT INTO chat_interactions (client_id, message, channel, channel_account, "
        "answer, validated_by) VALUES (gen_random_uuid(), 'pergunta', 'whatsapp', 'main', "
        "'resposta', 'human') RETURNING id",
    )
    await sql(
        client,
        "INSERT INTO deliveries (interaction_id, answer_hash, part, parts, channel, "
        "channel_account, recipient, body, status, platform_message_id) VALUES "
        "(:id, 'h', 1, 1, 'whatsapp', 'main', '972987654321', 'resposta', 'sent', :wamid)",
        id=row["id"],
        wamid=wamid,
    )


@pytest.mark.parametrize("sample", _whatsapp_samples() or ["absent"])
async def test_whatsapp_fixture(app_client, sample):
    file_name, _, name = sample.partition("/")
    path = require_shared("fixtures", "whatsapp", f"{file_name}.json")
    expected = None if file_name in _IGNORED_FILES else WHATSAPP_BY_SAMPLE.get(sample, "?")
    assert expected != "?", f"{sample} is not declared: decide what it stores"
    body = json.loads(path.read_text())[name]
    raw = json.dumps(body, ensure_ascii=False).encode()
    value = body["entry"][0]["changes"][0]["value"]
    if expected and expected.startswith("status:"):
        await _sent_delivery(app_client, value["statuses"][0]["id"])
    response = await post_whatsapp(app_client, raw)
    assert response.status == 200, await response.text()
    rows = await interactions(app_client)
    statuses = await sql(app_client, "SELECT status, last_error_code FROM deliveries")
    if expected is None:
        assert rows == []
    elif expected.startswith("status:"):
        assert [r["message"] for r in rows] == ["pergunta"]  # only the one sent earlier
        assert [s["status"] for s in statuses] == [expected.removeprefix("status:")]
        if expected == "status:failed":
            assert statuses[0]["last_error_code"] == str(value["statuses"][0]["errors"][0]["code"])
    else:
        [message] = value["messages"]
        assert [(r["message_type"], r["external_id"]) for r in rows] == [(expected, message["id"])]
        text = _whatsapp_message_text(message)
        if text:
            assert rows[0]["message"] == text  # word for word
        media = message.get(message["type"])
        if message["type"] in ("image", "video", "document", "audio", "sticker"):
            assert rows[0]["media"]["id"] == media["id"]
    again = await post_whatsapp(app_client, raw)
    assert again.status == 200
    assert await interactions(app_client) == rows
    assert await sql(app_client, "SELECT status, last_error_code FROM deliveries") == statuses
