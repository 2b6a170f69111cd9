"""Group commit of inbound messages (storage.ingest), on a real PostgreSQL.

Webhooks that arrive together share one write; each still learns exactly what it
stored, duplicates are stopped by the table's keys inside a batch and across batches,
and a webhook the database refuses fails alone.
"""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from storage.channels import NewInteraction
from storage.database import driver_dsn
from storage.ingest import IngestUnavailable, IngestWriter

T0 = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


def _message(n: int, *, user: str = "u1", text: str | None = None, at: datetime = T0):
    return NewInteraction(
        user_id=user,
        profile_name=f"Pessoa {user}",
        received_at=at,
        message=text if text is not None else f"mensagem {n}",
        message_type="text",
        media=None,
        external_id=f"m:{user}:{n}",
        update_key=str(n),
        reply_to=user,
    )


@pytest.fixture
async def writer(db_url: str):
    async with IngestWriter(driver_dsn(db_url)) as writer:
        yield writer


async def _rows(db_url: str, query: str) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(driver_dsn(db_url))
    try:
        return await conn.fetch(query)
    finally:
        await conn.close()


async def test_concurrent_webhooks_share_commits_and_each_learns_its_own_rows(writer, db_url):
    results = await asyncio.gather(
        *(writer.store("telegram", "bot", [_message(n, user=f"u{n % 7}")]) for n in range(200))
    )
    assert writer.webhooks == 200
    assert writer.batches < 200  # they shared
    ids = [r.stored[0] for r in results]
    assert len(set(ids)) == 200
    rows = await _rows(db_url, "SELECT id, update_key FROM chat_interactions")
    by_id = {r["id"]: r["update_key"] for r in rows}
    assert [by_id[i] for i in ids] == [str(n) for n in range(200)]


async def test_copies_in_one_batch_and_in_later_batches_store_once(writer, db_url):
    copies = (writer.store("telegram", "bot", [_message(1)]) for _ in range(5))
    first = await asyncio.gather(*copies)
    again = await writer.store("telegram", "bot", [_message(1)])
    assert sorted(len(r.stored) for r in first) == [0, 0, 0, 0, 1]
    assert sum(r.duplicates for r in first) == 4
    assert again.stored == []
    assert again.duplicates == 1
    rows = await _rows(db_url, "SELECT count(*) AS n FROM chat_interactions")
    assert rows[0]["n"] == 1


async def test_one_customer_many_times_in_a_batch_keeps_the_latest_account_and_name(writer, db_url):
    later = T0 + timedelta(minutes=5)
    anonymous = dataclasses.replace(_message(3), profile_name=None, received_at=later)
    await asyncio.gather(
        writer.store("telegram", "bot-a", [_message(1)]),
        writer.store("telegram", "bot-b", [_message(2, at=later - timedelta(minutes=1))]),
        writer.store("telegram", "bot-c", [anonymous]),
    )
    customers = await _rows(
        db_url, "SELECT channel_account, profile_name, last_inbound_at FROM customers"
    )
    assert [tuple(c) for c in customers] == [("bot-c", "Pessoa u1", later)]
    clients = await _rows(db_url, "SELECT DISTINCT client_id FROM chat_interactions")
    assert len(clients) == 1


async def test_a_webhook_the_database_refuses_fails_alone(writer, db_url):
    # PostgreSQL text cannot hold NUL: a normaliser that let one through is a bug in
    # atende, and must not cost the webhooks that shared its batch.
    results = await asyncio.gather(
        writer.store("telegram", "bot", [_message(1)]),
        writer.store("telegram", "bot", [_message(2, text="bad\x00text")]),
        writer.store("telegram", "bot", [_message(3)]),
        return_exceptions=True,
    )
    assert isinstance(results[1], asyncpg.PostgresError)
    assert not isinstance(results[1], IngestUnavailable)
    assert [len(r.stored) for r in (results[0], results[2])] == [1, 1]
    rows = await _rows(db_url, "SELECT update_key FROM chat_interactions ORDER BY id")
    assert [r["update_key"] for r in rows] == ["1", "3"]


async def test_an_unreachable_database_is_reported_as_unavailable(pg_admin, db_url):
    name = make_url(db_url).database
    await pg_admin(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
    try:
        async with IngestWriter(driver_dsn(db_url)) as writer:
            with pytest.raises(IngestUnavailable):
                await writer.store("telegram", "bot", [_message(1)])
    finally:
        await pg_admin(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
