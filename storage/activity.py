"""What changed lately: the rows the operator console's live feed compares.

The feed asks twice: first, cheaply, which messages were touched in the window and when
(`stamps_within`); then whole rows only for those whose stamp it has not seen (`rows`).
A message stays in the window for its whole length, so reading whole rows every time
read each of them tens of times for nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import defer

from storage.channels import Delivery
from storage.models import ChatInteraction
from storage.routing import KB_ACCOUNT, KB_CHANNEL

# When a message last changed: its own row (the `atende_touch_updated_at` trigger keeps
# it on every update) and the latest of its deliveries. A new stamp means a new state.
Stamp = tuple[datetime, datetime | None]


def _not_knowledge_base() -> ColumnElement[bool]:
    knowledge_base = (ChatInteraction.channel == KB_CHANNEL) & (
        ChatInteraction.channel_account == KB_ACCOUNT
    )
    return ~knowledge_base


class ActivityRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def now(self) -> datetime:
        """The database's time, which the stamps are in."""
        async with self._sessions() as session:
            return await session.scalar(select(func.now()))

    async def stamps_within(self, seconds: float) -> dict[int, Stamp]:
        """The stamp of each message (not knowledge-base pairs) stored or changed, or whose
        delivery changed, in the last `seconds` by the database's clock."""
        since = func.now() - func.make_interval(0, 0, 0, 0, 0, 0, seconds)
        delivered = select(Delivery.interaction_id).where(Delivery.updated_at > since)
        latest_delivery = (
            select(func.max(Delivery.updated_at))
            .where(Delivery.interaction_id == ChatInteraction.id)
            .scalar_subquery()
        )
        async with self._sessions() as session:
            result = await session.execute(
                select(ChatInteraction.id, ChatInteraction.updated_at, latest_delivery).where(
                    or_(ChatInteraction.updated_at > since, ChatInteraction.id.in_(delivered)),
                    _not_knowledge_base(),
                )
            )
            return {row[0]: (row[1], row[2]) for row in result}

    async def rows(self, ids: Sequence[int]) -> list[ChatInteraction]:
        """The messages `ids` as they are now, by id."""
        if not ids:
            return []
        async with self._sessions() as session:
            rows = await session.scalars(
                select(ChatInteraction)
                .options(defer(ChatInteraction.embedding))
                .where(ChatInteraction.id.in_(ids))
                .order_by(ChatInteraction.id)
            )
            return list(rows)
