"""Request and response bodies of the operator, knowledge-base and pipeline routes."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from gateway.schemas.messages import MessageOut, MessagePage, PageQuery, _Strict


class OperatorIdentity(BaseModel):
    name: str = Field(
        description="The key's name: what atende records as who acts when the console "
        "sends no operator_name."
    )
    role: Literal["operator", "admin"] = Field(
        description="admin may also give back, close or answer a message someone else "
        "holds, and delete anyone's note."
    )


class QueueQuery(PageQuery):
    sector: str | None = Field(default=None, description="Only this sector's messages.")
    held_by: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Only the messages this operator holds (the name they act with: "
        "`operator_name`, else their key's).",
    )
    free: bool = Field(default=False, description="Only the messages nobody holds.")
    client_id: uuid.UUID | None = Field(
        default=None,
        description="Only this customer's messages: every line of theirs still waiting, "
        "as the console lists them to answer together.",
    )

    @field_validator("free")
    @classmethod
    def _one_holder(cls, free: bool, info: ValidationInfo) -> bool:
        if free and info.data.get("held_by") is not None:
            raise ValueError("free and held_by exclude each other: ask for one")
        return free


class QueueItem(MessageOut):
    waiting_seconds: float = Field(description="Seconds since the message was received.")
    late: bool = Field(
        description="Waiting longer than the response target (ATENDE_RESPONSE_TARGET_MINUTES) "
        "with no answer sent yet (a sector's auto-send answers before a human reviews)."
    )


class QueuePage(MessagePage):
    items: list[QueueItem]  # type: ignore[assignment]
    late: int = Field(
        description="Messages of the whole queue (of the sector asked, if any) that are late, "
        "on every page."
    )
    response_target_seconds: int = Field(
        description="How long a customer should wait at most for a human's answer."
    )


class CandidatesQuery(_Strict):
    limit: int = Field(default=5, ge=1, le=50)


class CandidateOut(BaseModel):
    id: int = Field(description="The validated interaction whose answer this is.")
    sector: str | None
    message: str
    answer: str
    similarity: float
    same_sector: bool
    above_threshold: bool = Field(description="Whether it may be suggested at all.")


class CandidateList(BaseModel):
    message: MessageOut
    threshold: float
    items: list[CandidateOut]


class AnswersQuery(_Strict):
    limit: int = Field(default=3, ge=1, le=10)


class RankedAnswerOut(BaseModel):
    answer: str
    sector: str | None = Field(description="The sector of its nearest validated message.")
    similarity: float = Field(
        description="The cosine of its nearest validated message, which the threshold reads."
    )
    source_ids: list[int] = Field(description="The validated messages that speak for it.")


class AnswerList(BaseModel):
    message: MessageOut
    confidence: float | None = Field(
        description="The first answer's confidence now; null when nothing could be ranked."
    )
    min_confidence: float = Field(description="The confidence the message's sector needs.")
    items: list[RankedAnswerOut]


class ApproveRequest(_Strict):
    answer: str | None = Field(
        default=None,
        min_length=1,
        description="The answer as edited, or written for a message with no suggestion; "
        "omitted: as suggested.",
    )
    operator_name: str | None = Field(default=None, min_length=1, max_length=200)
    together: list[Annotated[int, Field(ge=1)]] = Field(
        default_factory=list,
        max_length=100,
        description='The customer\'s other waiting messages this answer also answers ("oi", '
        '"bom dia" before the question): they leave the queue as answered_together in the '
        "same transaction as the answer, and nothing more is sent. 422, and nothing changes, "
        "if one is not another message of this customer's; one someone answered, closed or "
        "took meanwhile is left as it is, and `together` in the response says why.",
    )

    @field_validator("together")
    @classmethod
    def _once_each(cls, ids: list[int]) -> list[int]:
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        if repeated:
            raise ValueError(f"each message once; repeated: {', '.join(map(str, repeated))}")
        return ids


class TogetherOutcome(BaseModel):
    id: int
    closed: bool = Field(description="Whether this answer closed it as answered_together.")
    reason: str | None = Field(description="Why it was left as it is; null when closed.")


class ApprovedOut(MessageOut):
    together: list[TogetherOutcome] = Field(
        description="What became of each message in the request's `together`, in its order."
    )


class AssignmentRequest(_Strict):
    operator_name: str | None = Field(
        default=None,
        min_length=1,
        max_length=200,
        description="Who does it, as the console shows it (the name the operator signed in "
        "with); omitted: the API key's name.",
    )


class CloseRequest(AssignmentRequest):
    # Not "blocked": only blocking the customer closes a message for that reason.
    reason: Literal["no_reply_needed", "spam", "duplicate", "answered_together"] = Field(
        description="no_reply_needed (thanks, ok), spam, duplicate (the customer asked it "
        "again in another message), or answered_together (the answer to another of the "
        "customer's messages, sent after this one arrived, covered it: 409 if none was)."
    )


class TransferRequest(AssignmentRequest):
    sector: str = Field(min_length=1, description="The sector whose queue it goes to.")


class KnowledgePairIn(_Strict):
    question: str = Field(min_length=1, max_length=100_000)
    answer: str = Field(min_length=1, max_length=100_000)
    sector: str | None = None


class KnowledgeImportRequest(_Strict):
    items: list[KnowledgePairIn] = Field(min_length=1, max_length=5000)


class KnowledgeImportResult(BaseModel):
    received: int
    added: int
    skipped: int = Field(description="Pairs already in the knowledge base (or repeated).")


class PipelineLatencyQuery(_Strict):
    minutes: int = Field(
        default=60,
        ge=1,
        le=43_200,
        description="Only messages received in the last this many minutes (at most 30 days).",
    )


class PipelineLatency(BaseModel):
    minutes: int = Field(description="The window: messages received in the last this many minutes.")
    count: int = Field(description="Messages of the window routed and suggested.")
    p50_ms: float | None = Field(description="Median milliseconds from receipt to suggestion.")
    p95_ms: float | None
    p99_ms: float | None
