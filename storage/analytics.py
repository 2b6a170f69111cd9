"""The numbers behind the console's analytics, each counted by PostgreSQL in one query.

All of one report's queries run in a single read-only REPEATABLE READ transaction, so they
describe the same instant: the messages, reviews and queue it counts are one snapshot, and
"now" (for the queue's ages and the last 7 and 30 days) is that transaction's start.

Knowledge-base pairs are stored as messages too (`storage.routing.KB_CHANNEL`/`KB_ACCOUNT`);
they are history, not customers' messages, and are left out of every count here.

The indexes these use: `chat_interactions (created_at)` and `suggestion_reviews
(created_at)` (migration 0007) for the range, the partial `ix_chat_interactions_open`
(migrations 0003 and 0013) for the queue, and `deliveries (updated_at)` (migration 0005) for
failures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from storage.analytics_sql import CUSTOMER as _CUSTOMER
from storage.analytics_sql import IN_RANGE as _IN_RANGE
from storage.models import CLOSE_REASONS
from storage.operator_activity import OperatorRow, operator_activity

# Queue-age bands: (name, lower bound in seconds, upper bound or None), as the console
# shows them; each message falls in exactly one.
AGE_BANDS: tuple[tuple[str, int, int | None], ...] = (
    ("lt_5m", 0, 5 * 60),
    ("5m_30m", 5 * 60, 30 * 60),
    ("30m_2h", 30 * 60, 2 * 3600),
    ("2h_24h", 2 * 3600, 24 * 3600),
    ("gt_24h", 24 * 3600, None),
)
RATE_WINDOWS_DAYS = (7, 30)
BUCKETS = ("hour", "day")
# A report reads a year at most; a runaway plan is cut off rather than left to hold a
# connection of the pool.
STATEMENT_TIMEOUT = "30s"


@dataclass(frozen=True)
class SectorBucketCount:
    bucket: datetime
    sector: str | None
    count: int


@dataclass(frozen=True)
class FailureCount:
    code: str | None
    reason: str | None
    count: int


@dataclass(frozen=True)
class QueueAges:
    waiting: int
    oldest_seconds: float | None
    p50_seconds: float | None
    bands: dict[str, int]
    late: int = 0  # waiting longer than the response target, with no answer sent yet


@dataclass(frozen=True)
class ResponseTimeRow:
    """How long the range's answered messages waited for their first answer."""

    sector: str | None
    answered: int
    within_target: int
    p50_seconds: float | None
    p95_seconds: float | None


@dataclass(frozen=True)
class ReviewCounts:
    approved: int = 0
    edited: int = 0
    rejected: int = 0
    replaced: int = 0  # of the edited, those that wrote another answer (storage.reviews)

    @property
    def reviewed(self) -> int:
        return self.approved + self.edited + self.rejected

    @property
    def accepted(self) -> int:
        """Sent as suggested or edited; an edit that wrote another answer did not take it."""
        return self.approved + self.edited - self.replaced


@dataclass(frozen=True)
class SectorReviews:
    sector: str | None
    days: int
    counts: ReviewCounts


@dataclass(frozen=True)
class AnalyticsRows:
    """What one report read, before any share or rate is worked out."""

    now: datetime
    messages: list[SectorBucketCount]
    total_messages: int
    suggested_messages: int
    reviews: ReviewCounts
    latency_count: int
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    failures: list[FailureCount]
    queue: QueueAges
    sector_reviews: list[SectorReviews] = field(default_factory=list)
    responses: ResponseTimeRow | None = None  # every sector's together
    sector_responses: list[ResponseTimeRow] = field(default_factory=list)
    # The range's messages closed without an answer, by reason (storage.models.CLOSE_REASONS).
    closed: dict[str, int] = field(default_factory=dict)
    operators: list[OperatorRow] = field(default_factory=list)  # storage.operator_activity


class AnalyticsRepository:
    """Counts over messages, reviews and deliveries for a range [start, end)."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def read(
        self, *, start: datetime, end: datetime, bucket: str, target_seconds: float
    ) -> AnalyticsRows:
        """`target_seconds`: the response target the answers and the queue are held to."""
        if bucket not in BUCKETS:
            raise ValueError(f"bucket must be one of {BUCKETS}, got {bucket!r}")
        window = {"start": start, "end": end}
        async with self._sessions() as session:
            await session.execute(
                text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            )
            await session.execute(text(f"SET LOCAL statement_timeout = '{STATEMENT_TIMEOUT}'"))
            now = (await session.execute(text("SELECT now()"))).scalar_one()
            messages = await self._messages(session, window, bucket)
            total, suggested, closed = await self._suggested(session, window)
            latency = await self._latency(session, window)
            responses = await self._responses(session, {**window, "target": target_seconds})
            return AnalyticsRows(
                now=now,
                messages=messages,
                total_messages=total,
                suggested_messages=suggested,
                closed=closed,
                reviews=await self._reviews(session, window),
                latency_count=int(latency["n"]),
                latency_p50_ms=latency["p50"],
                latency_p95_ms=latency["p95"],
                failures=await self._failures(session, window),
                queue=await self._queue(session, target_seconds),
                sector_reviews=await self._sector_reviews(session),
                responses=next((r for overall, r in responses if overall), None),
                sector_responses=[r for overall, r in responses if not overall],
                operators=await operator_activity(session, window),
            )

    @staticmethod
    async def _messages(
        session: AsyncSession, window: dict[str, Any], bucket: str
    ) -> list[SectorBucketCount]:
        # Buckets are cut in UTC, whatever the server's TimeZone setting.
        result = await session.execute(
            text(
                f"""
                SELECT date_trunc(:bucket, m.created_at, 'UTC') AS bucket, m.sector,
                       count(*) AS n
                FROM chat_interactions m
                WHERE {_IN_RANGE} AND {_CUSTOMER}
                GROUP BY 1, 2
                ORDER BY 1, 2 NULLS LAST
                """
            ),
            {**window, "bucket": bucket},
        )
        return [SectorBucketCount(row.bucket, row.sector, int(row.n)) for row in result]

    @staticmethod
    async def _suggested(
        session: AsyncSession, window: dict[str, Any]
    ) -> tuple[int, int, dict[str, int]]:
        """The range's messages, how many got a suggestion, and how many are closed without
        an answer, by reason."""
        # A rejected suggestion is taken off its message and kept only in its review, so
        # "got a suggestion" is either of the two.
        closed = ",\n".join(
            f"count(*) FILTER (WHERE m.close_reason = '{r}') AS {r}" for r in CLOSE_REASONS
        )
        row = (
            await session.execute(
                text(
                    f"""
                    SELECT count(*) AS total,
                           count(*) FILTER (
                               WHERE m.suggestion IS NOT NULL OR EXISTS (
                                   SELECT 1 FROM suggestion_reviews r
                                   WHERE r.interaction_id = m.id)
                           ) AS suggested,
                           {closed}
                    FROM chat_interactions m
                    WHERE {_IN_RANGE} AND {_CUSTOMER}
                    """
                ),
                window,
            )
        ).one()
        values = row._mapping
        return int(row.total), int(row.suggested), {r: int(values[r]) for r in CLOSE_REASONS}

    @staticmethod
    async def _latency(session: AsyncSession, window: dict[str, Any]) -> dict[str, Any]:
        row = (
            await session.execute(
                text(
                    f"""
                    SELECT count(m.pipeline_ms) AS n,
                           percentile_cont(0.5) WITHIN GROUP (ORDER BY m.pipeline_ms) AS p50,
                           percentile_cont(0.95) WITHIN GROUP (ORDER BY m.pipeline_ms) AS p95
                    FROM chat_interactions m
                    WHERE {_IN_RANGE} AND {_CUSTOMER} AND m.pipeline_ms IS NOT NULL
                    """
                ),
                window,
            )
        ).one()
        return dict(row._mapping)

    @staticmethod
    async def _reviews(session: AsyncSession, window: dict[str, Any]) -> ReviewCounts:
        # By when the operator decided: a review is an event of its own day, like a failure.
        result = await session.execute(
            text(
                """
                SELECT outcome, count(*) AS n, count(*) FILTER (WHERE replaced) AS replaced
                FROM suggestion_reviews
                WHERE created_at >= :start AND created_at < :end
                GROUP BY outcome
                """
            ),
            window,
        )
        rows = result.all()
        return ReviewCounts(
            **{row.outcome: int(row.n) for row in rows},
            replaced=sum(int(row.replaced) for row in rows),
        )

    @staticmethod
    async def _failures(session: AsyncSession, window: dict[str, Any]) -> list[FailureCount]:
        # A failed delivery is not touched again, so its updated_at is when it failed.
        result = await session.execute(
            text(
                """
                SELECT last_error_code AS code, last_error_reason AS reason, count(*) AS n
                FROM deliveries
                WHERE status = 'failed' AND updated_at >= :start AND updated_at < :end
                GROUP BY 1, 2
                ORDER BY 3 DESC, 1 NULLS LAST, 2 NULLS LAST
                """
            ),
            window,
        )
        return [FailureCount(row.code, row.reason, int(row.n)) for row in result]

    @staticmethod
    async def _responses(
        session: AsyncSession, window: dict[str, Any]
    ) -> list[tuple[bool, ResponseTimeRow]]:
        """Time from receipt to first answer of the range's messages answered so far, per
        sector and for all (flagged True); a message still waiting is the queue's."""
        result = await session.execute(
            text(
                f"""
                SELECT a.sector, GROUPING(a.sector) = 1 AS overall, count(*) AS answered,
                       count(*) FILTER (WHERE a.wait <= :target) AS within_target,
                       percentile_cont(0.5) WITHIN GROUP (ORDER BY a.wait) AS p50,
                       percentile_cont(0.95) WITHIN GROUP (ORDER BY a.wait) AS p95
                FROM (
                    SELECT m.sector,
                           greatest(0, extract(epoch FROM m.answered_at - m.created_at))::float8
                             AS wait
                    FROM chat_interactions m
                    WHERE {_IN_RANGE} AND m.answered_at IS NOT NULL AND {_CUSTOMER}
                ) AS a
                GROUP BY ROLLUP (a.sector)
                """
            ),
            window,
        )
        return [
            (
                bool(row.overall),
                ResponseTimeRow(
                    None if row.overall else row.sector,
                    int(row.answered),
                    int(row.within_target),
                    row.p50,
                    row.p95,
                ),
            )
            for row in result
        ]

    @staticmethod
    async def _queue(session: AsyncSession, target_seconds: float) -> QueueAges:
        """The operators' queue as `RoutingRepository.open_queue` defines it, by age now."""
        bands = ",\n".join(
            f"count(*) FILTER (WHERE age >= {low}"
            + (f" AND age < {high}" if high is not None else "")
            + f') AS "{name}"'
            for name, low, high in AGE_BANDS
        )
        row = (
            await session.execute(
                text(
                    f"""
                    SELECT count(*) AS waiting, max(age) AS oldest,
                           percentile_cont(0.5) WITHIN GROUP (ORDER BY age) AS p50,
                           count(*) FILTER (WHERE age > :target AND NOT answered) AS late,
                           {bands}
                    FROM (
                        SELECT extract(epoch FROM now() - m.created_at)::float8 AS age,
                               m.answered_at IS NOT NULL AS answered
                        FROM chat_interactions m
                        WHERE m.validated_by <> 'human' AND m.closed_at IS NULL AND {_CUSTOMER}
                    ) AS waiting
                    """
                ),
                {"target": target_seconds},
            )
        ).one()
        values = row._mapping
        return QueueAges(
            waiting=int(values["waiting"]),
            oldest_seconds=values["oldest"],
            p50_seconds=values["p50"],
            bands={name: int(values[name]) for name, _, _ in AGE_BANDS},
            late=int(values["late"]),
        )

    @staticmethod
    async def _sector_reviews(session: AsyncSession) -> list[SectorReviews]:
        """Reviews per sector over the last 7 and 30 days (to now, not to the range's end)."""
        windows = ", ".join(f"({days})" for days in RATE_WINDOWS_DAYS)
        result = await session.execute(
            text(
                f"""
                SELECT r.sector, w.days,
                       count(*) FILTER (WHERE r.outcome = 'approved') AS approved,
                       count(*) FILTER (WHERE r.outcome = 'edited') AS edited,
                       count(*) FILTER (WHERE r.outcome = 'rejected') AS rejected,
                       count(*) FILTER (WHERE r.replaced) AS replaced
                FROM (VALUES {windows}) AS w (days)
                JOIN suggestion_reviews r
                  ON r.created_at >= now() - make_interval(days => w.days)
                GROUP BY r.sector, w.days
                ORDER BY r.sector NULLS LAST, w.days
                """
            )
        )
        return [
            SectorReviews(
                row.sector,
                int(row.days),
                ReviewCounts(
                    int(row.approved), int(row.edited), int(row.rejected), int(row.replaced)
                ),
            )
            for row in result
        ]
