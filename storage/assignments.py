"""Changing who holds a message, under the row's lock. No HTTP, no business rules."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased, defer

from storage.models import DERIVED, ChatInteraction

Decide = Callable[[ChatInteraction], dict[str, Any]]

# How long change_each waits for a row another transaction holds.
LOCK_WAIT = "2s"
# lock_not_available (lock_timeout ran out), deadlock_detected.
_BUSY = {"55P03", "40P01"}


class AssignmentRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def change(self, interaction_id: int, decide: Decide) -> ChatInteraction | None:
        """Lock the row, let `decide` see it and return the values to write (or raise to
        refuse), and write them in the same transaction; None when there is no such row.

        Of two operators taking one message at once, the second waits for the lock and
        then sees the first one's name. `assigned_at` is the database's time whenever
        `assigned_to` becomes someone new, and `closed_at` when an open message is given a
        `close_reason`, so both are on the same clock as `created_at`.
        """
        async with self._sessions.begin() as session:
            row = await session.get(
                ChatInteraction,
                interaction_id,
                options=[defer(ChatInteraction.embedding)],
                with_for_update=True,
                populate_existing=True,
            )
            if row is None:
                return None
            values = decide(row)
            if not values:
                return row
            _write(row, values)
            await session.flush()
            await session.refresh(row, attribute_names=[*values, "updated_at", *DERIVED])
            return row

    @staticmethod
    async def owners(session: AsyncSession, ids: Sequence[int]) -> dict[int, uuid.UUID]:
        """Whose each of `ids` is, inside the caller's transaction; unknown ids are left out."""
        query = select(ChatInteraction.id, ChatInteraction.client_id).where(
            ChatInteraction.id.in_(ids)
        )
        return {row.id: row.client_id for row in await session.execute(query)}

    @staticmethod
    async def change_each(session: AsyncSession, ids: Sequence[int], decide: Decide) -> set[int]:
        """As `change`, for several rows inside the caller's transaction: lock `ids` in id
        order and write what `decide` returns for each. The ids it locked.

        A row another transaction holds is waited for up to LOCK_WAIT (the worker routing
        a message holds it that long at most). Past that, or when two operators answering
        two lines of one customer at once each wait for the other's line, it is skipped:
        each answer gets the lines nobody else is changing, and is told of the others.
        """
        try:
            async with session.begin_nested():
                await session.execute(
                    text("SELECT set_config('lock_timeout', :wait, true)"), {"wait": LOCK_WAIT}
                )
                return await _change_locked(session, ids, decide, skip_locked=False)
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) not in _BUSY:
                raise
        return await _change_locked(session, ids, decide, skip_locked=True)

    async def answered_since(self, interaction_id: int) -> bool | None:
        """Whether the customer who sent the message got an answer, to another of their
        messages, after it arrived (a human's, or one their sector sent by itself); None
        when there is no such message."""
        other = aliased(ChatInteraction)
        answered = (
            select(other.id)
            .where(
                other.client_id == ChatInteraction.client_id,
                other.id != ChatInteraction.id,
                other.answered_at >= ChatInteraction.created_at,
            )
            .exists()
        )
        query = select(answered).where(ChatInteraction.id == interaction_id)
        async with self._sessions() as session:
            return await session.scalar(query)


def _write(row: ChatInteraction, values: dict[str, Any]) -> None:
    taker = values.get("assigned_to")
    if taker is not None and taker != row.assigned_to:
        values["assigned_at"] = func.now()
    if values.get("close_reason") is not None and row.closed_at is None:
        values["closed_at"] = func.now()
    for name, value in values.items():
        setattr(row, name, value)


async def _change_locked(
    session: AsyncSession, ids: Sequence[int], decide: Decide, *, skip_locked: bool
) -> set[int]:
    query = (
        select(ChatInteraction)
        .options(defer(ChatInteraction.embedding))
        .where(ChatInteraction.id.in_(ids))
        .order_by(ChatInteraction.id)
        .with_for_update(skip_locked=skip_locked)
        .execution_options(populate_existing=True)
    )
    rows = (await session.scalars(query)).all()
    for row in rows:
        values = decide(row)
        if values:
            _write(row, values)
    await session.flush()
    return {row.id for row in rows}
