"""Suggestion reviews: what operators did with each suggestion, kept as labels.

A review is written in the same transaction as the change of the message that it
describes (`MessageRepository.update` calls `review_of`), so a label exists exactly when
the decision does. The outcome follows from the row before and after the change alone,
whichever route made it (the operator's approve or reject, or a REST `PUT`):
- a suggestion (`validated_by = 'ai'`) that a human validates with the same text:
  `approved`; with another text: `edited`, and `replaced` too where the text sent kept
  less than two thirds of the suggestion's words (`replaced_answer`);
- a suggestion sent back to `pending` without an answer: `rejected`.

An edit that replaced the answer says what a rejection says, that the answer suggested
was not this message's, and the suggester reads it as one (storage.routing,
`rejected_near`); the operator answered in the same step.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from config.text import fold
from storage.models import ChatInteraction, SuggestionReview


def answer_key(answer: str | None) -> str:
    """Answers equal but for case and spacing are one answer."""
    return " ".join((answer or "").split()).lower()


def answer_digest(key: str) -> str:
    """An answer (its answer_key) named short, whatever its length: in the answer model
    and in the table of answers' vectors."""
    return hashlib.blake2b(key.encode("utf-8"), digest_size=8).hexdigest()


def same_answer(a: str | None, b: str | None) -> bool:
    """Equal but for case and spacing: an operator re-typing a space has not edited it."""
    return answer_key(a) == answer_key(b)


# Two different answers of one business share up to 0.6 of their words (the two pt-BR
# evaluation sets' 48 answers each, every pair: 0.54 and 0.60 at most, 0.20 and 0.26 the
# median, counted over the words of the first); an operator who puts in a name, a date or
# a sentence keeps nearly all of them.
REPLACED_BELOW = 2 / 3
_WORD = re.compile(r"\w+")


def answer_words(answer: str | None) -> set[str]:
    """The words of an answer, in lower case and without accents."""
    return set(_WORD.findall(fold(answer or "")))


def replaced_answer(suggested: str | None, sent: str | None) -> bool:
    """Whether the answer `sent` in a suggestion's place is another answer rather than the
    suggestion edited: it kept less than REPLACED_BELOW of the suggestion's words."""
    words = answer_words(suggested)
    if not words:
        return False
    return len(words & answer_words(sent)) / len(words) < REPLACED_BELOW


@dataclass(frozen=True)
class Before:
    """The parts of a row a review needs, read under its lock before the change."""

    validated_by: str
    answer: str | None
    suggestion: dict[str, Any] | None

    @classmethod
    def of(cls, row: ChatInteraction) -> Before:
        return cls(row.validated_by, row.answer, row.suggestion)

    @property
    def suggested(self) -> bool:
        return self.validated_by == "ai" and self.suggestion is not None and bool(self.answer)


def review_of(before: Before, row: ChatInteraction) -> SuggestionReview | None:
    """The review that the change from `before` to `row` amounts to, if any."""
    if not before.suggested:
        return None
    if row.validated_by == "human" and row.answer:
        outcome = "approved" if same_answer(before.answer, row.answer) else "edited"
    elif row.validated_by == "pending" and not row.answer:
        outcome = "rejected"
    else:
        return None
    suggestion = before.suggestion or {}
    confidence = suggestion.get("confidence")
    return SuggestionReview(
        interaction_id=row.id,
        sector=row.sector,
        outcome=outcome,
        replaced=outcome == "edited" and replaced_answer(before.answer, row.answer),
        suggested_answer=before.answer or "",
        final_answer=row.answer if outcome != "rejected" else None,
        confidence=float(confidence) if isinstance(confidence, int | float) else None,
        method=suggestion.get("method"),
        operator_name=row.operator_name,
    )


@dataclass(frozen=True)
class ReviewedMessage:
    """A review of the last days with its message's vector, for `atende calibrate`."""

    interaction_id: int
    sector: str | None
    outcome: str
    suggested_answer: str
    final_answer: str | None
    confidence: float | None
    vector: np.ndarray
    # The sector came with the message (the router placed none): the suggestion was
    # weighed within it (gateway.services.suggestions, `assess`).
    sector_given: bool = False
    message: str = ""


class ReviewRepository:
    """The labels operators left, and the validated history, as calibration reads them."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def reviewed(self, *, days: int, model_id: str) -> list[ReviewedMessage]:
        """Reviews of the last `days` days whose message has a vector of `model_id`."""
        query = (
            select(
                SuggestionReview.interaction_id,
                SuggestionReview.sector,
                SuggestionReview.outcome,
                SuggestionReview.suggested_answer,
                SuggestionReview.final_answer,
                SuggestionReview.confidence,
                ChatInteraction.embedding,
                ChatInteraction.sector_given.label("sector_given"),
                ChatInteraction.message,
            )
            .join(ChatInteraction, ChatInteraction.id == SuggestionReview.interaction_id)
            .where(
                SuggestionReview.created_at >= func.now() - timedelta(days=days),
                ChatInteraction.embedding.is_not(None),
                ChatInteraction.embedding_model == model_id,
            )
            .order_by(SuggestionReview.id)
        )
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [
            ReviewedMessage(
                r.interaction_id,
                r.sector,
                r.outcome,
                r.suggested_answer,
                r.final_answer,
                r.confidence,
                np.asarray(r.embedding, dtype=np.float64),
                bool(r.sector_given),
                r.message,
            )
            for r in rows
        ]

    async def validated_history(
        self, *, model_id: str, limit: int
    ) -> tuple[np.ndarray, list[str], list[str]]:
        """The newest `limit` human-validated messages with an answer: unit vectors,
        answers, and the messages' texts."""
        query = (
            select(ChatInteraction.embedding, ChatInteraction.answer, ChatInteraction.message)
            .where(
                ChatInteraction.validated_by == "human",
                ChatInteraction.embedding.is_not(None),
                ChatInteraction.embedding_model == model_id,
                func.length(func.btrim(ChatInteraction.answer)) > 0,
            )
            .order_by(ChatInteraction.id.desc())
            .limit(limit)
        )
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        if not rows:
            return np.zeros((0, 0)), [], []
        vectors = np.asarray([np.asarray(r.embedding, dtype=np.float64) for r in rows])
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True) + 1e-12
        return vectors, [r.answer for r in rows], [r.message for r in rows]
