"""Bodies of the API-key and health routes."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from gateway.services.access import Role
from storage.models import ApiKey


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=100, description="Who or what uses the key.")
    role: Role = Field(description="admin, operator or integrator.")


class ApiKeyOut(BaseModel):
    """A key as listings show it: never the key, never its hash."""

    name: str
    role: Role
    prefix: str = Field(description="The key's first characters, to recognise it by.")
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: ApiKey) -> ApiKeyOut:
        return cls(
            name=row.name,
            role=Role(row.role),
            prefix=row.prefix,
            created_at=row.created_at,
            last_used_at=row.last_used_at,
            revoked_at=row.revoked_at,
        )


class ApiKeyCreated(ApiKeyOut):
    key: str = Field(description="The key itself: shown this once, stored nowhere.")


class ApiKeyList(BaseModel):
    items: list[ApiKeyOut]


class Liveness(BaseModel):
    status: Literal["ok"]


class Readiness(BaseModel):
    status: Literal["ok", "unavailable"]
    database: Literal["ok", "unreachable"]
    backlog: int | None = Field(description="Messages waiting for the worker.")
    max_backlog: int
