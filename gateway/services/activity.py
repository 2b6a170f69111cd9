"""The operator console's live feed: what happened to messages, told as events.

The feed reads the database, not the services' calls, so it sees what every process did
(a separate `atende worker`, another gateway) and needs nothing from the write paths.
Every POLL_SECONDS it reads the messages changed in the last WINDOW_SECONDS (by the
`updated_at` the database keeps on messages and deliveries) and compares each with the
state it saw before; a difference becomes an event. The window, longer than a poll, is
there because `updated_at` is a transaction's start time: a change that commits up to
WINDOW_SECONDS - POLL_SECONDS after it started is still seen. The event's kind is a hint;
the message it carries is the truth, and a client may always re-read the queue.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from storage.activity import ActivityRepository
from storage.models import ChatInteraction

POLL_SECONDS = 0.5
WINDOW_SECONDS = 10.0
# How many messages' last states one stream remembers (a shift's worth of changes).
MEMORY = 20_000

STORED = "message.stored"
TRIAGED = "message.triaged"
APPROVED = "message.approved"
REJECTED = "message.rejected"
UPDATED = "message.updated"
ASSIGNED = "message.assigned"  # taken or released: only who holds it changed
CLOSED = "message.closed"  # closed without an answer: it left the queue
DELIVERY = "delivery.updated"


@dataclass(frozen=True)
class MessageState:
    """What the feed compares of a message: what an operator would see change."""

    validated_by: str
    triaged: bool
    suggested: bool
    answer: str | None
    sector: str | None
    delivery: str | None
    assigned_to: str | None = None
    closed: bool = False

    @classmethod
    def of(cls, row: ChatInteraction) -> MessageState:
        parts = row.delivery_parts or []  # type: ignore[attr-defined]
        statuses = sorted({part["status"] for part in parts})
        return cls(
            validated_by=row.validated_by,
            triaged=row.pipeline_done_at is not None,
            suggested=row.suggestion is not None,
            answer=row.answer,
            sector=row.sector,
            delivery=",".join(statuses) or None,
            assigned_to=row.assigned_to,
            closed=row.closed_at is not None,
        )


def transitions(before: MessageState, after: MessageState) -> list[str]:
    """The events that lead from one state of a message to the next."""
    kinds = []
    if not before.triaged and after.triaged:
        kinds.append(TRIAGED)
    if before.validated_by != "human" and after.validated_by == "human":
        kinds.append(APPROVED)
    elif before.validated_by == "ai" and after.validated_by == "pending":
        kinds.append(REJECTED)
    elif not before.closed and after.closed:
        kinds.append(CLOSED)
    elif not kinds and (before.validated_by, before.answer, before.sector, before.closed) != (
        after.validated_by,
        after.answer,
        after.sector,
        after.closed,
    ):
        kinds.append(UPDATED)  # reopened, too
    if not kinds and before.assigned_to != after.assigned_to:
        kinds.append(ASSIGNED)
    if before.delivery != after.delivery and after.delivery is not None:
        kinds.append(DELIVERY)
    return kinds


def _guess(after: MessageState) -> list[str]:
    """Events for an older message this stream never saw: its state says what likely
    happened last."""
    if after.validated_by == "human":
        return [APPROVED] if after.delivery in (None, "pending") else [DELIVERY]
    if after.closed:
        return [CLOSED]
    return [TRIAGED] if after.validated_by == "ai" else [UPDATED]


@dataclass(frozen=True)
class Change:
    kind: str
    row: ChatInteraction


class ActivityFeed:
    """One client's view of the changes: call `start` once, then `poll` repeatedly."""

    def __init__(self, repository: ActivityRepository, *, window: float = WINDOW_SECONDS) -> None:
        self._repository = repository
        self._window = window
        self._seen: OrderedDict[int, MessageState] = OrderedDict()
        self._since: datetime | None = None

    async def start(self) -> None:
        """Remember what changed lately without telling it: the client reads the queue."""
        now, rows = await self._repository.changed_within(self._window)
        self._since = now - timedelta(seconds=self._window)
        for row in rows:
            self._remember(row.id, MessageState.of(row))

    async def poll(self) -> list[Change]:
        _, rows = await self._repository.changed_within(self._window)
        changes = []
        for row in rows:
            state = MessageState.of(row)
            before = self._seen.get(row.id)
            if before is None:
                new = self._since is None or row.created_at >= self._since
                fresh = MessageState("pending", False, False, None, state.sector, None)
                kinds = [STORED, *transitions(fresh, state)] if new else _guess(state)
            else:
                kinds = transitions(before, state)
            self._remember(row.id, state)
            changes.extend(Change(kind, row) for kind in kinds)
        return changes

    def _remember(self, interaction_id: int, state: MessageState) -> None:
        self._seen[interaction_id] = state
        self._seen.move_to_end(interaction_id)
        while len(self._seen) > MEMORY:
            self._seen.popitem(last=False)
