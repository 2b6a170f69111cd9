"""Request and response bodies of the analytics routes."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from gateway.schemas.messages import _Strict

Bucket = Literal["hour", "day"]
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _written_as_a_date(value: object) -> object:
    # pydantic would read "1700000000" or "0.5" as seconds since 1970: a range of 1970 is
    # more likely a mistake than a wish, and the documented form is ISO 8601.
    if isinstance(value, str) and not _ISO_DATE.match(value.strip()):
        raise ValueError(
            f"{value!r} is not an ISO 8601 date or time (as 2026-12-01 or 2026-12-01T09:00-03:00)"
        )
    return value


IsoTime = Annotated[datetime, BeforeValidator(_written_as_a_date)]


class AnalyticsQuery(_Strict):
    # `from` is a Python keyword; the field is named for the query string by its alias.
    start: IsoTime | None = Field(
        default=None,
        alias="from",
        description="Start of the range, inclusive: a date (midnight UTC) or an ISO 8601 "
        "time; without an offset it is UTC. Default: 7 days before `to`.",
    )
    end: IsoTime | None = Field(
        default=None,
        alias="to",
        description="End of the range, exclusive, written as `from`. Default: now.",
    )
    bucket: Bucket = Field(
        default="day", description="Size of the time buckets, cut in UTC: hour or day."
    )


class ChartQuery(AnalyticsQuery):
    lang: Literal["pt-BR", "en"] = Field(
        default="pt-BR", description="Language of the chart's labels."
    )


class SectorCount(BaseModel):
    sector: str | None = Field(description="The sector; null: a message not routed yet.")
    count: int


class MessageBucket(BaseModel):
    bucket: datetime = Field(description="Start of the bucket (UTC).")
    total: int
    sectors: list[SectorCount] = Field(description="Sectors with messages in the bucket.")


class MessageCounts(BaseModel):
    total: int = Field(description="Customers' messages received in the range.")
    by_sector: list[SectorCount]
    buckets: list[MessageBucket] = Field(description="Every bucket of the range, empty or not.")


class SuggestionShare(BaseModel):
    messages: int
    suggested: int = Field(description="Messages of the range that got a suggestion.")
    share: float | None = Field(description="suggested / messages; null without messages.")


class ReviewOutcomes(BaseModel):
    reviewed: int = Field(description="Suggestions operators reviewed in the range.")
    approved: int = Field(description="Sent as suggested.")
    edited: int = Field(description="Sent with a changed text.")
    rejected: int
    replaced: int = Field(
        description="Of the edited, those whose text kept less than two thirds of the "
        "suggestion's words: another answer written in its place, which counts against the "
        "suggested answer for similar messages as a rejection does."
    )
    approved_share: float | None
    edited_share: float | None
    rejected_share: float | None
    replaced_share: float | None


class Latency(BaseModel):
    count: int = Field(description="Messages of the range routed and suggested.")
    p50_ms: float | None = Field(description="Median milliseconds from receipt to suggestion.")
    p95_ms: float | None


class FailureReason(BaseModel):
    code: str | None
    reason: str | None
    count: int


class DeliveryFailures(BaseModel):
    total: int = Field(description="Outbound messages that failed in the range.")
    by_reason: list[FailureReason] = Field(description="Most frequent first.")


class ClosedCounts(BaseModel):
    total: int = Field(description="Messages of the range closed without an answer.")
    no_reply_needed: int = Field(description="Thanks, ok: nothing to answer.")
    spam: int
    duplicate: int = Field(description="Asked again in another message.")
    answered_together: int = Field(
        description="Covered by the answer to another of the customer's messages."
    )
    blocked: int = Field(description="From a customer an operator blocked.")


class AgeBand(BaseModel):
    band: str = Field(description="lt_5m, 5m_30m, 30m_2h, 2h_24h or gt_24h.")
    count: int


class QueueAge(BaseModel):
    waiting: int = Field(description="Messages waiting for a human now.")
    oldest_seconds: float | None
    p50_seconds: float | None
    bands: list[AgeBand]
    late: int = Field(description="Of them, waiting longer than the response target now.")


class AnswerTimes(BaseModel):
    answered: int = Field(description="Messages received in the range and answered since.")
    within_target: int = Field(description="Of them, answered within the response target.")
    within_target_share: float | None = Field(description="within_target / answered.")
    p50_seconds: float | None = Field(description="Median time from receipt to first answer.")
    p95_seconds: float | None


class SectorAnswerTimes(AnswerTimes):
    sector: str | None = Field(description="The sector; null: a message never routed.")


class ResponseTimes(AnswerTimes):
    target_seconds: int = Field(
        description="The response target (ATENDE_RESPONSE_TARGET_MINUTES), in seconds."
    )
    by_sector: list[SectorAnswerTimes] = Field(
        description="Every configured sector, answered or not, then any other seen."
    )


class SectorRate(BaseModel):
    sector: str | None
    days: int = Field(description="The window: the last this many days, to now.")
    reviewed: int
    approved: int
    edited: int
    rejected: int
    replaced: int = Field(description="Of the edited, those that wrote another answer.")
    acceptance_rate: float | None = Field(
        description="(approved + edited - replaced) / reviewed: the suggestions sent, as "
        "they were or edited."
    )
    precision: float | None = Field(description="approved unchanged / reviewed.")


class OperatorActivity(BaseModel):
    name: str | None = Field(
        description="The name the actions recorded (the console's signed-in name, else the "
        "API key's); null: actions that recorded none."
    )
    answered: int = Field(description="Messages of the range they answered (approved or wrote).")
    approved: int = Field(description="Suggestions they approved unchanged, in the range.")
    edited: int = Field(description="Suggestions they edited and approved, in the range.")
    rejected: int = Field(description="Suggestions they rejected, in the range.")
    closed: int = Field(
        description="Messages of the range they closed without an answer (not by blocking)."
    )
    p50_response_seconds: float | None = Field(
        description="Median time from receipt to first answer of the messages they answered."
    )


class Analytics(BaseModel):
    # Answered as `from` and `to`, as the query names them.
    model_config = ConfigDict(serialize_by_alias=True, validate_by_name=True)

    start: datetime = Field(alias="from")
    end: datetime = Field(alias="to")
    bucket: Bucket
    generated_at: datetime = Field(description="The instant the numbers describe.")
    messages: MessageCounts
    suggestions: SuggestionShare
    reviews: ReviewOutcomes
    latency: Latency
    delivery_failures: DeliveryFailures
    queue: QueueAge
    closed: ClosedCounts = Field(
        description="The range's messages operators closed without an answer, by reason "
        "(reopened or answered since: not counted)."
    )
    responses: ResponseTimes = Field(
        description="Time to first answer (a human's, or a sector's auto-send) of the "
        "range's messages, against the response target."
    )
    operators: list[OperatorActivity] = Field(
        description="What each operator did: most answers first."
    )
    sector_rates: list[SectorRate] = Field(
        description="Per sector, over the last 7 and the last 30 days."
    )
