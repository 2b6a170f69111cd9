"""Bodies of the customer routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from storage.channels import Customer


class CustomerOut(BaseModel):
    client_id: uuid.UUID = Field(description="The client_id of the customer's messages.")
    channel: Literal["telegram", "whatsapp"]
    name: str | None = Field(description="Their name as their channel last showed it.")
    last_message_at: datetime = Field(description="Their latest message, by their platform.")
    blocked_at: datetime | None = Field(
        description="When an operator blocked them: their messages arrive closed (reason "
        "blocked). Null when not blocked."
    )
    blocked_by: str | None = Field(description="Who blocked them.")

    @classmethod
    def of(cls, row: Customer) -> CustomerOut:
        return cls(
            client_id=row.id,
            channel=row.channel,  # type: ignore[arg-type]
            name=row.profile_name,
            last_message_at=row.last_inbound_at,
            blocked_at=row.blocked_at,
            blocked_by=row.blocked_by,
        )


class BlockedOut(CustomerOut):
    closed_messages: list[int] = Field(
        description="Their messages that were waiting in the queue, closed by this block."
    )
