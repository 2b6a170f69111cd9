"""Bodies of the internal-note routes."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from gateway.schemas.operators import AssignmentRequest
from storage.models import ClientNote


class NoteIn(AssignmentRequest):
    text: str = Field(min_length=1, max_length=2000, description="What the team should know.")


class NoteOut(BaseModel):
    id: int
    client_id: uuid.UUID
    text: str
    author: str = Field(description="Who wrote it: the operator's name, else their key's.")
    created_at: datetime

    @classmethod
    def of(cls, row: ClientNote) -> NoteOut:
        return cls(
            id=row.id,
            client_id=row.client_id,
            text=row.text,
            author=row.author,
            created_at=row.created_at,
        )


class NoteList(BaseModel):
    items: list[NoteOut] = Field(description="The customer's newest 50 notes, newest first.")
