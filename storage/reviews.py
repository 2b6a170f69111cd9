"""Suggestion reviews: what operators did with each suggestion, kept as labels.

A review is written in the same transaction as the change of the message that it
describes (`MessageRepository.update` calls `review_of`), so a label exists exactly when
the decision does. The outcome follows from the row before and after the change alone,
whichever route made it (the operator's approve or reject, or a REST `PUT`):
- a suggestion (`validated_by = 'ai'`) that a human validates with the same text:
  `approved`; with another text: `edited`;
- a suggestion sent back to `pending` without an answer: `rejected`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from storage.models import ChatInteraction, SuggestionReview


def same_answer(a: str | None, b: str | None) -> bool:
    """Equal but for case and spacing: an operator re-typing a space has not edited it."""
    return " ".join((a or "").split()).lower() == " ".join((b or "").split()).lower()


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
        suggested_answer=before.answer or "",
        final_answer=row.answer if outcome != "rejected" else None,
        confidence=float(confidence) if isinstance(confidence, int | float) else None,
        method=suggestion.get("method"),
        operator_name=row.operator_name,
    )
