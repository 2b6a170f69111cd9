"""The operator console's live feed: what happened to messages, told as events.

The feed reads the database, not the services' calls, so it sees what every process did
(a separate `atende worker`, another gateway). It reads the messages changed in the last
WINDOW_SECONDS (by the `updated_at` the database keeps on messages and deliveries) and
compares each with the state it saw before; a difference becomes an event. The window,
longer than a poll, is there because `updated_at` is a transaction's start time: a change
that commits up to WINDOW_SECONDS - POLL_SECONDS after it started is still seen. The
event's kind is a hint; the message it carries is the truth, and a client may always
re-read the queue.

One ActivityHub per process reads for every open stream: one read each time however many
consoles are open, each change encoded once. It reads every POLL_SECONDS, and sooner when
this process commits a change (`wake`): a message stored or triaged here reaches the
consoles in tens of milliseconds, one changed by another process within a poll.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog
from sqlalchemy.exc import SQLAlchemyError

from storage.activity import ActivityRepository, Stamp
from storage.models import ChatInteraction

log = structlog.get_logger(__name__)

POLL_SECONDS = 0.5
# The soonest the hub reads again after a read: under a steady stream of commits (50
# messages a second, each committed three or four times) it reads ten times a second, not
# at every commit.
MIN_GAP_SECONDS = 0.1
# Events a stream may have waiting; past them it is ended (its console reconnects and
# reads the queue again): a client that stopped reading must not hold the process's memory.
BACKLOG = 5_000
WINDOW_SECONDS = 10.0
# How many messages' last states the feed remembers (a shift's worth of changes).
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
    """What one process has seen change: call `start` once, then `poll` repeatedly."""

    def __init__(self, repository: ActivityRepository, *, window: float = WINDOW_SECONDS) -> None:
        self._repository = repository
        self._window = window
        # Per message, the stamp and state last seen (storage.activity).
        self._seen: OrderedDict[int, tuple[Stamp, MessageState]] = OrderedDict()
        self._since: datetime | None = None

    async def start(self) -> None:
        """Remember what changed lately without telling it: the client reads the queue."""
        now = await self._repository.now()
        stamps = await self._repository.stamps_within(self._window)
        self._since = now - timedelta(seconds=self._window)
        for row in await self._repository.rows(list(stamps)):
            self._remember(row.id, stamps[row.id], MessageState.of(row))

    async def poll(self) -> list[Change]:
        stamps = await self._repository.stamps_within(self._window)
        seen = self._seen
        touched = [id_ for id_, stamp in stamps.items() if id_ not in seen or seen[id_][0] != stamp]
        changes = []
        for row in await self._repository.rows(touched):
            state = MessageState.of(row)
            seen = self._seen.get(row.id)
            if seen is None:
                new = self._since is None or row.created_at >= self._since
                fresh = MessageState("pending", False, False, None, state.sector, None)
                kinds = [STORED, *transitions(fresh, state)] if new else _guess(state)
            else:
                kinds = transitions(seen[1], state)
            # The stamp read before the row: a change in between is read again next time.
            self._remember(row.id, stamps[row.id], state)
            changes.extend(Change(kind, row) for kind in kinds)
        return changes

    def _remember(self, interaction_id: int, stamp: Stamp, state: MessageState) -> None:
        self._seen[interaction_id] = (stamp, state)
        self._seen.move_to_end(interaction_id)
        while len(self._seen) > MEMORY:
            self._seen.popitem(last=False)


@dataclass(frozen=True)
class Event:
    kind: str
    data: bytes  # the change as the stream sends it, encoded once for every stream


class Subscription:
    """One stream's events, waiting to be written; `ended` once the hub closed or the
    stream fell BACKLOG events behind."""

    def __init__(self) -> None:
        self._events: deque[Event] = deque()
        self._ready = asyncio.Event()
        self.ended = False
        self.overflowed = False

    def push(self, events: Sequence[Event]) -> None:
        if len(self._events) + len(events) > BACKLOG:
            self.overflowed = self.ended = True
            self._events.clear()  # the stream ends without them: its console reads the queue
        else:
            self._events.extend(events)
        self._ready.set()

    def end(self) -> None:
        self.ended = True
        self._ready.set()

    async def take(self, within: float) -> list[Event]:
        """The events since the last call; waits up to `within` seconds for one."""
        if not self._events and not self.ended:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._ready.wait(), within)
        self._ready.clear()
        events = list(self._events)
        self._events.clear()
        return events


class ActivityHub:
    """The feed of one process, read for all its streams while at least one is open."""

    def __init__(
        self,
        repository: ActivityRepository,
        encode: Callable[[Change], bytes],
        *,
        poll_seconds: float = POLL_SECONDS,
        min_gap_seconds: float = MIN_GAP_SECONDS,
    ) -> None:
        self._repository = repository
        self._encode = encode
        self.poll_seconds = poll_seconds
        self._min_gap = min_gap_seconds
        self._subscriptions: set[Subscription] = set()
        self._starting = asyncio.Lock()
        self._woken = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.reads = 0

    @property
    def reading(self) -> bool:
        """Whether it reads the database: while a stream is open."""
        return self._task is not None and not self._task.done()

    def wake(self) -> None:
        """A change was committed in this process: read soon, not at the next poll."""
        self._woken.set()

    async def subscribe(self) -> Subscription:
        """A new stream's subscription; raises SQLAlchemyError or OSError when the first
        stream cannot read what changed lately (the database is away)."""
        subscription = Subscription()
        async with self._starting:
            if self._task is None or self._task.done():
                feed = ActivityFeed(self._repository)
                await feed.start()
                self._task = asyncio.create_task(self._run(feed), name="activity-hub")
            # No await between the check and here: a running hub sees this one.
            self._subscriptions.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        self._subscriptions.discard(subscription)

    async def close(self) -> None:
        """End every stream and stop reading (the app shuts down)."""
        self._end_all()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self, feed: ActivityFeed) -> None:
        try:
            await self._read_while_streams(feed)
        except Exception:
            # A fault of its own: the streams end, and their consoles' reconnections start
            # a new reader rather than wait on this one.
            log.exception("events_reader_failed")
            self._end_all()

    def _end_all(self) -> None:
        for subscription in self._subscriptions:
            subscription.end()
        self._subscriptions.clear()

    async def _read_while_streams(self, feed: ActivityFeed) -> None:
        loop = asyncio.get_running_loop()
        while self._subscriptions:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._woken.wait(), self.poll_seconds)
            self._woken.clear()
            if not self._subscriptions:
                break  # the last stream left while this waited
            read_at = loop.time()
            try:
                changes = await feed.poll()
            except (SQLAlchemyError, OSError) as exc:
                # The streams stay open; the next read tries again.
                log.warning("events_database_unavailable", error=str(exc)[:200])
                changes = []
            self.reads += 1
            if changes:
                events = [Event(change.kind, self._encode(change)) for change in changes]
                for subscription in list(self._subscriptions):
                    subscription.push(events)
                    if subscription.overflowed:
                        self._subscriptions.discard(subscription)
            await asyncio.sleep(max(0.0, read_at + self._min_gap - loop.time()))
