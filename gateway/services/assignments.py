"""Assignment: an operator takes a pending message, releases it, hands it to a sector, or
closes it without an answer.

Taking a message tells the other operators (their queue shows "com Ana") that someone
is answering it, so two people do not write to one customer. Only the holder may
approve, reject or answer a taken message; an admin may do it for anyone (someone who
left for the day). Approving or rejecting ends the assignment (see MessageService.update).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from config.errors import Conflict, NotFound, ValidationFailed
from config.sectors import SectorCatalog
from storage.assignments import AssignmentRepository, Decide
from storage.models import REOPENED, ChatInteraction

log = structlog.get_logger(__name__)

# What a message holds once nobody is answering it.
UNASSIGNED: dict[str, Any] = {"assigned_to": None, "assigned_at": None}


@dataclass(frozen=True)
class Actor:
    """Who acts on a message: the name they signed in with (else their key's name), and
    whether their key is an admin's."""

    name: str
    admin: bool = False

    def check_holds(self, row: ChatInteraction, doing: str) -> None:
        """Refuse `doing` on a message someone else has taken, unless an admin asks."""
        if row.assigned_to is None or row.assigned_to == self.name or self.admin:
            return
        raise Conflict(
            f"message {row.id} is taken by {row.assigned_to}; only they (or an admin) "
            f"may {doing} it"
        )


def not_answered(row: ChatInteraction) -> None:
    if row.validated_by == "human":
        by = f" by {row.operator_name}" if row.operator_name else ""
        raise Conflict(f"message {row.id} is already answered{by}")


def closing(actor: Actor, reason: str) -> dict[str, Any]:
    """What a message closed without an answer holds: nobody holds it any more."""
    return {**UNASSIGNED, "closed_by": actor.name, "close_reason": reason}


@dataclass
class Together:
    """The customer's other waiting messages an answer also answers ("oi", "bom dia" before
    the question), closed as answered_together in the answer's own transaction: they leave
    the queue if and only if the answer is recorded, even when the page that sent it is
    gone before it hears back.

    Called with the answer's session and row once the answer is written. An id that is not
    one of this customer's other messages refuses the whole answer (422), which then
    changes nothing. A line someone answered, closed or took meanwhile, or that another
    transaction is changing, is left as it is: `outcomes` says why (None: closed)."""

    ids: Sequence[int]
    actor: Actor
    outcomes: dict[int, str | None] = field(default_factory=dict)

    async def __call__(self, session: AsyncSession, answered: ChatInteraction) -> None:
        owners = await AssignmentRepository.owners(session, self.ids)
        for index, other in enumerate(self.ids):
            where = f"together[{index}]"
            if other == answered.id:
                raise ValidationFailed.on(where, f"message {other} is the one being answered")
            if other not in owners:
                raise ValidationFailed.on(where, f"no message with id {other}")
            if owners[other] != answered.client_id:
                raise ValidationFailed.on(where, f"message {other} is another customer's")
        refused: dict[int, str] = {}

        def decide(row: ChatInteraction) -> dict[str, Any]:
            try:
                not_answered(row)
                if row.closed_at is not None:
                    raise Conflict(f"message {row.id} was closed already by {row.closed_by}")
                self.actor.check_holds(row, "close")
            except Conflict as exc:
                refused[row.id] = str(exc)
                return {}
            return closing(self.actor, "answered_together")

        locked = await AssignmentRepository.change_each(session, self.ids, decide)
        busy = "was being changed by someone else at that moment; close it from its detail"
        self.outcomes = {
            other: refused.get(other) if other in locked else f"message {other} {busy}"
            for other in self.ids
        }


class AssignmentService:
    """Take, release, transfer, close and reopen, each decided on the locked row."""

    def __init__(self, repository: AssignmentRepository, sectors: SectorCatalog) -> None:
        self._repository = repository
        self._sectors = sectors

    async def take(self, interaction_id: int, actor: Actor) -> ChatInteraction:
        def decide(row: ChatInteraction) -> dict[str, Any]:
            not_answered(row)
            if row.closed_at is not None:
                raise Conflict(
                    f"message {row.id} was closed by {row.closed_by} without an answer; "
                    "reopen it to answer it"
                )
            if row.assigned_to == actor.name:
                return {}  # taking it again changes nothing, not even since when
            if row.assigned_to is not None:
                # Not even an admin takes it over silently: release first, then take.
                raise Conflict(f"message {row.id} is already taken by {row.assigned_to}")
            return {"assigned_to": actor.name}

        row = await self._change(interaction_id, decide)
        log.info("message_taken", interaction_id=interaction_id, operator=actor.name)
        return row

    async def release(self, interaction_id: int, actor: Actor) -> ChatInteraction:
        def decide(row: ChatInteraction) -> dict[str, Any]:
            if row.assigned_to is None:
                return {}
            actor.check_holds(row, "release")
            return dict(UNASSIGNED)

        row = await self._change(interaction_id, decide)
        log.info("message_released", interaction_id=interaction_id, operator=actor.name)
        return row

    async def transfer(self, interaction_id: int, sector: str, actor: Actor) -> ChatInteraction:
        """Move the message to `sector`'s queue, unassigned, as a human's routing."""
        self._sectors.check(sector)

        def decide(row: ChatInteraction) -> dict[str, Any]:
            not_answered(row)
            actor.check_holds(row, "transfer")
            return {
                **UNASSIGNED,
                "sector": sector,
                # A person chose it: no router confidence, and the reason says who and whence.
                "route_confidence": None,
                "route_reason": {"method": "transfer", "from": row.sector, "by": actor.name},
            }

        row = await self._change(interaction_id, decide)
        log.info("message_transferred", interaction_id=interaction_id, sector=sector)
        return row

    async def close(self, interaction_id: int, reason: str, actor: Actor) -> ChatInteraction:
        """Take the message out of the queue without answering it ("ok, obrigado!", spam, a
        question sent twice, or one the answer to another message covered): nothing is
        sent, and nobody holds it any more."""
        # The conversation and the analytics then say the customer was answered: only
        # true once an answer went to them after this message arrived.
        if reason == "answered_together":
            answered = await self._repository.answered_since(interaction_id)
            if answered is None:
                raise NotFound(f"no message with id {interaction_id}")
            if not answered:
                raise Conflict(
                    f"message {interaction_id}: no answer went to this customer after it "
                    "arrived; answer it, or close it for another reason"
                )

        def decide(row: ChatInteraction) -> dict[str, Any]:
            not_answered(row)
            if row.closed_at is not None:
                return {}  # closed already: the first close, and its reason, stand
            actor.check_holds(row, "close")
            return closing(actor, reason)

        row = await self._change(interaction_id, decide)
        log.info("message_closed", interaction_id=interaction_id, reason=reason, by=actor.name)
        return row

    async def reopen(self, interaction_id: int, actor: Actor) -> ChatInteraction:
        """Put a closed message back in the queue, in its place by when it was received."""

        def decide(row: ChatInteraction) -> dict[str, Any]:
            return dict(REOPENED) if row.closed_at is not None else {}

        row = await self._change(interaction_id, decide)
        log.info("message_reopened", interaction_id=interaction_id, by=actor.name)
        return row

    async def _change(self, interaction_id: int, decide: Decide) -> ChatInteraction:
        row = await self._repository.change(interaction_id, decide)
        if row is None:
            raise NotFound(f"no message with id {interaction_id}")
        return row
