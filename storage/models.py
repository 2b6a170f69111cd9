"""The tables atende keeps, as SQLAlchemy models.

The schema itself is owned by the Alembic migrations in `storage/migrations`; these
models describe it for queries. The embedding column's size is set by the migration
from the configured model, so the model here leaves it open.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Integer,
    Text,
    column,
    func,
    select,
    table,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID, aggregate_order_by
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import DeclarativeBase, Mapped, column_property, defer, mapped_column

VALIDATED_BY = ("pending", "ai", "human")
# Why an operator closed a message without answering it (migrations 0013, 0015 and 0016's
# check): answered_together is a message the answer to another of the customer's covered;
# blocked, one that arrived from a customer an operator had blocked.
CLOSE_REASONS = ("no_reply_needed", "spam", "duplicate", "answered_together", "blocked")
# What a closed message holds once it is open again (reopened, or answered after all).
REOPENED: dict[str, None] = {"closed_at": None, "closed_by": None, "close_reason": None}
CHANNELS = ("rest", "telegram", "whatsapp")


class Base(DeclarativeBase):
    pass


class Sector(Base):
    __tablename__ = "sectors"

    name: Mapped[str] = mapped_column(Text, primary_key=True)
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ChatInteraction(Base):
    """One customer message, with its answer and who validated it."""

    __tablename__ = "chat_interactions"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    client_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True), index=True)
    sector: Mapped[str | None] = mapped_column(Text, ForeignKey("sectors.name"), nullable=True)
    message: Mapped[str] = mapped_column(Text)
    answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    operator_name: Mapped[str | None] = mapped_column(Text, nullable=True)
    validated_by: Mapped[str] = mapped_column(Text, server_default="pending")
    channel: Mapped[str] = mapped_column(Text, server_default="rest")
    channel_account: Mapped[str] = mapped_column(Text, server_default="")
    external_id: Mapped[str | None] = mapped_column(Text, nullable=True)
    embedding: Mapped[Any | None] = mapped_column(Vector(), nullable=True)
    embedding_model: Mapped[str | None] = mapped_column(Text, nullable=True)
    embed_attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    embed_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    embed_after: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    # What a channel message carried (migration 0002).
    message_type: Mapped[str] = mapped_column(Text, server_default="text")
    media: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
    reply_to: Mapped[str | None] = mapped_column(Text, nullable=True)
    update_key: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Routing and suggestion (migration 0003).
    route_confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    route_reason: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
    suggestion: Mapped[dict[str, Any] | None] = mapped_column(JSONB, nullable=True)
    pipeline_done_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )
    pipeline_attempts: Mapped[int] = mapped_column(Integer, server_default="0")
    pipeline_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    # The operator answering it, and since when (migration 0008).
    assigned_to: Mapped[str | None] = mapped_column(Text, nullable=True)
    assigned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # First answered: by a human's validation or a sector's auto-send (migration 0011).
    answered_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Closed without an answer by an operator, who and why (CLOSE_REASONS; migration 0013).
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    closed_by: Mapped[str | None] = mapped_column(Text, nullable=True)
    close_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())

    @hybrid_property
    def sector_given(self) -> bool:
        """The sector came with the message (an integrator's): no router or operator placed
        it, so the suggestion was weighed within it (SuggestionMaker.assess)."""
        return self.route_reason is None

    @sector_given.inplace.expression
    @classmethod
    def _sector_given(cls) -> Any:
        return cls.route_reason.is_(None)


# The parts of the latest approved answer's delivery, in order (see storage.channels);
# read with every message so its REST representation can show the delivery state.
_DELIVERY_FIELDS = {
    "part": "part",
    "status": "status",
    "platform_message_id": "platform_message_id",
    "attempts": "attempts",
    "error_code": "last_error_code",
    "error_reason": "last_error_reason",
    "updated_at": "updated_at",
}
_delivery = table(
    "deliveries", *(column(name) for name in ("id", "interaction_id", "answer_hash")),
    *(column(name) for name in _DELIVERY_FIELDS.values()),
)  # fmt: skip
_latest = _delivery.alias("latest_delivery")
_part_object = func.jsonb_build_object(
    *(item for key, name in _DELIVERY_FIELDS.items() for item in (key, _delivery.c[name]))
)
ChatInteraction.delivery_parts = column_property(  # type: ignore[attr-defined]
    select(func.jsonb_agg(aggregate_order_by(_part_object, _delivery.c.part), type_=JSONB))
    .where(
        _delivery.c.interaction_id == ChatInteraction.id,
        _delivery.c.answer_hash
        == select(_latest.c.answer_hash)
        .where(_latest.c.interaction_id == ChatInteraction.id)
        .order_by(_latest.c.id.desc())
        .limit(1)
        .correlate(ChatInteraction)
        .scalar_subquery(),
    )
    .correlate(ChatInteraction)
    .scalar_subquery()
)


class Meta(Base):
    """Facts about the database as a whole, such as which model made its vectors."""

    __tablename__ = "atende_meta"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSONB)


class AnswerVector(Base):
    """An answer's own vector under one model, kept between calibrations
    (storage/answer_vectors.py)."""

    __tablename__ = "answer_vectors"

    model_id: Mapped[str] = mapped_column(Text, primary_key=True)
    answer_digest: Mapped[str] = mapped_column(Text, primary_key=True)
    embedding: Mapped[Any] = mapped_column(Vector())
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


ROLES = ("admin", "operator", "integrator")


class ApiKey(Base):
    """A REST API key: its role, and the SHA-256 of the key (never the key itself)."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(Text, unique=True)
    role: Mapped[str] = mapped_column(Text)
    prefix: Mapped[str] = mapped_column(Text, unique=True)
    key_hash: Mapped[str] = mapped_column(Text, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


REVIEW_OUTCOMES = ("approved", "edited", "rejected")


class SuggestionReview(Base):
    """What an operator did with one suggestion (migration 0007): every review is a label."""

    __tablename__ = "suggestion_reviews"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    interaction_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("chat_interactions.id", ondelete="CASCADE")
    )
    sector: Mapped[str | None] = mapped_column(Text, nullable=True)
    outcome: Mapped[str] = mapped_column(Text)
    # An edit that wrote another answer in the suggestion's place (migration 0017).
    replaced: Mapped[bool] = mapped_column(Boolean, server_default="false")
    suggested_answer: Mapped[str] = mapped_column(Text)
    final_answer: Mapped[str | None] = mapped_column(Text, nullable=True)
    confidence: Mapped[float | None] = mapped_column(Float, nullable=True)
    method: Mapped[str | None] = mapped_column(Text, nullable=True)
    operator_name: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class SavedReply(Base):
    """An answer operators keep ready to send (migration 0012): one sector's, or every
    sector's when `sector` is None; titles are unique per sector, whatever their case."""

    __tablename__ = "saved_replies"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    title: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    sector: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_by: Mapped[str | None] = mapped_column(Text, nullable=True)
    updated_by: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # Kept by the table's trigger, as chat_interactions' is.
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


# The customer's name as their channel last showed it (storage.channels.Customer, whose id
# is a channel message's client_id); None for messages sent over REST.
_customers = table(
    "customers",
    column("id"),
    column("profile_name"),
    column("channel"),
    column("last_inbound_at", DateTime(timezone=True)),
)
ChatInteraction.customer_name = column_property(  # type: ignore[attr-defined]
    select(_customers.c.profile_name)
    .where(_customers.c.id == ChatInteraction.client_id)
    .correlate(ChatInteraction)
    .scalar_subquery()
)

# WhatsApp delivers a free-form answer only within 24 hours of the customer's last message
# (its customer service window; later, only an approved template, which atende does not
# send): when that window closes for the message's customer, by the platform's clock.
WHATSAPP_WINDOW = timedelta(hours=24)
ChatInteraction.reply_window_closes_at = column_property(  # type: ignore[attr-defined]
    select(_customers.c.last_inbound_at + WHATSAPP_WINDOW)
    .where(_customers.c.id == ChatInteraction.client_id, _customers.c.channel == "whatsapp")
    .correlate(ChatInteraction)
    .scalar_subquery()
)

# What is read with a message rather than stored on it: refreshed with the columns an
# update changed, as a flush expires them.
DERIVED = ("delivery_parts", "customer_name", "reply_window_closes_at")
# The workers' claims load none of them: routing, suggesting and sending never read them,
# and each is a subquery on every row of every batch.
WITHOUT_DERIVED = tuple(defer(getattr(ChatInteraction, name)) for name in DERIVED)


class ClientNote(Base):
    """An operator's note about a customer (their client_id), never shown to them
    (migration 0014)."""

    __tablename__ = "client_notes"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    client_id: Mapped[uuid.UUID] = mapped_column(UUID(as_uuid=True))
    text: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
