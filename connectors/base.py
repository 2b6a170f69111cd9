"""The connector interface and the project's own inbound and outbound types.

A connector verifies a raw webhook request, normalises its payload into `Inbound`
(pure: no I/O; kinds it does not know give nothing) and sends one outbound text,
mapping the platform's errors onto `SendFailed`.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# What PostgreSQL cannot store: NUL in text or jsonb, and lone surrogates, which have no
# UTF-8 form (JSON's \udXXX escapes decode to them). Surrogate pairs are already joined
# into one character by the JSON decoder, so any surrogate left in a str is a lone one.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Why text that an integrator or an administrator sends is refused instead.
UNSTORABLE_TEXT = "must not contain NUL (\\u0000) or an unpaired surrogate (\\ud800-\\udfff)"


def is_storable(text: str) -> bool:
    """Whether PostgreSQL can store `text` as it is (UNSTORABLE_TEXT says why not)."""
    return _UNSTORABLE.search(text) is None


def storable(text: str) -> str:
    """`text` as PostgreSQL can store it: NUL dropped, a lone surrogate replaced by U+FFFD.
    A platform's text is the customer's, so it is kept rather than refused."""
    if is_storable(text):  # nearly always: one scan, no copy
        return text
    return _UNSTORABLE.sub(lambda found: "" if found.group() == "\x00" else "\ufffd", text)


def storable_json(value: Any) -> Any:
    """`value` (decoded JSON) with every key and string made `storable`."""
    if isinstance(value, str):
        return storable(value)
    if isinstance(value, dict):
        return {storable(str(k)): storable_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [storable_json(item) for item in value]
    return value


def _storable_or_none(text: str | None) -> str | None:
    return None if text is None else storable(text)


@dataclass(frozen=True)
class InboundMessage:
    """One customer message as atende stores it, whatever channel it came from."""

    external_id: str  # the message's own id on its chat (the duplicate guard)
    user_id: str  # who wrote it, on this channel account
    reply_to: str  # where an answer goes: Telegram chat id, WhatsApp number
    message_type: str  # text, photo, image, voice, reaction, location...
    text: str  # the text or caption verbatim; a bracketed description when there is none
    sent_at: datetime
    profile_name: str | None = None
    media: dict[str, Any] | None = None
    update_key: str | None = None  # the delivery's id (Telegram update_id), a second guard
    # The receiving account as the platform names it (WhatsApp phone_number_id): one Meta
    # app posts every number's messages to one URL.
    account_hint: str | None = None

    def __post_init__(self) -> None:
        # Whatever a connector read from a webhook, what it hands on can be stored: a
        # body with a NUL must not fail (and be retried by its platform) forever.
        for name in ("external_id", "user_id", "reply_to", "message_type", "text"):
            object.__setattr__(self, name, storable(getattr(self, name)))
        for name in ("profile_name", "update_key", "account_hint"):
            object.__setattr__(self, name, _storable_or_none(getattr(self, name)))
        if self.media is not None:
            object.__setattr__(self, "media", storable_json(self.media))
        if not self.text.strip():  # it held nothing but NULs
            object.__setattr__(self, "text", f"[{self.message_type}]")


@dataclass(frozen=True)
class StatusUpdate:
    """The platform's news about a message atende sent."""

    platform_message_id: str
    status: str  # sent, delivered, read, failed
    error_code: str | None = None
    error_reason: str | None = None
    account_hint: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "platform_message_id", storable(self.platform_message_id))
        for name in ("error_code", "error_reason", "account_hint"):
            object.__setattr__(self, name, _storable_or_none(getattr(self, name)))


@dataclass
class Inbound:
    """Everything one webhook body carried."""

    messages: list[InboundMessage] = field(default_factory=list)
    statuses: list[StatusUpdate] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # kinds acknowledged, not stored


@dataclass(frozen=True)
class Sent:
    platform_message_id: str | None


# The most a customer's file may weigh to be fetched for an operator (the Telegram Bot
# API's own limit for downloads, and WhatsApp's for most media).
MAX_MEDIA_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True)
class MediaFile:
    """A file a customer sent, as the platform holds it."""

    content: bytes
    mime_type: str
    file_name: str | None = None


class MediaUnavailable(Exception):
    """The platform would not give the file (gone, too large, refused, unreachable)."""


class SendFailed(Exception):
    """A send that was not confirmed. `permanent` ones are never retried; `retry_after` is
    the platform's own wait in seconds, when it gave one; `maybe_sent` says the request
    left and its answer was lost (a read timeout, a dropped connection), so the platform
    may have acted on it."""

    def __init__(
        self,
        code: str,
        reason: str,
        *,
        permanent: bool,
        retry_after: float | None = None,
        maybe_sent: bool = False,
    ) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason[:500]
        self.permanent = permanent
        self.retry_after = retry_after
        self.maybe_sent = maybe_sent


class Connector(abc.ABC):
    """One configured account (a bot, a number, the REST callback) of one channel."""

    channel: str
    account: str
    # Longest text one outbound message may carry; longer answers are split.
    max_text_chars: int | None = None
    # Whether the receiver can tell a repeated send from a new one. Telegram and WhatsApp
    # cannot (no idempotency key), so a send that `maybe_sent` is not tried again there.
    receiver_drops_repeats: bool = False

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        """Raise `Unauthorized` or `Forbidden` unless the request came from the platform."""
        raise NotImplementedError(f"{self.channel} takes no webhooks")

    def normalise(self, payload: Any) -> Inbound:
        """The messages and statuses in a verified webhook body."""
        raise NotImplementedError(f"{self.channel} takes no webhooks")

    @abc.abstractmethod
    async def send(self, recipient: str, text: str, *, context: Mapping[str, Any]) -> Sent:
        """Send one text; raise `SendFailed` when the platform refuses or cannot be reached.
        `context` describes the interaction (ids, part) for channels that want it."""

    def has_file(self, media: Mapping[str, Any]) -> bool:
        """Whether a message's `media` names a file the platform holds."""
        return False

    async def fetch_media(self, media: Mapping[str, Any]) -> MediaFile:
        """The file behind a message's `media` reference; raise `MediaUnavailable`."""
        raise MediaUnavailable(f"{self.channel} messages carry no files")

    async def aclose(self) -> None:  # noqa: B027 (most connectors hold nothing)
        """Release what the connector holds open."""
