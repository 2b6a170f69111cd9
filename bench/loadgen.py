"""The webhook load generator: Telegram updates POSTed by an aiohttp client, run in a
process of its own so that it never shares the measured server's event loop."""

from __future__ import annotations

import asyncio
import itertools
import json
import random
import time
from collections import Counter
from dataclasses import dataclass, field

import aiohttp
from corpus import PHRASES

BOT_SECRET = "bench-webhook-secret"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
HEADERS = {"Content-Type": "application/json", SECRET_HEADER: BOT_SECRET}


def telegram_update(update_id: int, users: int, text: str | None = None) -> bytes:
    """A private-chat text message; message ids are unique, so only a repeated update is
    a duplicate. `users` people write, so customer rows are shared but rarely contended.
    The text is one of the shared phrases unless `text` is given."""
    if text is None:
        text = f"{PHRASES[update_id % len(PHRASES)]} (pedido {update_id})"
    user = 100_000 + update_id % users
    person = {"id": user, "first_name": f"Cliente {user}"}
    return json.dumps(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "from": {**person, "is_bot": False},
                "chat": {**person, "type": "private"},
                "date": 1_700_000_000 + update_id % 1_000_000,
                "text": text,
            },
        }
    ).encode()


@dataclass(frozen=True)
class Load:
    url: str
    first_update_id: int
    concurrency: int
    duration: float
    warmup: float
    duplicate_every: int
    users: int


@dataclass
class Outcome:
    latencies_ms: list[float] = field(default_factory=list)  # answered inside the window
    acknowledged: set[int] = field(default_factory=set)  # update_ids answered 2xx, whenever
    sent: int = 0
    duplicates_sent: int = 0  # repeats of an acknowledged update_id
    duplicates_reported: int = 0  # ...answered with "duplicates": 1
    errors: Counter[str] = field(default_factory=Counter)
    client_cpu_s: float = 0.0


def generate(load: Load) -> Outcome:
    return asyncio.run(_generate(load))


async def _generate(load: Load) -> Outcome:
    outcome = Outcome()
    update_ids = itertools.count(load.first_update_id)
    cpu_started = time.process_time()
    window_start = time.perf_counter() + load.warmup
    window_end = window_start + load.duration

    async def client(session: aiohttp.ClientSession, seed: int) -> None:
        rng = random.Random(seed)
        mine: list[int] = []
        for sequence in itertools.count(1):
            if time.perf_counter() >= window_end:
                return
            repeat = bool(load.duplicate_every and mine and sequence % load.duplicate_every == 0)
            update_id = rng.choice(mine) if repeat else next(update_ids)
            began = time.perf_counter()
            try:
                async with session.post(
                    load.url, data=telegram_update(update_id, load.users), headers=HEADERS
                ) as response:
                    body = await response.read()
                    status = response.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                outcome.errors[type(exc).__name__] += 1
                continue
            finished = time.perf_counter()
            outcome.sent += 1
            if not 200 <= status < 300:
                outcome.errors[f"HTTP {status}"] += 1
                continue
            if window_start <= began and finished <= window_end:
                outcome.latencies_ms.append((finished - began) * 1000)
            if repeat:
                outcome.duplicates_sent += 1
                outcome.duplicates_reported += json.loads(body).get("duplicates") == 1
            else:
                mine.append(update_id)
                outcome.acknowledged.add(update_id)

    connector = aiohttp.TCPConnector(limit=load.concurrency)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        await asyncio.gather(*(client(session, seed) for seed in range(load.concurrency)))
    outcome.client_cpu_s = time.process_time() - cpu_started
    return outcome
