"""api_keys rows, and the counts the health and metrics routes read. No HTTP, no rules."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.database import driver_connection
from storage.models import ApiKey, ChatInteraction
from storage.routing import in_queue, unanswered_before

# last_used_at is a hint for people, not an audit log: write it at most this often per key,
# so an authenticated request is one read, not a read and a write.
_TOUCH_EVERY = timedelta(minutes=1)
_NEVER = datetime.min.replace(tzinfo=UTC)
# Keys looked up at once, at most (active_by_hash).
_AT_ONCE = 4
_ACTIVE_BY_HASH = (
    "SELECT id, name, role, last_used_at FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL"
)


class DuplicateKey(Exception):
    """A key with this name (or, improbably, this prefix or hash) exists already."""


class ApiKeyRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._lookups = asyncio.Semaphore(_AT_ONCE)
        self._touched: dict[int, datetime] = {}  # key id -> when this process noted its use

    async def create(self, *, name: str, role: str, prefix: str, key_hash: str) -> ApiKey:
        try:
            async with self._sessions.begin() as session:
                row = ApiKey(name=name, role=role, prefix=prefix, key_hash=key_hash)
                session.add(row)
                await session.flush()
                await session.refresh(row)
                return row
        except IntegrityError as exc:
            raise DuplicateKey(name) from exc

    async def all(self) -> list[ApiKey]:
        async with self._sessions() as session:
            return list(await session.scalars(select(ApiKey).order_by(ApiKey.id)))

    async def active_by_hash(self, key_hash: str) -> ApiKey | None:
        """The unrevoked key with this hash (id, name, role and last use only), its last
        use noted (at most once a minute).

        Every authenticated request asks this: one statement on the driver's connection,
        one round trip, where a session's transaction takes three; and at most _AT_ONCE at
        a time, so that a burst of requests (thirty consoles reading the queue after one
        event) waits here a moment, on the pooled connections, rather than opening ones
        beyond the pool, each a new server process, closed again as soon as it is back."""
        async with self._lookups, driver_connection(self._sessions.kw["bind"]) as conn:
            found = await conn.fetchrow(_ACTIVE_BY_HASH, key_hash)
        if found is None:
            return None
        row = ApiKey(**dict(found))
        now = datetime.now(UTC)
        last = max(row.last_used_at or _NEVER, self._touched.get(row.id, _NEVER))
        if now - last > _TOUCH_EVERY:
            # Noted here first: the requests of a burst all read the old time, and one
            # write is enough.
            self._touched[row.id] = now
            async with self._sessions.begin() as session:
                await session.execute(
                    update(ApiKey).where(ApiKey.id == row.id).values(last_used_at=func.now())
                )
        return row

    async def revoke(self, name_or_prefix: str) -> ApiKey | None:
        """Revoke the key with this name or prefix; an already revoked key is returned as is."""
        async with self._sessions.begin() as session:
            row = await session.scalar(
                select(ApiKey)
                .where(or_(ApiKey.name == name_or_prefix, ApiKey.prefix == name_or_prefix))
                .with_for_update()
            )
            if row is None:
                return None
            if row.revoked_at is None:
                await session.execute(
                    update(ApiKey).where(ApiKey.id == row.id).values(revoked_at=func.now())
                )
                await session.refresh(row)
            return row


class BacklogRepository:
    """What the workers and the operators still have to do, counted."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def worker_backlog(self, *, embed_attempts: int, pipeline_attempts: int) -> int:
        """Messages waiting for a vector, or embedded and waiting for routing and suggestion;
        rows the workers gave up on (past their attempts) are not waiting any more."""
        waiting_for_vector = and_(
            ChatInteraction.embedding.is_(None),
            ChatInteraction.embed_attempts < embed_attempts,
        )
        waiting_for_pipeline = and_(
            ChatInteraction.embedding.is_not(None),
            ChatInteraction.pipeline_done_at.is_(None),
            ChatInteraction.pipeline_attempts < pipeline_attempts,
        )
        async with self._sessions() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(ChatInteraction)
                .where(or_(waiting_for_vector, waiting_for_pipeline))
            )
            return count or 0

    async def operator_queue(self, *, late_before: datetime) -> tuple[int, int]:
        """Messages not yet validated by a human (the operators' queue), and how many of
        them were received before `late_before` and have had no answer yet."""
        async with self._sessions() as session:
            result = await session.execute(
                select(
                    func.count(),
                    func.count().filter(unanswered_before(late_before)),
                )
                .select_from(ChatInteraction)
                .where(*in_queue())
            )
            depth, late = result.one()
            return int(depth), int(late)

    async def deliveries_by_status(self) -> dict[str, int]:
        async with self._sessions() as session:
            result = await session.execute(
                text("SELECT status, count(*) FROM deliveries GROUP BY status")
            )
            return {status: int(count) for status, count in result.all()}
