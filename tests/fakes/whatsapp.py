"""A loopback WhatsApp Cloud API (Graph API) server: `POST /<version>/<phone_number_id>/messages`
with a bearer token, the documented success body and `{"error": {...}}` error answers."""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web


@dataclass
class GraphFailure:
    status: int
    code: int
    message: str
    details: str = ""


@dataclass
class FakeWhatsApp:
    numbers: dict[str, str]  # phone_number_id -> access token
    sent: list[dict[str, Any]] = field(default_factory=list)
    # Every authorised send request as it arrived, whatever was answered: (to, text).
    received: list[tuple[str, str]] = field(default_factory=list)
    failures: list[GraphFailure] = field(default_factory=list)  # consumed in order
    delays: list[float] = field(default_factory=list)  # seconds before answering, in order
    # Files customers sent, by media id: (MIME type, content). The Graph API describes
    # one at `GET /<version>/<media id>` with a short-lived URL, served here too.
    media: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def fail_next(self, status: int, code: int, message: str, details: str = "") -> None:
        self.failures.append(GraphFailure(status, code, message, details))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/{version}/{phone_number_id}/messages", self._messages)
        app.router.add_get("/{version}/{media_id}", self._describe_media)
        app.router.add_get("/media-download/{media_id}", self._download_media)
        return app

    def _authorised(self, request: web.Request) -> bool:
        tokens = {f"Bearer {token}" for token in self.numbers.values()}
        return request.headers.get("Authorization") in tokens

    async def _describe_media(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return self._error(401, 190, "Invalid OAuth access token")
        media_id = request.match_info["media_id"]
        if media_id not in self.media:
            return self._error(400, 100, "Unsupported get request", "no media with this id")
        mime_type, content = self.media[media_id]
        url = str(request.url.with_path(f"/media-download/{media_id}").with_query(None))
        return web.json_response(
            {"messaging_product": "whatsapp", "url": url, "mime_type": mime_type,
             "sha256": "0" * 64, "file_size": len(content), "id": media_id}
        )  # fmt: skip

    async def _download_media(self, request: web.Request) -> web.Response:
        if not self._authorised(request):
            return web.Response(status=401)
        mime_type, content = self.media[request.match_info["media_id"]]
        return web.Response(body=content, content_type=mime_type)

    @staticmethod
    def _error(status: int, code: int, message: str, details: str = "") -> web.Response:
        error: dict[str, Any] = {
            "message": message,
            "type": "OAuthException",
            "code": code,
            "fbtrace_id": "AbCdEf",
        }
        if details:
            error["error_data"] = {"messaging_product": "whatsapp", "details": details}
        return web.json_response({"error": error}, status=status)

    async def _messages(self, request: web.Request) -> web.Response:
        number = request.match_info["phone_number_id"]
        token = self.numbers.get(number)
        if token is None:
            return self._error(400, 100, "Unsupported post request", "unknown phone number id")
        if request.headers.get("Authorization") != f"Bearer {token}":
            return self._error(401, 190, "Invalid OAuth access token")
        body = await request.json()
        self.received.append((str(body.get("to")), str((body.get("text") or {}).get("body"))))
        if self.delays:
            await asyncio.sleep(self.delays.pop(0))
        if self.failures:
            failure = self.failures.pop(0)
            return self._error(failure.status, failure.code, failure.message, failure.details)
        if body.get("messaging_product") != "whatsapp" or body.get("type") != "text":
            return self._error(400, 100, "Invalid parameter")
        wamid = f"wamid.fake{next(self._ids)}"
        self.sent.append({"to": body["to"], "text": body["text"]["body"], "id": wamid})
        return web.json_response(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": body["to"], "wa_id": body["to"]}],
                "messages": [{"id": wamid}],
            }
        )
