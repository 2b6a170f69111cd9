"""Telegram updates into atende's inbound types, parsed with python-telegram-bot.

Messages, edited messages, channel posts (and their edits) and callback queries become
interactions; service messages (pins, joins, boosts...) and other update kinds are
acknowledged as ignored. Ids:
- `external_id` = `m:<chat_id>:<message_id>` for a message: one row per message per chat,
  whichever update_id carries it;
- an edit is a NEW interaction, `e:<chat_id>:<message_id>:<edit_date>`: the customer
  said something new and operators should see it beside the original and its answer;
- a callback query is `c:<callback_query_id>`;
- `update_key` = the update_id, so a second update_id for the same message, or the
  same update_id again, both add nothing.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from telegram import CallbackQuery, Message, Update
from telegram.helpers import effective_message_type

from connectors.base import Inbound, InboundMessage

# What a customer can send that carries content, in the order it is looked for (a venue
# also has a location); everything else is a service message.
_MEDIA = ("animation", "audio", "document", "photo", "sticker", "video", "video_note", "voice")
_CONTENT = ("text", *_MEDIA, "venue", "location", "contact", "dice", "poll", "game", "story")
_MESSAGE_KINDS = ("message", "edited_message", "channel_post", "edited_channel_post")


def _tolerant(data: Any) -> Any:
    """Fill in fields python-telegram-bot requires but older Bot API versions did not send
    (file_unique_id before Bot API 4.5, a sticker's is_animated/is_video/type), so real
    updates from any era parse."""
    if isinstance(data, list):
        return [_tolerant(item) for item in data]
    if not isinstance(data, dict):
        return data
    fixed = {key: _tolerant(value) for key, value in data.items()}
    if "file_id" in fixed and "file_unique_id" not in fixed:
        fixed["file_unique_id"] = fixed["file_id"]
    if "file_id" in fixed and "emoji" in fixed and "width" in fixed:  # a sticker
        fixed.setdefault("is_animated", False)
        fixed.setdefault("is_video", False)
        fixed.setdefault("type", "regular")
    return fixed


def is_int(value: Any) -> bool:
    """A JSON integer (bool is an int subclass, and not one)."""
    return isinstance(value, int) and not isinstance(value, bool)


def parse_update(payload: Any) -> Update | None:
    """The update as python-telegram-bot reads it; None when it is no update at all.
    Raises ValueError when it cannot be read, so the caller falls back to `normalise_raw`."""
    if not isinstance(payload, dict) or not is_int(payload.get("update_id")):
        return None
    try:
        return Update.de_json(_tolerant(payload), None)
    except (OverflowError, OSError, RecursionError) as exc:
        # A date beyond what datetime holds, or nesting deeper than Python recurses: the
        # update is read the raw way instead, like one missing a field PTB requires.
        raise ValueError(f"unreadable update: {type(exc).__name__}: {exc}") from exc


def _sender(message: Message) -> tuple[str, str | None]:
    if message.from_user is not None:
        return str(message.from_user.id), message.from_user.full_name
    chat = message.sender_chat or message.chat
    return str(chat.id), chat.effective_name


def _media(message: Message, kind: str) -> dict[str, Any] | None:
    if kind not in _MEDIA:
        return None
    item: Any = getattr(message, kind)
    if kind == "photo":
        item = max(item, key=lambda size: size.width * size.height)  # the largest size
    media = {"file_id": item.file_id, "file_unique_id": item.file_unique_id}
    for name in ("mime_type", "file_name"):
        if getattr(item, name, None):
            media[name] = getattr(item, name)
    return media


def _describe(message: Message, kind: str) -> str:
    """A short text for a message with neither text nor caption."""
    if kind in ("location", "venue"):
        place = message.venue
        location = place.location if place else message.location
        name = f" {place.title}, {place.address}" if place else ""
        return f"[{kind}]{name} ({location.latitude}, {location.longitude})"
    if kind == "contact":
        contact = message.contact
        name = " ".join(filter(None, (contact.first_name, contact.last_name)))
        return f"[contact] {name} {contact.phone_number}"
    if kind == "dice":
        return f"[dice] {message.dice.emoji} {message.dice.value}"
    if kind == "poll":
        return f"[poll] {message.poll.question}"
    if kind == "game":
        return f"[game] {message.game.title}"
    return f"[{kind}]"


def external_id(chat_id: object, message_id: object, edited_at: datetime | None) -> str:
    """The interaction's key: a message per chat, each edit of it a new one."""
    if edited_at is not None:
        return f"e:{chat_id}:{message_id}:{int(edited_at.timestamp())}"
    return f"m:{chat_id}:{message_id}"


def _from_message(update: Update, message: Message, edited: bool) -> InboundMessage | None:
    kind = next((k for k in _CONTENT if getattr(message, k, None)), None)
    if kind is None:
        return None
    user_id, profile = _sender(message)
    text = message.text if kind == "text" else message.caption
    text = text if isinstance(text, str) else None
    edited_at = (message.edit_date or message.date) if edited else None
    return InboundMessage(
        external_id=external_id(message.chat.id, message.message_id, edited_at),
        update_key=str(update.update_id),
        user_id=user_id,
        profile_name=profile,
        reply_to=str(message.chat.id),
        message_type=kind,
        text=text if text and text.strip() else _describe(message, kind),
        media=_media(message, kind),
        sent_at=(message.edit_date if edited else None) or message.date,
    )


def _from_callback(update: Update, query: CallbackQuery) -> InboundMessage:
    chat_id = query.message.chat.id if query.message is not None else query.from_user.id
    data = query.data or query.game_short_name
    return InboundMessage(
        external_id=f"c:{query.id}",
        update_key=str(update.update_id),
        user_id=str(query.from_user.id),
        profile_name=query.from_user.full_name,
        reply_to=str(chat_id),
        message_type="callback_query",
        text=data if data and data.strip() else "[callback_query]",
        media={"data": query.data} if query.data else None,
        sent_at=datetime.now(UTC),
    )


def normalise_update(update: Update) -> Inbound:
    """What a parsed update carried. python-telegram-bot checks no field's type, so an
    update whose fields are not what the Bot API says is read the raw way instead."""
    try:
        return _normalise_parsed(update)
    except (AttributeError, TypeError, ValueError, KeyError, OverflowError, OSError):
        try:
            payload = update.to_dict()
        except (AttributeError, TypeError, ValueError, KeyError, RecursionError):
            return Inbound(ignored=["unparsed_update"])
        return normalise_raw(payload)


def _normalise_parsed(update: Update) -> Inbound:
    inbound = Inbound()
    for kind in _MESSAGE_KINDS:
        message = getattr(update, kind)
        if message is None:
            continue
        item = _from_message(update, message, edited=kind.startswith("edited_"))
        if item is None:
            inbound.ignored.append(f"{kind}:{effective_message_type(message) or 'empty'}")
        else:
            inbound.messages.append(item)
        return inbound
    if update.callback_query is not None:
        inbound.messages.append(_from_callback(update, update.callback_query))
        return inbound
    known = [k for k in update.to_dict() if k != "update_id"]
    inbound.ignored.append(known[0] if known else "unknown_update")
    return inbound


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _id(value: Any) -> str | None:
    """An id as atende keeps it: Telegram's are integers (strings tolerated), nothing else."""
    return str(value) if is_int(value) or (isinstance(value, str) and value) else None


def _timestamp(value: Any) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(value), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


def normalise_raw(payload: dict[str, Any]) -> Inbound:
    """The customer's text from an update python-telegram-bot cannot parse (a field it
    requires is absent in an older or newer Bot API, or has another type), so no message
    is lost to that. Every field is checked here: this is where odd updates end up."""
    for kind in _MESSAGE_KINDS:
        message = payload.get(kind)
        if not isinstance(message, dict):
            continue
        chat = _dict(message.get("chat"))
        sender = _dict(message.get("from") or message.get("sender_chat")) or chat
        content = next((k for k in _CONTENT if message.get(k)), None)
        chat_id, user_id = _id(chat.get("id")), _id(sender.get("id"))
        if content is None or chat_id is None or user_id is None:
            return Inbound(ignored=[f"{kind}:unparsed"])
        text = message.get("text") if content == "text" else message.get("caption")
        edited = kind.startswith("edited_")
        now = datetime.now(UTC)
        when = _timestamp(message.get("date")) or now
        edited_at = _timestamp(message.get("edit_date")) or when
        names = (_text(sender.get("first_name")), _text(sender.get("last_name")))
        name = " ".join(filter(None, names))
        message_id = message.get("message_id")
        item = InboundMessage(
            external_id=external_id(
                chat_id,
                message_id if is_int(message_id) else _id(message_id),
                edited_at if edited else None,
            ),
            update_key=str(payload.get("update_id")),
            user_id=user_id,
            profile_name=name or _text(sender.get("title")),
            reply_to=chat_id,
            message_type=content,
            text=text if isinstance(text, str) and text.strip() else f"[{content}]",
            sent_at=edited_at if edited else when,
        )
        return Inbound(messages=[item])
    return Inbound(ignored=["unparsed_update"])
