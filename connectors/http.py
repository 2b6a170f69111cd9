"""Outbound JSON over HTTP, written once for the channels that use aiohttp directly
(WhatsApp's Graph API and REST callbacks): one session, timeouts, transport errors as
`SendFailed`: retryable when no connection was made, `maybe_sent` once the request left."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import aiohttp

from connectors.base import MediaUnavailable, SendFailed


@dataclass(frozen=True)
class JsonReply:
    status: int
    body: Any  # the parsed JSON, or None when the answer was not JSON
    retry_after: float | None


@dataclass(frozen=True)
class RawReply:
    status: int
    content: bytes
    content_type: str


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


class JsonHttpClient:
    """POSTs JSON and reads JSON answers; opened lazily inside the running loop."""

    def __init__(self, *, timeout_seconds: float, user_agent: str = "atende") -> None:
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._headers = {"User-Agent": user_agent}
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout, headers=self._headers)
        return self._session

    async def post(
        self, url: str, body: bytes, *, headers: dict[str, str] | None = None
    ) -> JsonReply:
        """POST a body already encoded as JSON (so a signature can cover its exact bytes)."""
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        try:
            async with self._open().post(url, data=body, headers=all_headers) as response:
                raw = await response.read()
                try:
                    parsed = json.loads(raw) if raw else None
                except (ValueError, UnicodeDecodeError):
                    parsed = None
                return JsonReply(
                    response.status, parsed, _retry_after(response.headers.get("Retry-After"))
                )
        except (aiohttp.ConnectionTimeoutError, aiohttp.ClientConnectorError) as exc:
            # No connection, so no request: the platform has nothing, trying again is safe.
            reason = f"{type(exc).__name__}: {exc}"
            raise SendFailed("network_error", reason, permanent=False) from exc
        except (TimeoutError, aiohttp.ClientError) as exc:
            # The request may have been read and acted on before the answer was lost.
            reason = f"{type(exc).__name__}: {exc}".rstrip(": ")
            raise SendFailed("unconfirmed", reason, permanent=False, maybe_sent=True) from exc

    async def download(
        self, url: str, *, headers: dict[str, str] | None = None, limit: int
    ) -> RawReply:
        """GET a file, at most `limit` bytes of it; raise `MediaUnavailable` past that or
        when the server cannot be reached."""
        try:
            async with self._open().get(url, headers=headers or {}) as response:
                if (response.content_length or 0) > limit:
                    raise MediaUnavailable(f"the file weighs {response.content_length} bytes")
                content = bytearray()
                async for chunk in response.content.iter_chunked(64 * 1024):
                    content += chunk
                    if len(content) > limit:
                        raise MediaUnavailable(f"the file weighs over {limit} bytes")
                return RawReply(response.status, bytes(content), response.content_type)
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise MediaUnavailable(f"{type(exc).__name__}: {exc}".rstrip(": ")) from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def encode_json(payload: Any) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
