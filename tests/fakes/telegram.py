"""A loopback Telegram Bot API server: `/bot<token>/<method>`, form or JSON parameters,
`{"ok": true, "result": ...}` answers and the documented error shape (error_code,
description, parameters.retry_after)."""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT_USER = {"id": 7000001, "is_bot": True, "first_name": "Atende", "username": "atende_bot"}


@dataclass
class Failure:
    status: int
    description: str
    parameters: dict[str, Any] | None = None


@dataclass
class FakeTelegram:
    tokens: set[str]
    sent: list[dict[str, Any]] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)  # consumed by sendMessage, in order
    updates: list[dict[str, Any]] = field(default_factory=list)  # served by getUpdates
    # While a gate is given, sendMessage is recorded in `calls` and then waits for it to
    # open: the platform has the message and its sender has no answer yet. `waiting` is
    # set when a send is held there.
    gate: asyncio.Event | None = None
    delays: list[float] = field(default_factory=list)  # seconds before a sendMessage answer
    waiting: asyncio.Event = field(default_factory=asyncio.Event)
    # Files customers sent, by file_id: (path on the file server, content), as getFile
    # and `/file/bot<token>/<path>` serve them.
    files: dict[str, tuple[str, bytes]] = field(default_factory=dict)
    _ids: itertools.count = field(default_factory=lambda: itertools.count(500))

    def fail_next(self, status: int, description: str, **parameters: Any) -> None:
        self.failures.append(Failure(status, description, parameters or None))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._file)
        return app

    async def _file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] not in self.tokens:
            return web.Response(status=401)
        for path, content in self.files.values():
            if path == request.match_info["path"]:
                return web.Response(body=content, content_type="application/octet-stream")
        return web.Response(status=404)

    @staticmethod
    def _error(status: int, description: str, parameters: dict | None = None) -> web.Response:
        body: dict[str, Any] = {"ok": False, "error_code": status, "description": description}
        if parameters:
            body["parameters"] = parameters
        return web.json_response(body, status=status)

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.content_type == "application/json":
            return await request.json()
        form = await request.post()
        params: dict[str, Any] = {}
        for key, value in form.items():
            try:  # PTB sends non-string parameters JSON-encoded
                params[key] = json.loads(value) if isinstance(value, str) else value
            except ValueError:
                params[key] = value
        return params

    async def _handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] not in self.tokens:
            return self._error(401, "Unauthorized")
        method = request.match_info["method"]
        params = await self._params(request)
        self.calls.append((method, params))
        if method == "getMe":
            return web.json_response({"ok": True, "result": BOT_USER})
        if method in ("setWebhook", "deleteWebhook"):
            return web.json_response({"ok": True, "result": True})
        if method == "getUpdates":
            offset = int(params.get("offset") or 0)
            result = [u for u in self.updates if u["update_id"] >= offset]
            return web.json_response({"ok": True, "result": result})
        if method == "getFile":
            found = self.files.get(str(params.get("file_id")))
            if found is None:
                return self._error(400, "Bad Request: invalid file_id")
            path, content = found
            result = {"file_id": params["file_id"], "file_unique_id": "u" + path[-6:],
                      "file_size": len(content), "file_path": path}  # fmt: skip
            return web.json_response({"ok": True, "result": result})
        if method == "sendMessage":
            if self.gate is not None:
                self.waiting.set()
                await self.gate.wait()
            if self.delays:
                await asyncio.sleep(self.delays.pop(0))
            return self._send_message(params)
        return self._error(404, "Not Found: method not found")

    def _send_message(self, params: dict[str, Any]) -> web.Response:
        if self.failures:
            failure = self.failures.pop(0)
            return self._error(failure.status, failure.description, failure.parameters)
        text = str(params.get("text", ""))
        if not text.strip():
            return self._error(400, "Bad Request: message text is empty")
        if len(text) > 4096:
            return self._error(400, "Bad Request: message is too long")
        message_id = next(self._ids)
        chat_id = params["chat_id"]
        self.sent.append({"chat_id": str(chat_id), "text": text, "message_id": message_id})
        return web.json_response(
            {
                "ok": True,
                "result": {
                    "message_id": message_id,
                    "from": BOT_USER,
                    "chat": {"id": int(chat_id), "type": "private"},
                    "date": int(time.time()),
                    "text": text,
                },
            }
        )
