"""What changed lately: the rows the operator console's live feed compares."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import defer

from storage.channels import Delivery
from storage.models import ChatInteraction
from storage.routing import KB_ACCOUNT, KB_CHANNEL


class ActivityRepository:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def changed_within(self, seconds: float) -> tuple[datetime, list[ChatInteraction]]:
        """The database's time, and the messages (not knowledge-base pairs) stored or
        changed, or whose delivery changed, in the `seconds` before it, by id."""
        since = func.now() - func.make_interval(0, 0, 0, 0, 0, 0, seconds)
        delivered = select(Delivery.interaction_id).where(Delivery.updated_at > since)
        async with self._sessions() as session:
            now = await session.scalar(select(func.now()))
            rows = await session.scalars(
                select(ChatInteraction)
                .options(defer(ChatInteraction.embedding))
                .where(
                    or_(ChatInteraction.updated_at > since, ChatInteraction.id.in_(delivered)),
                    ~(
                        (ChatInteraction.channel == KB_CHANNEL)
                        & (ChatInteraction.channel_account == KB_ACCOUNT)
                    ),
                )
                .order_by(ChatInteraction.id)
            )
            return now, list(rows)
