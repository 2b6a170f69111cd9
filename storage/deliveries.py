"""The outbound queue: deliveries, claimed by any number of workers with SKIP LOCKED."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased

from storage.channels import Delivery


class DeliveryRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

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

    async def claim(self, limit: int) -> list[Delivery]:
        """Take up to `limit` due deliveries and mark them `sending`, committed before any
        send starts: another worker can never take the same row. A part waits until the
        parts before it are sent, so a split answer arrives in order."""
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
                    .values(status="sending", attempts=Delivery.attempts + 1, claimed_at=func.now())
                    .execution_options(synchronize_session="fetch")
                )
            return rows

    async def mark_sent(self, delivery_id: int, platform_message_id: str | None) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(Delivery)
                .where(Delivery.id == delivery_id, Delivery.status == "sending")
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
                update(Delivery)
                .where(
                    Delivery.interaction_id == row.interaction_id,
                    Delivery.answer_hash == row.answer_hash,
                    Delivery.part > row.part,
                    Delivery.status == "pending",
                )
                .values(
                    status="failed",
                    last_error_code="earlier_part_failed",
                    last_error_reason=f"part {row.part} failed: {code}",
                )
            )

    async def fail_interrupted(self, older_than: timedelta) -> int:
        """Deliveries left `sending` by a worker that stopped mid-send. Whether the
        platform took the message is unknown, and Telegram has no idempotency key, so
        they are marked failed rather than sent again (at most once)."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(Delivery)
                .where(Delivery.status == "sending", Delivery.claimed_at < func.now() - older_than)
                .values(
                    status="failed",
                    last_error_code="interrupted",
                    last_error_reason="the worker stopped during the send; whether the "
                    "customer got it is unknown, so it was not sent again",
                )
            )
            return result.rowcount or 0
