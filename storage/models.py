"""The tables atende keeps, as SQLAlchemy models.

The schema itself is owned by the Alembic migrations in `storage/migrations`; these
models describe it for queries. The embedding column's size is set by the migration
from the configured model, so the model here leaves it open.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from pgvector.sqlalchemy import Vector
from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, Text, func
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

VALIDATED_BY = ("pending", "ai", "human")
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
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Meta(Base):
    """Facts about the database as a whole, such as which model made its vectors."""

    __tablename__ = "atende_meta"

    key: Mapped[str] = mapped_column(Text, primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(JSONB)
