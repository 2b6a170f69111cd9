"""A loopback fake of OpenAI's `POST /v1/embeddings` and `POST /v1/chat/completions`,
speaking their documented wire format.

Vectors are a hashed bag of lower-cased words, so texts that share words point the same
way and every answer is deterministic. They are deliberately not unit length, as some
self-hosted servers answer, so a client that forgets to normalise is caught.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from aiohttp import web

_ERROR_KINDS: dict[int, tuple[str, str]] = {
    400: ("invalid_request_error", "invalid_request"),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}


@dataclass
class FakeOpenAI:
    """What the fake server answers, and what it was sent."""

    api_key: str = "sk-test"
    dim: int = 64
    fail_with: int | None = None
    answer_dim: int | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)
    authorizations: list[str | None] = field(default_factory=list)
    # Chat completions: the assistant's reply, fixed or computed from the messages sent.
    chat_reply: str | Callable[[list[dict[str, Any]]], str] = "geral"
    chat_fail_with: int | None = None
    chat_requests: list[dict[str, Any]] = field(default_factory=list)
    # An embeddings request whose input holds `hold_text` is recorded and then waits until
    # `release` is set, so its caller is known to be mid-request; `holding` says one waits.
    hold_text: str | None = None
    holding: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)


FAKE_OPENAI = web.AppKey("fake_openai", FakeOpenAI)


def bag_of_words(text: str, dim: int) -> list[float]:
    """Counts of the text's words hashed into `dim` buckets, each with a hashed sign."""
    vector = [0.0] * dim
    for word in re.findall(r"\w+", text.lower()) or [text]:
        digest = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=8).digest(), "big")
        vector[digest % dim] += 1.0 if digest >> 63 else -1.0
    return vector


def create_fake_openai_app(fake: FakeOpenAI) -> web.Application:
    """The aiohttp application to serve with `aiohttp_server`; its API root is `/v1`."""
    app = web.Application()
    app[FAKE_OPENAI] = fake
    app.router.add_post("/v1/embeddings", _embeddings)
    app.router.add_post("/v1/chat/completions", _chat_completions)
    return app


def _error(status: int, message: str) -> web.Response:
    kind, code = _ERROR_KINDS.get(status, ("server_error", "server_error"))
    # retry-after-ms keeps the client's retries of a 5xx or 429 quick in tests.
    return web.json_response(
        {"error": {"message": message, "type": kind, "param": None, "code": code}},
        status=status,
        headers={"retry-after-ms": "1"},
    )


async def _embeddings(request: web.Request) -> web.Response:
    fake = request.app[FAKE_OPENAI]
    authorization = request.headers.get("Authorization")
    fake.authorizations.append(authorization)
    try:
        body = await request.json()
    except ValueError:
        return _error(400, "We could not parse the JSON body of your request.")
    fake.requests.append(body)
    inputs = body.get("input") if isinstance(body, dict) else None
    if fake.hold_text is not None and fake.hold_text in (inputs or []):
        fake.holding.set()
        await fake.release.wait()

    if authorization != f"Bearer {fake.api_key}":
        return _error(401, "Incorrect API key provided.")
    if fake.fail_with is not None:
        return _error(fake.fail_with, f"The fake was told to fail with {fake.fail_with}.")

    texts = body.get("input")
    if isinstance(texts, str):
        texts = [texts]
    if (
        not isinstance(body.get("model"), str)
        or not isinstance(texts, list)
        or not texts
        or not all(isinstance(text, str) and text for text in texts)
    ):
        return _error(400, "'model' and a non-empty 'input' of non-empty strings are required.")
    encoding = body.get("encoding_format", "float")
    if encoding not in ("float", "base64"):
        return _error(400, f"'{encoding}' is not one of ['float', 'base64'].")

    dim = fake.answer_dim or body.get("dimensions") or fake.dim
    data = []
    for index, text in enumerate(texts):
        vector = bag_of_words(text, dim)
        embedding: list[float] | str = vector
        if encoding == "base64":
            embedding = base64.b64encode(np.asarray(vector, dtype="<f4").tobytes()).decode()
        data.append({"object": "embedding", "index": index, "embedding": embedding})
    # Answered in reverse: the API does not promise order, the `index` field does.
    tokens = sum(len(re.findall(r"\w+", text)) for text in texts)
    return web.json_response(
        {
            "object": "list",
            "data": data[::-1],
            "model": body["model"],
            "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
        }
    )


async def _chat_completions(request: web.Request) -> web.Response:
    fake = request.app[FAKE_OPENAI]
    if request.headers.get("Authorization") != f"Bearer {fake.api_key}":
        return _error(401, "Incorrect API key provided.")
    try:
        body = await request.json()
    except ValueError:
        return _error(400, "We could not parse the JSON body of your request.")
    fake.chat_requests.append(body)
    if fake.chat_fail_with is not None:
        return _error(fake.chat_fail_with, f"The fake was told to fail with {fake.chat_fail_with}.")
    messages = body.get("messages")
    if (
        not isinstance(body.get("model"), str)
        or not isinstance(messages, list)
        or not messages
        or not all(isinstance(m, dict) and {"role", "content"} <= set(m) for m in messages)
    ):
        return _error(400, "'model' and a non-empty 'messages' list are required.")
    reply = fake.chat_reply(messages) if callable(fake.chat_reply) else fake.chat_reply
    words = sum(len(str(m["content"]).split()) for m in messages)
    return web.json_response(
        {
            "id": f"chatcmpl-{len(fake.chat_requests)}",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": body["model"],
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": reply},
                    "finish_reason": "stop",
                }
            ],
            "usage": {
                "prompt_tokens": words,
                "completion_tokens": len(reply.split()),
                "total_tokens": words + len(reply.split()),
            },
        }
    )


def fake_embedding_settings(server_url: str, dim: int, model: str = "fake-embed") -> dict[str, Any]:
    """Settings that make atende embed through the fake at `server_url` (its base URL)."""
    return {
        "embedding_provider": "openai",
        "embedding_model": model,
        "embedding_dim": dim,
        "openai_base_url": f"{server_url.rstrip('/')}/v1",
        "openai_api_key": "sk-test",
    }
