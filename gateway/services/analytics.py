"""AnalyticsService: what managers see of the support work over a range of dates.

The counting is PostgreSQL's (`storage.analytics`); this decides the range a request may
ask for, fills in empty buckets and sectors, and works out the shares and rates.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from config.errors import ValidationFailed
from config.sectors import SectorCatalog
from gateway.schemas.analytics import (
    AgeBand,
    Analytics,
    Bucket,
    ClosedCounts,
    DeliveryFailures,
    FailureReason,
    Latency,
    MessageBucket,
    MessageCounts,
    OperatorActivity,
    QueueAge,
    ResponseTimes,
    ReviewOutcomes,
    SectorAnswerTimes,
    SectorCount,
    SectorRate,
    SuggestionShare,
)
from storage.analytics import (
    AGE_BANDS,
    RATE_WINDOWS_DAYS,
    AnalyticsRepository,
    AnalyticsRows,
    ResponseTimeRow,
    ReviewCounts,
)

DEFAULT_DAYS = 7
MAX_DAYS = 366
# Hour buckets over a longer range make more bars than a chart or a table can show.
MAX_HOUR_BUCKET_DAYS = 31
_STEP = {"hour": timedelta(hours=1), "day": timedelta(days=1)}


@dataclass(frozen=True)
class Window:
    """A range [start, end) in UTC and the size of its buckets."""

    start: datetime
    end: datetime
    bucket: Bucket

    def buckets(self) -> list[datetime]:
        """The start of every bucket that overlaps the range, cut in UTC."""
        first = self.start.replace(minute=0, second=0, microsecond=0)
        if self.bucket == "day":
            first = first.replace(hour=0)
        starts = []
        while first < self.end:
            starts.append(first)
            first += _STEP[self.bucket]
        return starts


def _utc(moment: datetime) -> datetime:
    # A time without an offset is taken as UTC, as the buckets are.
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _round(value: float | None) -> float | None:
    # Tenths of a millisecond or a second: more digits would be noise, not precision.
    return round(value, 1) if value is not None else None


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


class AnalyticsService:
    """Messages, suggestions, reviews, latency, failed deliveries and the queue, counted."""

    def __init__(
        self,
        repository: AnalyticsRepository,
        catalog: SectorCatalog,
        *,
        response_target: timedelta,
    ) -> None:
        self._repository = repository
        self._catalog = catalog
        self._target = response_target

    @staticmethod
    def window(
        start: datetime | None, end: datetime | None, bucket: Bucket, *, now: datetime
    ) -> Window:
        """The range a request asks for, defaults filled in; a 422 naming the field when it
        is empty, longer than MAX_DAYS, or too long for hour buckets."""
        try:
            until = _utc(end) if end is not None else _utc(now)
        except OverflowError as exc:
            raise ValidationFailed.on("to", "is out of the range of dates") from exc
        try:
            since = _utc(start) if start is not None else until - timedelta(days=DEFAULT_DAYS)
        except OverflowError as exc:
            raise ValidationFailed.on("from", "is out of the range of dates") from exc
        if since >= until:
            raise ValidationFailed.on("from", f"must be before `to` ({until.isoformat()})")
        if until - since > timedelta(days=MAX_DAYS):
            raise ValidationFailed.on("from", f"the range may cover at most {MAX_DAYS} days")
        if bucket == "hour" and until - since > timedelta(days=MAX_HOUR_BUCKET_DAYS):
            raise ValidationFailed.on(
                "bucket", f"hour buckets cover at most {MAX_HOUR_BUCKET_DAYS} days; use day"
            )
        return Window(since, until, bucket)

    async def report(self, window: Window) -> Analytics:
        rows = await self._repository.read(
            start=window.start,
            end=window.end,
            bucket=window.bucket,
            target_seconds=self._target.total_seconds(),
        )
        return Analytics(
            start=window.start,
            end=window.end,
            bucket=window.bucket,
            generated_at=rows.now,
            messages=self._messages(window, rows),
            suggestions=SuggestionShare(
                messages=rows.total_messages,
                suggested=rows.suggested_messages,
                share=_share(rows.suggested_messages, rows.total_messages),
            ),
            reviews=_outcomes(rows.reviews),
            latency=Latency(
                count=rows.latency_count,
                p50_ms=_round(rows.latency_p50_ms),
                p95_ms=_round(rows.latency_p95_ms),
            ),
            delivery_failures=DeliveryFailures(
                total=sum(f.count for f in rows.failures),
                by_reason=[
                    FailureReason(code=f.code, reason=f.reason, count=f.count)
                    for f in rows.failures
                ],
            ),
            queue=QueueAge(
                waiting=rows.queue.waiting,
                oldest_seconds=_round(rows.queue.oldest_seconds),
                p50_seconds=_round(rows.queue.p50_seconds),
                bands=[AgeBand(band=name, count=rows.queue.bands[name]) for name, *_ in AGE_BANDS],
                late=rows.queue.late,
            ),
            closed=ClosedCounts(total=sum(rows.closed.values()), **rows.closed),
            operators=[
                OperatorActivity(
                    **{**vars(row), "p50_response_seconds": _round(row.p50_response_seconds)}
                )
                for row in rows.operators
            ],
            responses=self._responses(rows),
            sector_rates=self._rates(rows),
        )

    def _sectors(self, seen: set[str | None]) -> list[str | None]:
        """Every configured sector in the catalogue's order, then any other seen (a sector
        since removed), then no sector at all when some row has none."""
        names: list[str | None] = list(self._catalog.names)
        names += sorted(s for s in seen if s is not None and s not in names)
        if None in seen:
            names.append(None)
        return names

    def _messages(self, window: Window, rows: AnalyticsRows) -> MessageCounts:
        per_bucket: dict[datetime, list[SectorCount]] = defaultdict(list)
        totals: dict[str | None, int] = defaultdict(int)
        for row in rows.messages:
            per_bucket[row.bucket].append(SectorCount(sector=row.sector, count=row.count))
            totals[row.sector] += row.count
        return MessageCounts(
            total=sum(totals.values()),
            by_sector=[
                SectorCount(sector=s, count=totals.get(s, 0)) for s in self._sectors(set(totals))
            ],
            buckets=[
                MessageBucket(
                    bucket=start,
                    total=sum(c.count for c in per_bucket.get(start, [])),
                    sectors=per_bucket.get(start, []),
                )
                for start in window.buckets()
            ],
        )

    def _responses(self, rows: AnalyticsRows) -> ResponseTimes:
        found = {r.sector: r for r in rows.sector_responses}
        by_sector = [
            _response_times(found.get(s) or ResponseTimeRow(s, 0, 0, None, None))
            for s in self._sectors(set(found))
        ]
        overall = _response_times(rows.responses or ResponseTimeRow(None, 0, 0, None, None))
        return ResponseTimes(
            target_seconds=int(self._target.total_seconds()),
            **overall.model_dump(exclude={"sector"}),
            by_sector=by_sector,
        )

    def _rates(self, rows: AnalyticsRows) -> list[SectorRate]:
        found = {(r.sector, r.days): r.counts for r in rows.sector_reviews}
        rates = []
        for sector in self._sectors({r.sector for r in rows.sector_reviews}):
            for days in RATE_WINDOWS_DAYS:
                counts = found.get((sector, days), ReviewCounts())
                rates.append(
                    SectorRate(
                        sector=sector,
                        days=days,
                        reviewed=counts.reviewed,
                        approved=counts.approved,
                        edited=counts.edited,
                        rejected=counts.rejected,
                        replaced=counts.replaced,
                        acceptance_rate=_share(counts.accepted, counts.reviewed),
                        precision=_share(counts.approved, counts.reviewed),
                    )
                )
        return rates


def _outcomes(counts: ReviewCounts) -> ReviewOutcomes:
    return ReviewOutcomes(
        reviewed=counts.reviewed,
        approved=counts.approved,
        edited=counts.edited,
        rejected=counts.rejected,
        replaced=counts.replaced,
        approved_share=_share(counts.approved, counts.reviewed),
        edited_share=_share(counts.edited, counts.reviewed),
        replaced_share=_share(counts.replaced, counts.reviewed),
        rejected_share=_share(counts.rejected, counts.reviewed),
    )


def _response_times(found: ResponseTimeRow) -> SectorAnswerTimes:
    return SectorAnswerTimes(
        sector=found.sector,
        answered=found.answered,
        within_target=found.within_target,
        within_target_share=_share(found.within_target, found.answered),
        p50_seconds=_round(found.p50_seconds),
        p95_seconds=_round(found.p95_seconds),
    )
