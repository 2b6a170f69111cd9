"""Customers, inbound channel messages and outbound deliveries (migration 0002).

Duplicates are stopped here by unique keys and `ON CONFLICT`, never by memory: a
webhook body delivered twice, or twice at once, inserts its rows once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, Text, case, func, update
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, ChatInteraction


class Customer(Base):
    """One person on one channel, whichever of atende's accounts they write to; `id` is the
    client_id of their messages and `channel_account` the account they last wrote to."""

    __tablename__ = "customers"

    id: Mapped[uuid.UUID] = mapped_column(
        UUID(as_uuid=True), primary_key=True, server_default=func.gen_random_uuid()
    )
    channel: Mapped[str] = mapped_column(Text)
    channel_account: Mapped[str] = mapped_column(Text)
    channel_user_id: Mapped[str] = mapped_column(Text)
    profile_name: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_inbound_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


# How far along a send is. A status only ever replaces one of lower rank, so a late
# "sent" never undoes "read". "failed" ranks with "delivered": a failure can follow
# "sent" but not a delivery, and a delivered message cannot fail afterwards.
STATUS_RANK = {"pending": 0, "sending": 1, "sent": 2, "delivered": 3, "failed": 3, "read": 4}


class Delivery(Base):
    """One outbound message: a part of an approved answer, on its way to the customer."""

    __tablename__ = "deliveries"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    interaction_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("chat_interactions.id"))
    answer_hash: Mapped[str] = mapped_column(Text)
    part: Mapped[int] = mapped_column(Integer)
    parts: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(Text)
    channel_account: Mapped[str] = mapped_column(Text, server_default="")
    recipient: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text, server_default="pending")
    platform_message_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    next_attempt_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    claimed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error_code: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_error_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


def status_rank(column: Any) -> Any:
    """The SQL expression of a status column's rank."""
    return case(STATUS_RANK, value=column, else_=-1)


@dataclass(frozen=True)
class NewInteraction:
    """An inbound message ready to store; `user_id` names its customer."""

    user_id: str
    profile_name: str | None
    received_at: datetime
    values: dict[str, Any]  # chat_interactions columns (without client_id)


@dataclass(frozen=True)
class StoredInbound:
    stored: list[int]  # ids of the rows inserted now
    duplicates: int
    statuses_applied: int


class ChannelRepository:
    """Inbound writes: customers, channel messages and the statuses of sent messages."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def store(
        self,
        channel: str,
        account: str,
        messages: Sequence[NewInteraction],
        statuses: Sequence[tuple[str, str, str | None, str | None]],
    ) -> StoredInbound:
        """Store everything one webhook carried in one transaction; returns once committed."""
        stored: list[int] = []
        applied = 0
        async with self._sessions.begin() as session:
            # Customers first, in a fixed order, so two bodies naming the same people
            # cannot lock them in opposite orders.
            people = {m.user_id: m for m in messages}
            client_ids = {}
            for user_id in sorted(people):
                client_ids[user_id] = await self._customer(
                    session, channel, account, people[user_id]
                )
            for message in messages:
                row_id = await session.scalar(
                    insert(ChatInteraction)
                    .values(
                        client_id=client_ids[message.user_id],
                        channel=channel,
                        channel_account=account,
                        **message.values,
                    )
                    .on_conflict_do_nothing()
                    .returning(ChatInteraction.id)
                )
                if row_id is not None:
                    stored.append(row_id)
            for platform_id, status, code, reason in statuses:
                applied += await apply_status(
                    session, channel, account, platform_id, status, code, reason
                )
        return StoredInbound(stored, len(messages) - len(stored), applied)

    @staticmethod
    async def _customer(
        session: AsyncSession, channel: str, account: str, message: NewInteraction
    ) -> uuid.UUID:
        stmt = insert(Customer).values(
            channel=channel,
            channel_account=account,
            channel_user_id=message.user_id,
            profile_name=message.profile_name,
            last_inbound_at=message.received_at,
        )
        client_id = await session.scalar(
            stmt.on_conflict_do_update(
                constraint="customers_channel_user_key",
                set_={
                    "channel_account": stmt.excluded.channel_account,
                    "profile_name": func.coalesce(
                        stmt.excluded.profile_name, Customer.profile_name
                    ),
                    "last_inbound_at": func.greatest(
                        stmt.excluded.last_inbound_at, Customer.last_inbound_at
                    ),
                },
            ).returning(Customer.id)
        )
        assert client_id is not None  # DO UPDATE always returns the row
        return client_id


async def apply_status(
    session: AsyncSession,
    channel: str,
    account: str,
    platform_message_id: str,
    status: str,
    error_code: str | None,
    error_reason: str | None,
) -> int:
    """Move the deliveries the platform names forward to `status`, never backwards;
    returns how many moved (0 for a message atende did not send, or news already known)."""
    values: dict[str, Any] = {"status": status}
    if status == "failed":
        values |= {"last_error_code": error_code, "last_error_reason": error_reason}
    result = await session.execute(
        update(Delivery)
        .where(
            Delivery.channel == channel,
            Delivery.channel_account == account,
            Delivery.platform_message_id == platform_message_id,
            status_rank(Delivery.status) < STATUS_RANK[status],
        )
        .values(**values)
    )
    return result.rowcount or 0
