"""One WhatsApp Cloud API number: webhook signature and verification, and sending text."""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from typing import Any

from config.channels import WhatsAppNumber
from config.errors import Forbidden
from connectors.base import (
    MAX_MEDIA_BYTES,
    Connector,
    Inbound,
    MediaFile,
    MediaUnavailable,
    SendFailed,
    Sent,
)
from connectors.http import JsonHttpClient, JsonReply, encode_json
from connectors.ratelimit import RateLimiter
from connectors.signing import check_body_signature
from connectors.whatsapp.normalise import normalise_body

SIGNATURE_HEADER = "X-Hub-Signature-256"
MAX_TEXT = 4096
# Graph error codes: rate and pair-rate limits wait and retry; these others are the
# platform's own temporary faults. Any other 4xx answer is about this message: final.
RATE_LIMIT_CODES = {4, 80007, 130429, 131056}
TEMPORARY_CODES = {1, 2, 131000, 131016, 133004}
RATE_LIMIT_WAIT_SECONDS = 60.0


def _error(reply: JsonReply) -> tuple[int | None, str]:
    error = reply.body.get("error") if isinstance(reply.body, dict) else None
    if not isinstance(error, dict):
        return None, f"HTTP {reply.status}"
    code = error.get("code")
    data = error.get("error_data")
    details = data.get("details") if isinstance(data, dict) else None
    reason = details or error.get("message") or f"HTTP {reply.status}"
    return (code if isinstance(code, int) else None), str(reason)


def failure(reply: JsonReply) -> SendFailed:
    """The `SendFailed` a Graph API error answer means."""
    code, reason = _error(reply)
    name = f"whatsapp_{code}" if code is not None else f"http_{reply.status}"
    if code in RATE_LIMIT_CODES or reply.status == 429:
        wait = reply.retry_after or RATE_LIMIT_WAIT_SECONDS
        return SendFailed(name, reason, permanent=False, retry_after=wait)
    if reply.status >= 500 or code in TEMPORARY_CODES or reply.status in (401, 408):
        # 401: an expired access token is fixed in configuration, not by the customer.
        return SendFailed(name, reason, permanent=False)
    return SendFailed(name, reason, permanent=True)


class WhatsAppConnector(Connector):
    channel = "whatsapp"
    max_text_chars = MAX_TEXT

    def __init__(
        self, config: WhatsAppNumber, *, http: JsonHttpClient, graph_url: str, version: str
    ) -> None:
        self.account = config.name
        self._config = config
        self._http = http
        self._graph = f"{graph_url.rstrip('/')}/{version}"
        self._messages_url = f"{self._graph}/{config.phone_number_id}/messages"
        # Cloud API: 80 messages a second per number by default.
        self.limiter = RateLimiter(80.0)

    @property
    def phone_number_id(self) -> str:
        return self._config.phone_number_id

    def verify(self, headers: Mapping[str, str], body: bytes) -> None:
        check_body_signature(
            headers.get(SIGNATURE_HEADER),
            self._config.app_secret.get_secret_value(),
            body,
            SIGNATURE_HEADER,
        )

    def handshake(self, query: Mapping[str, str]) -> str:
        """The hub.challenge to echo when Meta verifies the subscription, else Forbidden."""
        token = query.get("hub.verify_token", "")
        expected = self._config.verify_token.get_secret_value()
        if query.get("hub.mode") != "subscribe" or not hmac.compare_digest(
            token.encode(), expected.encode()
        ):
            raise Forbidden("hub.mode must be subscribe and hub.verify_token must match")
        return query.get("hub.challenge", "")

    def normalise(self, payload: Any) -> Inbound:
        return normalise_body(payload)

    async def send(self, recipient: str, text: str, *, context: Mapping[str, Any]) -> Sent:
        body = {
            "messaging_product": "whatsapp",
            "recipient_type": "individual",
            "to": recipient,
            "type": "text",
            "text": {"preview_url": False, "body": text},
        }
        await self.limiter.acquire(recipient)
        token = self._config.access_token.get_secret_value()
        reply = await self._http.post(
            self._messages_url, encode_json(body), headers={"Authorization": f"Bearer {token}"}
        )
        if not 200 <= reply.status < 300:
            raise failure(reply)
        messages = reply.body.get("messages") if isinstance(reply.body, dict) else None
        wamid = messages[0].get("id") if isinstance(messages, list) and messages else None
        return Sent(str(wamid) if wamid else None)

    def has_file(self, media: Mapping[str, Any]) -> bool:
        return isinstance(media.get("id"), str)  # a button's reply has a reply_id instead

    async def fetch_media(self, media: Mapping[str, Any]) -> MediaFile:
        """The media's URL from the Graph API (`GET /<version>/<media id>`), then the file,
        both with the number's access token; the URL lasts five minutes, so it is asked
        each time."""
        media_id = media.get("id")
        if not isinstance(media_id, str) or not media_id.isalnum():
            raise MediaUnavailable("the message's media has no id")
        auth = {"Authorization": f"Bearer {self._config.access_token.get_secret_value()}"}
        reply = await self._http.download(f"{self._graph}/{media_id}", headers=auth, limit=65536)
        try:
            described = json.loads(reply.content) if reply.status == 200 else None
        except ValueError:
            described = None
        url = described.get("url") if isinstance(described, dict) else None
        if not isinstance(url, str) or not url.startswith(("https://", "http://")):
            raise MediaUnavailable(f"the Graph API answered {reply.status} for media {media_id}")
        found = await self._http.download(url, headers=auth, limit=MAX_MEDIA_BYTES)
        if found.status != 200:
            raise MediaUnavailable(f"the media server answered {found.status}")
        mime_type = media.get("mime_type") or described.get("mime_type") or found.content_type
        return MediaFile(found.content, str(mime_type), media.get("filename"))
