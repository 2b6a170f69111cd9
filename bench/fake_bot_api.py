"""A fake Telegram Bot API on loopback, for the benchmarks in which atende sends answers
(scale_out.py): it speaks the Bot API's wire format for the two methods atende calls,
getMe and sendMessage, and counts every text it was asked to send."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web
from harness import BOT_TOKEN

BOT_USER = {"id": 7000001, "is_bot": True, "first_name": "Atende", "username": "atende_bot"}


@dataclass
class FakeBotApi:
    """Answers sendMessage as Telegram does, and counts every text it was asked to send."""

    sent: Counter[tuple[str, str]] = field(default_factory=Counter)
    ids: itertools.count = field(default_factory=lambda: itertools.count(1))

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/bot{token}/{method}", self.handle)
        return app

    async def handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != BOT_TOKEN:
            return web.json_response(
                {"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401
            )
        method = request.match_info["method"]
        if method == "getMe":  # python-telegram-bot asks once, before its first send
            return web.json_response({"ok": True, "result": BOT_USER})
        if method != "sendMessage":
            return web.json_response(
                {"ok": False, "error_code": 404, "description": "Not Found"}, status=404
            )
        if request.content_type == "application/json":
            params: dict[str, Any] = await request.json()
        else:
            params = dict(await request.post())
        chat_id, text = str(params["chat_id"]), str(params["text"])
        self.sent[(chat_id, text)] += 1
        return web.json_response(
            {
                "ok": True,
                "result": {
                    "message_id": next(self.ids),
                    "from": BOT_USER,
                    "chat": {"id": int(chat_id), "type": "private"},
                    "date": int(time.time()),
                    "text": text,
                },
            }
        )
