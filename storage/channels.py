"""Customers and outbound deliveries (migration 0002), and the inbound types that
storage.ingest writes.

Duplicates are stopped by unique keys and `ON CONFLICT`, never by memory: a webhook
body delivered twice, or twice at once, inserts its rows once.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, Text, func
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base


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
    # Blocked by an operator (migration 0016): their messages arrive closed (storage.ingest).
    blocked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    blocked_by: Mapped[str | None] = mapped_column(Text, nullable=True)
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
    # The worker that claimed it last (migration 0006), and when the current claim's send
    # was about to start: NULL while `sending` means the platform certainly never saw it.
    claimed_by: Mapped[int | None] = mapped_column(Integer, nullable=True)
    send_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_error_code: Mapped[str | None] = mapped_column(Text, nullable=True)
    last_error_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


@dataclass(frozen=True)
class NewInteraction:
    """An inbound message ready to store: its customer (`user_id`, `profile_name`,
    `received_at`) and its chat_interactions columns."""

    user_id: str
    profile_name: str | None
    received_at: datetime
    message: str
    message_type: str
    media: dict[str, Any] | None
    external_id: str
    update_key: str | None
    reply_to: str | None


@dataclass(frozen=True)
class StoredInbound:
    stored: list[int]  # ids of the rows inserted now
    duplicates: int
    statuses_applied: int
