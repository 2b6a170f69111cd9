"""OperatorService: the pending queue, ranked candidates, approve and reject.

Approve and reject change the message through MessageService.update, the one path
every change of answer or validation takes, so whatever reacts to a validated answer
(delivery to the customer) reacts to these too.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import structlog

from config.errors import Conflict, NotFound, ValidationFailed
from config.sectors import SectorCatalog
from gateway.schemas.messages import MessageUpdate
from gateway.services.assignments import Actor, Together
from gateway.services.messages import MessageService
from gateway.services.suggestions import Candidate, SuggestionMaker
from gateway.telemetry.metrics import Metrics
from storage.models import ChatInteraction
from storage.repositories import Page
from storage.routing import RoutingRepository
from storage.vectors import QueryVector

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class RankedCandidates:
    message: ChatInteraction
    threshold: float
    candidates: list[Candidate]


@dataclass(frozen=True)
class RankedAnswer:
    answer: str
    sector: str | None
    similarity: float  # the cosine of its nearest supporter, which the floor reads
    source_ids: list[int]


@dataclass(frozen=True)
class RankedAnswers:
    """The answers the suggestion decision ranks for a message now, best first."""

    message: ChatInteraction
    confidence: float | None  # the first answer's; None: nothing to rank
    min_confidence: float
    answers: list[RankedAnswer]


class OperatorService:
    """What an operator does with messages waiting for a human."""

    def __init__(
        self,
        messages: MessageService,
        repository: RoutingRepository,
        suggestions: SuggestionMaker,
        sectors: SectorCatalog | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics
        self._messages = messages
        self._repository = repository
        self._suggestions = suggestions
        self._sectors = sectors

    async def pipeline_latency(self, *, minutes: int) -> dict[str, float | int | None]:
        """Receipt-to-suggestion time of the messages received in the last `minutes`."""
        return await self._repository.pipeline_latency(minutes=minutes)

    async def queue(
        self,
        *,
        sector: str | None,
        page: int,
        per_page: int,
        late_before: datetime,
        held_by: str | None = None,
        free: bool = False,
        client_id: uuid.UUID | None = None,
    ) -> Page:
        """One page of the open queue (of a sector, of what one operator holds, or of what
        nobody holds; of one customer), oldest first; its `tallied` is how many of those in
        all were received before `late_before` and still have no answer: past the response
        target."""
        if sector is not None and self._sectors is not None and self._sectors.get(sector) is None:
            raise NotFound(f"no sector named {sector!r}; known: {', '.join(self._sectors.names)}")
        return await self._repository.open_queue(
            page=page,
            per_page=per_page,
            sector=sector,
            late_before=late_before,
            held_by=held_by,
            free=free,
            client_id=client_id,
        )

    async def _embedded(self, interaction_id: int) -> tuple[ChatInteraction, list[float] | None]:
        try:
            return await self._repository.vector_of(interaction_id)
        except LookupError as exc:
            raise NotFound(f"no message with id {interaction_id}") from exc

    async def candidates(self, interaction_id: int, *, limit: int) -> RankedCandidates:
        row, vector = await self._embedded(interaction_id)
        if vector is None:
            # Not embedded yet: nothing can be ranked, which is an answer, not an error.
            return RankedCandidates(row, self._suggestions.threshold, [])
        ranked = await self._suggestions.candidates(
            vector, row.sector, exclude_id=row.id, limit=limit
        )
        return RankedCandidates(row, self._suggestions.threshold, ranked[:limit])

    async def answers(self, interaction_id: int, *, limit: int) -> RankedAnswers:
        """The answers the suggestion decision ranks for a message, as it would weigh the
        message now (what operators validated and rejected since included), whether or not
        the first clears the bar: right among the first three about 96% of the time on
        atende's pt-BR evaluation set, where only about 60% clear the bar (README's
        "Measuring it"), so an operator answering by hand starts from them."""
        row, vector = await self._embedded(interaction_id)
        needed = self._suggestions.min_confidence_for(row.sector)
        if vector is None:
            return RankedAnswers(row, None, needed, [])
        # As the pipeline weighed it: a sector that came with the message is evidence, a
        # routed one is not.
        given = row.sector if row.sector_given else None
        _, assessment = await self._suggestions.weigh(
            QueryVector(vector), given, exclude_id=row.id, text=row.message
        )
        answers = [
            RankedAnswer(
                answer=members[0].neighbour.answer or "",
                sector=members[0].neighbour.sector,
                similarity=max(c.neighbour.cosine for c in members),
                source_ids=[c.neighbour.id for c in members],
            )
            for members in assessment.answers()[:limit]
        ]
        return RankedAnswers(row, assessment.confidence, needed, answers)

    async def approve(
        self,
        interaction_id: int,
        *,
        answer: str | None,
        operator_name: str | None,
        actor: Actor | None = None,
        together: Together | None = None,
    ) -> ChatInteraction:
        """Validate the suggestion (or `answer`: an edit, or a reply to a message with no
        suggestion); refused (409) once a human answered, or when someone else than `actor`
        holds the message. Ends its assignment, and closes the customer's other lines in
        `together` in the same transaction."""
        row = await self._messages.get(interaction_id)
        check = _open_to(actor, "approve")
        check(row)
        final = answer if answer is not None else row.answer
        if not (final or "").strip():
            raise ValidationFailed.on("answer", "the message has no suggestion; give the answer")
        changes: dict[str, object] = {"answer": final, "validated_by": "human"}
        if operator_name is not None:
            changes["operator_name"] = operator_name
        # Checked again under the row's lock: of two operators approving at once, the
        # second gets the 409, and the customer one answer.
        updated = await self._messages.update(
            interaction_id, MessageUpdate(**changes), precondition=check, also=together
        )
        suggested = row.validated_by == "ai" and bool(row.answer)
        log.info(
            "suggestion_approved" if suggested else "message_answered",
            interaction_id=interaction_id,
            edited=suggested and answer is not None and answer != row.answer,
            together=together.outcomes if together is not None else {},
        )
        if self._metrics is not None and suggested:
            # A reply to a message with no suggestion approves none.
            self._metrics.suggestion("approved")
        return updated

    async def reject(self, interaction_id: int, *, actor: Actor | None = None) -> ChatInteraction:
        row = await self._messages.get(interaction_id)
        check = _open_to(actor, "reject")
        check(row)
        # The update records the rejection (storage.reviews) from the suggestion still on
        # the row, and takes the suggestion off it in the same transaction; the review
        # keeps who rejected it, as one of approving keeps who approved.
        who = {"operator_name": actor.name} if actor is not None else {}
        updated = await self._messages.update(
            interaction_id,
            MessageUpdate(answer=None, validated_by="pending", **who),
            precondition=check,
        )
        log.info("suggestion_rejected", interaction_id=interaction_id)
        if self._metrics is not None:
            self._metrics.suggestion("rejected")
        return updated


def _open_to(actor: Actor | None, doing: str) -> Callable[[ChatInteraction], None]:
    """The check, made before and again under the row's lock, that the message is still
    waiting and not someone else's."""

    def check(row: ChatInteraction) -> None:
        _not_yet_approved(row)
        if actor is not None:
            actor.check_holds(row, doing)

    return check


def _not_yet_approved(row: ChatInteraction) -> None:
    if row.validated_by == "human":
        raise Conflict(f"message {row.id} is already approved by a human")
