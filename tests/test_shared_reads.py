"""Many consoles at once: reads of the queue asked together are made once, and never
answer with what the database held before a caller asked (the shared reads alone, then the
queue route with thirty consoles reading it at the same time); and their burst of requests
waits for the pooled connections instead of opening more."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from sqlalchemy import event

from gateway.http import keys
from gateway.http.shared_reads import SharedReads
from tests.routing_helpers import API, post


class Source:
    """A read that takes `delay` seconds and says which read it was and when it began, on
    a clock of its own that every caller also reads as it asks."""

    def __init__(self, delay: float = 0.05) -> None:
        self.clock = itertools.count()
        self.delay = delay
        self.made = 0
        self.fail = False

    async def make(self) -> bytes:
        self.made += 1
        made, began = self.made, next(self.clock)
        await asyncio.sleep(self.delay)
        if self.fail:
            raise RuntimeError("the database is away")
        return f"{made}:{began}".encode()


async def ask(reads: SharedReads, source: Source, key: str = "queue") -> tuple[int, int, int]:
    asked = next(source.clock)
    made, began = (await reads.read(key, source.make)).decode().split(":")
    return asked, int(made), int(began)


async def test_callers_during_a_read_share_the_next_one_which_starts_after_them():
    reads, source = SharedReads(), Source()
    first = asyncio.ensure_future(ask(reads, source))
    await asyncio.sleep(0.01)  # the first read is under way
    later = [asyncio.ensure_future(ask(reads, source)) for _ in range(29)]
    answers = [await first, *await asyncio.gather(*later)]
    assert (source.made, reads.reads) == (2, 2)
    assert answers[0][1] == 1
    assert {made for _, made, _ in answers[1:]} == {2}
    # Every caller's answer was read after it asked.
    assert all(began > asked for asked, _, began in answers)


async def test_other_reads_are_not_shared_and_a_failure_is_not_kept():
    reads, source = SharedReads(), Source()
    one, other = await asyncio.gather(ask(reads, source, "a"), ask(reads, source, "b"))
    assert {one[1], other[1]} == {1, 2}

    source.fail = True
    asked = [asyncio.ensure_future(ask(reads, source)) for _ in range(3)]
    failed = await asyncio.gather(*asked, return_exceptions=True)
    assert all(isinstance(f, RuntimeError) for f in failed)
    source.fail = False
    assert (await ask(reads, source))[1] == source.made  # a new read, not the failed one


async def test_a_caller_that_leaves_does_not_cancel_the_read_for_the_others():
    reads, source = SharedReads(), Source(delay=0.1)
    first = asyncio.ensure_future(ask(reads, source))
    await asyncio.sleep(0.02)
    # These two share the next read; one of them leaves before it is made.
    leaving = asyncio.ensure_future(ask(reads, source))
    staying = asyncio.ensure_future(ask(reads, source))
    await asyncio.sleep(0.02)
    leaving.cancel()
    with pytest.raises(asyncio.CancelledError):
        await leaving
    assert ((await first)[1], (await staying)[1]) == (1, 2)
    assert source.made == 2


async def test_thirty_consoles_reading_the_queue_at_once_are_answered_alike(client):
    created = [await post(client, f"Pedido {n} nao chegou", "suporte") for n in range(3)]
    shared = client.server.app[keys.QUEUE_READS]
    before = shared.reads
    responses = await asyncio.gather(
        *(client.get(f"{API}/operator/queue", params={"per_page": "100"}) for _ in range(30))
    )
    assert [r.status for r in responses] == [200] * 30
    pages = [await r.json() for r in responses]
    assert all([i["id"] for i in p["items"]] == [c["id"] for c in created] for p in pages)
    assert shared.reads - before < 30
    # Another sector's page is a read of its own; a message stored since is in the next.
    assert (await (await client.get(f"{API}/operator/queue?sector=vendas")).json())["total"] == 0
    newer = await post(client, "E o meu reembolso?", "suporte")
    page = await (await client.get(f"{API}/operator/queue", params={"per_page": "100"})).json()
    assert page["items"][-1]["id"] == newer["id"]


async def test_a_burst_of_requests_opens_no_connection_beyond_the_pool(client):
    """Every request looks its key up: thirty consoles reading at once must wait for the
    pooled connections a moment, not open (and close again) a server process each."""
    pool = client.server.app[keys.ENGINE].sync_engine.pool
    beyond = []
    listener = lambda *_: beyond.append(pool.overflow())  # noqa: E731
    event.listen(pool, "checkout", listener)
    try:
        responses = await asyncio.gather(*(client.get(f"{API}/sectors") for _ in range(60)))
    finally:
        event.remove(pool, "checkout", listener)
    assert [r.status for r in responses] == [200] * 60
    assert len(beyond) >= 60  # each request's key was looked up
    assert max(beyond) <= 0, f"{max(beyond)} connections beyond the pool's {pool.size()}"
