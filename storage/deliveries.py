"""The outbound queue: deliveries, claimed by any number of workers with SKIP LOCKED.

A claim is two facts, each committed before the next step: `sending` with the claiming
worker's id (`claim`), then `send_started_at` just before the platform call (`start_send`).
A worker's id is locked for its life by its `WorkerLease`, so `recover` tells a dead
worker's claims from a live one's by trying that lock, and knows from `send_started_at`
whether the platform may have the message.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, exists, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from storage.channels import Delivery

# First key of the two-key advisory locks on delivery worker ids; the second is the id.
# (The one-key form, which the migrator's lock uses, is a separate key space.)
WORKER_LOCK_SPACE = 7402012

# The server probes a silent lease connection after 30 s, then every 10 s, and drops it
# after 3 unanswered probes: a worker whose machine vanished loses its lock in about a
# minute rather than the operating system's default two hours. (Ignored on Unix sockets.)
LEASE_KEEPALIVES = ("tcp_keepalives_idle = 30", "tcp_keepalives_interval = 10",
                    "tcp_keepalives_count = 3")  # fmt: skip

INTERRUPTED_REASON = (
    "the worker stopped during the send; whether the customer got it is unknown, "
    "so it was not sent again"
)


@dataclass(frozen=True)
class Recovered:
    """What one recovery sweep did with abandoned claims."""

    requeued: int  # never started: back in the queue, safe to send
    interrupted: int  # started, never confirmed: failed, not sent again


class WorkerLease:
    """A delivery worker's id, held for the worker's life.

    The id comes from the `delivery_worker_ids` sequence and is locked with a session-level
    advisory lock on a connection kept for that alone (idle, never inside a transaction).
    The lock lasts exactly as long as that connection: a worker killed by any means loses
    it as soon as PostgreSQL sees the connection close, which on a crash of the process is
    at once and, when the machine itself vanished, within about a minute (TCP keepalives
    set below). `ensure` checks the connection before each claim and takes a new id when
    it was lost, so a claim is never written under an id whose lock this worker lost.

    The lock must be held on a direct session: behind a transaction-pooling proxy
    (PgBouncer in transaction mode) session locks mean nothing, and only the time-based
    fallback of `DeliveryRepository.recover` would apply.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._conn: AsyncConnection | None = None
        self._worker_id: int | None = None
        self._guard = asyncio.Lock()

    @property
    def worker_id(self) -> int | None:
        return self._worker_id

    async def ensure(self) -> int:
        """The id, locked on a live connection; a new one if the connection was lost."""
        async with self._guard:
            if self._conn is not None and self._worker_id is not None:
                try:
                    await self._conn.execute(text("SELECT 1"))
                    await self._conn.commit()
                    return self._worker_id
                except (DBAPIError, OSError):
                    await self._drop()
            self._worker_id = await self._take()
            return self._worker_id

    async def _take(self) -> int:
        conn = await self._engine.connect()
        try:
            for setting in LEASE_KEEPALIVES:
                await conn.execute(text(f"SET {setting}"))
            while True:
                worker_id = int(await conn.scalar(text("SELECT nextval('delivery_worker_ids')")))
                # Only refused when the sequence went round and that id's worker still lives.
                taken = await conn.scalar(
                    text("SELECT pg_try_advisory_lock(:space, :id)"),
                    {"space": WORKER_LOCK_SPACE, "id": worker_id},
                )
                if taken:
                    break
            await conn.commit()
        except BaseException:
            await _discard(conn)
            raise
        self._conn = conn
        return worker_id

    async def release(self) -> None:
        """Give the id up (the worker stops). Unlocked explicitly first, so the worker's
        claims are free to recover the moment this returns."""
        async with self._guard:
            if self._conn is not None:
                try:
                    await self._conn.execute(
                        text("SELECT pg_advisory_unlock(:space, :id)"),
                        {"space": WORKER_LOCK_SPACE, "id": self._worker_id},
                    )
                    await self._conn.commit()
                except Exception:
                    # Gone, or left mid-statement by a cancelled check (PendingRollback):
                    # closing it below releases the lock all the same.
                    pass
            await self._drop()

    async def _drop(self) -> None:
        conn, self._conn, self._worker_id = self._conn, None, None
        if conn is not None:
            await _discard(conn)


async def _discard(conn: AsyncConnection) -> None:
    """Close the connection itself rather than return it to the pool: a pooled connection
    would keep the session lock, and the dead worker would look alive."""
    try:
        with contextlib.suppress(DBAPIError, OSError):  # already broken: nothing to close
            await conn.invalidate()
    finally:
        await conn.close()


class DeliveryRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    def lease(self) -> WorkerLease:
        """A lease for one worker, on the sessions' own engine (not yet taken)."""
        return WorkerLease(self._sessions.kw["bind"])

    @staticmethod
    async def enqueue(session: AsyncSession, rows: Sequence[dict[str, Any]]) -> int:
        """Insert the parts of an approved answer inside the caller's transaction; parts
        already queued for the same answer are left alone. Returns how many are new."""
        if not rows:
            return 0
        result = await session.scalars(
            insert(Delivery)
            .values(list(rows))
            .on_conflict_do_nothing(constraint="deliveries_answer_part_key")
            .returning(Delivery.id)
        )
        return len(result.all())

    async def claim(self, limit: int, worker_id: int | None = None) -> list[Delivery]:
        """Take up to `limit` due deliveries and mark them `sending` by `worker_id`,
        committed before any send starts: another worker can never take the same row. A
        part waits until the parts before it are sent, so a split answer arrives in order.

        A claim without a worker id (a one-off drain) is recovered only by the time-based
        fallback of `recover`, and then as `interrupted`."""
        earlier = aliased(Delivery)
        waiting_on_earlier = exists().where(
            and_(
                earlier.interaction_id == Delivery.interaction_id,
                earlier.answer_hash == Delivery.answer_hash,
                earlier.part < Delivery.part,
                earlier.status.in_(("pending", "sending")),
            )
        )
        async with self._sessions.begin() as session:
            rows = list(
                await session.scalars(
                    select(Delivery)
                    .where(
                        Delivery.status == "pending",
                        Delivery.next_attempt_at <= func.now(),
                        ~waiting_on_earlier,
                    )
                    .order_by(Delivery.next_attempt_at, Delivery.id)
                    .limit(limit)
                    .with_for_update(skip_locked=True, of=Delivery)
                )
            )
            if rows:
                await session.execute(
                    update(Delivery)
                    .where(Delivery.id.in_([row.id for row in rows]))
                    .values(
                        status="sending",
                        attempts=Delivery.attempts + 1,
                        claimed_at=func.now(),
                        claimed_by=worker_id,
                        send_started_at=None,
                    )
                    .execution_options(synchronize_session="fetch")
                )
            return rows

    async def start_send(self, delivery: Delivery) -> bool:
        """Record, committed, that the send of this claim is about to start. False when the
        claim was taken back meanwhile (the worker looked dead or the claim stale), and
        then the caller must not send: the row is someone else's now."""
        async with self._sessions.begin() as session:
            started = await session.scalar(
                update(Delivery)
                .where(
                    Delivery.id == delivery.id,
                    Delivery.status == "sending",
                    Delivery.attempts == delivery.attempts,
                    Delivery.claimed_by.is_not_distinct_from(delivery.claimed_by),
                )
                .values(send_started_at=func.now())
                .returning(Delivery.id)
            )
        return started is not None

    async def mark_sent(self, delivery: Delivery, platform_message_id: str | None) -> None:
        """Record the platform's acceptance. A claim recovery had already called
        `interrupted` (the worker lost its lock but lived) is corrected: the truth wins."""
        async with self._sessions.begin() as session:
            await session.execute(
                update(Delivery)
                .where(
                    Delivery.id == delivery.id,
                    Delivery.attempts == delivery.attempts,
                    or_(
                        Delivery.status == "sending",
                        and_(
                            Delivery.status == "failed",
                            Delivery.last_error_code == "interrupted",
                        ),
                    ),
                )
                .values(
                    status="sent",
                    platform_message_id=platform_message_id,
                    sent_at=func.now(),
                    last_error_code=None,
                    last_error_reason=None,
                )
            )

    async def retry_later(self, delivery_id: int, code: str, reason: str, wait: timedelta) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id, Delivery.status == "sending")
                .values(
                    status="pending",
                    next_attempt_at=func.now() + wait,
                    last_error_code=code,
                    last_error_reason=reason,
                )
            )

    async def fail(self, delivery_id: int, code: str, reason: str) -> None:
        """Mark a delivery failed, and the later parts of its answer with it: a reply with
        a missing middle would read wrong."""
        async with self._sessions.begin() as session:
            row = await session.get(Delivery, delivery_id)
            if row is None:
                return
            await session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id)
                .values(status="failed", last_error_code=code, last_error_reason=reason)
            )
            await session.execute(
                _fail_later_parts(row.interaction_id, row.answer_hash, row.part, code)
            )

    async def recover(self, stale_after: timedelta) -> Recovered:
        """Take back the claims nobody is working on any more: those of workers whose lock
        can be taken (they died), and, as a fallback, any claim older than `stale_after`.

        A claim whose send never started goes back to `pending`, due now, and does not
        count as an attempt: the platform certainly never saw it. One whose send started,
        or a claim without a worker id (whose start was not recorded), is failed as
        `interrupted`: whether the platform took it is unknown, and neither Telegram nor
        WhatsApp offers an idempotency key, so it is not sent again (at most once). The
        later parts of its answer fail with it, as with any failed part.

        Any worker may run this at any time; two at once never take back one claim twice.
        """
        sending = Delivery.status == "sending"
        async with self._sessions.begin() as session:
            claimants = (
                await session.scalars(
                    select(Delivery.claimed_by)
                    .where(sending, Delivery.claimed_by.is_not(None))
                    .distinct()
                )
            ).all()
            dead = []
            for worker_id in claimants:
                # Taken only if no live session holds it; held until this transaction ends,
                # so no worker can take the id meanwhile.
                lock = func.pg_try_advisory_xact_lock(WORKER_LOCK_SPACE, worker_id)
                if await session.scalar(select(lock)):
                    dead.append(worker_id)
            abandoned = and_(
                sending,
                or_(Delivery.claimed_by.in_(dead), Delivery.claimed_at < func.now() - stale_after),
            )
            requeued = await session.execute(
                update(Delivery)
                .where(
                    abandoned,
                    Delivery.send_started_at.is_(None),
                    Delivery.claimed_by.is_not(None),
                )
                .values(
                    status="pending",
                    attempts=Delivery.attempts - 1,
                    next_attempt_at=func.now(),
                    claimed_at=None,
                )
            )
            failed = (
                await session.execute(
                    update(Delivery)
                    .where(abandoned)
                    .values(
                        status="failed",
                        last_error_code="interrupted",
                        last_error_reason=INTERRUPTED_REASON,
                    )
                    .returning(Delivery.interaction_id, Delivery.answer_hash, Delivery.part)
                )
            ).all()
            for interaction_id, answer_hash, part in failed:
                await session.execute(
                    _fail_later_parts(interaction_id, answer_hash, part, "interrupted")
                )
        return Recovered(requeued.rowcount or 0, len(failed))


def _fail_later_parts(interaction_id: int, answer_hash: str, part: int, code: str) -> Any:
    """The update that fails the parts after a failed one: a reply with a missing middle
    would read wrong."""
    return (
        update(Delivery)
        .where(
            Delivery.interaction_id == interaction_id,
            Delivery.answer_hash == answer_hash,
            Delivery.part > part,
            Delivery.status == "pending",
        )
        .values(
            status="failed",
            last_error_code="earlier_part_failed",
            last_error_reason=f"part {part} failed: {code}",
        )
    )
