"""Bodies of the saved-reply routes."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from gateway.schemas.messages import _Strict
from gateway.schemas.operators import AssignmentRequest
from storage.models import SavedReply


class ReplyQuery(_Strict):
    sector: str | None = Field(
        default=None, description="Only this sector's replies and those of every sector."
    )


class ReplyIn(AssignmentRequest):
    title: str = Field(
        min_length=1, max_length=80, description="What operators find it by; unique per sector."
    )
    text: str = Field(min_length=1, max_length=4096, description="The reply itself.")
    sector: str | None = Field(
        default=None, description="The sector it belongs to; null: every sector."
    )


class ReplyOut(BaseModel):
    id: int
    title: str
    text: str
    sector: str | None = Field(description="null: the reply of every sector.")
    created_by: str | None = Field(description="Who saved it first.")
    updated_by: str | None = Field(description="Who saved it last.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: SavedReply) -> ReplyOut:
        return cls(
            id=row.id,
            title=row.title,
            text=row.text,
            sector=row.sector,
            created_by=row.created_by,
            updated_by=row.updated_by,
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class ReplyList(BaseModel):
    items: list[ReplyOut] = Field(description="By title, every one (no pages).")
