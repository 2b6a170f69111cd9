"""The common Telegram update, read straight from its JSON.

Nearly every update a support bot receives is a new text message from a person. Building
python-telegram-bot's object tree for it cost more CPU than storing it, so this reads the
few fields atende keeps and gives exactly what `normalise_update(parse_update(...))`
gives for the same update (tests/connectors/test_telegram_plain.py holds the two to that
over every sample update). Anything else - edits, media, channel posts, callback queries,
a field of an unexpected type - gets None here and goes through python-telegram-bot.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from connectors.base import Inbound, InboundMessage
from connectors.telegram.normalise import external_id, is_int


def plain_text_message(payload: Any) -> Inbound | None:
    """The Inbound of a plain text message update; None for every other update."""
    if type(payload) is not dict or len(payload) != 2 or not is_int(payload.get("update_id")):
        return None
    message = payload.get("message")
    if type(message) is not dict:
        return None
    text, chat, sender = message.get("text"), message.get("chat"), message.get("from")
    if (
        type(text) is not str
        or not text.strip()
        or type(chat) is not dict
        or type(sender) is not dict
        or not is_int(chat.get("id"))
        or not is_int(sender.get("id"))
        or not is_int(message.get("message_id"))
        or not is_int(message.get("date"))
    ):
        return None
    first, last = sender.get("first_name"), sender.get("last_name")
    if type(first) is not str or not first or (last is not None and type(last) is not str):
        return None
    try:
        sent_at = datetime.fromtimestamp(message["date"], UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return Inbound(
        messages=[
            InboundMessage(
                external_id=external_id(chat["id"], message["message_id"], None),
                update_key=str(payload["update_id"]),
                user_id=str(sender["id"]),
                profile_name=f"{first} {last}" if last else first,
                reply_to=str(chat["id"]),
                message_type="text",
                text=text,
                sent_at=sent_at,
            )
        ]
    )
