"""The REST API's request and response bodies. The OpenAPI document is built from these."""

from __future__ import annotations

import math
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator
from pydantic.json_schema import WithJsonSchema

from storage.models import ChatInteraction

ValidatedBy = Literal["pending", "ai", "human"]
Channel = Literal["rest", "telegram", "whatsapp"]
# storage.models.CLOSE_REASONS
CloseReason = Literal["no_reply_needed", "spam", "duplicate", "answered_together", "blocked"]


class _Strict(BaseModel):
    # An unknown field is more often a typo than an intent; say so.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class MessageCreate(_Strict):
    client_id: uuid.UUID = Field(description="The customer, as a UUID of the integrator's choice.")
    sector: str | None = Field(
        default=None,
        description="One of the configured sectors (GET /api/v1/sectors). Omitted: the "
        "router assigns one after the message is stored.",
    )
    message: str = Field(
        min_length=1,
        description="The customer's message: not empty, at most ATENDE_MAX_MESSAGE_CHARS "
        "(4096 by default) characters.",
    )
    callback_url: HttpUrl | None = Field(
        default=None,
        description="Where the human-approved answer is POSTed, signed (X-Atende-Signature). "
        "Omitted: ATENDE_REST_CALLBACK_URL, if set.",
    )


class MessageUpdate(_Strict):
    model_config = ConfigDict(json_schema_extra={"minProperties": 1})  # see _something_to_change

    answer: str | None = Field(default=None, min_length=1)
    operator_name: str | None = Field(default=None, min_length=1, max_length=200)
    # Left out, it stays as it is; it cannot be emptied, so the document does not offer null.
    validated_by: Annotated[
        ValidatedBy | None,
        WithJsonSchema({"type": "string", "enum": list(get_args(ValidatedBy))}),
    ] = None

    @field_validator("validated_by")
    @classmethod
    def _not_null(cls, value: ValidatedBy | None) -> ValidatedBy:
        if value is None:
            raise ValueError("cannot be null: one of pending, ai, human, or leave it out")
        return value

    @model_validator(mode="after")
    def _something_to_change(self) -> MessageUpdate:
        if not self.model_fields_set:
            raise ValueError("give at least one of answer, operator_name, validated_by")
        return self


DeliveryStatus = Literal["pending", "sending", "sent", "delivered", "read", "failed"]
_PROGRESS = ("pending", "sending", "sent", "delivered", "read")


class DeliveryPartOut(BaseModel):
    part: int
    status: DeliveryStatus
    platform_message_id: str | None
    attempts: int
    error_code: str | None
    error_reason: str | None
    updated_at: datetime


class DeliveryOut(BaseModel):
    """How far the approved answer got: failed if any part failed, else its least part."""

    status: DeliveryStatus
    parts: list[DeliveryPartOut]

    @classmethod
    def of(cls, parts: list[dict[str, Any]] | None) -> DeliveryOut | None:
        if not parts:
            return None
        items = [DeliveryPartOut.model_validate(part) for part in parts]
        statuses = [item.status for item in items]
        overall = "failed" if "failed" in statuses else min(statuses, key=_PROGRESS.index)
        return cls(status=overall, parts=items)


class MessageOut(BaseModel):
    id: int
    client_id: uuid.UUID
    sector: str | None
    message: str
    answer: str | None
    operator_name: str | None
    validated_by: ValidatedBy
    channel: Channel
    customer_name: str | None = Field(
        default=None,
        description="The customer's name as their channel shows it (Telegram's first and last "
        "name, WhatsApp's profile name), the latest they wrote with; null over REST.",
    )
    embedded: bool = Field(description="Whether the message has its vector yet.")
    sector_confidence: float | None = Field(
        default=None, description="The router's confidence in the sector (0-1), when it chose."
    )
    route_reason: dict[str, Any] | None = Field(
        default=None,
        description=(
            "How the router chose: `method` (knn, zero-shot, answers, keywords or fallback),"
            " the `nearest` voters, each sector's share of the decision (`scores`) and, once"
            " `atende calibrate` fitted an answer model, its sector shares (`answers`)."
        ),
    )
    suggestion: dict[str, Any] | None = Field(
        default=None,
        description="Provenance of an AI-suggested answer: source interaction ids, similarity.",
    )
    pipeline_ms: float | None = Field(
        default=None, description="Milliseconds from receipt to routing and suggestion."
    )
    message_type: str = Field(
        default="text", description="text, or what a channel message carried (photo, ...)."
    )
    media: dict[str, Any] | None = Field(
        default=None, description="The channel's reference to the media (id, mime type)."
    )
    delivery: DeliveryOut | None = Field(
        default=None, description="Sending the approved answer to the customer, once queued."
    )
    assigned_to: str | None = Field(
        default=None, description="The operator who took the message to answer it, if any."
    )
    assigned_at: datetime | None = Field(default=None, description="When they took it.")
    answered_at: datetime | None = Field(
        default=None,
        description="When the message was first answered: a human validated its answer, or "
        "its sector auto-sent the suggestion. Null while it waits, and for messages stored "
        "already answered.",
    )
    reply_window_closes_at: datetime | None = Field(
        default=None,
        description="WhatsApp only: when the platform stops delivering a written answer to "
        "this customer, 24 hours after their last message (the customer service window; "
        "after it, WhatsApp refuses with error 131047). Null on other channels.",
    )
    closed_at: datetime | None = Field(
        default=None,
        description="When an operator closed it without an answer (it left the queue); null "
        "while open, and again once reopened or answered.",
    )
    closed_by: str | None = Field(default=None, description="Who closed it.")
    close_reason: CloseReason | None = Field(
        default=None,
        description="Why: no_reply_needed (thanks, ok), spam, duplicate (asked again), or "
        "answered_together (the answer to another of the customer's messages covered it), or "
        "blocked (it came from a customer an operator blocked: see /operator/clients).",
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: ChatInteraction) -> MessageOut:
        return cls(
            id=row.id,
            client_id=row.client_id,
            sector=row.sector,
            message=row.message,
            answer=row.answer,
            operator_name=row.operator_name,
            validated_by=row.validated_by,  # type: ignore[arg-type]
            channel=row.channel,  # type: ignore[arg-type]
            customer_name=row.customer_name,  # type: ignore[attr-defined]
            reply_window_closes_at=row.reply_window_closes_at,  # type: ignore[attr-defined]
            embedded=row.embedding_model is not None,
            sector_confidence=row.route_confidence,
            route_reason=row.route_reason,
            suggestion=row.suggestion,
            pipeline_ms=row.pipeline_ms,
            message_type=row.message_type,
            media=row.media,
            delivery=DeliveryOut.of(row.delivery_parts),  # type: ignore[attr-defined]
            assigned_to=row.assigned_to,
            assigned_at=row.assigned_at,
            answered_at=row.answered_at,
            closed_at=row.closed_at,
            closed_by=row.closed_by,
            close_reason=row.close_reason,  # type: ignore[arg-type]
            created_at=row.created_at,
            updated_at=row.updated_at,
        )


class SearchRequest(_Strict):
    query: str = Field(min_length=1, max_length=4096)
    sector: str | None = None
    # strict: a JSON true or false is not read as 1 or 0.
    limit: int = Field(default=10, ge=1, le=100, strict=True)
    similarity_threshold: float = Field(
        default=0.7,
        ge=-1.0,
        le=1.0,
        strict=True,
        description="Least cosine similarity a result must have.",
    )


class SearchHit(MessageOut):
    similarity: float


class SearchResponse(BaseModel):
    items: list[SearchHit]


class PageQuery(_Strict):
    page: int = Field(default=1, ge=1, le=1_000_000)
    per_page: int = Field(default=20, ge=1, le=100)


class MessagePage(BaseModel):
    items: list[MessageOut]
    total: int
    page: int
    per_page: int
    pages: int

    @classmethod
    def of(cls, items: list[MessageOut], total: int, query: PageQuery) -> MessagePage:
        return cls(
            items=items,
            total=total,
            page=query.page,
            per_page=query.per_page,
            pages=math.ceil(total / query.per_page) if total else 0,
        )


class SectorOut(BaseModel):
    name: str
    description: str
    fallback: bool


class SectorList(BaseModel):
    items: list[SectorOut]


class ServiceInfo(BaseModel):
    name: str
    version: str
    status: str


class Health(BaseModel):
    status: Literal["ok", "unavailable"]
    database: str


class FieldError(BaseModel):
    field: str
    message: str


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: list[FieldError] = Field(default_factory=list)


class ErrorBody(BaseModel):
    error: ErrorDetail
    request_id: str | None = None
