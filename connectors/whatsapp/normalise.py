"""WhatsApp Cloud API webhook bodies into atende's inbound types.

Every entry, change, message and status is walked. A message's `external_id` is its
wamid. Edits (`type: edit`) are new interactions carrying the new text, like Telegram's;
revocations, system notices and every other field (calls, templates, account updates,
echoes of the business's own messages) are acknowledged as ignored.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from connectors.base import Inbound, InboundMessage, StatusUpdate

_MEDIA = ("image", "video", "document", "audio", "sticker")
_MEDIA_FIELDS = ("id", "mime_type", "sha256", "filename", "url", "animated")
_STATUSES = {"sent": "sent", "delivered": "delivered", "read": "read", "played": "read",
             "failed": "failed"}  # fmt: skip


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: Any) -> str | None:
    """A text field: Meta sends strings; anything else counts as absent."""
    return value if isinstance(value, str) and value else None


def _when(timestamp: Any) -> datetime:
    try:
        return datetime.fromtimestamp(int(timestamp), UTC)
    except (TypeError, ValueError, OverflowError, OSError):
        return datetime.now(UTC)


def _content(message: dict[str, Any]) -> tuple[str, str | None, dict[str, Any] | None] | None:
    """(type, text or None, media) of a message's content; None when it carries none."""
    kind = message.get("type")
    body = _dict(message.get(kind)) if isinstance(kind, str) else {}
    if kind == "text":
        return "text", body.get("body"), None
    if kind in _MEDIA:
        media = {k: body[k] for k in _MEDIA_FIELDS if k in body}
        if kind == "audio" and body.get("voice"):
            kind = "voice"
        return kind, body.get("caption"), media
    if kind == "interactive":
        reply_type = body.get("type")
        reply = _dict(body.get(reply_type)) if isinstance(reply_type, str) else {}
        if not reply:
            return "interactive", None, None
        # button_reply / list_reply: the chosen title; nfm_reply (a flow): its body and
        # answers; call_permission_reply and newer kinds: what the customer chose.
        text = "\n".join(filter(None, (_str(reply.get("title")), _str(reply.get("description")))))
        text = text or reply.get("body") or f"[{reply_type}] {reply.get('response', '')}"
        media = {"reply_id": reply["id"]} if "id" in reply else {}
        media |= {k: reply[k] for k in ("response_json", "response") if k in reply}
        return str(reply_type), text, media or None
    if kind == "button":
        return "button", body.get("text"), {"payload": body.get("payload")}
    if kind == "reaction":
        emoji = body.get("emoji")
        return "reaction", emoji or "[reaction removed]", {"message_id": body.get("message_id")}
    if kind == "location":
        place = ", ".join(filter(None, (_str(body.get("name")), _str(body.get("address")))))
        where = f"({body.get('latitude')}, {body.get('longitude')})"
        return "location", f"[location] {place} {where}" if place else f"[location] {where}", None
    if kind == "contacts":
        people = []
        for contact in _list(message.get("contacts")):
            name = _str(_dict(_dict(contact).get("name")).get("formatted_name"))
            phones = [_str(_dict(p).get("phone")) for p in _list(_dict(contact).get("phones"))]
            person = " ".join(filter(None, (name, *phones)))
            if person:
                people.append(person)
        return "contacts", "[contacts] " + "; ".join(people) if people else None, None
    if kind == "order":
        items = len(_list(body.get("product_items")))
        text = body.get("text") or f"[order] {items} items"
        return "order", text, {"catalog_id": body.get("catalog_id")}
    if kind == "edit":
        inner = _dict(body.get("message"))
        content = _content(inner) if inner else None
        original = {"original_message_id": body.get("original_message_id")}
        if content is None:
            return "edit", None, original
        inner_kind, text, media = content
        return f"edit:{inner_kind}", text, {**(media or {}), **original}
    if kind == "unsupported":
        errors = _list(message.get("errors"))
        title = _dict(errors[0]).get("title") if errors else None
        return "unsupported", f"[unsupported] {title}" if title else None, None
    return None


def _message(
    message: dict[str, Any], names: dict[str, str], phone_number_id: str | None
) -> InboundMessage | None:
    wamid, sender = message.get("id"), message.get("from")
    if not isinstance(wamid, str) or not isinstance(sender, str):
        return None
    content = _content(message)
    if content is None:
        return None
    kind, text, media = content
    return InboundMessage(
        external_id=wamid,
        user_id=sender,
        profile_name=names.get(sender),
        reply_to=sender,
        message_type=kind,
        text=text if isinstance(text, str) and text.strip() else f"[{kind}]",
        media=media,
        sent_at=_when(message.get("timestamp")),
        account_hint=phone_number_id,
    )


def _status(status: dict[str, Any], phone_number_id: str | None) -> StatusUpdate | None:
    wamid, value = status.get("id"), _STATUSES.get(str(status.get("status")))
    if not isinstance(wamid, str) or value is None:
        return None
    errors = _list(status.get("errors"))
    error = _dict(errors[0]) if errors else {}
    details = _dict(error.get("error_data")).get("details")
    return StatusUpdate(
        platform_message_id=wamid,
        status=value,
        error_code=str(error["code"]) if "code" in error else None,
        error_reason=_str(details) or _str(error.get("message")) or _str(error.get("title")),
        account_hint=phone_number_id,
    )


def normalise_body(payload: Any) -> Inbound:
    inbound = Inbound()
    for entry in _list(_dict(payload).get("entry")):
        for change in _list(_dict(entry).get("changes")):
            change = _dict(change)
            value = _dict(change.get("value"))
            if change.get("field") != "messages":
                inbound.ignored.append(f"field:{change.get('field')}")
                continue
            phone_number_id = _dict(value.get("metadata")).get("phone_number_id")
            phone_number_id = str(phone_number_id) if phone_number_id else None
            names = {
                str(c.get("wa_id")): name
                for c in map(_dict, _list(value.get("contacts")))
                if (name := _str(_dict(c.get("profile")).get("name"))) is not None
            }
            for raw in map(_dict, _list(value.get("messages"))):
                message = _message(raw, names, phone_number_id)
                if message is None:
                    inbound.ignored.append(f"message:{raw.get('type')}")
                else:
                    inbound.messages.append(message)
            for raw in map(_dict, _list(value.get("statuses"))):
                status = _status(raw, phone_number_id)
                if status is None:
                    inbound.ignored.append(f"status:{raw.get('status')}")
                else:
                    inbound.statuses.append(status)
    return inbound
