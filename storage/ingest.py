"""Inbound writes on the hot path: group commit of concurrent webhooks.

Every webhook must be durable before it is acknowledged, and a commit per webhook makes
the database's WAL flush the limit. So webhooks arriving while one write is in flight
wait for the next one, and each write stores a whole batch - customers upserted and
messages inserted - in ONE statement (so one round trip and one commit), then resolves
every webhook of the batch. At low load a batch is one webhook and nothing waits; under
load batches grow by themselves. Nobody is answered before the commit that holds their
rows returned.

The statement is plain SQL on asyncpg's own pool, prepared once per connection: this
path runs for every message, and the ORM's per-statement compilation cost more than the
database. Duplicates are still stopped by the table's unique keys (`ON CONFLICT DO
NOTHING`), inside a batch, across batches and across gateway processes alike.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
import structlog

from storage.channels import STATUS_RANK, NewInteraction, StoredInbound

log = structlog.get_logger(__name__)


class IngestUnavailable(Exception):
    """The database could not take the write; nothing of it is acknowledged."""


# Customers first: one row per (channel, user), already unique in the batch and sorted, so
# two batches naming the same people lock them in the same order. Then the messages, each
# joined to its customer's id, in the order they came; a blocked customer's arrive closed,
# stored as any other but never waiting in the queue (migration 0016).
INSERT_BATCH = """
WITH people AS (
    INSERT INTO customers AS c
        (channel, channel_account, channel_user_id, profile_name, last_inbound_at)
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[])
    ON CONFLICT ON CONSTRAINT customers_channel_user_key DO UPDATE SET
        channel_account = excluded.channel_account,
        profile_name = coalesce(excluded.profile_name, c.profile_name),
        last_inbound_at = greatest(excluded.last_inbound_at, c.last_inbound_at)
    RETURNING c.id, c.channel, c.channel_user_id, c.blocked_at, c.blocked_by
)
INSERT INTO chat_interactions
    (client_id, channel, channel_account, message, message_type, media, external_id,
     update_key, reply_to, closed_at, closed_by, close_reason)
SELECT p.id, m.channel, m.account, m.message, m.message_type, m.media, m.external_id,
       m.update_key, m.reply_to,
       CASE WHEN p.blocked_at IS NOT NULL THEN now() END,
       p.blocked_by,  -- null unless blocked (migration 0016's check)
       CASE WHEN p.blocked_at IS NOT NULL THEN 'blocked' END
FROM unnest($6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::jsonb[],
            $12::text[], $13::text[], $14::text[])
     WITH ORDINALITY AS m(channel, account, user_id, message, message_type, media,
                          external_id, update_key, reply_to, position)
JOIN people p ON p.channel = m.channel AND p.channel_user_id = m.user_id
ORDER BY m.position
ON CONFLICT DO NOTHING
RETURNING id, channel, channel_account, external_id
"""

# A status only replaces one of lower rank, so a late "sent" never undoes "read".
_RANK = " ".join(f"WHEN '{name}' THEN {rank}" for name, rank in STATUS_RANK.items())
APPLY_STATUS = f"""
UPDATE deliveries SET
    status = $4,
    last_error_code = CASE WHEN $4 = 'failed' THEN $5 ELSE last_error_code END,
    last_error_reason = CASE WHEN $4 = 'failed' THEN $6 ELSE last_error_reason END
WHERE channel = $1 AND channel_account = $2 AND platform_message_id = $3
  AND (CASE status {_RANK} ELSE -1 END) < $7
"""

Status = tuple[str, str, str | None, str | None]  # platform id, status, error code, reason

# Errors that say the connection or the server is gone, not that the batch was wrong:
# the webhooks are answered 503 and delivered again by their platform.
_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    asyncio.TimeoutError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,  # the protocol state after a connection broke mid-write
    asyncpg.PostgresConnectionError,
    asyncpg.CannotConnectNowError,
    asyncpg.OperatorInterventionError,  # admin shutdown, crash shutdown
    asyncpg.InsufficientResourcesError,  # too many connections, disk full
    asyncpg.ReadOnlySQLTransactionError,  # a standby after a failover
)
# Errors a second try can clear.
_TRANSIENT: tuple[type[BaseException], ...] = (
    asyncpg.DeadlockDetectedError,
    asyncpg.SerializationError,
)
_TRIES = 3


def _new_future() -> asyncio.Future[StoredInbound]:
    future: asyncio.Future[StoredInbound] = asyncio.get_running_loop().create_future()
    # A webhook whose client left no longer awaits its result; reading the exception here
    # keeps asyncio from reporting it as never retrieved.
    future.add_done_callback(lambda f: f.cancelled() or f.exception())
    return future


@dataclass
class _Job:
    channel: str
    account: str
    messages: Sequence[NewInteraction]
    statuses: Sequence[Status]
    done: asyncio.Future[StoredInbound] = field(default_factory=_new_future)


class IngestWriter:
    """Stores what webhooks carried, committed in shared batches; see the module's doc."""

    def __init__(self, dsn: str, *, writers: int = 1, max_batch: int = 500) -> None:
        # One write in flight at a time batches best: the webhooks that arrive during a
        # commit all ride the next one (bench/webhook_ingest.py: 1 and 2 writers within
        # run-to-run noise of each other here). A second writer can help when the
        # database is far away and one batch's round trip is long.
        self._dsn = dsn
        self._writers = writers
        self._max_batch = max_batch
        self._pool: asyncpg.Pool | None = None
        self._pending: list[_Job] = []
        self._active = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self.batches = 0  # committed writes and the webhooks they carried (how well they share)
        self.webhooks = 0

    async def start(self) -> None:
        self._pool = asyncpg.create_pool(
            self._dsn,
            min_size=0,
            max_size=self._writers,
            # A server that vanished must surface as a 503 quickly, not hang webhooks.
            timeout=5,
            command_timeout=15,
        )
        await self._pool

    async def close(self) -> None:
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._pool is not None:
            await self._pool.close()

    async def __aenter__(self) -> IngestWriter:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def store(
        self,
        channel: str,
        account: str,
        messages: Sequence[NewInteraction],
        statuses: Sequence[Status] = (),
    ) -> StoredInbound:
        """Store one webhook's messages and statuses; returns once they are committed.
        Raises IngestUnavailable when the database cannot take them."""
        job = _Job(channel, account, messages, statuses)
        self._pending.append(job)
        if self._active < self._writers:
            self._active += 1
            task = asyncio.create_task(self._drain())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        # Shielded: a client that disconnects must not cancel its share of a batch.
        return await asyncio.shield(job.done)

    async def _drain(self) -> None:
        try:
            while self._pending:
                batch = self._pending[: self._max_batch]
                del self._pending[: self._max_batch]
                await self._write_batch(batch)
        finally:
            self._active -= 1

    async def _write_batch(self, batch: list[_Job]) -> None:
        try:
            results = await self._write(batch)
        except IngestUnavailable as exc:
            for job in batch:
                _settle(job, error=exc)
            return
        except Exception as exc:  # whatever it is, it must reach the callers
            if len(batch) > 1:
                # Something in the batch is wrong for the database: store the others
                # alone, so one bad webhook fails only itself.
                log.warning("ingest_batch_split", size=len(batch), error=str(exc)[:200])
                for job in batch:
                    await self._write_batch([job])
                return
            _settle(batch[0], error=exc)
            return
        self.batches += 1
        self.webhooks += len(batch)
        for job, result in zip(batch, results, strict=True):
            _settle(job, result=result)

    async def _write(self, batch: list[_Job]) -> list[StoredInbound]:
        assert self._pool is not None, "start() first"
        params = _batch_parameters(batch)
        has_statuses = any(job.statuses for job in batch)
        for attempt in range(1, _TRIES + 1):
            try:
                conn = await self._pool.acquire()
            except Exception as exc:
                # Whatever stops a connection (server down, not accepting connections,
                # refused login) is an outage for the webhook, not a fault in it.
                raise IngestUnavailable(f"no connection: {exc}".splitlines()[0]) from exc
            try:
                if not has_statuses:  # one statement is its own transaction
                    rows = await conn.fetch(INSERT_BATCH, *params) if params else []
                    applied = [0] * len(batch)
                else:
                    async with conn.transaction():
                        rows = await conn.fetch(INSERT_BATCH, *params) if params else []
                        applied = [await _apply_statuses(conn, job) for job in batch]
                break
            except _TRANSIENT:
                if attempt == _TRIES:
                    raise
            except Exception as exc:
                # A connection that died under the write (a restart, a failover), whatever
                # the driver called it, is an outage: the platform delivers again.
                if isinstance(exc, _UNAVAILABLE) or conn.is_closed():
                    reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
                    raise IngestUnavailable(reason) from exc
                raise
            finally:
                await self._pool.release(conn)
        return _match(batch, rows, applied)


def _settle(
    job: _Job, *, result: StoredInbound | None = None, error: BaseException | None = None
) -> None:
    if job.done.done():
        return
    if error is not None:
        job.done.set_exception(error)
    else:
        assert result is not None
        job.done.set_result(result)


def _batch_parameters(batch: list[_Job]) -> list[list[Any]]:
    """The arrays INSERT_BATCH takes; empty when the batch carries no message."""
    people: dict[tuple[str, str], tuple[str, str | None, datetime]] = {}
    rows: list[tuple[Any, ...]] = []
    for job in batch:
        for message in job.messages:
            key = (job.channel, message.user_id)
            known = people.get(key)
            # The latest message names the account and time; a name is kept once seen.
            if known is None or message.received_at >= known[2]:
                name = message.profile_name or (known[1] if known else None)
                people[key] = (job.account, name, message.received_at)
            elif known[1] is None and message.profile_name:
                people[key] = (known[0], message.profile_name, known[2])
            rows.append(
                (
                    job.channel,
                    job.account,
                    message.user_id,
                    message.message,
                    message.message_type,
                    None if message.media is None else json.dumps(message.media),
                    message.external_id,
                    message.update_key,
                    message.reply_to,
                )
            )
    if not rows:
        return []
    customers = sorted(people.items())
    return [
        [channel for (channel, _), _ in customers],
        [account for _, (account, _, _) in customers],
        [user for (_, user), _ in customers],
        [name for _, (_, name, _) in customers],
        [when for _, (_, _, when) in customers],
        *(list(column) for column in zip(*rows, strict=True)),
    ]


async def _apply_statuses(conn: asyncpg.Connection, job: _Job) -> int:
    applied = 0
    for platform_id, status, code, reason in job.statuses:
        result = await conn.execute(
            APPLY_STATUS,
            job.channel,
            job.account,
            platform_id,
            status,
            code,
            reason,
            STATUS_RANK[status],
        )
        applied += int(result.split()[-1])
    return applied


def _match(
    batch: list[_Job], rows: Sequence[asyncpg.Record], applied: list[int]
) -> list[StoredInbound]:
    """Which webhook each inserted row belongs to: the first in the batch carrying its key
    (a copy of the same update later in the batch is a duplicate, like a later batch)."""
    inserted = {(r["channel"], r["channel_account"], r["external_id"]): r["id"] for r in rows}
    results = []
    for job, statuses_applied in zip(batch, applied, strict=True):
        stored = []
        for message in job.messages:
            row_id = inserted.pop((job.channel, job.account, message.external_id), None)
            if row_id is not None:
                stored.append(row_id)
        results.append(StoredInbound(stored, len(job.messages) - len(stored), statuses_applied))
    return results
