"""Changing who holds a message, under the row's lock. No HTTP, no business rules."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import aliased, defer

from storage.models import DERIVED, ChatInteraction

Decide = Callable[[ChatInteraction], dict[str, Any]]


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
            taker = values.get("assigned_to")
            if taker is not None and taker != row.assigned_to:
                values["assigned_at"] = func.now()
            if values.get("close_reason") is not None and row.closed_at is None:
                values["closed_at"] = func.now()
            for name, value in values.items():
                setattr(row, name, value)
            await session.flush()
            await session.refresh(row, attribute_names=[*values, "updated_at", *DERIVED])
            return row

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
