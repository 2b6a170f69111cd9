"""One Telegram bot: its webhook secret, its updates, and sendMessage through PTB's `Bot`."""

from __future__ import annotations

import asyncio
import mimetypes
import warnings
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import httpx
import structlog
from telegram import Bot
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from config.channels import TelegramBot
from connectors.base import (
    MAX_MEDIA_BYTES,
    Connector,
    Inbound,
    MediaFile,
    MediaUnavailable,
    SendFailed,
    Sent,
)
from connectors.ratelimit import RateLimiter
from connectors.signing import check_shared_secret
from connectors.telegram.normalise import normalise_raw, normalise_update, parse_update
from connectors.telegram.plain import plain_text_message

log = structlog.get_logger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
# Update kinds atende turns into interactions; set-webhook and poll ask for these.
ALLOWED_UPDATES = ("message", "edited_message", "channel_post", "edited_channel_post",
                   "callback_query")  # fmt: skip
MAX_TEXT = 4096
# Transport failures once the whole request was written: Telegram may have sent the
# message. (Connect, pool and write failures and 5xx answers mean it did not.)
_AFTER_THE_REQUEST_LEFT = (httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError)


def _retry_after(exc: RetryAfter) -> float:
    # PTB 22 warns that retry_after becomes a timedelta; accept either form.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return value.total_seconds() if isinstance(value, timedelta) else float(value)


class TelegramConnector(Connector):
    channel = "telegram"
    max_text_chars = MAX_TEXT

    def __init__(self, config: TelegramBot, *, api_url: str, timeout_seconds: float) -> None:
        self.account = config.name
        self._config = config
        self._api_url = api_url.rstrip("/")
        self._timeout = timeout_seconds
        self._bot: Bot | None = None
        self._bot_lock = asyncio.Lock()
        # Telegram: about 30 messages a second per bot, one a second per chat.
        self.limiter = RateLimiter(30.0, per_chat_interval=1.0)

    @property
    def secret_token(self) -> str:
        """The webhook secret, for registering the webhook."""
        return self._config.secret_token.get_secret_value()

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        check_shared_secret(headers.get(SECRET_HEADER), self.secret_token, SECRET_HEADER)

    def normalise(self, payload: Any) -> Inbound:
        plain = plain_text_message(payload)
        if plain is not None:
            return plain
        try:
            update = parse_update(payload)
        except (TypeError, ValueError, KeyError, AttributeError) as exc:
            log.warning("telegram_update_unparsed", account=self.account, error=str(exc))
            return normalise_raw(payload)
        if update is None:
            return Inbound(ignored=["not_an_update"])
        return normalise_update(update)

    async def bot(self) -> Bot:
        """The initialised `Bot` (getMe done once), shared by sends and polling."""
        async with self._bot_lock:
            if self._bot is None:
                request = HTTPXRequest(
                    connect_timeout=self._timeout,
                    read_timeout=self._timeout,
                    write_timeout=self._timeout,
                    pool_timeout=self._timeout,
                )
                bot = Bot(
                    self._config.token.get_secret_value(),
                    base_url=f"{self._api_url}/bot",
                    base_file_url=f"{self._api_url}/file/bot",
                    request=request,
                    get_updates_request=HTTPXRequest(read_timeout=60.0, connect_timeout=10.0),
                )
                await bot.initialize()
                self._bot = bot
            return self._bot

    async def send(self, recipient: str, text: str, *, context: Mapping[str, Any]) -> Sent:
        try:
            bot = await self.bot()
            await self.limiter.acquire(recipient)
            message = await bot.send_message(chat_id=recipient, text=text)
        except RetryAfter as exc:
            raise SendFailed(
                "rate_limited",
                str(exc),
                permanent=False,
                retry_after=_retry_after(exc),
            ) from exc
        except Forbidden as exc:  # the bot was blocked or removed from the chat
            raise SendFailed("forbidden", exc.message, permanent=True) from exc
        except ChatMigrated as exc:
            reason = f"the group is now chat {exc.new_chat_id}"
            raise SendFailed("chat_migrated", reason, permanent=True) from exc
        except InvalidToken as exc:
            # A configuration fault, not the customer's: retried while someone fixes it.
            raise SendFailed("invalid_token", exc.message, permanent=False) from exc
        except BadRequest as exc:  # chat not found, text empty or too long...
            raise SendFailed("bad_request", exc.message, permanent=True) from exc
        except (TimedOut, NetworkError) as exc:  # 5xx answers and transport errors
            code = "timeout" if isinstance(exc, TimedOut) else "network_error"
            if isinstance(exc.__cause__, _AFTER_THE_REQUEST_LEFT):
                raise SendFailed("unconfirmed", f"{code}: {exc.message}", permanent=False,
                                 maybe_sent=True) from exc  # fmt: skip
            raise SendFailed(code, exc.message, permanent=False) from exc
        except TelegramError as exc:
            raise SendFailed("telegram_error", exc.message, permanent=False) from exc
        return Sent(str(message.message_id))

    def has_file(self, media: Mapping[str, Any]) -> bool:
        return isinstance(media.get("file_id"), str)

    async def fetch_media(self, media: Mapping[str, Any]) -> MediaFile:
        """getFile, then the file itself from the Bot API's file server."""
        file_id = media.get("file_id")
        if not isinstance(file_id, str) or not file_id:
            raise MediaUnavailable("the message's media has no file_id")
        try:
            bot = await self.bot()
            found = await bot.get_file(file_id)
            if found.file_size is not None and found.file_size > MAX_MEDIA_BYTES:
                raise MediaUnavailable(f"the file weighs {found.file_size} bytes, over the limit")
            content = bytes(await found.download_as_bytearray())
        except (TelegramError, RuntimeError) as exc:  # RuntimeError: no file_path given
            raise MediaUnavailable(f"telegram: {exc}") from exc
        # A photo comes with no MIME type; its path on the file server ends in .jpg.
        guessed = mimetypes.guess_type(found.file_path or "")[0]
        mime_type = media.get("mime_type") or guessed or "application/octet-stream"
        return MediaFile(content, str(mime_type), media.get("file_name"))

    async def aclose(self) -> None:
        if self._bot is not None:
            await self._bot.shutdown()
            self._bot = None
